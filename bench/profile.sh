#!/usr/bin/env bash
# Per-request cost of this app's pages, for comparing builds (see bench/profile.py --help):
#
#   bench/profile.sh                      # callgrind: instructions per request, top frames per page
#   bench/profile.sh --mode cpu           # wrk: CPU microseconds per request (user and system)
#   bench/profile.sh --binary OTHER_BUILD # profile another build of the app
#
# Installs what it needs (Debian's valgrind and wrk, the provider's npm packages, bench/.venv),
# builds the app in release mode with debug symbols (same optimisation as the release build, so
# the figures describe what ships), then runs bench/profile.py. Callgrind's dumps and a summary
# per page (instructions per request, self cost by crate, top functions self and inclusive) go to
# bench/.profile/ (ignored by git); `callgrind_annotate bench/.profile/home.callgrind` reads them.
set -euo pipefail

bench="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$bench")"
cd "$root"

need() { command -v "$1" >/dev/null 2>&1; }
missing=()
need valgrind || missing+=(valgrind)
need wrk || missing+=(wrk)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[profile] installing ${missing[*]} (Debian packages)"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -x "$bench/.venv/bin/python" ]; then
  python3 -m venv "$bench/.venv"
fi
# requests and cryptography (which opens the session cookie to report its contents' sizes).
"$bench/.venv/bin/pip" install -q --disable-pip-version-check -r "$bench/flask/requirements.txt"
if [ ! -d "$root/tests/op/node_modules" ]; then
  npm ci --prefix "$root/tests/op" --no-audit --no-fund --silent
fi

if ! printf '%s\n' "$@" | grep -q -- '^--binary'; then
  echo "[profile] cargo build --release (with debug symbols)"
  CARGO_PROFILE_RELEASE_DEBUG=true cargo build --release --quiet
fi
exec "$bench/.venv/bin/python" "$bench/profile.py" "$@"
