//! The first vertical slice, end to end on the real services: Debezium events from the flink
//! samples are produced into the broker, a consumer applies them to the *other* database kind,
//! and the target table ends with exactly the rows the events describe. Each topic is consumed
//! twice (a second consumer group re-reads it from the start) to prove re-delivery changes nothing.

use std::time::Duration;

mod common;

use common::{
    consume, item_event, items_mapping, new_group, spawn_legacy_to_revamp, stop_with_sigterm, temp_dir, write_config,
};
use dualsync_consumer::Direction;
use dualsync_testkit::{Kind, Record, TestDb, create_topic, fixture_lines, produce, rows, unique};
use serde_json::Value as Json;

/// The final rows of `inventory.products` after all 16 events of the PostgreSQL samples.
fn pg_sample_final_rows() -> Vec<Vec<Option<String>>> {
    rows(&[
        &["101", "scooter", "Small 2-wheel scooter", "3.14"],
        &["102", "car battery", "12V car battery", "8.1"],
        &["103", "12-pack drill bits", "12-pack of drill bits with sizes ranging from #40 to #3", "0.8"],
        &["104", "hammer", "12oz carpenter's hammer", "0.75"],
        &["105", "hammer", "14oz carpenter's hammer", "0.875"],
        &["106", "hammer", "18oz carpenter hammer", "1"],
        &["107", "rocks", "box of assorted rocks", "5.1"],
        &["108", "jacket", "water resistent black wind breaker", "0.1"],
        &["109", "spare tire", "24 inch spare tire", "22.2"],
        &["110", "jacket", "new water resistent white wind breaker", "0.5"],
    ])
}

/// The id of the row an event line is about, from `after` or `before`.
fn row_id(line: &str) -> Option<i64> {
    let json: Json = serde_json::from_str(line).expect("fixture line is JSON");
    let payload = json.get("payload").unwrap_or(&json);
    ["after", "before"].iter().find_map(|image| payload.get(image)?.get("id")?.as_i64())
}

/// The Kafka key Debezium writes for row `id`: the primary-key struct, with or without schema.
fn key(id: i64, with_schema: bool) -> Vec<u8> {
    let key = if with_schema {
        serde_json::json!({
            "schema": {"type": "struct", "optional": false, "name": "dbserver1.inventory.products.Key",
                       "fields": [{"type": "int32", "optional": false, "field": "id"}]},
            "payload": {"id": id},
        })
    } else {
        serde_json::json!({"id": id})
    };
    key.to_string().into_bytes()
}

/// The fixture's lines as Kafka records keyed by row id. `keys_from` names a fixture with the
/// same events whose images carry the ids (for samples whose deletes lack a `before` image).
fn records(fixture: &str, with_schema: bool, keys_from: Option<&str>) -> Vec<Record> {
    let lines = fixture_lines(fixture);
    let key_lines = keys_from.map_or_else(|| lines.clone(), fixture_lines);
    assert_eq!(lines.len(), key_lines.len());
    lines
        .iter()
        .zip(&key_lines)
        .map(|(line, key_line)| {
            let id = row_id(key_line).expect("every event names its row");
            (Some(key(id, with_schema)), Some(line.clone().into_bytes()))
        })
        .collect()
}

async fn pg_to_mariadb(fixture: &str, with_schema: bool, keys_from: Option<&str>) {
    let target = TestDb::new(Kind::MySql).await;
    target.exec("CREATE TABLE {ns}.products_legacy (id INT PRIMARY KEY, label VARCHAR(255) NOT NULL, description VARCHAR(512), weight DOUBLE)").await;
    let topic = unique("fullfillment.inventory.products");
    create_topic(&topic, 1).await;
    let events = records(fixture, with_schema, keys_from);
    produce(&topic, &events).await;
    let mapping = format!(
        "version: 1\ntables:\n  - legacy: {}.products_legacy\n    revamp: inventory.products\n    columns:\n      label: name\n",
        target.namespace
    );
    let config = write_config(&temp_dir(), &topic, &target, &mapping);
    let select =
        "SELECT CAST(id AS CHAR), label, description, CAST(weight AS CHAR) FROM {ns}.products_legacy ORDER BY id";
    consume(&config, Direction::RevampToLegacy, events.len() as u64).await;
    assert_eq!(target.rows(select).await, pg_sample_final_rows(), "{fixture}: first delivery");
    new_group(&config);
    consume(&config, Direction::RevampToLegacy, events.len() as u64).await;
    assert_eq!(target.rows(select).await, pg_sample_final_rows(), "{fixture}: re-delivery");
}

#[tokio::test]
async fn postgres_events_with_schema_into_mariadb() {
    pg_to_mariadb("flink/debezium-postgres-data-schema-include.txt", true, None).await;
}

#[tokio::test]
async fn postgres_events_without_schema_into_mariadb() {
    pg_to_mariadb("flink/debezium-postgres-data-schema-exclude.txt", false, None).await;
}

#[tokio::test]
async fn postgres_events_without_old_images_into_mariadb() {
    // Default REPLICA IDENTITY: updates carry no `before` and the delete carries neither image, so
    // the Kafka key alone says which row to delete. The keys are those of the same events in the
    // schema-exclude sample, as Debezium would have written them.
    pg_to_mariadb(
        "flink/debezium-postgres-data-replica-identity.txt",
        false,
        Some("flink/debezium-postgres-data-schema-exclude.txt"),
    )
    .await;
}

/// The MySQL sample into PostgreSQL, through the `legacy-to-revamp` binary first (stopped with
/// SIGTERM, which must exit 0), then re-delivered through an in-process consumer.
#[tokio::test]
async fn mysql_events_with_schema_into_postgres_via_the_binary() {
    let target = TestDb::new(Kind::Postgres).await;
    target.exec("CREATE TABLE {ns}.catalog_items (id INTEGER PRIMARY KEY, title TEXT NOT NULL, details TEXT, weight_kg DOUBLE PRECISION)").await;
    let topic = unique("dbserver1.inventory.products");
    create_topic(&topic, 1).await;
    let events = records("flink/debezium-data-schema-include.txt", true, None);
    produce(&topic, &events).await;
    let mapping = format!(
        "version: 1\ntables:\n  - legacy: inventory.products\n    revamp: {}.catalog_items\n    columns:\n      name: title\n      description: details\n      weight: weight_kg\n",
        target.namespace
    );
    let config = write_config(&temp_dir(), &topic, &target, &mapping);
    // The MySQL sample's FLOAT weights arrive as the doubles Debezium widened them to.
    let expected = rows(&[
        &["101", "scooter", "Small 2-wheel scooter", "3.140000104904175"],
        &["102", "car battery", "12V car battery", "8.100000381469727"],
        &["103", "12-pack drill bits", "12-pack of drill bits with sizes ranging from #40 to #3", "0.800000011920929"],
        &["104", "hammer", "12oz carpenter's hammer", "0.75"],
        &["105", "hammer", "14oz carpenter's hammer", "0.875"],
        &["106", "hammer", "18oz carpenter hammer", "1"],
        &["107", "rocks", "box of assorted rocks", "5.099999904632568"],
        &["108", "jacket", "water resistent black wind breaker", "0.10000000149011612"],
        &["109", "spare tire", "24 inch spare tire", "22.200000762939453"],
        &["110", "jacket", "new water resistent white wind breaker", "0.5"],
    ]);
    let select = "SELECT id::text, title, details, weight_kg::text FROM {ns}.catalog_items ORDER BY id";

    let mut child = spawn_legacy_to_revamp(&config, &[], &[]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while target.rows(select).await != expected {
        if tokio::time::Instant::now() > deadline || child.try_wait().expect("poll child").is_some() {
            let _ = child.kill();
            let output = child.wait_with_output().expect("child output");
            panic!("binary did not reach the expected rows; stderr:\n{}", String::from_utf8_lossy(&output.stderr));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stderr = stop_with_sigterm(child);
    assert!(stderr.contains("consumer stopped"), "stderr:\n{stderr}");

    new_group(&config);
    consume(&config, Direction::LegacyToRevamp, events.len() as u64).await;
    assert_eq!(target.rows(select).await, expected, "re-delivery");
}

/// Schemaless events carry epoch numbers, base64 decimals and 0/1 booleans; the target table's
/// column types say how to read them, so they land as the values they stand for.
#[tokio::test]
async fn schemaless_values_are_typed_by_the_target_columns() {
    let target = TestDb::new(Kind::Postgres).await;
    target
        .exec("CREATE TABLE {ns}.orders (id INTEGER PRIMARY KEY, placed_at TIMESTAMP, total NUMERIC(10,2), paid BOOLEAN, doc JSONB, ref UUID, day DATE)")
        .await;
    let topic = unique("legacy.shop.orders");
    create_topic(&topic, 1).await;
    let event = serde_json::json!({
        "op": "c", "before": null,
        "after": {"id": 1, "placed_at": 1_700_000_000_123_456i64, "total": "AeJA", "paid": 1,
                  "doc": "{\"a\": 1}", "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "day": 19782},
        "source": {"connector": "mysql", "db": "shop", "table": "orders"}
    });
    produce(&topic, &[(Some(br#"{"id":1}"#.to_vec()), Some(event.to_string().into_bytes()))]).await;
    let mapping = format!("version: 1\ntables:\n  - legacy: shop.orders\n    revamp: {}.orders\n", target.namespace);
    let config = write_config(&temp_dir(), &topic, &target, &mapping);
    consume(&config, Direction::LegacyToRevamp, 1).await;
    assert_eq!(
        target.rows("SELECT id::text, placed_at::text, total::text, paid::text, doc::text, ref::text, day::text FROM {ns}.orders").await,
        rows(&[&["1", "2023-11-14 22:13:20.123456", "1234.56", "true", "{\"a\": 1}", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "2024-02-29"]])
    );
}

/// Semantic types of a with-schema PostgreSQL event (zoned timestamp, decimal, date, UUID)
/// written into MariaDB columns.
#[tokio::test]
async fn semantic_types_into_mariadb() {
    let target = TestDb::new(Kind::MySql).await;
    target
        .exec("CREATE TABLE {ns}.orders (id INT PRIMARY KEY, placed_at TIMESTAMP(6) NULL, total DECIMAL(38,10), day DATE, ref CHAR(36), big BIGINT UNSIGNED)")
        .await;
    let topic = unique("revamp.public.orders");
    create_topic(&topic, 1).await;
    let field = |name: &str, ty: &str, semantic: Option<&str>, scale: Option<&str>| {
        let mut f = serde_json::json!({"field": name, "type": ty, "optional": true});
        if let Some(semantic) = semantic {
            f["name"] = serde_json::json!(semantic);
        }
        if let Some(scale) = scale {
            f["parameters"] = serde_json::json!({"scale": scale});
        }
        f
    };
    let row_schema = serde_json::json!({"type": "struct", "fields": [
        field("id", "int32", None, None),
        field("placed_at", "string", Some("io.debezium.time.ZonedTimestamp"), None),
        field("total", "bytes", Some("org.apache.kafka.connect.data.Decimal"), Some("10")),
        field("day", "int32", Some("io.debezium.time.Date"), None),
        field("ref", "string", Some("io.debezium.data.Uuid"), None),
        field("big", "bytes", Some("org.apache.kafka.connect.data.Decimal"), Some("0")),
    ]});
    let mut after_schema = row_schema.clone();
    after_schema["field"] = serde_json::json!("after");
    // 1234567890123456789012345678.1234567890 and 18446744073709551615 as big-endian bytes.
    let event = serde_json::json!({
        "schema": {"type": "struct", "fields": [after_schema, {"field": "op", "type": "string"}]},
        "payload": {"op": "c", "after": {"id": 7, "placed_at": "2024-02-29T23:30:00.5+02:00",
            "total": "AO3E5X5mnrUtOo5ss6c+0g==", "day": -1, "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "big": "AP//////////"},
            "source": {"connector": "postgresql", "schema": "public", "table": "orders"}}
    });
    produce(&topic, &[(Some(br#"{"id":7}"#.to_vec()), Some(event.to_string().into_bytes()))]).await;
    let mapping = format!("version: 1\ntables:\n  - legacy: {}.orders\n    revamp: public.orders\n", target.namespace);
    let config = write_config(&temp_dir(), &topic, &target, &mapping);
    consume(&config, Direction::RevampToLegacy, 1).await;
    assert_eq!(
        target.rows("SELECT CAST(id AS CHAR), CAST(placed_at AS CHAR), CAST(total AS CHAR), CAST(day AS CHAR), ref, CAST(big AS CHAR) FROM {ns}.orders").await,
        rows(&[&["7", "2024-02-29 21:30:00.500000", "123456789012345678901234567.1234567890", "1969-12-31", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "18446744073709551615"]])
    );
}

/// Kafka re-delivers events the target already holds (the consumer crashed after the database
/// commit, before the offset commit): the checkpoint written with each batch makes the consumer
/// skip them instead of applying them twice.
#[tokio::test]
async fn redelivered_events_below_the_checkpoint_are_skipped() {
    let target = TestDb::new(Kind::Postgres).await;
    target.exec("CREATE TABLE {ns}.items (id INTEGER PRIMARY KEY, name TEXT)").await;
    let topic = unique("legacy.shop.items");
    create_topic(&topic, 1).await;
    let events: Vec<Record> = (0..5).map(|i| item_event("c", i, Some(&format!("item {i}")))).collect();
    produce(&topic, &events).await;
    let mapping = items_mapping(&target);
    let config = write_config(&temp_dir(), &topic, &target, &mapping);
    // GIVEN the target's checkpoint says offsets 0..=2 of this group are applied
    let group = dualsync_consumer::Config::load(&config).expect("config").kafka.group;
    let mut writer = dualsync_writer::Writer::connect(&target.url).await.expect("writer");
    let checkpoint = dualsync_writer::Checkpoint { consumer: group, topic: topic.clone(), partition: 0, offset: 2 };
    writer.apply(&[], &[checkpoint]).await.expect("checkpoint");
    // WHEN the group reads the topic from the start
    let stats = consume(&config, Direction::LegacyToRevamp, 5).await;
    // THEN only offsets 3 and 4 are applied
    assert_eq!(stats.redelivered(), 3);
    assert_eq!(
        target.rows("SELECT id::text, name FROM {ns}.items ORDER BY id").await,
        rows(&[&["3", "item 3"], &["4", "item 4"]])
    );
}

/// kill -9 in the middle of a run, then restart: every event ends up applied exactly once.
/// The events the target held but Kafka had not yet committed come back and are skipped by the
/// checkpoint (the second run reports them as redelivered).
#[tokio::test]
async fn kill_9_mid_run_then_restart() {
    let target = TestDb::new(Kind::Postgres).await;
    // Applying an event twice would show: each apply adds 1 to `applied`.
    target
        .exec("CREATE TABLE {ns}.items (id INTEGER PRIMARY KEY, name TEXT); \
               CREATE TABLE {ns}.applies (n INTEGER); INSERT INTO {ns}.applies VALUES (0); \
               CREATE FUNCTION {ns}.count_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE {ns}.applies SET n = n + 1; RETURN NEW; END $$; \
               CREATE TRIGGER count_apply BEFORE INSERT OR UPDATE ON {ns}.items FOR EACH ROW EXECUTE FUNCTION {ns}.count_apply()")
        .await;
    let topic = unique("legacy.shop.items");
    create_topic(&topic, 1).await;
    let total = 3000;
    let events: Vec<Record> = (0..total).map(|i| item_event("c", i, Some(&format!("item {i}")))).collect();
    produce(&topic, &events).await;
    let mapping = items_mapping(&target);
    let config = write_config(&temp_dir(), &topic, &target, &mapping);
    let count = || target.rows("SELECT count(*)::text FROM {ns}.items");
    let start =
        || spawn_legacy_to_revamp(&config, &[], &[("DUALSYNC_BATCH_MAX_EVENTS", "25"), ("DUALSYNC_LOG", "info")]);
    // GIVEN a run killed with SIGKILL once part of the events are applied
    let mut first = start();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let applied: i64 = count().await[0][0].as_deref().unwrap_or("0").parse().expect("count");
        if applied >= 300 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the first run applied only {applied}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().expect("kill -9");
    let first_output = first.wait_with_output().expect("first run");
    let sums = |log: &str, field: &str| -> u64 {
        log.lines()
            .filter(|l| l.contains("batch written"))
            .filter_map(|l| l.split(&format!("{field}=")).nth(1)?.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    };
    let first_log = String::from_utf8_lossy(&first_output.stderr).into_owned();
    let applied_at_kill: i64 = count().await[0][0].as_deref().unwrap_or("0").parse().expect("count");
    assert!(applied_at_kill < total, "killed before the end ({applied_at_kill} applied)");

    // WHEN it restarts with the same group
    let second = start();
    while count().await[0][0].as_deref() != Some(&total.to_string()) {
        assert!(tokio::time::Instant::now() < deadline, "the second run did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = stop_with_sigterm(second);

    // THEN every row is there, each applied exactly once
    assert_eq!(count().await, rows(&[&[&total.to_string()]]));
    assert_eq!(target.rows("SELECT n::text FROM {ns}.applies").await, rows(&[&[&total.to_string()]]));
    let redelivered = sums(&log, "redelivered");
    assert!(redelivered > 0, "the restart met events the target already held:\n{log}");
    // The first run's log can stop short of the kill, never beyond it.
    assert!(sums(&first_log, "applied") as i64 <= applied_at_kill, "{first_log}");
    eprintln!("applied before the kill: {applied_at_kill}; skipped by the checkpoint after the restart: {redelivered}");
}

/// `--log-format json`: every log line is a JSON object; no row data is logged at info level.
#[tokio::test]
async fn json_logs() {
    let target = TestDb::new(Kind::Postgres).await;
    target.exec("CREATE TABLE {ns}.items (id INTEGER PRIMARY KEY, name TEXT)").await;
    let topic = unique("legacy.shop.items");
    create_topic(&topic, 1).await;
    produce(&topic, &[item_event("c", 1, Some("secret row data"))]).await;
    let mapping = items_mapping(&target);
    let config = write_config(&temp_dir(), &topic, &target, &mapping);
    let child = spawn_legacy_to_revamp(&config, &["--log-format", "json"], &[]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while target.rows("SELECT count(*)::text FROM {ns}.items").await != rows(&[&["1"]]) {
        assert!(tokio::time::Instant::now() < deadline, "not applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = stop_with_sigterm(child);
    let lines: Vec<Json> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["fields"]["message"].as_str()).collect();
    assert!(
        messages.contains(&"consumer started")
            && messages.contains(&"batch written")
            && messages.contains(&"consumer stopped"),
        "{log}"
    );
    assert!(lines.iter().all(|l| l["level"].is_string() && l["timestamp"].is_string()), "{log}");
    assert!(!log.contains("secret row data"), "row data is not logged at info level");
}
