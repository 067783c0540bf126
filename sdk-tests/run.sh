#!/usr/bin/env bash
# Official-SDK conformance suites: the official Authy SDKs against `authyd sim`, unchanged but
# for their base URL.
#   Python: PyPI authy==2.2.6            (sdk-tests/python, pytest)
#   Node:   npm authy-client 1.1.4, authy 1.4.0 (sdk-tests/node, node:test)
#
# Usage: sdk-tests/run.sh            (from anywhere)
# Env:   AUTHYD_BIN   authyd binary (default target/debug/authyd, relative to the repo root;
#                     built with `cargo build` only when that default is missing)
#        SDK_TESTS_ONLY=python|node   run one suite only
#        PYTEST_ADDOPTS / NODE_TEST_ARGS   extra arguments for the runners
# Installs on first use: a venv with sdk-tests/python/requirements.txt (exact pins) under
# target/sdk-tests/venv, and `npm ci` from sdk-tests/node/package-lock.json. Both are skipped
# while their lock inputs are unchanged. Exits non-zero if any suite fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$ROOT/target/sdk-tests"
mkdir -p "$WORK"

log() { printf '\n== %s\n' "$*" >&2; }

# ---- the authyd binary ------------------------------------------------------------------------
source "$ROOT/scripts/lib/authyd-bin.sh"

sha() { sha256sum "$@" | sha256sum | cut -c1-64; }

# ---- Python: venv with exact pins ---------------------------------------------------------------
setup_python() {
  local venv="$WORK/venv" req="$ROOT/sdk-tests/python/requirements.txt"
  local stamp="$venv/.requirements.sha256" want
  want="$(sha "$req")"
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  log "creating Python venv ($venv)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  PIP_CACHE_DIR="$WORK/pip-cache" "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-input -r "$req"
  echo "$want" > "$stamp"
}

run_python() {
  setup_python
  log "Python suite: authy==2.2.6 (pytest)"
  (cd "$ROOT/sdk-tests/python" && PYTHONDONTWRITEBYTECODE=1 "$WORK/venv/bin/python" -m pytest -q)
}

# ---- Node: npm ci from the committed lockfile ---------------------------------------------------
setup_node() {
  local dir="$ROOT/sdk-tests/node" stamp want
  stamp="$dir/node_modules/.authyd-lock.sha256"
  want="$(sha "$dir/package.json" "$dir/package-lock.json")"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  log "npm ci (sdk-tests/node)"
  (cd "$dir" && npm_config_cache="$WORK/npm-cache" npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
}

run_node() {
  setup_node
  log "Node suite: authy-client 1.1.4 + authy 1.4.0 (node:test)"
  # shellcheck disable=SC2086
  (cd "$ROOT/sdk-tests/node" && node --test --test-concurrency=2 --test-reporter=spec ${NODE_TEST_ARGS:-} \
    test/authy-client.test.js test/authy-legacy.test.js)
}

status=0
only="${SDK_TESTS_ONLY:-}"
if [[ -z "$only" || "$only" == python ]]; then
  run_python || { status=1; log "Python suite FAILED"; }
fi
if [[ -z "$only" || "$only" == node ]]; then
  run_node || { status=1; log "Node suite FAILED"; }
fi
if [[ $status -eq 0 ]]; then log "SDK conformance: all suites passed"; else log "SDK conformance: FAILED"; fi
exit $status
