"""Test harness: start `authyd sim`, receive its OneTouch callbacks, talk to its control API.

Everything here follows the contract in ../shared/design.md ("Command-line and test-facing
contract"): flags `--addr --api-key --app-name --app-id --callback-url --callback-method`, the
bound address logged as `sim listening on ADDR`, and the `/__sim/` control API.
"""

import json
import os
import re
import secrets
import subprocess
import threading
import time
import urllib.parse
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import requests

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# `\S+` per the contract, minus JSON punctuation in case the log format is JSON
LISTEN_RE = re.compile(r"sim listening on ([^\s\"',}]+)")
START_TIMEOUT = float(os.environ.get("SDK_TESTS_SIM_START_TIMEOUT", "30"))


def authyd_bin():
    path = os.environ.get("AUTHYD_BIN", "target/debug/authyd")
    if not os.path.isabs(path):
        path = os.path.join(REPO_ROOT, path)
    return path


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Poll `predicate` until it returns a truthy value (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class CallbackReceiver:
    """A tiny HTTP server standing in for the customer's OneTouch callback endpoint."""

    PATH = "/authy/callback"

    def __init__(self):
        self.received = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urllib.parse.urlsplit(self.path)
                item = {
                    "method": self.command,
                    "path": parts.path,
                    "query": parts.query,
                    # header names are case-insensitive; keep a lower-cased copy
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": raw,
                }
                with receiver._cond:
                    receiver.received.append(item)
                    receiver._cond.notify_all()
                payload = b"OK"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, *args):  # keep pytest output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = "http://127.0.0.1:%d%s" % (self.port, self.PATH)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, predicate, timeout=10.0, what="callback"):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for item in self.received:
                    if predicate(item):
                        return item
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "timed out after %.1fs waiting for %s; received so far: %r"
                        % (timeout, what, [(i["method"], i["path"], i["body"][:200]) for i in self.received])
                    )
                self._cond.wait(left)

    def close(self):
        self._server.shutdown()
        self._server.server_close()


class Sim:
    """One `authyd sim` process with its own random API key."""

    def __init__(self, callback_url, callback_method="POST", app_name="SDK Conformance App", app_id="424242"):
        self.api_key = secrets.token_hex(16)  # 32 characters, like an Authy key
        self.app_name = app_name
        self.app_id = app_id
        self.callback_url = callback_url
        self.callback_method = callback_method
        self.proc = None
        self.addr = None
        self.log = deque(maxlen=400)
        self._reader = None

    @property
    def base_url(self):
        return "http://%s" % self.addr

    def start(self):
        cmd = [
            authyd_bin(), "sim",
            "--addr", "127.0.0.1:0",
            "--api-key", self.api_key,
            "--app-name", self.app_name,
            "--app-id", self.app_id,
            "--callback-url", self.callback_url,
            "--callback-method", self.callback_method,
        ]
        env = dict(os.environ)
        env.setdefault("NO_COLOR", "1")
        self.proc = subprocess.Popen(
            # logs go to stderr; stdout is merged in so a line there is not missed either
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
        )
        found = threading.Event()

        def reader():
            # Keeps draining stderr for the whole life of the process (a full pipe would block the sim).
            for raw in iter(self.proc.stdout.readline, b""):
                line = ANSI_RE.sub("", raw.decode("utf-8", "replace")).rstrip("\n")
                self.log.append(line)
                if not found.is_set():
                    m = LISTEN_RE.search(line)
                    if m:
                        self.addr = m.group(1)
                        found.set()
            found.set()  # EOF: unblock the waiter, it checks self.addr

        self._reader = threading.Thread(target=reader, daemon=True)
        self._reader.start()
        found.wait(START_TIMEOUT)
        if self.addr is None:
            self.stop()
            raise RuntimeError(
                "authyd sim did not log 'sim listening on ADDR' within %.0fs (exit code %r). Command: %s\nstderr:\n%s"
                % (START_TIMEOUT, self.proc.returncode, " ".join(cmd), "\n".join(self.log))
            )
        return self

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._reader is not None:
            self._reader.join(2)

    def stderr_tail(self, n=40):
        return "\n".join(list(self.log)[-n:])

    # ---- control API (no key) -------------------------------------------------------------
    def control(self, method, path, body=None):
        resp = requests.request(method, self.base_url + path, json=body, timeout=10)
        try:
            data = resp.json()
        except ValueError:
            data = resp.text
        return resp.status_code, data

    def codes(self, authy_id):
        status, data = self.control("GET", "/__sim/users/%s/codes" % authy_id)
        assert status == 200, "GET /__sim/users/%s/codes -> %s %r" % (authy_id, status, data)
        return data

    def approve(self, uuid):
        status, data = self.control("POST", "/__sim/approvals/%s/approve" % uuid)
        assert 200 <= status < 300, "approve %s -> %s %r" % (uuid, status, data)
        return data

    def deny(self, uuid):
        status, data = self.control("POST", "/__sim/approvals/%s/deny" % uuid)
        assert 200 <= status < 300, "deny %s -> %s %r" % (uuid, status, data)
        return data

    def registration_jwt(self, custom_user_id, key=None, iss=None, app_id=None, lifetime=300):
        now = int(time.time())
        payload = {
            "iss": self.app_name if iss is None else iss,
            "iat": now,
            "exp": now + lifetime,
            "context": {
                "custom_user_id": custom_user_id,
                "authy_app_id": self.app_id if app_id is None else app_id,
            },
        }
        return jwt.encode(payload, self.api_key if key is None else key, algorithm="HS256")

    def scan(self, token):
        return self.control("POST", "/__sim/registrations/scan", {"token": token})


def flat_query_dict(query):
    """The query string as a flat dict, first value wins: what Flask's `request.args.to_dict()` gives."""
    result = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        result.setdefault(key, value)
    return result


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)
