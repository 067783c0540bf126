#!/usr/bin/env bash
# The client libraries' suites, each against a sandbox authyd it starts on port 0 (fresh data dir):
#   TypeScript  clients/typescript  npm ci, tsc build, node --test (gRPC and gRPC-Web)
#   Python      clients/python      venv + pip install of the package, pytest (sync and asyncio)
#   Go          clients/go          go test ./...
# Each suite also runs its README's example.
#
# Usage: clients/run-tests.sh            (from anywhere)
# Env:   AUTHYD_BIN    authyd binary (default target/debug/authyd, relative to the repo root; built
#                      with `cargo build --bin authyd` only when that default is missing)
#        AUTHYD_GRPC_ADDR   run the suites against this sandbox authyd instead of starting one
#        CLIENT_TESTS_ONLY=typescript|python|go   run one suite only
# Installs on first use, skipped while the lock inputs are unchanged: node_modules from
# clients/typescript/package-lock.json (npm ci) and a venv under target/clients/venv from
# clients/python/requirements-test.txt + the package itself. Exits non-zero if any suite fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$ROOT/target/clients"
mkdir -p "$WORK"

log() { printf '\n== %s\n' "$*" >&2; }
sha() { sha256sum "$@" | sha256sum | cut -c1-64; }

# ---- the authyd binary ------------------------------------------------------------------------
SKIP_AUTHYD_BIN_CHECK=$([[ -n "${AUTHYD_GRPC_ADDR:-}" ]] && echo 1 || echo 0)
source "$ROOT/scripts/lib/authyd-bin.sh"

# ---- TypeScript ---------------------------------------------------------------------------------
run_typescript() {
  local dir="$ROOT/clients/typescript" stamp want
  stamp="$dir/node_modules/.authyd-lock.sha256"
  want="$(sha "$dir/package.json" "$dir/package-lock.json")"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    log "npm ci (clients/typescript)"
    (cd "$dir" && npm_config_cache="$WORK/npm-cache" npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
  log "TypeScript client: tsc build + node --test"
  (cd "$dir" && rm -rf dist && npm run --silent build && npm test --silent)
}

# ---- Python -------------------------------------------------------------------------------------
run_python() {
  local dir="$ROOT/clients/python" venv="$WORK/venv" stamp want
  stamp="$venv/.inputs.sha256"
  # The package is installed (not editable), so its sources are part of the stamp.
  want="$(sha "$dir/requirements-test.txt" "$dir/pyproject.toml" \
    $(find "$dir/src" -type f \( -name '*.py' -o -name '*.pyi' -o -name py.typed \) | LC_ALL=C sort))"
  if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    log "creating the Python client venv ($venv)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    PIP_CACHE_DIR="$WORK/pip-cache" "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      --no-input -r "$dir/requirements-test.txt" "$dir"
    rm -rf "$dir/build" "$dir"/src/*.egg-info
    echo "$want" > "$stamp"
  fi
  log "Python client: pytest"
  (cd "$dir" && PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -q)
}

# ---- Go -----------------------------------------------------------------------------------------
run_go() {
  log "Go client: go test ./..."
  (cd "$ROOT/clients/go" && go vet ./... && go test -count=1 ./...)
}

status=0
only="${CLIENT_TESTS_ONLY:-}"
for suite in typescript python go; do
  if [[ -z "$only" || "$only" == "$suite" ]]; then
    "run_$suite" || { status=1; log "$suite client suite FAILED"; }
  fi
done
if [[ $status -eq 0 ]]; then log "client libraries: all suites passed"; else log "client libraries: FAILED"; fi
exit $status
