//! Every Debezium sample under `shared/fixtures/debezium` decodes, and each yields exactly the
//! values it carries for at least one row. `SOURCES.md` there describes each file's layout.

use std::path::PathBuf;
use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use dualsync_envelope::{ChangeEvent, DecodeError, Decoded, Decoder, Op, Row, Value};

fn fixtures() -> PathBuf {
    std::env::var_os("DUALSYNC_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/debezium"))
}

type Record = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The Kafka records a fixture file holds, by its layout.
fn records(relative: &str) -> Vec<Record> {
    let path = fixtures().join(relative);
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // HDR+JSONL: an Apache licence comment comes first.
    if text.trim_start().starts_with("/*") {
        let end = text.find("*/").expect("comment ends") + 2;
        text = text[end..].to_string();
    }
    let is_key_value = relative.ends_with("_avro_json.1") || relative.ends_with("debezium_mess_key.1");
    if is_key_value {
        // `<key>^<value>` lines; an empty value is a tombstone. In the `_avro_json` files the first
        // line is the producer's Avro key and value schemas, not a record.
        let skip = usize::from(relative.ends_with("_avro_json.1"));
        return text
            .lines()
            .skip(skip)
            .filter(|l| !l.is_empty())
            .map(|line| {
                let (key, value) = line.split_once('^').expect("key^value");
                let part = |s: &str| (!s.is_empty()).then(|| s.as_bytes().to_vec());
                (part(key), part(value))
            })
            .collect();
    }
    if relative.ends_with(".json") {
        return vec![(None, Some(text.into_bytes()))];
    }
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| (None, Some(l.as_bytes().to_vec()))).collect()
}

fn decode_file(relative: &str) -> Vec<Decoded> {
    let mut decoder = Decoder::default();
    records(relative)
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            decoder.decode(k.as_deref(), v.as_deref()).unwrap_or_else(|e| panic!("{relative} record {}: {e}", i + 1))
        })
        .collect()
}

fn changes(relative: &str) -> Vec<ChangeEvent> {
    decode_file(relative).into_iter().filter_map(|d| d.change().cloned()).collect()
}

fn dec(text: &str) -> Value {
    Value::Decimal(BigDecimal::from_str(text).expect("decimal"))
}

fn ts(text: &str) -> Value {
    Value::Timestamp(NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").expect("timestamp"))
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn after(event: &ChangeEvent) -> &Row {
    event.after.as_ref().expect("after")
}

#[test]
fn every_fixture_file_decodes() {
    let mut count = 0;
    for folder in ["debezium", "flink", "paimon", "risingwave"] {
        for entry in std::fs::read_dir(fixtures().join(folder)).expect("fixture folder") {
            let name = format!("{folder}/{}", entry.expect("entry").file_name().to_string_lossy());
            let mut decoder = Decoder::default();
            for (i, (key, value)) in records(&name).iter().enumerate() {
                let result = decoder.decode(key.as_deref(), value.as_deref());
                if name.ends_with("debezium_mess_key.1") {
                    // Its keys are the literal `****`: the key is reported, the value still decodes.
                    assert!(matches!(result, Err(DecodeError::Json { part: "key", .. })), "{name} {i}: {result:?}");
                    decoder.decode(None, value.as_deref()).unwrap_or_else(|e| panic!("{name} record {}: {e}", i + 1));
                } else {
                    result.unwrap_or_else(|e| panic!("{name} record {}: {e}", i + 1));
                }
                count += 1;
            }
        }
    }
    assert!(count >= 90, "only {count} records found; is DUALSYNC_FIXTURES right?");
}

#[test]
fn mysql_all_types_row() {
    let events = changes("paimon/alltype-debezium-data-1.txt");
    let row = after(&events[0]);
    let expect = [
        ("_id", Value::Int(1)),
        ("pt", dec("1.1")),
        ("_bit1", Value::Bool(true)),
        ("_bit", Value::Bits { bytes: vec![0xc7, 0x07, 0, 0, 0, 0, 0, 0], length: 64 }),
        ("_tinyint1", Value::Int(1)),
        ("_smallint_unsigned", Value::Int(2000)),
        ("_int_unsigned", Value::Int(2_000_000)),
        ("_bigint", Value::Int(10_000_000_000)),
        ("_bigint_unsigned", dec("20000000000")),
        ("_serial", dec("40000000000")),
        ("_float", Value::Float(1.5)),
        ("_real", Value::Float(1.000001)),
        ("_numeric", dec("12345.110")),
        ("_fixed", dec("123456789876543212345678987654321.110")),
        ("_fixed_unsigned_zerofill", dec("123456789876543212345678987654321.330")),
        ("_decimal", dec("11111")),
        ("_decimal_unsigned_zerofill", dec("33333")),
        ("_big_decimal", dec("2222222222222222400000000000.0000000000")),
        ("_date", Value::Date(NaiveDate::from_ymd_opt(2023, 3, 23).expect("date"))),
        ("_datetime", ts("2023-03-23 14:30:05")),
        ("_datetime3", ts("2023-03-23 14:30:05.123")),
        ("_datetime6", ts("2023-03-23 14:30:05.123456")),
        (
            "_timestamp",
            Value::TimestampTz(DateTime::parse_from_rfc3339("2023-03-23T22:00:10.123456Z").expect("timestamptz")),
        ),
        ("_char", text("Paimon")),
        ("_bin", Value::Bytes(b"bytes\0\0\0\0\0".to_vec())),
        ("_blob", Value::Bytes(b"BLOB type test data".to_vec())),
        ("_json", Value::Json(r#"{"a": "b"}"#.into())),
        ("_enum", Value::Enum("value1".into())),
        ("_year", Value::Int(2023)),
        ("_time", Value::Time(36_803_000_000_000)),
        (
            "_point",
            Value::Geometry {
                wkb: vec![1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f],
                srid: None,
            },
        ),
        ("_set", Value::Set(vec!["a".into(), "b".into()])),
    ];
    for (column, expected) in expect {
        assert_eq!(row.get(column), Some(&expected), "column {column}");
    }
    assert_eq!(row.len(), 78);
    assert!(matches!(row.get("_geometry"), Some(Value::Geometry { srid: None, wkb }) if wkb.len() == 93));
}

#[test]
fn postgres_adaptive_and_connect_time_types() {
    let micro = changes("risingwave/debezium_timestamp.1");
    let row = after(&micro[0]);
    assert_eq!(row.get("ts"), Some(&ts("2022-10-14 23:55:31.989360")));
    assert_eq!(row.get("d"), Some(&Value::Date(NaiveDate::from_ymd_opt(2022, 10, 14).expect("date"))));
    assert_eq!(row.get("t"), Some(&Value::Time(86_131_989_360_000)));
    assert_eq!(micro[0].source.sequence.as_deref(), Some("[null,\"25503568\"]"));
    assert_eq!(micro[0].source.tx_id, Some(4499));
    assert_eq!(micro[0].source.lsn, Some(25503568));

    let connect = changes("risingwave/debezium_timestamp.bcd9bf50.1");
    let row = after(&connect[0]);
    assert_eq!(row.get("ts"), Some(&ts("2022-10-19 02:49:22.800")));
    assert_eq!(row.get("ts2"), Some(&ts("2022-10-19 02:49:22.813")));
    assert_eq!(row.get("d"), Some(&Value::Date(NaiveDate::from_ymd_opt(2022, 10, 19).expect("date"))));
    assert_eq!(row.get("t"), Some(&Value::Time(10_162_800_000_000)));
}

#[test]
fn debezium_serde_samples() {
    let with = changes("debezium/serde-with-schema.json");
    let without = changes("debezium/serde-without-schema.json");
    assert_eq!(with[0].after, without[0].after);
    let row = after(&with[0]);
    assert_eq!(row.get("first_name"), Some(&text("Anne")));
    assert_eq!((with[0].ts_us, with[0].ts_ns), (Some(1465491411815000), Some(1465491411815000000)));
    assert_eq!(with[0].source.snapshot.as_deref(), Some("false"));
    assert_eq!(with[0].source.query.as_deref().map(|q| q.starts_with("INSERT INTO customers")), Some(true));

    let update = &changes("debezium/serde-update.json")[0];
    assert_eq!(update.op, Op::Update);
    assert_eq!(update.before.as_ref().and_then(|r| r.get("first_name")), Some(&text("Anne-Marie")));
    assert_eq!(update.after.as_ref().and_then(|r| r.get("first_name")), Some(&text("Anne")));

    let unknown = &changes("debezium/serde-unknown-property.json")[0];
    assert_eq!(after(unknown).get("middle_name"), Some(&text("L")));

    // A flattened row without an operation states the row as it is now.
    let unwrapped = &changes("debezium/serde-unwrapped.json")[0];
    assert_eq!(unwrapped.op, Op::Read);
    assert_eq!(after(unwrapped).get("id"), Some(&Value::Int(1004)));
    assert_eq!(after(unwrapped).get("email"), Some(&text("annek@noanswer.org")));
}

#[test]
fn schema_evolution_and_nested_samples() {
    let widened = changes("paimon/schema-schemaevolution-debezium-data-3.txt");
    assert_eq!(after(&widened[0]).get("age"), Some(&Value::Int(24)));
    let deleted = changes("paimon/schema-schemaevolution-debezium-data-with-delete.txt");
    assert_eq!((deleted[0].op, deleted[0].after.is_none()), (Op::Delete, true));
    assert_eq!(
        deleted[0].before.as_ref().and_then(|r| r.get("weight")),
        Some(&Value::Float("3.14".parse().expect("f64")))
    );

    let schemaless = changes("paimon/schemaevolution-debezium-data-schema-exclude-3.txt");
    assert_eq!(schemaless.iter().map(|e| e.op.code()).collect::<String>(), "cduc");
    assert_eq!(after(&schemaless[0]).get("address"), Some(&text("Shanghai")));
    assert_eq!(schemaless[2].before, Some(Row(vec![("address".into(), text("Shanghai"))])));

    let nested = changes("paimon/nestedtype-debezium-data-1.txt");
    assert_eq!(after(&nested[0]).get("row"), Some(&Value::Json(r#"{"row_key":"value"}"#.into())));

    let topic = changes("paimon/database-schemaevolution-topic0-debezium-data-2.txt");
    assert_eq!(topic.len(), 2);
    assert!(topic.iter().all(|e| after(e).get("age").is_some()));
}

#[test]
fn risingwave_key_value_samples() {
    let decoded = decode_file("risingwave/debezium_add_column_after_create_table_avro_json.1");
    assert_eq!(decoded.len(), 6);
    let kinds: Vec<&str> = decoded.iter().map(Decoded::kind).collect();
    assert_eq!(kinds, ["change", "change", "change", "change", "change", "tombstone"]);
    let third = decoded[2].change().expect("change");
    assert_eq!(third.key, Some(Row(vec![("order_id".into(), Value::Int(3))])));
    assert_eq!(after(third).get("customer_name"), Some(&text("Alice")));
    assert_eq!(third.source.snapshot.as_deref(), Some("last"));
    let delete = decoded[4].change().expect("change");
    assert_eq!(delete.op, Op::Delete);
    assert_eq!(delete.before.as_ref().and_then(|r| r.get("price")), Some(&Value::Null));
    assert_eq!(decoded[5], Decoded::Tombstone { key: Some(Row(vec![("order_id".into(), Value::Int(1))])) });

    let log = changes("risingwave/debezium_log_schemaless.1");
    assert_eq!(after(&log[0]).get("is_adult"), Some(&Value::Bool(false)));
    assert_eq!(
        (log[0].source.server_id, log[0].source.pos, log[0].source.thread),
        (Some(223344), Some(3522), Some(24))
    );
}

#[test]
fn flink_samples_keep_doubles_exact() {
    let events = changes("flink/debezium-data-schema-include.txt");
    assert_eq!(after(&events[0]).get("weight"), Some(&Value::Float(3.140000104904175)));
    let pg = changes("flink/debezium-postgres-data-schema-include.txt");
    assert_eq!(pg[15].before.as_ref().and_then(|r| r.get("weight")), Some(&Value::Float(5.17)));
}
