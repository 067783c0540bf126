# Sourced by the test runners (sdk-tests/run.sh, clients/run-tests.sh, the gateway's run-tests.sh):
# resolves and exports AUTHYD_BIN, the authyd binary the suites run. Needs ROOT (the repository
# root) and a `log` function.
#   AUTHYD_BIN unset: target/debug/authyd, built with `cargo build --bin authyd` when missing;
#   relative: taken from ROOT; set but missing: exit 2.
# With SKIP_AUTHYD_BIN_CHECK=1 (a suite that reaches a running authyd instead) nothing is built.
AUTHYD_BIN="${AUTHYD_BIN:-target/debug/authyd}"
case "$AUTHYD_BIN" in /*) ;; *) AUTHYD_BIN="$ROOT/$AUTHYD_BIN" ;; esac
if [[ "${SKIP_AUTHYD_BIN_CHECK:-0}" != 1 && ! -x "$AUTHYD_BIN" ]]; then
  if [[ "$AUTHYD_BIN" == "$ROOT/target/debug/authyd" ]]; then
    log "building authyd (cargo build --bin authyd)"
    (cd "$ROOT" && cargo build --bin authyd)
  else
    echo "AUTHYD_BIN=$AUTHYD_BIN does not exist or is not executable" >&2
    exit 2
  fi
fi
export AUTHYD_BIN
