#!/usr/bin/env bash
# No ping-pong: one change made on each side at the same time crosses once. The topics settle,
# each side's change topics grow by at most SCENARIO_MAX_RECORDS (default 4: the two changes,
# and with Debezium the copies dualsync wrote, which the consumers skip) and each row stays as
# its own side wrote it. Settings: README.md beside this file.
set -euo pipefail
. "$(dirname "$0")/common.sh"
max=${SCENARIO_MAX_RECORDS:-4}
left=$(next_id 1) right=$(next_id 2); CLEANUP_IDS+=("$left" "$right")
before=$(offsets) || fail "cannot read the topics' offsets"
say "inserting row $left on the legacy side and row $right on the revamp side at once"
on legacy SCENARIO_LEGACY_INSERT "$left" "${MARKER}l" >/dev/null &
on revamp SCENARIO_REVAMP_INSERT "$right" "${MARKER}r" >/dev/null
wait || fail "an insert failed"
wait_value revamp "$left" "$(value_of "${MARKER}l")" || fail "row $left did not reach the revamp side"
wait_value legacy "$right" "$(value_of "${MARKER}r")" || fail "row $right did not reach the legacy side"
settle || fail "the topics keep growing ($(growth "$before" "$SETTLED") records and counting): ping-pong"
read -r _ legacy_grown _ revamp_grown <<<"$(growth "$before" "$SETTLED")"
[ "$legacy_grown" -le "$max" ] && [ "$revamp_grown" -le "$max" ] ||
  fail "records added: legacy $legacy_grown, revamp $revamp_grown (at most $max each): a change went round"
for side in legacy revamp; do
  for id in "$left" "$right"; do
    expected=$( [ "$id" = "$left" ] && echo "${MARKER}l" || echo "${MARKER}r")
    [ "$(on "$side" "SCENARIO_$(upper "$side")_READ" "$id" "")" = "$(value_of "$expected")" ] ||
      fail "row $id changed again on the $side side"
  done
done
pass "both rows crossed once; records added: legacy $legacy_grown, revamp $revamp_grown, then none for ${QUIET} s"
