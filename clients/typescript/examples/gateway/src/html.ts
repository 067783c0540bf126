// HTML rendering: every interpolated value goes through `esc` unless it is built by `html`
// itself (a Raw). No template engine: tagged template literals that escape by default.

export class Raw {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Escapes text for HTML element content and quoted attribute values. */
export function esc(value: unknown): string {
  return String(value)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

type Part = Raw | string | number | undefined | null | false | Part[];

function render(part: Part): string {
  if (part === undefined || part === null || part === false) {
    return "";
  }
  if (part instanceof Raw) {
    return part.value;
  }
  if (Array.isArray(part)) {
    return part.map(render).join("");
  }
  return esc(part);
}

/** `html\`<p>${text}</p>\`` escapes `text`; nested `html` results (Raw) are kept as they are. */
export function html(strings: TemplateStringsArray, ...parts: Part[]): Raw {
  let out = strings[0] ?? "";
  parts.forEach((p, i) => {
    out += render(p) + (strings[i + 1] ?? "");
  });
  return new Raw(out);
}

/** A POST form with the session's CSRF token. */
export function form(action: string, csrf: string, body: Raw, attrs: Raw = new Raw("")): Raw {
  return html`<form method="post" action="${action}" ${attrs}><input type="hidden" name="_csrf" value="${csrf}">${body}</form>`;
}

export interface PageOptions {
  title: string;
  user?: string;
  csrf?: string;
  flash?: string;
  error?: string;
}

/** The page frame: header with the signed-in user and a sign-out button, notices, content. */
export function page(opts: PageOptions, content: Raw): string {
  const signOut =
    opts.user !== undefined && opts.csrf !== undefined
      ? form("/signout", opts.csrf, html`<button class="link" type="submit">Sign out</button>`)
      : html``;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${opts.title} · Gateway</title>
<link rel="stylesheet" href="/static/style.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<header><a class="brand" href="/">Gateway</a>${opts.user !== undefined ? html`<span class="who">Signed in as <b>${opts.user}</b></span>${signOut}` : ""}</header>
<main>
${opts.flash !== undefined ? html`<p class="notice" role="status">${opts.flash}</p>` : ""}
${opts.error !== undefined ? html`<p class="error" role="alert">${opts.error}</p>` : ""}
${content}
</main>
<footer>An example of authyd: two-factor sign-in through one gRPC service.</footer>
</body>
</html>
`.value;
}
