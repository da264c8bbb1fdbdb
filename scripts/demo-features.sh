#!/usr/bin/env bash
# The life-cycle part of `make demo`, against the server scripts/demo.sh started.
# Inputs (environment): ADMIN (admin token), PORT, MODEL (model id), DEMO_DIR, IMPRINT_DATA_DIR.
set -euo pipefail
imprint() { node dist/cli/main.js "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v[k];console.log(v)})' "$1"; }
URL="https://localhost:$PORT"
CA="$IMPRINT_DATA_DIR/tls/ca.pem"
COUNT=${DEMO_DEVICES:-8}

step "factory: a station, a batch of $COUNT identities, simulated devices on a TCP line"
STATION=$(imprint --json factory station create --name line-1 | json id)
BATCH=$(imprint --json factory batch create --model thermo-1 --count "$COUNT" --station "$STATION" | json id)
echo "station $STATION, batch $BATCH (the server refuses identity $((COUNT + 1)))"
node dist/cli/main.js device simulate --model thermo-1 --count "$COUNT" --dir "$DEMO_DIR/devices" --listen 127.0.0.1:7700 \
  > "$DEMO_DIR/line.log" 2>&1 &
LINE=$!
trap 'kill $LINE 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/7700) 2>/dev/null && break; sleep 0.2; done

step "factory run: keys born in each device's secure element, IDevIDs from the manufacturer CA, secrets sealed by HPKE"
imprint factory run --batch "$BATCH" --station "$STATION" --count "$COUNT" --parallel 4 --line 127.0.0.1:7700 \
  --labels "$DEMO_DIR/labels" --no-progress
kill $LINE 2>/dev/null || true
imprint device list --state provisioned --limit 3

step "an IDevID, judged by openssl"
DEV=$(imprint --json device list --state provisioned --limit 1 | json 0.id)
imprint --json cert list --device "$DEV" > "$DEMO_DIR/certs.json" 2>/dev/null || imprint --json cert list > "$DEMO_DIR/certs.json"
CERT=$(json 0.id < "$DEMO_DIR/certs.json")
imprint cert show "$CERT" --pem > "$DEMO_DIR/idevid.pem"
MFG=$(imprint --json ca list | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).find(c=>c.role==="manufacturer").id))')
curl -s --cacert "$CA" "$URL/ca/$MFG.crt" | openssl x509 -inform DER -out "$DEMO_DIR/mfg-ca.pem"
openssl verify -CAfile "$CA" -untrusted "$DEMO_DIR/mfg-ca.pem" "$DEMO_DIR/idevid.pem"
openssl x509 -in "$DEMO_DIR/idevid.pem" -noout -subject -enddate

step "OCSP: openssl asks Imprint's responder"
openssl ocsp -issuer "$DEMO_DIR/mfg-ca.pem" -cert "$DEMO_DIR/idevid.pem" -url "$URL/ocsp" -CAfile "$CA" \
  -verify_other "$DEMO_DIR/mfg-ca.pem" 2>&1 | grep -E "idevid.pem|Response verify" || true

step "the customer's signed manifest, verified offline"
imprint manifest sign --batch "$BATCH" --out "$DEMO_DIR/batch.jws"
imprint manifest verify "$DEMO_DIR/batch.jws" --ca "$CA"

step "ownership: Globex claims one device by its QR label, once"
LABEL=$(ls "$DEMO_DIR"/labels/*.png | head -1)
imprint claim --qr "$LABEL" --tenant Globex
if imprint claim --qr "$LABEL" --tenant Globex 2>/dev/null; then echo "second claim accepted?!"; exit 1; else echo "second claim refused, as it must be"; fi

step "firmware: the code-signing key (its hash is in every device's fuses) signs an MCUboot image; TUF publishes it"
RM=$(imprint --json token create --name release --role release-manager | json token)
rm_api() { curl -s --cacert "$CA" -H "Authorization: Bearer $RM" -H 'content-type: application/json' "$@"; }
KEY=$(rm_api -X POST "$URL/api/v1/firmware/keys/code-signing-ca" -d "{}" | json keyId)
head -c 65536 /dev/urandom > "$DEMO_DIR/app.bin"
FW=$(base64 -w0 "$DEMO_DIR/app.bin")
printf '{"keyId":"%s","firmware":"%s","version":"1.1.0","securityCounter":2,"publicKeyFormat":"full"}' "$KEY" "$FW" > "$DEMO_DIR/sign.json"
SIGNED=$(rm_api -X POST "$URL/api/v1/firmware/sign" --data-binary @"$DEMO_DIR/sign.json")
DIGEST=$(echo "$SIGNED" | json imageDigest)
[[ $DIGEST =~ ^[0-9a-f]{64}$ ]] || { echo "signing failed: $SIGNED" >&2; exit 1; }
echo "signed 1.1.0 (security counter 2): image digest $DIGEST"
rm_api -X POST "$URL/api/v1/firmware/tuf/init" -d '{}' >/dev/null
rm_api -X POST "$URL/api/v1/firmware/tuf/targets" -d "{\"imageDigest\":\"$DIGEST\",\"modelId\":\"$MODEL\"}" >/dev/null
echo "$RM" > "$DEMO_DIR/release-manager.token"
echo "$DIGEST" > "$DEMO_DIR/release-1.1.0.digest"
TENANT=$(imprint --json tenant list | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).find(t=>t.kind==="manufacturer").id))')
curl -s --cacert "$CA" "$URL/tuf/$TENANT/timestamp.json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const t=JSON.parse(s);console.log("TUF timestamp v"+t.signed.version+", expires "+t.signed.expires+", "+t.signatures.length+" signature(s)")})'
