//! Property: a value encoded the way Debezium's JSON converter encodes it decodes to itself, with
//! and without schema (the latter typed by a hint).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::BigInt;
use chrono::{DateTime, FixedOffset, NaiveDate};
use dualsync_envelope::{ConnectorSettings, Decoder, FieldType, TypeHints, Value};
use proptest::prelude::*;
use serde_json::{Value as Json, json};

/// A value with its Connect schema and JSON encoding.
#[derive(Debug, Clone)]
struct Encoded {
    value: Value,
    schema: Json,
    json: Json,
}

fn encoded() -> impl Strategy<Value = Encoded> {
    let int =
        any::<i64>().prop_map(|i| Encoded { value: Value::Int(i), schema: json!({"type": "int64"}), json: json!(i) });
    let float = any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| Encoded {
        value: Value::Float(x),
        schema: json!({"type": "float64"}),
        json: json!(x),
    });
    let text = "\\PC*"
        .prop_filter("not the placeholder", |s| s != "__debezium_unavailable_value")
        .prop_map(|s| Encoded { value: Value::Text(s.clone()), schema: json!({"type": "string"}), json: json!(s) });
    let decimal = (proptest::collection::vec(any::<u8>(), 1..20), -5i64..40).prop_map(|(bytes, scale)| {
        let unscaled = BigInt::from_signed_bytes_be(&bytes);
        Encoded {
            value: Value::Decimal(BigDecimal::new(unscaled.clone(), scale)),
            schema: json!({"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": scale.to_string()}}),
            json: json!(STANDARD.encode(unscaled.to_signed_bytes_be())),
        }
    });
    let date = (-719_162i64..2_932_897).prop_map(|days| Encoded {
        value: Value::Date(NaiveDate::from_num_days_from_ce_opt(days as i32 + 719_163).expect("in range")),
        schema: json!({"type": "int32", "name": "io.debezium.time.Date"}),
        json: json!(days),
    });
    let micro_ts = (-62_135_596_800_000_000i64..253_402_300_800_000_000).prop_map(|micros| Encoded {
        value: Value::Timestamp(DateTime::from_timestamp_micros(micros).expect("in range").naive_utc()),
        schema: json!({"type": "int64", "name": "io.debezium.time.MicroTimestamp"}),
        json: json!(micros),
    });
    let zoned = (0i64..253_402_300_799, 0u32..1_000_000, -50_400i32..50_400).prop_map(|(secs, micros, offset)| {
        let offset = FixedOffset::east_opt(offset / 60 * 60).expect("offset");
        let t = DateTime::from_timestamp(secs, micros * 1000).expect("in range").with_timezone(&offset);
        Encoded {
            value: Value::TimestampTz(t),
            schema: json!({"type": "string", "name": "io.debezium.time.ZonedTimestamp"}),
            json: json!(t.to_rfc3339()),
        }
    });
    let micro_time = (-3_020_399_000_000i64..3_020_399_000_000).prop_map(|micros| Encoded {
        value: Value::Time(micros * 1000),
        schema: json!({"type": "int64", "name": "io.debezium.time.MicroTime"}),
        json: json!(micros),
    });
    let bytes = proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| Encoded {
        value: Value::Bytes(b.clone()),
        schema: json!({"type": "bytes"}),
        json: json!(STANDARD.encode(&b)),
    });
    let uuid = any::<u128>().prop_map(|n| {
        let u = uuid::Uuid::from_u128(n);
        Encoded {
            value: Value::Uuid(u),
            schema: json!({"type": "string", "name": "io.debezium.data.Uuid"}),
            json: json!(u.to_string()),
        }
    });
    let boolean = any::<bool>().prop_map(|b| Encoded {
        value: Value::Bool(b),
        schema: json!({"type": "boolean"}),
        json: json!(b),
    });
    let null =
        Just(Encoded { value: Value::Null, schema: json!({"type": "string", "optional": true}), json: Json::Null });
    prop_oneof![int, float, text, decimal, date, micro_ts, zoned, micro_time, bytes, uuid, boolean, null]
}

fn decode_after(decoder: &mut Decoder, record: &Json) -> Vec<(String, Value)> {
    let decoded = decoder.decode(None, Some(record.to_string().as_bytes())).expect("decodes");
    decoded.change().and_then(|e| e.after.clone()).expect("after").0
}

proptest! {
    #[test]
    fn with_schema(columns in proptest::collection::vec(encoded(), 1..8)) {
        let fields: Vec<Json> = columns.iter().enumerate().map(|(i, c)| {
            let mut f = c.schema.clone();
            f["field"] = json!(format!("c{i}"));
            f
        }).collect();
        let after: serde_json::Map<String, Json> = columns.iter().enumerate().map(|(i, c)| (format!("c{i}"), c.json.clone())).collect();
        let record = json!({
            "schema": {"type": "struct", "fields": [{"field": "after", "type": "struct", "fields": fields}]},
            "payload": {"op": "c", "after": after, "source": {"table": "t"}}
        });
        let row = decode_after(&mut Decoder::default(), &record);
        let expected: Vec<(String, Value)> = columns.iter().enumerate().map(|(i, c)| (format!("c{i}"), c.value.clone())).collect();
        prop_assert_eq!(row, expected);
    }

    #[test]
    fn without_schema_typed_by_hints(columns in proptest::collection::vec(encoded(), 1..8)) {
        let mut hints = TypeHints::default();
        for (i, c) in columns.iter().enumerate() {
            hints.insert("t", &format!("c{i}"), FieldType::parse(&c.schema, "hint").expect("schema"));
        }
        let after: serde_json::Map<String, Json> = columns.iter().enumerate().map(|(i, c)| (format!("c{i}"), c.json.clone())).collect();
        let record = json!({"op": "c", "after": after, "source": {"table": "t"}});
        let row = decode_after(&mut Decoder::new(ConnectorSettings::default(), hints), &record);
        let expected: Vec<(String, Value)> = columns.iter().enumerate().map(|(i, c)| (format!("c{i}"), c.value.clone())).collect();
        prop_assert_eq!(row, expected);
    }

    #[test]
    fn random_json_never_panics(json in arbitrary_json()) {
        let _ = Decoder::default().decode(Some(json.to_string().as_bytes()), Some(json.to_string().as_bytes()));
        let wrapped = json!({"schema": json.clone(), "payload": json});
        let _ = Decoder::default().decode(None, Some(wrapped.to_string().as_bytes()));
    }
}

/// Arbitrary JSON, biased towards the envelope's own field names.
fn arbitrary_json() -> impl Strategy<Value = Json> {
    let key = prop_oneof![
        Just("op".to_string()),
        Just("after".to_string()),
        Just("before".to_string()),
        Just("source".to_string()),
        Just("type".to_string()),
        Just("fields".to_string()),
        Just("field".to_string()),
        Just("name".to_string()),
        Just("__deleted".to_string()),
        Just("status".to_string()),
        Just("scale".to_string()),
        "[a-z_]{1,6}",
    ];
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| json!(x)),
        prop_oneof![
            Just("c".to_string()),
            Just("d".to_string()),
            Just("struct".to_string()),
            Just("int32".to_string()),
            Just("org.apache.kafka.connect.data.Decimal".to_string()),
            Just("io.debezium.time.Date".to_string()),
            "\\PC{0,8}"
        ]
        .prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            proptest::collection::vec((key.clone(), inner), 0..6).prop_map(|kv| Json::Object(kv.into_iter().collect())),
        ]
    })
}
