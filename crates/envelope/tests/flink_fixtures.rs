//! The flink samples of real Debezium output (MySQL and PostgreSQL connectors, with and without
//! schema) decode to exactly the rows they carry.

use std::path::PathBuf;

use dualsync_envelope::{ChangeEvent, Decoded, Op, Row, Value, decode};

fn fixture_lines(name: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/debezium/flink").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()));
    text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect()
}

fn decode_all(name: &str) -> Vec<ChangeEvent> {
    fixture_lines(name)
        .iter()
        .enumerate()
        .map(|(i, line)| match decode(None, Some(line.as_bytes())) {
            Ok(Decoded::Change(event)) => event,
            other => panic!("{name} line {}: {other:?}", i + 1),
        })
        .collect()
}

fn product(id: i64, name: &str, description: &str, weight: f64) -> Row {
    Row(vec![
        ("id".into(), Value::Int(id)),
        ("name".into(), Value::Text(name.into())),
        ("description".into(), Value::Text(description.into())),
        ("weight".into(), Value::Float(weight)),
    ])
}

fn ops(events: &[ChangeEvent]) -> String {
    events.iter().map(|e| e.op.code()).collect()
}

#[test]
fn mysql_with_schema() {
    let events = decode_all("debezium-data-schema-include.txt");
    assert_eq!(ops(&events), "cccccccccuuccuud");
    let first = &events[0];
    assert_eq!(first.op, Op::Create);
    assert_eq!(first.after, Some(product(101, "scooter", "Small 2-wheel scooter", 3.140000104904175)));
    assert_eq!(first.before, None);
    assert_eq!(first.source.connector.as_deref(), Some("mysql"));
    assert_eq!(first.source.db.as_deref(), Some("inventory"));
    assert_eq!(first.source.table.as_deref(), Some("products"));
    assert_eq!(first.source.namespace(), Some("inventory"));
    assert_eq!(first.source.snapshot.as_deref(), Some("true"));
    assert_eq!(first.ts_ms, Some(1589355606100));
    let delete = events.last().unwrap();
    assert_eq!(delete.op, Op::Delete);
    assert_eq!(delete.after, None);
    assert_eq!(delete.before.as_ref().and_then(|r| r.get("id")), Some(&Value::Int(111)));
}

#[test]
fn postgres_with_and_without_schema_decode_alike() {
    let with = decode_all("debezium-postgres-data-schema-include.txt");
    let without = decode_all("debezium-postgres-data-schema-exclude.txt");
    assert_eq!(ops(&with), "rrrrrrrrruuccuud");
    for (a, b) in with.iter().zip(&without) {
        assert_eq!(a.op, b.op);
        assert_eq!(a.before, b.before);
        assert_eq!(a.after, b.after);
        assert_eq!(a.source, b.source);
    }
    let update = &with[9];
    assert_eq!(update.op, Op::Update);
    assert_eq!(update.before, Some(product(106, "hammer", "16oz carpenter's hammer", 1.0)));
    assert_eq!(update.after, Some(product(106, "hammer", "18oz carpenter hammer", 1.0)));
    assert_eq!(update.source.schema.as_deref(), Some("inventory"));
    assert_eq!(update.source.namespace(), Some("inventory"));
    assert_eq!(update.source.ts_ms, Some(1596010889629));
}

#[test]
fn postgres_without_old_images() {
    let events = decode_all("debezium-postgres-data-replica-identity.txt");
    assert_eq!(events.len(), 16);
    assert!(events.iter().filter(|e| e.op == Op::Update).all(|e| e.before.is_none()));
    let delete = events.last().unwrap();
    assert_eq!((delete.op, &delete.before, &delete.after), (Op::Delete, &None, &None));
}

#[test]
fn columns_keep_their_order() {
    let events = decode_all("debezium-postgres-data-schema-exclude.txt");
    let names: Vec<&str> = events[0].after.as_ref().unwrap().iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["id", "name", "description", "weight"]);
}
