#!/usr/bin/env bash
# The firmware-update part of `make demo`: the factory-provisioned devices install the 1.1.0 image that
# scripts/demo-features.sh signed and published, rolled out to a pilot group first and then to everyone;
# then a 1.2.0 that fails its health check is reverted.
# Inputs (environment): PORT, MODEL (model id), DEMO_DIR, IMPRINT_DATA_DIR.
set -euo pipefail
imprint() { node dist/cli/main.js "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v[k];console.log(v)})' "$1"; }
URL="https://localhost:$PORT"
CA="$IMPRINT_DATA_DIR/tls/ca.pem"
RM=$(cat "$DEMO_DIR/release-manager.token")
rm_api() { curl -s --cacert "$CA" -H "Authorization: Bearer $RM" -H 'content-type: application/json' "$@"; }
TENANT=$(imprint --json tenant list | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).find(t=>t.kind==="manufacturer").id))')
# Devices ship trusting the manufacturer's first TUF root; every later root must be signed by it.
curl -s --cacert "$CA" "$URL/tuf/$TENANT/1.root.json" > "$DEMO_DIR/1.root.json"
DEVICES=("$DEMO_DIR"/devices/device-*.cbor)

step "rollout: release 1.1.0 goes to a pilot group of two devices first"
RELEASE=$(rm_api -X POST "$URL/api/v1/firmware/releases" -d "{\"imageDigest\":\"$(cat "$DEMO_DIR/release-1.1.0.digest")\",\"modelIds\":[\"$MODEL\"]}" | json id)
PILOT=$(imprint --json device list --state provisioned --limit 2 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(JSON.parse(s).map(d=>d.id))))')
rm_api -X POST "$URL/api/v1/firmware/groups/pilot" -d "{\"deviceIds\":$PILOT}" >/dev/null
rm_api -X POST "$URL/api/v1/firmware/releases/$RELEASE/stage" -d '{"stage":"group","group":"pilot"}' | json stage

step "update: each device checks TUF and its rollout, verifies 1.1.0 as its boot ROM will, swaps it in, confirms, reports over mTLS"
update() { imprint device update --state "$1" --server "$URL" --ca "$CA" --root "$DEMO_DIR/1.root.json" "${@:2}"; }
update "${DEVICES[0]}"
for state in "${DEVICES[@]:1}"; do update "$state" | tail -1; done
progress() { rm_api "$URL/api/v1/firmware/releases/$RELEASE/progress" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const p=JSON.parse(s);console.log("release "+p.release.version+" at stage "+p.release.stage+": "+p.total.installed+"/"+p.total.devices+" installed; "+p.groups.map(g=>g.group+" "+g.installed+"/"+g.devices).join(", "))})'; }
progress

step "the pilot is healthy: release 1.1.0 goes to everyone"
rm_api -X POST "$URL/api/v1/firmware/releases/$RELEASE/stage" -d '{"stage":"all"}' | json stage
for state in "${DEVICES[@]}"; do update "$state" | tail -1; done
progress

step "a 1.2.0 that fails its health check on the device: the boot loader reverts it, the device reports it"
KEY=$(rm_api -X POST "$URL/api/v1/firmware/keys/code-signing-ca" -d "{}" | json keyId)
head -c 65536 /dev/urandom > "$DEMO_DIR/app-1.2.0.bin"
printf '{"keyId":"%s","firmware":"%s","version":"1.2.0","securityCounter":3,"publicKeyFormat":"full"}' \
  "$KEY" "$(base64 -w0 "$DEMO_DIR/app-1.2.0.bin")" > "$DEMO_DIR/sign-1.2.0.json"
DIGEST=$(rm_api -X POST "$URL/api/v1/firmware/sign" --data-binary @"$DEMO_DIR/sign-1.2.0.json" | json imageDigest)
[[ $DIGEST =~ ^[0-9a-f]{64}$ ]] || { echo "signing 1.2.0 failed" >&2; exit 1; }
rm_api -X POST "$URL/api/v1/firmware/tuf/targets" -d "{\"imageDigest\":\"$DIGEST\",\"modelId\":\"$MODEL\"}" >/dev/null
R12=$(rm_api -X POST "$URL/api/v1/firmware/releases" -d "{\"imageDigest\":\"$DIGEST\",\"modelIds\":[\"$MODEL\"]}" | json id)
rm_api -X POST "$URL/api/v1/firmware/releases/$R12/stage" -d '{"stage":"all"}' >/dev/null
if update "${DEVICES[0]}" --fail-health-check; then echo "an unhealthy image stayed?!"; exit 1; fi
imprint audit tail -n 1
