#!/usr/bin/env bash
# The real services dualsync's tests, benchmarks and demo talk to: private MariaDB and PostgreSQL
# instances (Debian binaries, own data directories and ports) configured for change capture, and a
# Kafka-protocol broker (tansu, built once from crates.io and cached outside the checkout).
#
#   testing/services.sh up      install what is missing, configure, start (idempotent)
#   testing/services.sh env     print the connection settings as `export` lines
#   testing/services.sh topic NAME [PARTITIONS]   create a topic if it does not exist
#   testing/services.sh outage mariadb|postgres [SECONDS]   stop a database, wait (10 s), start it
#   testing/services.sh broker-restart [SECONDS]   stop the broker, wait (3 s), start it (topics
#                                 survive only with DUALSYNC_KAFKA_STORAGE=sqlite://tansu.db)
#   testing/services.sh down    stop the three private services
#   testing/services.sh status  say what runs
#
# Settings (environment): DUALSYNC_SERVICES_DIR (state, default /var/tmp/dualsync-services),
# DUALSYNC_CACHE_DIR (broker build cache, default ~/.cache/dualsync), DUALSYNC_MYSQL_PORT (13306),
# DUALSYNC_DEBEZIUM_MYSQL_PORT (13307: the MariaDB that real Debezium's MySQL connector reads),
# DUALSYNC_PG_PORT (15432), DUALSYNC_KAFKA_PORT (19092), DUALSYNC_KAFKA_STORAGE (memory://tansu/;
# sqlite://tansu.db keeps topics across broker restarts).
set -euo pipefail

STATE=${DUALSYNC_SERVICES_DIR:-/var/tmp/dualsync-services}
CACHE=${DUALSYNC_CACHE_DIR:-$HOME/.cache/dualsync}
MYSQL_PORT=${DUALSYNC_MYSQL_PORT:-13306}
PG_PORT=${DUALSYNC_PG_PORT:-15432}
KAFKA_PORT=${DUALSYNC_KAFKA_PORT:-19092}
KAFKA_STORAGE=${DUALSYNC_KAFKA_STORAGE:-memory://tansu/}
TANSU_VERSION=0.6.0
TANSU=$CACHE/tansu-$TANSU_VERSION/bin/tansu
PASSWORD=dualsync
DATABASE=dualsync_test

MY_DIR=$STATE/mariadb
MY_SERVER_ID=1
MY_BUFFER_POOL=512M
MY_EXTRA=
# A second MariaDB for the real Debezium MySQL connector (testing/debezium.sh): it reads
# VERSION() and takes any major version above 8 for MySQL 8.4+ (then fails on SHOW BINARY LOG
# STATUS), so this one reports 5.5.5-<version>, as MariaDB's handshake already does. dualsync's
# own capture cannot read such a server's binlog (its parser takes the format from the version),
# hence a server of its own (docs/debezium.md).
DEBEZIUM_MYSQL_PORT=${DUALSYNC_DEBEZIUM_MYSQL_PORT:-13307}
PG_DIR=$STATE/postgres
KAFKA_DIR=$STATE/tansu

log() { echo "services: $*" >&2; }
die() { echo "services: error: $*" >&2; exit 1; }

# Waits up to $1 seconds for the command in the remaining arguments to succeed.
wait_for() {
  local seconds=$1; shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$dir/initdb" ] && { echo "$dir"; return; }
  done
  return 1
}

install_packages() {
  local missing=()
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
  command -v mariadb >/dev/null 2>&1 || missing+=(mariadb-client)
  pg_bin >/dev/null || missing+=(postgresql)
  command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
  # rdkafka's vendored librdkafka build (default features) links zlib.
  dpkg -s zlib1g-dev >/dev/null 2>&1 || missing+=(zlib1g-dev)
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  command -v make >/dev/null 2>&1 || missing+=(make)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# ---------------------------------------------------------------- MariaDB

mariadb_conf() {
  cat <<EOF
[mysqld]
datadir=$MY_DIR/data
socket=$MY_DIR/mysqld.sock
port=$MYSQL_PORT
bind-address=127.0.0.1
pid-file=$MY_DIR/mariadbd.pid
log-error=$MY_DIR/mariadbd.err
user=mysql
skip-name-resolve
# change capture: binlog in ROW format with full images and column metadata
server-id=$MY_SERVER_ID
log-bin=$MY_DIR/binlog/mariadb-bin
binlog-format=ROW
binlog-row-image=FULL
binlog-row-metadata=FULL
max-connections=500
max-prepared-stmt-count=100000
innodb-buffer-pool-size=$MY_BUFFER_POOL
innodb-flush-log-at-trx-commit=2
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_ci
$MY_EXTRA
EOF
}

# Runs a mariadb_* function on the Debezium instance.
on_debezium_mariadb() {
  (
    MY_DIR=$STATE/mariadb-debezium MYSQL_PORT=$DEBEZIUM_MYSQL_PORT MY_SERVER_ID=2 MY_BUFFER_POOL=128M
    MY_EXTRA="version=5.5.5-$(/usr/sbin/mariadbd --version | sed -n 's/.* Ver \([^ ]*\) .*/\1/p')"
    "$@"
  )
}

mariadb_running() { mariadb-admin --socket="$MY_DIR/mysqld.sock" -uroot ping >/dev/null 2>&1; }

mariadb_stop() {
  if mariadb_running; then
    log "stopping MariaDB"
    mariadb-admin --socket="$MY_DIR/mysqld.sock" -uroot shutdown
    wait_for 60 bash -c "! mariadb-admin --socket='$MY_DIR/mysqld.sock' -uroot ping" || die "MariaDB did not stop"
  fi
}

mariadb_up() {
  mkdir -p "$MY_DIR/binlog"
  local wanted; wanted=$(mariadb_conf)
  if mariadb_running && [ "$(cat "$MY_DIR/my.cnf" 2>/dev/null)" = "$wanted" ]; then
    log "MariaDB already runs on port $MYSQL_PORT with the wanted settings"
  else
    mariadb_stop
    printf '%s\n' "$wanted" >"$MY_DIR/my.cnf"
    chown -R mysql:mysql "$MY_DIR"
    if [ ! -d "$MY_DIR/data/mysql" ]; then
      log "initialising MariaDB data directory"
      mariadb-install-db --defaults-file="$MY_DIR/my.cnf" --skip-test-db >"$MY_DIR/install.log" 2>&1 \
        || die "mariadb-install-db failed; see $MY_DIR/install.log"
    fi
    log "starting MariaDB on port $MYSQL_PORT"
    setsid nohup /usr/sbin/mariadbd --defaults-file="$MY_DIR/my.cnf" >/dev/null 2>&1 </dev/null &
    wait_for 60 mariadb_running || die "MariaDB did not start; see $MY_DIR/mariadbd.err"
  fi
  mariadb --socket="$MY_DIR/mysqld.sock" -uroot <<EOF
CREATE DATABASE IF NOT EXISTS $DATABASE;
CREATE USER IF NOT EXISTS 'dualsync'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('$PASSWORD');
CREATE USER IF NOT EXISTS 'dualsync'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('$PASSWORD');
GRANT ALL PRIVILEGES ON *.* TO 'dualsync'@'%' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'dualsync'@'localhost' WITH GRANT OPTION;
EOF
}

# ---------------------------------------------------------------- PostgreSQL

pg_conf() {
  cat <<EOF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_DIR'
# change capture: logical decoding with room for the captures and tests
wal_level = logical
max_replication_slots = 32
max_wal_senders = 32
max_connections = 300
shared_buffers = 256MB
synchronous_commit = off
# with synchronous_commit off, logical decoding sees a commit only once the WAL writer flushed
# it: every wal_writer_delay (200ms by default), which would be the capture's latency floor
wal_writer_delay = 10ms
password_encryption = 'scram-sha-256'
EOF
}

pg_as() { runuser -u postgres -- "$@"; }
pg_running() { pg_as "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; }

pg_stop() {
  if pg_running; then
    log "stopping PostgreSQL"
    pg_as "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
  fi
}

pg_up() {
  local bin; bin=$(pg_bin) || die "no PostgreSQL server binaries found"
  mkdir -p "$PG_DIR"
  chown postgres:postgres "$PG_DIR"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    log "initialising PostgreSQL data directory"
    pg_as "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 || die "initdb failed; see $PG_DIR/initdb.log"
    echo "include 'dualsync.conf'" >>"$PG_DIR/data/postgresql.conf"
    cat >"$PG_DIR/data/pg_hba.conf" <<EOF
local   all          all                 trust
local   replication  all                 trust
host    all          all   127.0.0.1/32  scram-sha-256
host    replication  all   127.0.0.1/32  scram-sha-256
EOF
    chown postgres:postgres "$PG_DIR/data/pg_hba.conf"
  fi
  local wanted; wanted=$(pg_conf)
  if pg_running && [ "$(cat "$PG_DIR/data/dualsync.conf" 2>/dev/null)" = "$wanted" ]; then
    log "PostgreSQL already runs on port $PG_PORT with the wanted settings"
  else
    pg_stop
    printf '%s\n' "$wanted" >"$PG_DIR/data/dualsync.conf"
    chown postgres:postgres "$PG_DIR/data/dualsync.conf"
    log "starting PostgreSQL on port $PG_PORT"
    pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 start >/dev/null \
      || die "PostgreSQL did not start; see $PG_DIR/postgres.log"
  fi
  local psql=(psql -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres)
  "${psql[@]}" -d postgres <<EOF
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dualsync') THEN
    CREATE ROLE dualsync LOGIN CREATEDB REPLICATION PASSWORD '$PASSWORD';
  END IF;
END \$\$;
EOF
  if [ -z "$("${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
    "${psql[@]}" -d postgres -c "CREATE DATABASE $DATABASE OWNER dualsync"
  fi
}

# ---------------------------------------------------------------- Kafka-protocol broker (tansu)

kafka_build() {
  [ -x "$TANSU" ] && return
  log "building the broker: tansu $TANSU_VERSION from crates.io into $CACHE (about 10-15 minutes, once)"
  local started=$SECONDS
  cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql \
    --root "$CACHE/tansu-$TANSU_VERSION" >"$CACHE/tansu-build.log" 2>&1 \
    || die "building tansu failed; see $CACHE/tansu-build.log"
  log "broker built in $((SECONDS - started)) s"
}

kafka_args() {
  echo "broker --listener-url tcp://127.0.0.1:$KAFKA_PORT --advertised-listener-url tcp://127.0.0.1:$KAFKA_PORT --storage-engine $KAFKA_STORAGE"
}

kafka_running() { [ -f "$KAFKA_DIR/tansu.pid" ] && kill -0 "$(cat "$KAFKA_DIR/tansu.pid")" 2>/dev/null; }
kafka_answers() { "$TANSU" topic list --broker "tcp://127.0.0.1:$KAFKA_PORT" >/dev/null 2>&1; }

kafka_stop() {
  if kafka_running; then
    log "stopping the broker"
    kill "$(cat "$KAFKA_DIR/tansu.pid")"
    wait_for 30 bash -c "! kill -0 $(cat "$KAFKA_DIR/tansu.pid")" || kill -9 "$(cat "$KAFKA_DIR/tansu.pid")" || true
  fi
  rm -f "$KAFKA_DIR/tansu.pid"
}

kafka_up() {
  mkdir -p "$CACHE" "$KAFKA_DIR"
  kafka_build
  local wanted; wanted=$(kafka_args)
  if kafka_running && [ "$(cat "$KAFKA_DIR/args" 2>/dev/null)" = "$wanted" ]; then
    log "broker already runs on port $KAFKA_PORT with the wanted settings"
  else
    kafka_stop
    echo "$wanted" >"$KAFKA_DIR/args"
    log "starting the broker on port $KAFKA_PORT ($KAFKA_STORAGE)"
    # shellcheck disable=SC2086 # the arguments are split on purpose
    (cd "$KAFKA_DIR" && setsid nohup "$TANSU" $wanted >"$KAFKA_DIR/tansu.log" 2>&1 </dev/null & echo $! >"$KAFKA_DIR/tansu.pid")
  fi
  wait_for 60 kafka_answers || die "the broker does not answer on port $KAFKA_PORT; see $KAFKA_DIR/tansu.log"
}

topic() {
  local name=$1 partitions=${2:-1}
  if "$TANSU" topic list --broker "tcp://127.0.0.1:$KAFKA_PORT" 2>/dev/null | grep -q "\"$name\""; then
    return
  fi
  "$TANSU" topic create "$name" --partitions "$partitions" --broker "tcp://127.0.0.1:$KAFKA_PORT" >/dev/null
}

# ---------------------------------------------------------------- commands

print_env() {
  cat <<EOF
export DUALSYNC_TEST_MYSQL_URL=mysql://dualsync:$PASSWORD@127.0.0.1:$MYSQL_PORT/$DATABASE
export DUALSYNC_TEST_MYSQL_DEBEZIUM_URL=mysql://dualsync:$PASSWORD@127.0.0.1:$DEBEZIUM_MYSQL_PORT/$DATABASE
export DUALSYNC_TEST_PG_URL=postgres://dualsync:$PASSWORD@127.0.0.1:$PG_PORT/$DATABASE
export DUALSYNC_TEST_KAFKA=127.0.0.1:$KAFKA_PORT
export DUALSYNC_TANSU=$TANSU
EOF
}

mariadb_status() {
  mariadb_running && echo "MariaDB: $(mariadb --socket="$MY_DIR/mysqld.sock" -uroot -N -e 'SELECT VERSION()') on 127.0.0.1:$MYSQL_PORT" || echo "MariaDB on $MYSQL_PORT: stopped"
}

status() {
  mariadb_status
  on_debezium_mariadb mariadb_status
  pg_running && echo "PostgreSQL: $(psql -X -h "$PG_DIR" -p "$PG_PORT" -U postgres -d postgres -tAc 'SHOW server_version') on 127.0.0.1:$PG_PORT" || echo "PostgreSQL: stopped"
  kafka_running && echo "Kafka: tansu $TANSU_VERSION on 127.0.0.1:$KAFKA_PORT ($KAFKA_STORAGE)" || echo "Kafka: stopped"
}

[ "$(id -u)" = 0 ] || die "run as root: it installs packages and runs the servers as their own users"
case "${1:-}" in
  up)
    mkdir -p "$STATE"
    install_packages
    mariadb_up
    on_debezium_mariadb mariadb_up
    pg_up
    kafka_up
    status >&2
    ;;
  env) print_env ;;
  topic) shift; topic "$@" ;;
  down) kafka_stop; pg_stop; mariadb_stop; on_debezium_mariadb mariadb_stop ;;
  outage)
    # A database outage for the tests: stop it, wait, start it again with the same settings.
    case "${2:-}" in
      mariadb) mariadb_stop; sleep "${3:-10}"; mariadb_up ;;
      postgres) pg_stop; sleep "${3:-10}"; pg_up ;;
      *) die "usage: $0 outage mariadb|postgres [SECONDS]" ;;
    esac
    ;;
  broker-restart) kafka_stop; sleep "${2:-3}"; kafka_up ;;
  status) status ;;
  *) echo "usage: $0 up|env|topic NAME [PARTITIONS]|outage mariadb|postgres [SECONDS]|broker-restart [SECONDS]|down|status" >&2; exit 2 ;;
esac
