#!/usr/bin/env bash
# Try the whole flow without a Logto tenant: starts the local stand-in provider (NOT Logto) with a
# demo user and a Hugging Face-linked user, then the app configured for it on http://localhost:3000.
set -euo pipefail
cd "$(dirname "$0")/../.."

OP_PORT="${OP_PORT:-3001}"
[ -d tests/op/node_modules/oidc-provider ] || npm ci --prefix tests/op --no-audit --no-fund --loglevel=error

node tests/op/server.js --demo --port "$OP_PORT" &
op_pid=$!
trap 'kill "$op_pid" 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$OP_PORT/oidc/.well-known/openid-configuration" >/dev/null 2>&1 && break
  sleep 0.2
done

echo
echo "Open http://localhost:3000 and sign in as demo / demo-password, or Continue with Hugging Face."
echo
LOGTO_ENDPOINT="http://127.0.0.1:$OP_PORT" \
LOGTO_APP_ID=demo-client \
LOGTO_APP_SECRET=demo-secret \
APP_BASE_URL=http://localhost:3000 \
HOST=127.0.0.1 PORT=3000 \
SESSION_STORE=cookie \
LOGTO_SCOPES="email identities" \
LOGTO_RESOURCES="" \
cargo run --release
