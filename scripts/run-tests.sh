#!/usr/bin/env bash
# Runs every test file through node:test + tsx. The file list is explicit because a bare directory
# finds no tests on Node 20.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find test -name '*.test.ts' | sort)
if ((${#files[@]} == 0)); then echo "no test files found" >&2; exit 1; fi
log=$(mktemp)
set +e
node --import tsx --test --test-concurrency=2 --test-timeout=600000 --test-reporter=spec "${files[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
pass=$(grep -E '^ℹ pass [0-9]+' "$log" | tail -1 | awk '{print $3}')
fail=$(grep -E '^ℹ fail [0-9]+' "$log" | tail -1 | awk '{print $3}')
rm -f "$log"
echo "${pass:-0} passed, ${fail:-0} failed"
exit "$rc"
