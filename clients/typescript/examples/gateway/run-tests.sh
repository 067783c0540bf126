#!/usr/bin/env bash
# End-to-end tests of the gateway example in headless Chromium (playwright-core):
#   1. installs Debian's chromium if /usr/bin/chromium is missing (apt-get; CI runs as root),
#   2. npm ci + tsc build of @authyd/client (clients/typescript) and of the gateway,
#   3. starts a sandbox authyd (port 0, fresh data dir) and two gateways (port 0; the second with
#      3 s approval and QR ttls, for the expiry tests),
#   4. runs `node --test` (dist/test/*.test.js), which drives the browser through every page.
# Screenshots of each page state go to target/artifacts/gateway/*.png (repo root).
#
# Usage: clients/typescript/examples/gateway/run-tests.sh     (from anywhere)
# Env:   AUTHYD_BIN   authyd binary (default target/debug/authyd, relative to the repo root; built
#                     with `cargo build --bin authyd` only when that default is missing)
#        CHROMIUM     browser binary (default /usr/bin/chromium)
# Kills every process it starts; exits non-zero if a test fails.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLIENT="$(cd "$HERE/../.." && pwd)"
ROOT="$(cd "$CLIENT/../.." && pwd)"
WORK="$ROOT/target/gateway"
ARTIFACTS="$ROOT/target/artifacts/gateway"

log() { printf '\n== %s\n' "$*" >&2; }
sha() { sha256sum "$@" | sha256sum | cut -c1-64; }

# ---- processes we start, stopped on any exit ------------------------------------------------------
pids=()
tmp="$(mktemp -d "${TMPDIR:-/tmp}/authyd-gateway-test.XXXXXX")"
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until FILE has a line matching REGEX (from PID's output); prints the first capture group.
wait_for_line() {
  local file=$1 regex=$2 pid=$3 what=$4 i
  for ((i = 0; i < 600; i++)); do
    if [[ -f "$file" ]] && line="$(grep -m1 -oE "$regex" "$file")"; then
      [[ "$line" =~ $regex ]] && { printf '%s' "${BASH_REMATCH[1]}"; return 0; }
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$what exited before it was ready:" >&2
      cat "$file" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$what was not ready after 60 s:" >&2
  cat "$file" >&2
  return 1
}

# ---- chromium -----------------------------------------------------------------------------------
source "$ROOT/scripts/lib/chromium.sh"
"$CHROMIUM" --version 2>/dev/null  # (Debian's wrapper script may complain on stderr)

# ---- the authyd binary ------------------------------------------------------------------------
source "$ROOT/scripts/lib/authyd-bin.sh"

# ---- node packages: the client (the gateway links to it), then the gateway ----------------------
mkdir -p "$WORK" "$ARTIFACTS"
export npm_config_cache="$WORK/npm-cache"
npm_ci() { # DIR: npm ci unless the lock is unchanged since the last one (same stamp as clients/run-tests.sh)
  local dir=$1 stamp want
  stamp="$dir/node_modules/.authyd-lock.sha256"
  want="$(sha "$dir/package.json" "$dir/package-lock.json")"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    log "npm ci (${dir#"$ROOT"/})"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}
npm_ci "$CLIENT"
npm_ci "$HERE"
log "tsc build (@authyd/client, gateway)"
(cd "$CLIENT" && rm -rf dist && npm run --silent build)
(cd "$HERE" && rm -rf dist && npm run --silent build)

# ---- servers ------------------------------------------------------------------------------------
log "starting a sandbox authyd and the gateway"
mkdir -p "$tmp/data"
AUTHYD_AUTHY_API_KEY="" "$AUTHYD_BIN" serve --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 \
  --data-dir "$tmp/data" >"$tmp/authyd.log" 2>&1 &
pids+=($!)
AUTHYD_GRPC_ADDR="$(wait_for_line "$tmp/authyd.log" 'grpc listening on ([0-9.:]+)' "${pids[-1]}" authyd)"
echo "authyd (sandbox) at $AUTHYD_GRPC_ADDR"

AUTHYD_GRPC_ADDR="$AUTHYD_GRPC_ADDR" GATEWAY_ADDR=127.0.0.1:0 node "$HERE/dist/src/main.js" >"$tmp/gateway.log" 2>&1 &
pids+=($!)
GATEWAY_URL="$(wait_for_line "$tmp/gateway.log" 'gateway listening on (http://[0-9.:]+)' "${pids[-1]}" gateway)"
echo "gateway at $GATEWAY_URL"

# A second gateway (its own accounts, same authyd) whose pushes and QR codes expire in 3 s.
AUTHYD_GRPC_ADDR="$AUTHYD_GRPC_ADDR" GATEWAY_ADDR=127.0.0.1:0 GATEWAY_APPROVAL_TTL=3 GATEWAY_QR_TTL=3 \
  node "$HERE/dist/src/main.js" >"$tmp/gateway-short.log" 2>&1 &
pids+=($!)
GATEWAY_SHORT_TTL_URL="$(wait_for_line "$tmp/gateway-short.log" 'gateway listening on (http://[0-9.:]+)' "${pids[-1]}" gateway)"
echo "gateway with 3 s ttls at $GATEWAY_SHORT_TTL_URL"

# ---- tests --------------------------------------------------------------------------------------
log "gateway end-to-end tests (node --test, headless chromium)"
rm -f "$ARTIFACTS"/*.png
status=0
(cd "$HERE" && AUTHYD_GRPC_ADDR="$AUTHYD_GRPC_ADDR" GATEWAY_URL="$GATEWAY_URL" \
  GATEWAY_SHORT_TTL_URL="$GATEWAY_SHORT_TTL_URL" CHROMIUM="$CHROMIUM" \
  ARTIFACTS_DIR="$ARTIFACTS" node --test --test-reporter=spec dist/test/*.test.js) || status=$?

if [[ $status -ne 0 ]]; then
  log "gateway logs"
  cat "$tmp/gateway.log" "$tmp/gateway-short.log" >&2
  log "authyd log (last 40 lines)"
  tail -n 40 "$tmp/authyd.log" >&2
  log "gateway end-to-end tests FAILED"
  exit 1
fi
log "gateway end-to-end tests passed; screenshots in ${ARTIFACTS#"$ROOT"/}"
