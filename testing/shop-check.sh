#!/usr/bin/env bash
# Loads the demo shop's schemas into the local services (MariaDB database `shop`, PostgreSQL
# `dualsync_test.public`), replacing earlier copies, and runs `dualsync check` on
# mappings/shop/shop.yaml against them.
set -euo pipefail
cd "$(dirname "$0")/.."

testing/services.sh up
eval "$(testing/services.sh env)"
# SHOP_MYSQL_URL: another MariaDB of the services (testing/live.sh --capture debezium).
mysql_url=${SHOP_MYSQL_URL:-$DUALSYNC_TEST_MYSQL_URL}
base=${mysql_url%/*}
mariadb -h127.0.0.1 -P"${base##*:}" -udualsync -pdualsync -e "DROP DATABASE IF EXISTS shop; CREATE DATABASE shop"
mariadb -h127.0.0.1 -P"${base##*:}" -udualsync -pdualsync shop <mappings/shop/legacy.sql
PGPASSWORD=dualsync psql -X -q -v ON_ERROR_STOP=1 "$DUALSYNC_TEST_PG_URL" \
  -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS public.customers, public.purchases" \
  -f mappings/shop/revamp.sql

cargo build -q -p dualsync-cli
DUALSYNC_LEGACY_URL="$base/shop" DUALSYNC_REVAMP_URL="$DUALSYNC_TEST_PG_URL" \
  "${CARGO_TARGET_DIR:-target}/debug/dualsync" check --config mappings/shop/shop.yaml
