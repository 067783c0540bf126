# Sourced by the browser test runners (the gateway and browser examples of clients/typescript):
# makes sure CHROMIUM (default /usr/bin/chromium) is a browser binary, installing Debian's
# `chromium` package with apt-get when the default is missing (CI runs as root; otherwise sudo).
# Needs a `log` function. A CHROMIUM that is set but missing: exit 2.
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM" ]]; then
  if [[ "$CHROMIUM" != /usr/bin/chromium ]]; then
    echo "CHROMIUM=$CHROMIUM does not exist or is not executable" >&2
    exit 2
  fi
  log "installing Debian's chromium (apt-get)"
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
export CHROMIUM
