#!/usr/bin/env bash
# Try the whole flow without a Logto tenant: starts the local stand-in provider (NOT Logto) with a
# demo user and a Hugging Face-linked user, then the app configured for it on http://localhost:3000.
#
#   OP_PORT  port of the stand-in provider (default 3001, which Logto itself uses too); set it when
#            3001 is taken: OP_PORT=3101 bash tests/op/demo.sh
#
# The app's port is 3000: the demo app registered with the provider redirects there.
set -euo pipefail
cd "$(dirname "$0")/../.."

OP_PORT="${OP_PORT:-3001}"
APP_PORT=3000

fail() {
  echo "demo: $*" >&2
  exit 1
}

[[ "$OP_PORT" =~ ^[1-9][0-9]{0,4}$ && "$OP_PORT" -le 65535 ]] || fail "OP_PORT must be a port number (1-65535), not '$OP_PORT'"
[ -d tests/op/node_modules/oidc-provider ] || npm ci --prefix tests/op --no-audit --no-fund --loglevel=error

# Whether this machine lets us listen on 127.0.0.1:$1 right now (binding is the only sure test).
port_free() {
  node -e '
    const server = require("node:net").createServer();
    server.once("error", () => process.exit(1));
    server.listen(Number(process.argv[1]), "127.0.0.1", () => server.close(() => process.exit(0)));
  ' "$1"
}

op_out="$(mktemp)"
node tests/op/server.js --demo --ready-json --port "$OP_PORT" >"$op_out" &
op_pid=$!
app_watch_pid=
cleanup() {
  [ -z "$app_watch_pid" ] || kill "$app_watch_pid" 2>/dev/null || true
  kill "$op_pid" 2>/dev/null || true
  rm -f "$op_out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ready means: the provider started here prints its ready line with the expected issuer, and the
# discovery on OP_PORT names that issuer too. Anything else (it died on a busy port, or someone
# else answers there) stops the demo before the app is built and pointed at the wrong server.
issuer="http://127.0.0.1:$OP_PORT/oidc"
busy_op_port="port $OP_PORT (OP_PORT) is in use; set OP_PORT to a free port: OP_PORT=3101 bash tests/op/demo.sh"
ready=
for _ in $(seq 100); do
  if ! kill -0 "$op_pid" 2>/dev/null; then
    op_rc=0
    wait "$op_pid" || op_rc=$?
    # 3: the provider could not listen on the port (its own line above says why).
    [ "$op_rc" != 3 ] || fail "the provider did not start: $busy_op_port"
    fail "the provider stopped (exit code $op_rc) before it was ready; see its message above"
  fi
  if grep -qF "{\"issuer\":\"$issuer\"," "$op_out"; then
    ready=1
    break
  fi
  sleep 0.1
done
[ -n "$ready" ] || fail "the provider did not become ready within 10 s on port $OP_PORT (set OP_PORT to another port?)"
discovery="$(curl -fsS --max-time 5 "$issuer/.well-known/openid-configuration" 2>&1)" || discovery=
[[ "$discovery" == *"\"issuer\":\"$issuer\""* ]] ||
  fail "something else answers on port $OP_PORT; set OP_PORT to a free port: OP_PORT=3101 bash tests/op/demo.sh"

# Checked before the build too, so a clash costs seconds rather than a release build first.
port_free "$APP_PORT" ||
  fail "port $APP_PORT (the app's) is in use; stop what listens there: the demo app is registered for http://localhost:$APP_PORT"
grep -v '^{' "$op_out"

# Announce the app only once it answers: the release build before it can take minutes.
(
  while kill -0 $$ 2>/dev/null; do
    if curl -fsS --max-time 2 "http://127.0.0.1:$APP_PORT/healthz" >/dev/null 2>&1; then
      echo
      echo "Open http://localhost:$APP_PORT and sign in as demo / demo-password, or Continue with Hugging Face."
      echo
      exit 0
    fi
    sleep 1
  done
) &
app_watch_pid=$!

LOGTO_ENDPOINT="http://127.0.0.1:$OP_PORT" \
LOGTO_APP_ID=demo-client \
LOGTO_APP_SECRET=demo-secret \
APP_BASE_URL="http://localhost:$APP_PORT" \
HOST=127.0.0.1 PORT="$APP_PORT" \
SESSION_STORE=cookie \
LOGTO_SCOPES="email identities" \
LOGTO_RESOURCES="" \
cargo run --release
