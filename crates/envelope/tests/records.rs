//! Keys, tombstones and malformed records.

use dualsync_envelope::{DecodeError, Decoded, Op, Row, Value, decode};
use proptest::prelude::*;

#[test]
fn tombstone_keeps_its_key() {
    let decoded = decode(Some(br#"{"id":7}"#), None).unwrap();
    assert_eq!(decoded, Decoded::Tombstone { key: Some(Row(vec![("id".into(), Value::Int(7))])) });
    assert_eq!(decode(None, Some(b"")).unwrap(), Decoded::Tombstone { key: None });
}

#[test]
fn key_with_schema() {
    let key = br#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"k"},"payload":{"id":42}}"#;
    let value = br#"{"op":"d","before":null,"after":null,"source":{"table":"t"}}"#;
    let event = decode(Some(key), Some(value)).unwrap().change().cloned().unwrap();
    assert_eq!(event.op, Op::Delete);
    assert_eq!(event.key, Some(Row(vec![("id".into(), Value::Int(42))])));
}

#[test]
fn row_column_named_source_is_not_the_source_block() {
    let value = br#"{"op":"c","after":{"id":1,"source":"legacy"},"source":{"connector":"mysql","table":"t"}}"#;
    let event = decode(None, Some(value)).unwrap().change().cloned().unwrap();
    assert_eq!(event.after.unwrap().get("source"), Some(&Value::Text("legacy".into())));
    assert_eq!(event.source.connector.as_deref(), Some("mysql"));
}

#[test]
fn errors_name_the_field() {
    let cases: [(&[u8], &str); 6] = [
        (b"{not json", "value: not valid JSON"),
        (br#"{"op":7}"#, "value.op: expected a one-letter string, found number 7"),
        (br#"{"op":"x"}"#, r#"value.op: unknown operation "x""#),
        (br#"{"op":"c","after":[1]}"#, "value.after: expected an object or null, found array [1]"),
        (
            br#"{"schema":{"type":"struct","fields":[{"field":"after","type":"struct","fields":[{"field":"id","type":"int32"}]}]},"payload":{"op":"c","after":{"id":"abc"}}}"#,
            r#"value.payload.after.id: expected int32, found string "abc""#,
        ),
        (
            br#"{"schema":{"type":"struct","fields":[{"field":"after","type":"struct","fields":[{"field":"p","type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}}]}]},"payload":{"op":"c","after":{"p":"12.5"}}}"#,
            "value.payload.after.p: Decimal bytes are not valid base64",
        ),
    ];
    for (input, expected) in cases {
        let err = decode(None, Some(input)).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{err:?} should start with {expected:?}");
    }
    let key_err = decode(Some(b"****"), Some(b"{}")).unwrap_err();
    assert!(matches!(key_err, DecodeError::Json { part: "key", .. }), "{key_err}");
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(key in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
                                   value in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(key.as_deref(), Some(&value));
    }

    #[test]
    fn truncated_events_never_panic(cut in 0usize..400) {
        let event = br#"{"schema":{"type":"struct","fields":[{"field":"after","type":"struct","fields":[{"field":"id","type":"int32"},{"field":"w","type":"double"}]}]},"payload":{"op":"c","before":null,"after":{"id":1,"w":2.5},"source":{"table":"t","ts_ms":1},"ts_ms":2}}"#;
        let cut = cut.min(event.len());
        let result = decode(None, Some(&event[..cut]));
        if cut == event.len() {
            prop_assert!(result.is_ok());
        }
    }
}
