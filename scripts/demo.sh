#!/usr/bin/env bash
# `make demo`: a fresh installation on the embedded defaults (SQLite, software key store), the server
# started over HTTPS, and simulated devices walked through their life cycle against it.
# Keeps serving afterwards when run from a terminal (Ctrl-C stops it); exits when not (CI, scripts).
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO_DIR=${DEMO_DIR:-$PWD/.demo}
PORT=${IMPRINT_PORT:-8443}
export IMPRINT_DATA_DIR="$DEMO_DIR/data"
imprint() { node dist/cli/main.js "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"

step "1. imprint init (SQLite + software key store in $IMPRINT_DATA_DIR)"
imprint --json init --manufacturer "Acme Devices" --port "$PORT" > "$DEMO_DIR/init.json"
ADMIN=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).adminToken)' "$DEMO_DIR/init.json")
node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));delete j.adminToken;console.log(j)' "$DEMO_DIR/init.json"

step "2. imprint serve on https://localhost:$PORT"
imprint serve > "$DEMO_DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -skf "https://localhost:$PORT/healthz" >/dev/null && break
  sleep 0.2
done
curl -sk "https://localhost:$PORT/healthz"; echo
api() { curl -sk -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' "$@"; }

step "3. registry: a device model, an owner tenant, devices (over the API)"
MODEL=$(api -X POST "https://localhost:$PORT/api/v1/models" -d '{"name":"thermo-1","description":"demo thermostat"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
api -X POST "https://localhost:$PORT/api/v1/tenants" -d '{"name":"Globex","kind":"owner"}' >/dev/null
for i in 1 2 3; do
  api -X POST "https://localhost:$PORT/api/v1/devices" -d "{\"serial\":\"TH-000$i\",\"modelId\":\"$MODEL\"}" >/dev/null
done
imprint device list

if [[ -x scripts/demo-features.sh ]]; then
  ADMIN="$ADMIN" PORT="$PORT" MODEL="$MODEL" DEMO_DIR="$DEMO_DIR" bash scripts/demo-features.sh
fi

step "4. the audit log: every change above, verifiable offline"
imprint audit tail -n 5 || true
if imprint audit export --out "$DEMO_DIR/audit.json" >/dev/null 2>&1; then
  imprint audit verify "$DEMO_DIR/audit.json" --public-key "$DEMO_DIR/audit.json" || true
fi

cat <<EOM

Imprint is running at https://localhost:$PORT (self-signed bootstrap or Imprint TLS CA certificate)
  admin token : $ADMIN
  try         : curl -sk -H "Authorization: Bearer \$TOKEN" https://localhost:$PORT/api/v1/devices
  OpenAPI     : https://localhost:$PORT/api/v1/openapi.json
  data dir    : $IMPRINT_DATA_DIR   (server log: $DEMO_DIR/server.log)
EOM
if [[ -t 0 && -z "${CI:-}" ]]; then
  echo "Serving until Ctrl-C."
  wait $SERVER
fi
