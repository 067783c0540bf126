#!/usr/bin/env bash
# Browser test of @authyd/client/web: a static page (index.html + src/main.ts bundled by esbuild)
# calls a sandbox authyd cross-origin with gRPC-Web over fetch, in headless Chromium:
#   1. installs Debian's chromium if /usr/bin/chromium is missing (as the gateway runner does),
#   2. npm ci + build of @authyd/client (clients/typescript) and of this page (tsc check, esbuild),
#   3. starts the static server (serve.js) and two sandbox authyds (port 0, fresh data dirs): one
#      with --cors-origins <the page's origin>, one listing only another origin,
#   4. runs `node --test` (test/*.test.js). Screenshots go to target/artifacts/browser/*.png.
#
# Usage: clients/typescript/examples/browser/run-tests.sh     (from anywhere)
# Env:   AUTHYD_BIN   authyd binary (default target/debug/authyd, relative to the repo root; built
#                     with `cargo build --bin authyd` only when that default is missing)
#        CHROMIUM     browser binary (default /usr/bin/chromium)
# Kills every process it starts; exits non-zero if a test fails.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLIENT="$(cd "$HERE/../.." && pwd)"
ROOT="$(cd "$CLIENT/../.." && pwd)"
ARTIFACTS="$ROOT/target/artifacts/browser"
export npm_config_cache="$ROOT/target/browser/npm-cache"

log() { printf '\n== %s\n' "$*" >&2; }

pids=()
tmp="$(mktemp -d "${TMPDIR:-/tmp}/authyd-browser-test.XXXXXX")"
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME REGEX CMD...: runs CMD in the background (output in $tmp/NAME.log) and, once its
# output matches REGEX (60 s at most), sets $started to the first capture group. Not in a subshell:
# pids must reach cleanup.
start() {
  local name=$1 regex=$2 log="$tmp/$1.log" i
  shift 2
  "$@" >"$log" 2>&1 &
  pids+=($!)
  for ((i = 0; i < 600; i++)); do
    [[ "$(cat "$log")" =~ $regex ]] && { started="${BASH_REMATCH[1]}"; return 0; }
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not start:" >&2
  cat "$log" >&2
  return 1
}

source "$ROOT/scripts/lib/chromium.sh"

source "$ROOT/scripts/lib/authyd-bin.sh"

for dir in "$CLIENT" "$HERE"; do # npm ci unless the lock is unchanged (same stamp as the other runners)
  want="$(sha256sum "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -c1-64)"
  if [[ "$(cat "$dir/node_modules/.authyd-lock.sha256" 2>/dev/null)" != "$want" ]]; then
    log "npm ci (${dir#"$ROOT"/})"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$want" >"$dir/node_modules/.authyd-lock.sha256"
  fi
done
log "build (@authyd/client with tsc; the page: tsc check + esbuild bundle)"
(cd "$CLIENT" && rm -rf dist && npm run --silent build)
(cd "$HERE" && rm -rf dist && npm run --silent build)

log "starting the static server and two sandbox authyds"
start static 'static listening on (http://[0-9.:]+)' node "$HERE/serve.js"
PAGE_URL="$started"
authyd() { # NAME CORS_ORIGINS: a sandbox authyd (fresh data dir); sets $started to its base URL
  mkdir -p "$tmp/$1-data"
  start "$1" 'grpc listening on ([0-9.:]+)' env AUTHYD_AUTHY_API_KEY= "$AUTHYD_BIN" serve \
    --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --data-dir "$tmp/$1-data" --cors-origins "$2"
  started="http://$started"
}
authyd authyd "$PAGE_URL"
AUTHYD_URL="$started"
authyd authyd-no-cors "http://localhost:${PAGE_URL##*:}" # the page's port on another host: not its origin
AUTHYD_NO_CORS_URL="$started"
echo "page at $PAGE_URL; authyd at $AUTHYD_URL (allows the page), $AUTHYD_NO_CORS_URL (does not)"

log "browser tests (node --test, headless chromium)"
rm -rf "$ARTIFACTS" && mkdir -p "$ARTIFACTS"
if ! (cd "$HERE" && PAGE_URL="$PAGE_URL" AUTHYD_URL="$AUTHYD_URL" AUTHYD_NO_CORS_URL="$AUTHYD_NO_CORS_URL" \
  CHROMIUM="$CHROMIUM" ARTIFACTS_DIR="$ARTIFACTS" npm test --silent); then
  for f in "$tmp"/*.log; do log "$(basename "$f") (last 30 lines)"; tail -n 30 "$f" >&2; done
  log "browser tests FAILED"
  exit 1
fi
log "browser tests passed; screenshots in ${ARTIFACTS#"$ROOT"/}"
