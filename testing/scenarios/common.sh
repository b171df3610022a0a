# Shared by the operator scenarios (sourced, not run). Settings come from the environment; see
# README.md beside this file. Each scenario prints its steps, then one line: PASS or FAIL with
# the evidence, and exits 0 or 1 (2 for a missing setting).

SCENARIO=$(basename "$0" .sh)
TIMEOUT=${SCENARIO_TIMEOUT:-30}   # seconds a change may take to cross
QUIET=${SCENARIO_QUIET:-5}        # seconds the topics must stay still to count as settled
BIN=${DUALSYNC_BIN:+$DUALSYNC_BIN/}

say() { echo "$SCENARIO: $*"; }
pass() { say "PASS: $*"; exit 0; }
fail() { say "FAIL: $*"; exit 1; }
need() { local v; for v; do [ -n "${!v:-}" ] || { say "FAIL: set $v (see testing/scenarios/README.md)"; exit 2; }; done; }

# A marker no application writes, and an id per run (SCENARIO_ID, or one from the range
# SCENARIO_ID_BASE upwards; choose a range your applications never use).
MARKER=dsync$(date +%s)$$
next_id() { echo $(( ${SCENARIO_ID_BASE:-1900000000} + ($$ % 10000) * 100 + $1 )); }

# sql URL STATEMENT: the rows, tab-separated. mysql:// (or mariadb://) through the mariadb or
# mysql client, postgres:// through psql.
sql() {
  local url=$1 statement=$2
  case $url in
    mysql://*|mariadb://*)
      local re='^[a-z]+://([^:@/]+)(:([^@]*))?@([^:/]+)(:([0-9]+))?/([^?]*)'
      [[ $url =~ $re ]] || fail "cannot read the URL ${url%%@*}@…"
      local client=mariadb; command -v mariadb >/dev/null || client=mysql
      MYSQL_PWD=${BASH_REMATCH[3]} "$client" -h "${BASH_REMATCH[4]}" -P "${BASH_REMATCH[6]:-3306}" \
        -u "${BASH_REMATCH[1]}" -N -B -e "$statement" "${BASH_REMATCH[7]}" ;;
    postgres://*|postgresql://*) psql -X -q -tA -F $'\t' -v ON_ERROR_STOP=1 "$url" -c "$statement" ;;
    *) fail "not a mysql:// or postgres:// URL: ${url%%:*}://…" ;;
  esac
}
side_url() { if [ "$1" = legacy ]; then echo "$DUALSYNC_LEGACY_URL"; else echo "$DUALSYNC_REVAMP_URL"; fi; }
# on SIDE TEMPLATE_VARIABLE ID MARKER: runs the side's statement template with {id} and {marker}.
on() {
  local template=${!2}
  template=${template//\{id\}/$3}
  sql "$(side_url "$1")" "${template//\{marker\}/$4}"
}
upper() { tr '[:lower:]' '[:upper:]' <<<"$1"; }

# wait_value SIDE ID EXPECTED: waits until the side's SCENARIO_<SIDE>_READ of the row says
# EXPECTED; sets WAITED_MS. Returns 1 after TIMEOUT.
wait_value() {
  local side=$1 id=$2 expected=$3 started=$(date +%s%N) got
  local read="SCENARIO_$(upper "$side")_READ"
  while :; do
    got=$(on "$side" "$read" "$id" "" 2>/dev/null || true)
    WAITED_MS=$(( ($(date +%s%N) - started) / 1000000 ))
    [ "$got" = "$expected" ] && return 0
    [ "$WAITED_MS" -gt $((TIMEOUT * 1000)) ] && { LAST_VALUE=$got; return 1; }
    sleep 0.2
  done
}

# The end offsets of the change topics of both sides, one "topic partition end" per line.
offsets() {
  local topics
  topics=$(tr ',' ' ' <<<"$DUALSYNC_LEGACY_TOPICS,$DUALSYNC_REVAMP_TOPICS")
  # shellcheck disable=SC2086
  "${BIN}dualsync" offsets --brokers "$DUALSYNC_BROKERS" $topics
}
# Records added between two offset listings, per side: "legacy N revamp M".
growth() {
  local before=$1 after=$2
  python3 - "$before" "$after" "$DUALSYNC_LEGACY_TOPICS" <<'PY'
import sys
def read(text):
    return {tuple(l.split("\t")[:2]): int(l.split("\t")[2]) for l in text.splitlines() if l}
before, after, legacy = read(sys.argv[1]), read(sys.argv[2]), set(sys.argv[3].split(","))
grown = {"legacy": 0, "revamp": 0}
for key, end in after.items():
    grown["legacy" if key[0] in legacy else "revamp"] += end - before.get(key, 0)
print(f"legacy {grown['legacy']} revamp {grown['revamp']}")
PY
}
# settle: waits until the topics stay still for QUIET seconds (TIMEOUT at most); sets SETTLED to
# the last listing. Returns 1 if they keep growing: changes going back and forth.
settle() {
  local last now deadline=$(( $(date +%s) + TIMEOUT + QUIET ))
  last=$(offsets) || fail "cannot read the topics' offsets"
  while :; do
    sleep "$QUIET"
    now=$(offsets) || fail "cannot read the topics' offsets"
    [ "$now" = "$last" ] && { SETTLED=$now; return 0; }
    [ "$(date +%s)" -gt "$deadline" ] && { SETTLED=$now; return 1; }
    last=$now
  done
}

# Rows this scenario made are deleted on both sides when it ends, whatever happened.
CLEANUP_IDS=()
cleanup() {
  local id side
  for id in "${CLEANUP_IDS[@]}"; do
    for side in legacy revamp; do on "$side" "SCENARIO_$(upper "$side")_DELETE" "$id" "" >/dev/null 2>&1 || true; done
  done
}
trap cleanup EXIT

need DUALSYNC_LEGACY_URL DUALSYNC_REVAMP_URL DUALSYNC_BROKERS DUALSYNC_LEGACY_TOPICS DUALSYNC_REVAMP_TOPICS \
  SCENARIO_LEGACY_INSERT SCENARIO_LEGACY_UPDATE SCENARIO_LEGACY_READ SCENARIO_LEGACY_DELETE \
  SCENARIO_REVAMP_INSERT SCENARIO_REVAMP_UPDATE SCENARIO_REVAMP_READ SCENARIO_REVAMP_DELETE SCENARIO_VALUE
# The topics must be still before a scenario counts what it adds to them: the scenario table
# pair's topics should carry no other traffic (see README.md).
settle || fail "the topics do not settle before the scenario starts: other writes to the scenario tables? (README.md)"

# The value SCENARIO_<SIDE>_READ gives for a row written with MARKER.
value_of() { echo "${SCENARIO_VALUE//\{marker\}/$1}"; }

# cross FROM TO: a marked row inserted on FROM, then updated, each waited for on TO; then the
# topics must settle and the row on FROM must be as FROM wrote it (nothing came back).
cross() {
  local from=$1 to=$2 id before inserted updated marker2="${MARKER}u" grown
  local FROM; FROM=$(upper "$from")
  id=$(next_id 1); CLEANUP_IDS+=("$id")
  before=$(offsets) || fail "cannot read the topics' offsets (DUALSYNC_BROKERS, DUALSYNC_*_TOPICS)"
  say "inserting row $id on the $from side (marker $MARKER)"
  on "$from" "SCENARIO_${FROM}_INSERT" "$id" "$MARKER" >/dev/null || fail "the insert on the $from side failed"
  wait_value "$to" "$id" "$(value_of "$MARKER")" ||
    fail "row $id did not reach the $to side within $TIMEOUT s (it reads ${LAST_VALUE:-nothing})"
  inserted=$WAITED_MS
  say "updating row $id on the $from side"
  on "$from" "SCENARIO_${FROM}_UPDATE" "$id" "$marker2" >/dev/null || fail "the update on the $from side failed"
  wait_value "$to" "$id" "$(value_of "$marker2")" ||
    fail "the update of row $id did not reach the $to side within $TIMEOUT s (it reads ${LAST_VALUE:-nothing})"
  updated=$WAITED_MS
  settle || fail "the topics keep growing ($(growth "$before" "$SETTLED") records and counting): changes go back and forth"
  grown=$(growth "$before" "$SETTLED")
  wait_value "$from" "$id" "$(value_of "$marker2")" || fail "row $id changed again on the $from side: an echo came back"
  CROSSED="insert seen on the $to side after ${inserted} ms, update after ${updated} ms; records added: $grown, then none for ${QUIET} s"
}
