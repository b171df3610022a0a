#!/usr/bin/env bash
# The engine's main job on the local services: a legacy-to-revamp consumer applies a few Debezium
# change events from the legacy side (MySQL connector format, mappings/demo/products-events.jsonl)
# to the revamp side in PostgreSQL, through the demo mapping mappings/demo/products.yaml.
# It prints the revamp table once the events are applied and keeps consuming until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

testing/services.sh up
eval "$(testing/services.sh env)"
topic=demo.inventory.products
testing/services.sh topic "$topic" 1

# The revamp side's table, empty at the start of each demo run.
PGPASSWORD=dualsync psql -X -q -v ON_ERROR_STOP=1 "$DUALSYNC_TEST_PG_URL" <<'SQL'
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS demo;
DROP TABLE IF EXISTS demo.catalog_items;
CREATE TABLE demo.catalog_items (id INTEGER PRIMARY KEY, title TEXT NOT NULL, details TEXT, weight_kg DOUBLE PRECISION);
SQL

cargo build -q --release -p dualsync-consumer -p dualsync-testkit
target=${CARGO_TARGET_DIR:-target}/release
"$target/produce-jsonl" "$DUALSYNC_TEST_KAFKA" "$topic" mappings/demo/products-events.jsonl

# A fresh consumer group each run, so the demo re-reads the topic from the start.
config=$(mktemp --suffix=.yaml)
trap 'rm -f "$config"' EXIT
sed "s/group: dualsync-demo-legacy-to-revamp/group: dualsync-demo-$(date +%s)/; s#mapping: products.yaml#mapping: $PWD/mappings/demo/products.yaml#" \
  mappings/demo/legacy-to-revamp.yaml >"$config"

"$target/legacy-to-revamp" --config "$config" &
consumer=$!
trap 'kill -TERM $consumer 2>/dev/null; wait $consumer; rm -f "$config"' INT TERM
for _ in $(seq 1 120); do
  done=$(PGPASSWORD=dualsync psql -X -tA "$DUALSYNC_TEST_PG_URL" -c \
    "SELECT count(*) = 2 AND bool_or(id = 3 AND weight_kg = 0.875) FROM demo.catalog_items" 2>/dev/null || true)
  [ "$done" = t ] && break
  sleep 0.5
done
echo
echo "revamp side (PostgreSQL demo.catalog_items) after the legacy events:"
PGPASSWORD=dualsync psql -X "$DUALSYNC_TEST_PG_URL" -c "SELECT * FROM demo.catalog_items ORDER BY id"
echo "legacy-to-revamp keeps consuming $topic; press Ctrl-C to stop it."
wait $consumer
