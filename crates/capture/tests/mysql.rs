//! MariaDB capture against the real server and broker: types, snapshot, marker, restart, and
//! the records' format against real Debezium fixtures.

mod common;

use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate};
use common::{Running, changes, config, get};
use dualsync_envelope::{Op, Value};
use dualsync_testkit::TestDb;

fn dec(text: &str) -> Value {
    Value::Decimal(BigDecimal::from_str(text).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_common_type_arrives_exactly_as_written() {
    let db = TestDb::mysql().await;
    let t = db.qualified("types");
    db.exec(&format!(
        "CREATE TABLE {t} (id INT PRIMARY KEY, ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, \
         mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED, \
         d38 DECIMAL(38,10), f FLOAT, db DOUBLE, b1 BIT(1), b12 BIT(12), bo BOOLEAN, c CHAR(5), vc VARCHAR(50), \
         tx TEXT, bn BINARY(4), bl BLOB, dt DATE, tm TIME(3), dt0 DATETIME, dt3 DATETIME(3), dt6 DATETIME(6), \
         ts0 TIMESTAMP NULL, ts6 TIMESTAMP(6) NULL, y YEAR, j JSON, e ENUM('small','medium','large'), \
         s SET('x','y','z')) CHARACTER SET utf8mb4"
    ))
    .await;
    let config = config(&db);
    let capture = Running::start(config.clone()).await;
    db.exec("SET time_zone = '+00:00'").await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES (1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, \
         -9223372036854775808, 18446744073709551615, 1234567890123456789012345678.0123456789, 3.14, 0.1, b'1', \
         b'101010101010', TRUE, 'ab', 'varchar ü', 'text 😀 4-byte', x'00ff1020', x'cafe', '2024-02-29', '-838:59:59.999', \
         '2024-01-02 03:04:05', '2024-01-02 03:04:05.123', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05', \
         '2024-01-02 03:04:05.654321', 2024, '{{\"a\": [1, 2]}}', 'medium', 'x,z')"
    ))
    .await;
    db.exec(&format!("UPDATE {t} SET vc = 'changed', e = 'large' WHERE id = 1")).await;
    let topic = format!("{}.{}.types", config.prefix(), db.namespace);
    let updated = changes(&topic, 2).await[1].clone().unwrap();
    // A snapshot reads the row through a query, not the binlog: the values must be the same.
    let reader = Running::start(common::config(&db)).await;
    let read = changes(&format!("{}.{}.types", reader.config.prefix(), db.namespace), 1).await[0].clone().unwrap();
    assert_eq!(read.op, Op::Read);
    assert_eq!(read.after, updated.after, "snapshot and binlog decode the same row alike");
    reader.stop().await.expect("clean stop");
    db.exec(&format!("DELETE FROM {t} WHERE id = 1")).await;
    let events = changes(&topic, 4).await;
    let (insert, update, delete) =
        (events[0].as_ref().unwrap(), events[1].as_ref().unwrap(), events[2].as_ref().unwrap());
    assert!(events[3].is_none(), "a tombstone follows the delete");
    assert_eq!((insert.op, update.op, delete.op), (Op::Create, Op::Update, Op::Delete));
    let row = insert.after.as_ref().unwrap();
    let ts =
        |text: &str| Value::Timestamp(chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap());
    let expect = [
        ("ti", Value::Int(-128)),
        ("tiu", Value::Int(255)),
        ("si", Value::Int(-32768)),
        ("siu", Value::Int(65535)),
        ("mi", Value::Int(-8388608)),
        ("miu", Value::Int(16777215)),
        ("i", Value::Int(-2147483648)),
        ("iu", Value::Int(4294967295)),
        ("bi", Value::Int(i64::MIN)),
        ("biu", dec("18446744073709551615")),
        ("d38", dec("1234567890123456789012345678.0123456789")),
        // FLOAT 3.14 widened from single precision, as the connector writes it.
        ("f", Value::Float(3.140000104904175)),
        ("db", Value::Float(0.1)),
        ("b1", Value::Bool(true)),
        ("b12", Value::Bits { bytes: vec![0xaa, 0x0a], length: 12 }),
        ("bo", Value::Int(1)),
        ("c", Value::Text("ab".into())),
        ("vc", Value::Text("varchar ü".into())),
        ("tx", Value::Text("text 😀 4-byte".into())),
        ("bn", Value::Bytes(vec![0, 255, 16, 32])),
        ("bl", Value::Bytes(vec![0xca, 0xfe])),
        ("dt", Value::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap())),
        ("tm", Value::Time(-(838 * 3600 + 59 * 60 + 59) * 1_000_000_000 - 999_000_000)),
        ("dt0", ts("2024-01-02 03:04:05")),
        ("dt3", ts("2024-01-02 03:04:05.123")),
        ("dt6", ts("2024-01-02 03:04:05.123456")),
        ("ts0", Value::TimestampTz(DateTime::parse_from_rfc3339("2024-01-02T03:04:05Z").unwrap())),
        ("ts6", Value::TimestampTz(DateTime::parse_from_rfc3339("2024-01-02T03:04:05.654321Z").unwrap())),
        ("y", Value::Int(2024)),
        ("j", Value::Json("{\"a\": [1, 2]}".into())),
        ("e", Value::Enum("medium".into())),
        ("s", Value::Set(vec!["x".into(), "z".into()])),
    ];
    for (name, value) in &expect {
        assert_eq!(get(row, name), value, "column {name}");
    }
    assert_eq!(get(update.before.as_ref().unwrap(), "vc"), &Value::Text("varchar ü".into()));
    assert_eq!(get(update.after.as_ref().unwrap(), "e"), &Value::Enum("large".into()));
    assert_eq!(delete.key.as_ref().and_then(|k| k.get("id")), Some(&Value::Int(1)));
    let source = &insert.source;
    assert_eq!(source.connector.as_deref(), Some("mysql"));
    assert_eq!(source.db.as_deref(), Some(db.namespace.as_str()));
    assert!(source.file.is_some() && source.pos.is_some() && source.gtid.is_some(), "{source:?}");
    capture.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_have_the_shape_of_debezium_fixtures() {
    let db = TestDb::mysql().await;
    db.exec(&format!(
        "CREATE TABLE {} (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255) NOT NULL, \
         description VARCHAR(512), weight FLOAT)",
        db.qualified("products")
    ))
    .await;
    common::same_shape_as_the_fixture(db, "flink/debezium-data-schema-include.txt", "dbserver1.inventory.products")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_metadata_and_flagged_writer_transactions() {
    common::transaction_metadata_and_flagged_writer_transactions(TestDb::mysql().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writers_transactions_are_dropped_and_the_applications_kept() {
    common::writer_transactions_are_dropped(TestDb::mysql().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_stream_and_resume_after_a_crash() {
    common::snapshot_then_stream_and_resume(TestDb::mysql().await, "SELECT seq, seq FROM seq_1_to_2500").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_resumes_after_a_crash() {
    common::snapshot_resumes_after_a_crash(TestDb::mysql().await, "SELECT seq, seq FROM seq_1_to_2500").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_change_is_picked_up() {
    common::a_schema_change_is_picked_up(TestDb::mysql().await).await;
}

/// A stored position whose binlog no longer exists stops the capture with what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purged_binlog_position_says_what_to_do() {
    let db = TestDb::mysql().await;
    db.exec(&format!("CREATE TABLE {} (id INT PRIMARY KEY)", db.qualified("t"))).await;
    let config = config(&db);
    let offsets = config.offsets_topic();
    dualsync_testkit::create_topic(&offsets, 1).await;
    let stored = r#"{"snapshot":{"done":true},"file":"mariadb-bin.999999","pos":4,"gtid":null}"#;
    dualsync_testkit::produce(&offsets, &[(Some(config.name.clone().into_bytes()), Some(stored.as_bytes().to_vec()))])
        .await;
    let capture = Running::start(config).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let error = capture.stop().await.expect_err("the capture cannot start from a missing binlog").to_string();
    assert!(error.contains("mariadb-bin.999999:4") && error.contains("new snapshot"), "{error}");
}
