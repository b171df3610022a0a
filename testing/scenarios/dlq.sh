#!/usr/bin/env bash
# What the other side refuses goes to the dead-letter topic with its context, and blocks
# nothing: a revamp row the legacy side cannot store (SCENARIO_REVAMP_POISON) lands in
# DUALSYNC_DLQ_R2L, and a valid change made right after it still crosses.
# Settings: README.md beside this file.
set -euo pipefail
. "$(dirname "$0")/common.sh"
need DUALSYNC_DLQ_R2L SCENARIO_REVAMP_POISON
poison=$(next_id 1) good=$(next_id 2); CLEANUP_IDS+=("$poison" "$good")
dead() { "${BIN}dualsync" offsets --brokers "$DUALSYNC_BROKERS" "$DUALSYNC_DLQ_R2L" | awk -F'\t' '{s += $3} END {print s + 0}'; }
before=$(dead)
say "writing row $poison on the revamp side, which the legacy side refuses, then a valid row $good"
on revamp SCENARIO_REVAMP_POISON "$poison" "$MARKER" >/dev/null || fail "the poison insert failed on the revamp side"
on revamp SCENARIO_REVAMP_INSERT "$good" "${MARKER}g" >/dev/null || fail "the insert failed"
wait_value legacy "$good" "$(value_of "${MARKER}g")" || fail "the valid row $good did not cross: the refused one blocks"
started=$(date +%s)
until [ "$(dead)" -gt "$before" ]; do
  [ $(( $(date +%s) - started )) -gt "$TIMEOUT" ] && fail "no dead letter in $DUALSYNC_DLQ_R2L within $TIMEOUT s"
  sleep 0.5
done
letter=$("${BIN}dualsync" dlq list --brokers "$DUALSYNC_BROKERS" --topic "$DUALSYNC_DLQ_R2L" 2>/dev/null | tail -n 1)
[ -n "$letter" ] || fail "the dead-letter topic grew but dualsync dlq list shows nothing"
[ -z "$(on legacy SCENARIO_LEGACY_READ "$poison" "")" ] || fail "the refused row $poison is on the legacy side"
pass "row $poison dead-lettered ($letter); row $good crossed after ${WAITED_MS} ms"
