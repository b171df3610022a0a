#!/usr/bin/env bash
# Runs every operator scenario against testing/live.sh's deployment of the demo shop, once with
# each capture path (dualsync capture, then real Debezium), and prints "N passed, N failed".
# The test command (testing/test.sh) runs it.
#
#   testing/scenarios/run-local.sh [dualsync|debezium ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
captures=("$@"); [ ${#captures[@]} -gt 0 ] || captures=(dualsync debezium)
scenarios=(legacy-to-revamp revamp-to-legacy loop-prevention idempotency dlq)
passed=0 failed=0
for capture in "${captures[@]}"; do
  log=$(mktemp)
  rm -f /tmp/dualsync-live/scenario.env
  testing/live.sh --capture "$capture" >"$log" 2>&1 &
  live=$!
  for _ in $(seq 1 600); do
    grep -q "Press Ctrl-C" "$log" && break
    kill -0 "$live" 2>/dev/null || break
    sleep 0.5
  done
  if ! grep -q "Press Ctrl-C" "$log"; then
    echo "scenarios ($capture): FAIL: the deployment did not start:"; tail -20 "$log"
    kill -TERM "$live" 2>/dev/null || true; wait "$live" || true
    failed=$((failed + ${#scenarios[@]})); continue
  fi
  for scenario in "${scenarios[@]}"; do
    echo "scenarios ($capture): $scenario"
    if (. testing/scenarios/shop.env && . /tmp/dualsync-live/scenario.env && "testing/scenarios/$scenario.sh"); then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
    fi
  done
  kill -TERM "$live"; wait "$live" || true
  rm -f "$log"
done
echo "scenarios: $passed passed, $failed failed"
[ "$failed" = 0 ]
