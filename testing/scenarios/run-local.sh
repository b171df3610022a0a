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
  # Valid data never reaches a dead-letter topic: the only dead letter of the run is dlq.sh's.
  (. /tmp/dualsync-live/scenario.env
   count() { "$DUALSYNC_BIN/dualsync" offsets --brokers "$DUALSYNC_BROKERS" "$1" | awk -F'\t' '{s += $3} END {print s + 0}'; }
   l2r=$(count "$DUALSYNC_DLQ_L2R") r2l=$(count "$DUALSYNC_DLQ_R2L")
   if [ "$l2r" = 0 ] && [ "$r2l" = 1 ]; then
     echo "scenarios ($capture): PASS: the run's only dead letter is dlq.sh's"
   else
     echo "scenarios ($capture): FAIL: dead letters: legacy-to-revamp $l2r, revamp-to-legacy $r2l (expected 0 and 1):"
     "$DUALSYNC_BIN/dualsync" dlq list --brokers "$DUALSYNC_BROKERS" --topic "$DUALSYNC_DLQ_R2L" 2>/dev/null | head -5
     exit 1
   fi) && passed=$((passed + 1)) || failed=$((failed + 1))
  kill -TERM "$live"; wait "$live" || true
  rm -f "$log"
done
echo "scenarios: $passed passed, $failed failed"
[ "$failed" = 0 ]
