//! PostgreSQL capture against the real server and broker: types, snapshot, marker, restart.

mod common;

use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use common::{Running, changes, config, drop_pg_slot, get};
use dualsync_capture::IntervalMode;
use dualsync_envelope::{Interval, Op, Value};
use dualsync_testkit::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_common_type_arrives_exactly_as_written() {
    let db = TestDb::postgres().await;
    let t = db.qualified("types");
    let ns = &db.namespace;
    db.exec(&format!("CREATE TYPE \"{ns}\".mood AS ENUM ('sad', 'ok', 'happy')")).await;
    db.exec(&format!(
        "CREATE TABLE {t} (id int PRIMARY KEY, si smallint, i int, bi bigint, n numeric(38,10), nv numeric, r real, \
         d double precision, b boolean, c char(3), vc varchar(20), tx text, by bytea, dt date, tm time, ttz timetz, \
         ts timestamp, tstz timestamptz, iv interval, j json, jb jsonb, u uuid, arr int[], tarr text[], ip inet, \
         m money, e \"{ns}\".mood, bits bit(10))"
    ))
    .await;
    db.exec(&format!("ALTER TABLE {t} REPLICA IDENTITY FULL")).await;
    let mut config = config(&db);
    config.interval_handling_mode = IntervalMode::String;
    let capture = Running::start(config.clone()).await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES (1, -32768, 2147483647, -9223372036854775808, 1234567890123456789012345678.0123456789, \
         -0.000123, 1.5, 0.1, true, 'ab', 'varchar ü', 'text 😀 4-byte', '\\x00ff10', '2024-02-29', '23:59:59.999999', \
         '12:00:00+05:30', '2024-01-02 03:04:05.123456', '2024-01-02 05:04:05.5+02', '1 year 2 months 3 days 04:05:06.5', \
         '{{\"a\": [1, 2]}}', '{{\"b\": 1, \"a\": null}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{{1,NULL,3}}', \
         '{{\"x y\",z}}', '192.168.0.1/24', '-1234.56', 'happy', B'1000000001')"
    ))
    .await;
    db.exec(&format!("INSERT INTO {t} (id, ts, tstz, dt) VALUES (2, 'infinity', '-infinity', '-infinity')")).await;
    db.exec(&format!("UPDATE {t} SET vc = 'changed' WHERE id = 1")).await;
    db.exec(&format!("DELETE FROM {t} WHERE id = 2")).await;
    let topic = format!("{}.{ns}.types", config.prefix());
    let events = changes(&topic, 5).await;
    let (insert, infinite, update, delete) = (
        events[0].as_ref().unwrap(),
        events[1].as_ref().unwrap(),
        events[2].as_ref().unwrap(),
        events[3].as_ref().unwrap(),
    );
    assert!(events[4].is_none(), "a tombstone follows the delete");
    assert_eq!((insert.op, infinite.op, update.op, delete.op), (Op::Create, Op::Create, Op::Update, Op::Delete));
    let row = insert.after.as_ref().unwrap();
    let expect = [
        ("id", Value::Int(1)),
        ("si", Value::Int(-32768)),
        ("i", Value::Int(2147483647)),
        ("bi", Value::Int(i64::MIN)),
        ("n", Value::Decimal(BigDecimal::from_str("1234567890123456789012345678.0123456789").unwrap())),
        ("nv", Value::Decimal(BigDecimal::from_str("-0.000123").unwrap())),
        ("r", Value::Float(1.5)),
        ("d", Value::Float(0.1)),
        ("b", Value::Bool(true)),
        ("c", Value::Text("ab ".into())),
        ("vc", Value::Text("varchar ü".into())),
        ("tx", Value::Text("text 😀 4-byte".into())),
        ("by", Value::Bytes(vec![0, 255, 16])),
        ("dt", Value::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap())),
        ("tm", Value::Time(86_399_999_999_000)),
        ("ttz", Value::TimeTz(NaiveTime::from_hms_opt(6, 30, 0).unwrap(), FixedOffset::east_opt(0).unwrap())),
        (
            "ts",
            Value::Timestamp(NaiveDate::from_ymd_opt(2024, 1, 2).unwrap().and_hms_micro_opt(3, 4, 5, 123_456).unwrap()),
        ),
        ("tstz", Value::TimestampTz(DateTime::parse_from_rfc3339("2024-01-02T03:04:05.5Z").unwrap())),
        (
            "iv",
            Value::Interval(Interval { months: 14, days: 3, micros: (4 * 3600 + 5 * 60 + 6) * 1_000_000 + 500_000 }),
        ),
        ("j", Value::Json("{\"a\": [1, 2]}".into())),
        ("jb", Value::Json("{\"a\": null, \"b\": 1}".into())),
        ("u", Value::Uuid(uuid::Uuid::parse_str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").unwrap())),
        ("arr", Value::Array(vec![Value::Int(1), Value::Null, Value::Int(3)])),
        ("tarr", Value::Array(vec![Value::Text("x y".into()), Value::Text("z".into())])),
        ("ip", Value::Text("192.168.0.1/24".into())),
        ("m", Value::Decimal(BigDecimal::from_str("-1234.56").unwrap())),
        ("e", Value::Enum("happy".into())),
        ("bits", Value::Bits { bytes: vec![0x01, 0x02], length: 10 }),
    ];
    for (name, value) in &expect {
        assert_eq!(get(row, name), value, "column {name}");
    }
    let row = infinite.after.as_ref().unwrap();
    assert_eq!(get(row, "ts"), &Value::Infinity { negative: false });
    assert_eq!(get(row, "tstz"), &Value::Infinity { negative: true });
    assert_eq!(get(row, "dt"), &Value::Infinity { negative: true });
    assert_eq!(get(update.before.as_ref().unwrap(), "vc"), &Value::Text("varchar ü".into()));
    assert_eq!(get(update.after.as_ref().unwrap(), "vc"), &Value::Text("changed".into()));
    assert_eq!(get(delete.before.as_ref().unwrap(), "id"), &Value::Int(2));
    assert_eq!(delete.key.as_ref().and_then(|k| k.get("id")), Some(&Value::Int(2)));
    // A snapshot reads the row through a query, not the replication stream: the same values.
    let mut reader = common::config(&db);
    reader.interval_handling_mode = IntervalMode::String;
    let reader = Running::start(reader).await;
    let read = changes(&format!("{}.{ns}.types", reader.config.prefix()), 1).await[0].clone().unwrap();
    assert_eq!(read.op, Op::Read);
    assert_eq!(read.after, update.after, "snapshot and stream decode the same row alike");
    let reader_config = reader.config.clone();
    reader.stop().await.expect("clean stop");
    drop_pg_slot(&reader_config).await;
    assert_eq!(insert.source.connector.as_deref(), Some("postgresql"));
    assert_eq!(insert.source.table.as_deref(), Some("types"));
    assert!(insert.source.lsn.is_some() && insert.source.tx_id.is_some());
    capture.stop().await.expect("clean stop");
    drop_pg_slot(&config).await;
}

/// pgoutput leaves an unchanged TOAST value out of an update (default replica identity). The
/// capture reads it back by key, so the record carries the row's whole new image: a two-way sync
/// that left such a column alone kept a value the other side had overwritten, or lost the update
/// of a row the other side did not hold (found by the convergence harness). Without
/// `reselect_unchanged_toast` the record carries Debezium's placeholder, as Debezium's does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_toast_is_read_back_and_truncate_and_messages() {
    let db = TestDb::postgres().await;
    let t = db.qualified("docs");
    db.exec(&format!("CREATE TABLE {t} (id int PRIMARY KEY, body text, n int)")).await;
    let mut config = config(&db);
    let plain = Running::start({
        let mut plain = config.clone();
        plain.name = format!("{}_plain", plain.name);
        plain.topic_prefix = Some(format!("{}_plain", plain.prefix()));
        plain.reselect_unchanged_toast = false;
        plain
    })
    .await;
    config.reselect_unchanged_toast = true;
    let capture = Running::start(config.clone()).await;
    // Incompressible text over the TOAST threshold, stored out of line.
    db.exec(&format!("INSERT INTO {t} SELECT 1, string_agg(md5(g::text), '') FROM generate_series(1, 400) g")).await;
    db.exec(&format!("UPDATE {t} SET n = 5 WHERE id = 1")).await;
    db.exec(&format!("TRUNCATE {t}")).await;
    db.exec("SELECT pg_logical_emit_message(true, 'audit', 'hello')").await;
    let topic = format!("{}.{}.docs", config.prefix(), db.namespace);
    let events = changes(&topic, 3).await;
    let update = events[1].as_ref().unwrap();
    let stored = db.rows("SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g").await;
    let body = stored[0][0].clone().unwrap();
    assert_eq!(get(update.after.as_ref().unwrap(), "body"), &Value::Text(body), "read back by key");
    assert_eq!(get(update.after.as_ref().unwrap(), "n"), &Value::Int(5));
    let plain_topic = format!("{}.{}.docs", plain.config.prefix(), db.namespace);
    let plain_update = changes(&plain_topic, 2).await[1].clone().unwrap();
    assert_eq!(get(plain_update.after.as_ref().unwrap(), "body"), &Value::Unavailable);
    let plain_config = plain.config.clone();
    plain.stop().await.expect("clean stop");
    drop_pg_slot(&plain_config).await;
    assert_eq!(events[2].as_ref().unwrap().op, Op::Truncate);
    let messages = changes(&format!("{}.message", config.prefix()), 1).await;
    let message = messages[0].as_ref().unwrap().message.clone().unwrap();
    assert_eq!((message.prefix.as_str(), message.content.as_slice()), ("audit", &b"hello"[..]));
    capture.stop().await.expect("clean stop");
    drop_pg_slot(&config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_metadata_and_flagged_writer_transactions() {
    common::transaction_metadata_and_flagged_writer_transactions(TestDb::postgres().await).await;
}

/// The records of a snapshot of Debezium's `inventory.products` carry the same field names,
/// types, schema names and parameters as the real Debezium PostgreSQL connector's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_have_the_shape_of_debezium_fixtures() {
    let db = TestDb::postgres().await;
    db.exec(&format!(
        "CREATE TABLE {} (id INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, description VARCHAR(512), \
         weight DOUBLE PRECISION)",
        db.qualified("products")
    ))
    .await;
    common::same_shape_as_the_fixture(
        db,
        "flink/debezium-postgres-data-schema-include.txt",
        "fullfillment.inventory.products",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writers_transactions_are_dropped_and_the_applications_kept() {
    common::writer_transactions_are_dropped(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_stream_and_resume_after_a_crash() {
    common::snapshot_then_stream_and_resume(TestDb::postgres().await, "SELECT g, g FROM generate_series(1, 2500) g")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_resumes_after_a_crash() {
    common::snapshot_resumes_after_a_crash(TestDb::postgres().await, "SELECT g, g FROM generate_series(1, 2500) g")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_change_is_picked_up() {
    common::a_schema_change_is_picked_up(TestDb::postgres().await).await;
}

/// While the captured tables are idle, the slot still moves on past changes it never sends
/// (here, another table's), so it does not keep the server's WAL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_slot_keeps_no_wal() {
    let db = TestDb::postgres().await;
    db.exec(&format!("CREATE TABLE {} (id INT PRIMARY KEY)", db.qualified("captured"))).await;
    let config = config(&db);
    let capture = Running::start(config.clone()).await;
    let other = TestDb::postgres().await;
    other.exec(&format!("CREATE TABLE {} (id INT PRIMARY KEY)", other.qualified("busy"))).await;
    other.exec(&format!("INSERT INTO {} SELECT generate_series(1, 1000)", other.qualified("busy"))).await;
    let target = &db.rows("SELECT pg_current_wal_lsn()::text").await[0][0];
    let target = target.clone().unwrap();
    let slot = config.slot();
    // The server reports its position in keepalives (also for the transactions it skips).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let passed = db
            .rows(&format!(
                "SELECT (confirmed_flush_lsn >= '{target}'::pg_lsn)::text FROM pg_replication_slots WHERE slot_name = '{slot}'"
            ))
            .await;
        if passed[0][0].as_deref() == Some("true") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the slot stayed behind {target}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    capture.stop().await.expect("clean stop");
    drop_pg_slot(&config).await;
}
