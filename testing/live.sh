#!/usr/bin/env bash
# Two-way sync, live, on the local services: the demo shop (mappings/shop) with MariaDB database
# `shop` as legacy and PostgreSQL `dualsync_test.public` as revamp. It loads both schemas (empty),
# runs `dualsync check` and `dualsync install-triggers`, then starts both `dualsync capture`
# processes and both consumers, and prints what to type to watch a change cross either way.
# Ctrl-C stops the four processes cleanly (SIGTERM: batches in hand are written, offsets
# committed) and drops the PostgreSQL capture's slot.
#
#   testing/live.sh                 run until Ctrl-C
#   testing/live.sh --check         make the two changes it suggests, wait for each on the other
#                                   side (60 s at most), say PASS or FAIL, stop (CI runs this)
#   testing/live.sh --capture debezium
#                                   capture with real Debezium 3.6 (the registrations in
#                                   debezium/, testing/debezium.sh) instead of `dualsync capture`;
#                                   the legacy side is then the services' second MariaDB (13307),
#                                   which the MySQL connector accepts
#
# A consumer killed with SIGKILL is started again (as a service manager would), so operator
# scenarios can crash one (testing/scenarios/idempotency.sh). The settings the scenarios need are
# written to /tmp/dualsync-live/scenario.env. Logs and configurations: /tmp/dualsync-live.
set -euo pipefail
cd "$(dirname "$0")/.."

check=0 capture=dualsync
while [ $# -gt 0 ]; do
  case $1 in
    --check) check=1; shift ;;
    --capture) capture=$2; shift 2 ;;
    *) echo "usage: $0 [--check] [--capture dualsync|debezium]" >&2; exit 2 ;;
  esac
done
case $capture in dualsync|debezium) ;; *) echo "live: --capture dualsync or debezium" >&2; exit 2 ;; esac

eval "$(testing/services.sh env)"
mysql_url=$DUALSYNC_TEST_MYSQL_URL
[ "$capture" = debezium ] && mysql_url=$DUALSYNC_TEST_MYSQL_DEBEZIUM_URL
SHOP_MYSQL_URL=$mysql_url testing/shop-check.sh >/dev/null
eval "$(testing/services.sh env)"
base=${mysql_url%/*}
legacy_url="$base/shop"
revamp_url=$DUALSYNC_TEST_PG_URL
dir=/tmp/dualsync-live
rm -rf "$dir" && mkdir -p "$dir"
profile=${LIVE_PROFILE:-dev}   # LIVE_PROFILE=release for optimised binaries
cargo build -q --profile "$profile" -p dualsync-cli -p dualsync-consumer
bin=${CARGO_TARGET_DIR:-target}/$([ "$profile" = dev ] && echo debug || echo "$profile")

"$bin/dualsync" install-triggers --config mappings/shop/shop.yaml --legacy-url "$legacy_url" \
  --revamp-url "$revamp_url" >"$dir/install-triggers.txt"

# The change topics: each mapped table, and the tombstone tables the delete triggers write.
run=live$(date +%s)
my() { mariadb -h127.0.0.1 -P"${base##*:}" -udualsync -pdualsync -N -e "$1"; }
pg() { PGPASSWORD=dualsync psql -X -tA "$revamp_url" -c "$1"; }
legacy_tables=$(my "SELECT table_name FROM information_schema.tables WHERE table_schema = 'shop' \
  AND (table_name IN ('customers', 'orders') OR table_name LIKE 'dualsync\\_tomb\\_%')")
revamp_tables=$(pg "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' \
  AND (table_name IN ('customers', 'purchases') OR table_name LIKE 'dualsync\\_tomb\\_%')")
topics() { local prefix=$1 ns=$2; shift 2; for t in "$@"; do echo "$prefix.$ns.$t"; done; }
legacy_topics=$(topics "${run}l" shop $legacy_tables)
revamp_topics=$(topics "${run}r" public $revamp_tables)
for t in $legacy_topics $revamp_topics; do testing/services.sh topic "$t" 1; done
list() { local out; out=$(printf '%s, ' "$@"); echo "[${out%, }]"; }

cat >"$dir/capture-legacy.yaml" <<EOF
name: ${run}_l
source: $legacy_url
kafka: $DUALSYNC_TEST_KAFKA
topic_prefix: ${run}l
include: $(list $(for t in $legacy_tables; do echo "shop.$t"; done))
snapshot: never
producer:
  batch.num.messages: "1"   # the test broker (tansu 0.6.0) numbers multi-record batches wrongly
EOF
cat >"$dir/capture-revamp.yaml" <<EOF
name: ${run}_r
source: $revamp_url
kafka: $DUALSYNC_TEST_KAFKA
topic_prefix: ${run}r
include: $(list $(for t in $revamp_tables; do echo "public.$t"; done))
snapshot: never
producer:
  batch.num.messages: "1"
EOF
cp mappings/shop/shop.yaml "$dir/shop.yaml"
consumer_config() {
  cat <<EOF
kafka:
  brokers: $DUALSYNC_TEST_KAFKA
  group: ${run}-$1
  topics: $2
target:
  url: $3
mapping: shop.yaml
batch:
  linger_ms: 20
dlq:
  topic: ${run}-dlq-$1
http:
  listen: 127.0.0.1:$4
EOF
}
for t in "${run}-dlq-l2r" "${run}-dlq-r2l"; do testing/services.sh topic "$t" 1; done
consumer_config l2r "$(list $legacy_topics)" "$revamp_url" 19491 >"$dir/legacy-to-revamp.yaml"
consumer_config r2l "$(list $revamp_topics)" "$legacy_url" 19492 >"$dir/revamp-to-legacy.yaml"

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "live: stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pg "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'dualsync_${run}_r'" >/dev/null || true
  pg "DROP PUBLICATION IF EXISTS dualsync_${run}_r" >/dev/null || true
  echo "live: stopped; logs in $dir"
}
trap stop INT TERM EXIT
if [ "$capture" = dualsync ]; then
  for side in legacy revamp; do
    "$bin/dualsync" capture --config "$dir/capture-$side.yaml" 2>"$dir/capture-$side.log" &
    pids+=($!)
  done
else
  testing/debezium.sh install
  # The registrations of debezium/, on the local services (the test broker takes one record per
  # producer batch); the revamp slot and publication are named as dualsync capture's, so that
  # stop() drops them either way.
  common=("kafka.bootstrap.servers=$DUALSYNC_TEST_KAFKA" "producer.batch.size=0"
    database.hostname=127.0.0.1 database.user=dualsync database.password=dualsync)
  mkdir -p "$dir/debezium-legacy" "$dir/debezium-revamp"
  testing/debezium.sh run debezium/legacy-mysql.json "${common[@]}" "database.port=${base##*:}" \
    "runner.state.dir=$dir/debezium-legacy" "runner.ready.file=$dir/debezium-legacy/ready" \
    "name=${run}_l" "topic.prefix=${run}l" database.include.list=shop \
    "table.include.list=shop\.(customers|orders|dualsync_tomb_.*)" "database.server.id=$((200000 + RANDOM))" \
    >"$dir/capture-legacy.log" 2>&1 &
  pids+=($!)
  pg_port=${revamp_url##*:}; pg_port=${pg_port%%/*}
  testing/debezium.sh run debezium/revamp-postgres.json "${common[@]}" "database.port=$pg_port" \
    "runner.state.dir=$dir/debezium-revamp" "runner.ready.file=$dir/debezium-revamp/ready" \
    "name=${run}_r" "topic.prefix=${run}r" database.dbname=dualsync_test schema.include.list=public \
    "table.include.list=public\.(customers|purchases|dualsync_tomb_.*)" \
    "slot.name=dualsync_${run}_r" "publication.name=dualsync_${run}_r" \
    >"$dir/capture-revamp.log" 2>&1 &
  pids+=($!)
  for side in legacy revamp; do
    for _ in $(seq 1 240); do [ -e "$dir/debezium-$side/ready" ] && break; sleep 0.5; done
    [ -e "$dir/debezium-$side/ready" ] || { echo "live: Debezium ($side) did not start; see $dir/capture-$side.log" >&2; exit 1; }
  done
fi
# A consumer killed with SIGKILL (exit 137) starts again; any other exit ends it.
supervise() {
  local name=$1 child code
  trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM
  while :; do
    "$bin/$name" --config "$dir/$name.yaml" 2>>"$dir/$name.log" &
    child=$!
    code=0
    wait "$child" || code=$?
    [ "$code" = 137 ] || exit "$code"
    echo "live: $name was killed; starting it again" >>"$dir/$name.log"
  done
}
for name in legacy-to-revamp revamp-to-legacy; do
  supervise "$name" &
  pids+=($!)
done
for port in 19491 19492; do
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.5
  done
done
sleep 2 # the captures' replication streams start

port=${base##*:}
comma() { local out; out=$(printf '%s,' "$@"); echo "${out%,}"; }
cat >"$dir/scenario.env" <<EOF
# The deployment testing/live.sh runs, for testing/scenarios/ (see testing/scenarios/README.md).
export DUALSYNC_LEGACY_URL='$legacy_url'
export DUALSYNC_REVAMP_URL='$revamp_url'
export DUALSYNC_BROKERS='$DUALSYNC_TEST_KAFKA'
export DUALSYNC_LEGACY_TOPICS='$(comma $legacy_topics)'
export DUALSYNC_REVAMP_TOPICS='$(comma $revamp_topics)'
export DUALSYNC_DLQ_L2R='${run}-dlq-l2r'
export DUALSYNC_DLQ_R2L='${run}-dlq-r2l'
export DUALSYNC_BIN='$bin'
export SCENARIO_CRASH_L2R="pkill -KILL -f -- '--config $dir/legacy-to-revamp.yaml'"
export SCENARIO_CRASH_R2L="pkill -KILL -f -- '--config $dir/revamp-to-legacy.yaml'"
EOF
cat <<EOF

Two-way sync runs: MariaDB shop (legacy) <-> PostgreSQL public (revamp), mapping mappings/shop/shop.yaml.

Change a row in MariaDB, and watch it appear in PostgreSQL:
  mariadb -h127.0.0.1 -P$port -udualsync -pdualsync shop -e "INSERT INTO customers (first_name, last_name, email, modified) VALUES ('Ada', 'Lovelace', 'ada@example.com', NOW(6))"
  PGPASSWORD=dualsync psql -X '$revamp_url' -c 'SELECT id, full_name, email, state, sync_source FROM customers'

And the other way round:
  PGPASSWORD=dualsync psql -X '$revamp_url' -c "INSERT INTO customers (id, full_name, email, state, updated_at) VALUES (1001, 'Grace Hopper', 'grace@example.com', 'Active', now())"
  mariadb -h127.0.0.1 -P$port -udualsync -pdualsync shop -e "SELECT id, first_name, last_name, email, sync_source FROM customers"

Metrics: http://127.0.0.1:19491/metrics (legacy-to-revamp), http://127.0.0.1:19492/metrics (revamp-to-legacy).
Logs: $dir. Press Ctrl-C to stop.
EOF

if [ "$check" = 0 ]; then
  wait "${pids[@]}"
  exit 0
fi
# --check: both changes, each waited for on the other side.
waits() { # what, command printing t when done
  local what=$1; shift
  for _ in $(seq 1 120); do
    [ "$("$@" 2>/dev/null)" = t ] && { echo "live: PASS: $what"; return 0; }
    sleep 0.5
  done
  echo "live: FAIL: $what (waited 60 s; logs in $dir)"
  return 1
}
my "INSERT INTO shop.customers (first_name, last_name, email, modified) VALUES ('Ada', 'Lovelace', 'ada@example.com', NOW(6))"
pg "INSERT INTO customers (id, full_name, email, state, updated_at) VALUES (1001, 'Grace Hopper', 'grace@example.com', 'Active', now())" >/dev/null
ok=0
waits "MariaDB's new customer is in PostgreSQL" \
  pg "SELECT count(*) = 1 FROM customers WHERE full_name = 'Ada Lovelace' AND sync_source = 'dualsync'" || ok=1
waits "PostgreSQL's new customer is in MariaDB" \
  my "SELECT IF(count(*) = 1, 't', 'f') FROM shop.customers WHERE id = 1001 AND first_name = 'Grace' AND last_name = 'Hopper'" || ok=1
sleep 3
echo "live: rows on each side: MariaDB $(my 'SELECT count(*) FROM shop.customers'), PostgreSQL $(pg 'SELECT count(*) FROM customers')"
exit $ok
