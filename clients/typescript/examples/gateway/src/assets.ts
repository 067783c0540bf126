// The two static files: a stylesheet and the script that follows live status over
// server-sent events. Served from memory with a strict Content-Security-Policy (no inline code).

export const STYLE_CSS = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#f4f6fa}
header{display:flex;align-items:center;gap:1rem;padding:.8rem 1.5rem;background:#1d2a4d;color:#fff}
header .brand{color:#fff;font-weight:700;text-decoration:none;font-size:1.15rem;margin-right:auto}
header form{margin:0}
header .who{opacity:.9}
main{max-width:34rem;margin:2rem auto;padding:1.8rem 2rem;background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(20,30,60,.08)}
footer{text-align:center;color:#7a8194;font-size:.85rem;margin:1rem}
h1{font-size:1.5rem;margin:.2rem 0 1rem}
label{display:block;margin:.8rem 0 .25rem;font-weight:600}
input[type=text],input[type=password]{width:100%;padding:.55rem .7rem;border:1px solid #c5cbd8;border-radius:8px;font-size:1rem}
input.code{letter-spacing:.3em;font-size:1.4rem;width:12ch}
button{margin-top:1rem;padding:.55rem 1.1rem;border:0;border-radius:8px;background:#2b59c3;color:#fff;font-size:1rem;cursor:pointer}
button.secondary{background:#e6eaf3;color:#1d2a4d}
button.danger{background:#b3261e}
button.link{margin:0;padding:0;background:none;color:#fff;text-decoration:underline}
.row{display:flex;gap:.6rem;flex-wrap:wrap;align-items:flex-end}
.row form{margin:0}
.notice{background:#e7f5ea;border:1px solid #9fd3aa;padding:.6rem .9rem;border-radius:8px}
.error{background:#fdecea;border:1px solid #f1a8a2;padding:.6rem .9rem;border-radius:8px}
.badge{display:inline-block;padding:.1rem .55rem;border-radius:99px;font-size:.85rem;font-weight:600}
.badge.on{background:#e7f5ea;color:#1e6b34}
.badge.off{background:#eef0f5;color:#5b6275}
.status{font-size:1.1rem;font-weight:600;padding:.7rem .9rem;border-radius:8px;background:#eef3ff}
[data-state=APPROVED] .status,[data-state=COMPLETED] .status{background:#e7f5ea;color:#1e6b34}
[data-state=DENIED] .status,[data-state=EXPIRED] .status,[data-state=FAILED] .status{background:#fdecea;color:#8c1d18}
.spinner{display:inline-block;width:.9em;height:.9em;margin-right:.4em;border:2px solid #9db3e8;border-top-color:#2b59c3;border-radius:50%;animation:spin 1s linear infinite;vertical-align:-.1em}
@keyframes spin{to{transform:rotate(360deg)}}
dl.details{display:grid;grid-template-columns:auto 1fr;gap:.2rem 1rem;font-size:.9rem;color:#5b6275}
dl.details dd{margin:0;overflow-wrap:anywhere}
.qr{display:block;width:240px;height:240px;margin:1rem auto;image-rendering:pixelated;border:1px solid #e0e4ee;border-radius:8px}
.muted{color:#6b7285;font-size:.9rem}
[data-when]{display:none}
[data-state=PENDING] [data-when~=PENDING],[data-state=APPROVED] [data-when~=APPROVED],
[data-state=DENIED] [data-when~=DENIED],[data-state=EXPIRED] [data-when~=EXPIRED],
[data-state=COMPLETED] [data-when~=COMPLETED],[data-state=FAILED] [data-when~=FAILED]{display:block}
`;

// Follows [data-events]: each "state" event sets data-state on that element (CSS shows what
// fits the state) and the status text; a final event closes the stream, and one with a
// `redirect` navigates. The server decides everything; this only displays it.
export const APP_JS = `"use strict";
(function () {
  var root = document.querySelector("[data-events]");
  if (!root || typeof EventSource === "undefined") return;
  var status = root.querySelector("[data-status]");
  var es = new EventSource(root.getAttribute("data-events"));
  function say(text) { if (status) status.textContent = text; }
  es.addEventListener("open", function () { root.setAttribute("data-live", "open"); });
  es.addEventListener("error", function () { if (es.readyState !== 2) root.setAttribute("data-live", "reconnecting"); });
  es.addEventListener("state", function (e) {
    var d = JSON.parse(e.data);
    root.setAttribute("data-state", d.state);
    root.setAttribute("data-live", d.final ? "done" : "open");
    say(d.message);
    if (d.final) es.close();
    if (d.redirect) window.location.assign(d.redirect);
  });
  es.addEventListener("trouble", function (e) { say(JSON.parse(e.data).message); });
})();
`;
