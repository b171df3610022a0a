#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: Compose itself parses and checks it
# against its schema (`docker-compose config`, the Debian package, installed when missing), then
# testing/compose-check.py checks that every file, host, port, user, database, topic, flag and
# variable it refers to exists and agrees with the configuration files and the code. A broken
# copy of the file must fail both, so the checks are known to bite. Prints PASS or FAIL.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null; then
  echo "compose-check: installing docker-compose (Debian package) for its validation"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose) >/dev/null \
    || { echo "compose-check: FAIL: cannot install docker-compose" >&2; exit 1; }
fi
cargo build -q -p dualsync-cli -p dualsync-consumer
bin=${CARGO_TARGET_DIR:-target}/debug

for profile in debezium capture; do
  docker-compose --profile "$profile" -f docker-compose.yml config -q
done
python3 testing/compose-check.py docker-compose.yml "$bin"

# The checks must refuse a broken file: a misspelt key (schema), a wrong port (cross-check).
broken=$(mktemp --suffix=.yml)
trap 'rm -f "$broken"' EXIT
sed 's/^    healthcheck:$/    healthchek:/' docker-compose.yml >"$broken"
if docker-compose -f "$broken" config -q 2>/dev/null; then
  echo "compose-check: FAIL: docker-compose accepted a misspelt key" >&2; exit 1
fi
sed 's/"9401:9400"/"9401:9499"/' docker-compose.yml >"$broken"
if python3 testing/compose-check.py "$broken" "$bin" >/dev/null; then
  echo "compose-check: FAIL: the cross-checks accepted a wrong port" >&2; exit 1
fi
echo "compose-check: PASS"
