#!/usr/bin/env bash
# Changes applied twice leave the same rows: a run of updates to one legacy row crosses while
# the legacy-to-revamp consumer is killed (SCENARIO_CRASH_L2R, a command; without it the run
# only repeats identical updates), so the events of its unfinished batch are delivered again.
# The revamp side must end with the row's last value, once, and the topics settle.
# Settings: README.md beside this file.
set -euo pipefail
. "$(dirname "$0")/common.sh"
updates=${SCENARIO_UPDATES:-20}
id=$(next_id 1); CLEANUP_IDS+=("$id")
on legacy SCENARIO_LEGACY_INSERT "$id" "$MARKER" >/dev/null || fail "the insert failed"
wait_value revamp "$id" "$(value_of "$MARKER")" || fail "row $id did not reach the revamp side"
before=$(offsets)
say "updating row $id $updates times on the legacy side"
for n in $(seq 1 "$updates"); do
  on legacy SCENARIO_LEGACY_UPDATE "$id" "${MARKER}n$n" >/dev/null
  if [ "$n" = $((updates / 2)) ] && [ -n "${SCENARIO_CRASH_L2R:-}" ]; then
    say "killing the legacy-to-revamp consumer mid-run"
    bash -c "$SCENARIO_CRASH_L2R" || fail "SCENARIO_CRASH_L2R failed"
    crashed=", with the consumer killed mid-run"
  fi
  # The same values again: an update that changes nothing but the row's time.
  if [ $((n % 5)) = 0 ]; then on legacy SCENARIO_LEGACY_UPDATE "$id" "${MARKER}n$n" >/dev/null; fi
done
wait_value revamp "$id" "$(value_of "${MARKER}n$updates")" ||
  fail "the revamp side reads ${LAST_VALUE:-nothing} for row $id, not the last update"
settle || fail "the topics keep growing: changes go back and forth"
pass "row $id holds its last update on both sides after $updates updates${crashed:-}; waited ${WAITED_MS} ms; records added: $(growth "$before" "$SETTLED")"
