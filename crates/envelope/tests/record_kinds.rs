//! Records other than a plain change envelope: flattened rows, transaction metadata, heartbeats,
//! schema changes, logical messages, and the envelope's transaction block.

use dualsync_envelope::{Decoded, Decoder, LogicalMessage, Op, Row, Transaction, TransactionMarker, Value};

fn decode(value: &str) -> Decoded {
    Decoder::default().decode(None, Some(value.as_bytes())).unwrap_or_else(|e| panic!("{e}"))
}

fn decode_keyed(key: &str, value: &str) -> Decoded {
    Decoder::default().decode(Some(key.as_bytes()), Some(value.as_bytes())).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn flattened_rows_with_added_fields() {
    let update = decode(
        r#"{"id":1,"name":"ada","__op":"u","__deleted":"false","__source_ts_ms":1700000000123,"__table":"users","__db":"shop","__lsn":42,"__name":"legacy","__source_file":"mysql-bin.000003","__tenant":7}"#,
    );
    let event = update.change().expect("change");
    assert_eq!(event.op, Op::Update);
    assert_eq!(event.after, Some(Row(vec![("id".into(), Value::Int(1)), ("name".into(), Value::Text("ada".into()))])));
    assert_eq!(event.before, None);
    assert_eq!(event.source.ts_ms, Some(1700000000123));
    assert_eq!(event.source.table.as_deref(), Some("users"));
    assert_eq!(event.source.db.as_deref(), Some("shop"));
    assert_eq!(event.source.lsn, Some(42));
    assert_eq!(event.source.name.as_deref(), Some("legacy"));
    assert_eq!(event.source.file.as_deref(), Some("mysql-bin.000003"));
    assert_eq!(event.added, vec![("__tenant".to_string(), Value::Int(7))]);

    // delete.handling.mode=rewrite: the deleted row with __deleted "true".
    let delete = decode_keyed(r#"{"id":1}"#, r#"{"id":1,"name":"ada","__op":"d","__deleted":"true"}"#);
    let event = delete.change().expect("change");
    assert_eq!(event.op, Op::Delete);
    assert_eq!(event.after, None);
    assert_eq!(event.before.as_ref().and_then(|r| r.get("name")), Some(&Value::Text("ada".into())));
    assert_eq!(event.key, Some(Row(vec![("id".into(), Value::Int(1))])));

    // Without __op, __deleted alone decides.
    let deleted = decode(r#"{"id":2,"__deleted":"true"}"#);
    assert_eq!(deleted.change().map(|e| e.op), Some(Op::Delete));

    // With a schema, added fields are typed like columns.
    let with_schema = decode(
        r#"{"schema":{"type":"struct","fields":[{"field":"id","type":"int32"},{"field":"__deleted","type":"string"},{"field":"__source_ts_ms","type":"int64"}]},"payload":{"id":3,"__deleted":"false","__source_ts_ms":5}}"#,
    );
    let event = with_schema.change().expect("change");
    assert_eq!((event.op, event.source.ts_ms), (Op::Read, Some(5)));
    assert_eq!(event.after, Some(Row(vec![("id".into(), Value::Int(3))])));
}

#[test]
fn transaction_metadata_topic() {
    let begin = decode(
        r#"{"status":"BEGIN","id":"571:53195829","event_count":null,"data_collections":null,"ts_ms":1486500577125}"#,
    );
    assert_eq!(
        begin,
        Decoded::Transaction(TransactionMarker {
            begin: true,
            id: "571:53195829".into(),
            event_count: None,
            data_collections: vec![],
            ts_ms: Some(1486500577125)
        })
    );
    let end = decode(
        r#"{"schema":{"type":"struct","fields":[{"field":"status","type":"string"}]},"payload":{"status":"END","id":"571:53195832","ts_ms":1486500577691,"event_count":2,"data_collections":[{"data_collection":"s1.a","event_count":1},{"data_collection":"s2.a","event_count":1}]}}"#,
    );
    assert_eq!(
        end,
        Decoded::Transaction(TransactionMarker {
            begin: false,
            id: "571:53195832".into(),
            event_count: Some(2),
            data_collections: vec![("s1.a".into(), 1), ("s2.a".into(), 1)],
            ts_ms: Some(1486500577691)
        })
    );
}

#[test]
fn transaction_block_of_a_change() {
    let change = decode(
        r#"{"op":"c","after":{"id":1},"source":{"table":"t"},"transaction":{"id":"571:53195832","total_order":1,"data_collection_order":1}}"#,
    );
    assert_eq!(
        change.change().and_then(|e| e.transaction.clone()),
        Some(Transaction { id: "571:53195832".into(), total_order: Some(1), data_collection_order: Some(1) })
    );
}

#[test]
fn heartbeats_and_schema_changes() {
    assert_eq!(
        decode_keyed(r#"{"serverName":"legacy"}"#, r#"{"ts_ms":1700000000000}"#),
        Decoded::Heartbeat { ts_ms: Some(1700000000000) }
    );
    let with_schema = decode(
        r#"{"schema":{"type":"struct","name":"io.debezium.connector.common.Heartbeat","fields":[{"field":"ts_ms","type":"int64"}]},"payload":{"ts_ms":7}}"#,
    );
    assert_eq!(with_schema, Decoded::Heartbeat { ts_ms: Some(7) });
    let ddl = decode(
        r#"{"source":{"server":"legacy"},"position":{"file":"mysql-bin.000003","pos":154},"databaseName":"inventory","schemaName":null,"ddl":"ALTER TABLE products ADD COLUMN colour VARCHAR(20)","tableChanges":[]}"#,
    );
    assert_eq!(
        ddl,
        Decoded::SchemaChange {
            database: Some("inventory".into()),
            schema: None,
            ddl: Some("ALTER TABLE products ADD COLUMN colour VARCHAR(20)".into())
        }
    );
    assert_eq!(ddl.kind(), "schema-change");
}

#[test]
fn logical_decoding_messages_and_truncates() {
    let message = decode(
        r#"{"op":"m","ts_ms":1,"source":{"connector":"postgresql","lsn":100},"message":{"prefix":"dualsync","content":"aGVsbG8="}}"#,
    );
    let event = message.change().expect("change");
    assert_eq!(event.op, Op::Message);
    assert_eq!(event.message, Some(LogicalMessage { prefix: "dualsync".into(), content: b"hello".to_vec() }));
    let truncate = decode(r#"{"op":"t","ts_ms":1,"source":{"connector":"postgresql","schema":"public","table":"t"}}"#);
    assert_eq!(
        truncate.change().map(|e| (e.op, e.before.is_none(), e.after.is_none())),
        Some((Op::Truncate, true, true))
    );
}
