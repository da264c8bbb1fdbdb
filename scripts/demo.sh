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
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "port $PORT is in use (an earlier demo still serving?); stop it or set IMPRINT_PORT" >&2
  exit 1
fi
node dist/cli/main.js serve > "$DEMO_DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf --cacert "$IMPRINT_DATA_DIR/tls/ca.pem" "https://localhost:$PORT/healthz" >/dev/null && break
  sleep 0.2
done
curl -s --cacert "$IMPRINT_DATA_DIR/tls/ca.pem" "https://localhost:$PORT/healthz"; echo
api() { curl -s --cacert "$IMPRINT_DATA_DIR/tls/ca.pem" -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' "$@"; }

step "3. registry: a device model, an owner tenant, devices (over the API)"
MODEL=$(api -X POST "https://localhost:$PORT/api/v1/models" -d '{"name":"thermo-1","description":"demo thermostat"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
api -X POST "https://localhost:$PORT/api/v1/tenants" -d '{"name":"Globex","kind":"owner"}' >/dev/null
for i in 1 2 3; do
  api -X POST "https://localhost:$PORT/api/v1/devices" -d "{\"serial\":\"TH-000$i\",\"modelId\":\"$MODEL\"}" >/dev/null
done
imprint device list

# The life-cycle steps: factory, PKI, ownership and firmware; then zero-touch onboarding; then an update.
for part in features sztp update; do
  if [[ -f scripts/demo-$part.sh ]]; then
    ADMIN="$ADMIN" PORT="$PORT" MODEL="$MODEL" DEMO_DIR="$DEMO_DIR" bash "scripts/demo-$part.sh"
  fi
done

step "4. the audit log: every change above, verifiable offline"
imprint audit tail -n 5
api "https://localhost:$PORT/api/v1/audit/public-key" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).publicKeyPem))' > "$DEMO_DIR/audit-key.pem"
imprint audit export --out "$DEMO_DIR/audit.json"
imprint audit verify "$DEMO_DIR/audit.json" --public-key "$DEMO_DIR/audit-key.pem"
echo "now tamper with one entry and verify again:"
node -e 'const f=process.argv[1];const j=JSON.parse(require("fs").readFileSync(f));j.entries[3].actor="cli:mallory";require("fs").writeFileSync(f+".tampered",JSON.stringify(j))' "$DEMO_DIR/audit.json"
imprint audit verify "$DEMO_DIR/audit.json.tampered" --public-key "$DEMO_DIR/audit-key.pem" || echo "(refused, as it must be)"

cat <<EOM

Imprint is running at https://localhost:$PORT (certificate from its own TLS CA; trust anchor $IMPRINT_DATA_DIR/tls/ca.pem)
  admin token : $ADMIN
  try         : curl --cacert $IMPRINT_DATA_DIR/tls/ca.pem -H "Authorization: Bearer $ADMIN" https://localhost:$PORT/api/v1/devices
  OpenAPI     : https://localhost:$PORT/api/v1/openapi.json
  data dir    : $IMPRINT_DATA_DIR   (server log: $DEMO_DIR/server.log)
EOM
if [[ -t 0 && -z "${CI:-}" ]]; then
  echo "Serving until Ctrl-C."
  wait $SERVER
fi
