#!/usr/bin/env bash
# The zero-touch onboarding part of `make demo` (SZTP, RFC 8572, with an RFC 8366 voucher), against the
# server scripts/demo.sh started and the devices scripts/demo-features.sh provisioned at the factory.
# Inputs (environment): PORT, DEMO_DIR, IMPRINT_DATA_DIR.
set -euo pipefail
imprint() { node dist/cli/main.js "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v[k];console.log(v)})' "$1"; }
tenant() { imprint --json tenant list | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).find(t=>t[process.argv[1]]===process.argv[2]).id))' "$1" "$2"; }
URL="https://localhost:$PORT"
CA="$IMPRINT_DATA_DIR/tls/ca.pem"
OUT="$DEMO_DIR/sztp"
mkdir -p "$OUT"
STATES=("$DEMO_DIR"/devices/device-*.cbor)
STATE=${STATES[-1]}

step "SZTP: the device holds only what the factory gave it: its IDevID (key in the secure element) and its chain"
imprint device idevid --state "$STATE"
SERIAL=$(imprint device idevid --state "$STATE" | json serial)

step "SZTP: the manufacturer registers its IDevID CA and generates its voucher-signing (MASA) key"
MFG=$(tenant kind manufacturer)
MFG_CA=$(imprint --json ca list | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).find(c=>c.role==="manufacturer").id))')
imprint ca show "$MFG_CA" --pem | openssl x509 -out "$OUT/idevid-ca.pem"
imprint sztp ca --tenant "$MFG" --cert "$OUT/idevid-ca.pem" | json subject
imprint sztp masa --tenant "$MFG" --generate --out "$OUT/masa.pem" >/dev/null
openssl x509 -in "$OUT/masa.pem" -noout -subject -enddate

step "SZTP: the owner (Globex) gets a signing key; the device is bound to it; its onboarding information is set"
GLOBEX=$(tenant name Globex)
OWNER=$(imprint sztp owner add --tenant "$GLOBEX" --name globex --generate --out "$OUT/owner.pem" | json id)
imprint sztp bind --tenant "$MFG" --owner "$OWNER" --serial "$SERIAL"
# The boot image comes from a plain web server: the device trusts it only through the signed SHA-256.
printf 'ImprintOS 2.0 for %s\n' "$SERIAL" > "$OUT/imprintos-2.0.img"
node -e 'const f=process.argv[1];require("http").createServer((q,s)=>s.end(require("fs").readFileSync(f))).listen(0,"127.0.0.1",function(){require("fs").writeFileSync(process.argv[2],String(this.address().port))})' \
  "$OUT/imprintos-2.0.img" "$OUT/images.port" &
IMAGES=$!
trap 'kill $IMAGES 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do [[ -s "$OUT/images.port" ]] && break; sleep 0.1; done
HASH=$(sha256sum "$OUT/imprintos-2.0.img" | cut -c1-64 | sed 's/../&:/g;s/:$//')
cat > "$OUT/onboarding.json" <<EOF
{"ietf-sztp-conveyed-info:onboarding-information": {
  "boot-image": {"os-name": "ImprintOS", "os-version": "2.0",
    "download-uri": ["http://127.0.0.1:$(cat "$OUT/images.port")/imprintos-2.0.img"],
    "image-verification": [{"hash-algorithm": "ietf-sztp-conveyed-info:sha-256", "hash-value": "$HASH"}]},
  "configuration-handling": "replace",
  "configuration": "$(printf '{"hostname":"%s","ntp":"pool.ntp.org"}' "$SERIAL" | base64 -w0)"}}
EOF
imprint sztp record --owner "$OWNER" --scope owner --scope-id "$OWNER" --file "$OUT/onboarding.json"

summary() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(`ok=${r.ok}${r.error?" "+r.error.code:""}; events: ${r.events.map(e=>e.what+(e.code?" ("+e.code+")":"")).join(", ")}; reports sent: ${r.reports.map(x=>x.type).join(", ")||"none"}`)})'; }
step "SZTP: a device that trusts another MASA refuses the voucher and applies nothing"
imprint device onboard --state "$STATE" --server "$URL" --server-ca "$CA" --voucher-ca "$OUT/owner.pem" \
  --state-dir "$OUT/refused" | summary || true

step "SZTP: the device bootstraps: mutual TLS with its IDevID, voucher + owner certificate verified, image and configuration installed"
imprint device onboard --state "$STATE" --server "$URL" --server-ca "$CA" --voucher-ca "$OUT/masa.pem" | summary
echo "installed: $(cat "$STATE.sztp/os.json"), configuration $(cat "$STATE.sztp/configuration")"
DEVICE=$(imprint --json device list --tenant "$GLOBEX" --state onboarded | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).find(d=>d.serial===process.argv[1]).id))' "$SERIAL")
echo "the owner's bootstrapping log of $SERIAL ($DEVICE):"
imprint sztp log --tenant "$GLOBEX" --device "$DEVICE" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of JSON.parse(s))console.log("  "+l.createdAt+" "+l.kind+" "+(l.progressType??l.message??(l.details.signed?"signed "+l.details.kind:"")))})'
