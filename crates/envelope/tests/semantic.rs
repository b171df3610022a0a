//! One hand-written case per semantic type, with edge values, each with its exact expected value.

use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use dualsync_envelope::{
    BinaryMode, ConnectorSettings, DecimalMode, Decoder, FieldType, Interval, Shape, TypeHints, Value,
};
use serde_json::json;

/// Decodes a with-schema create event whose only column `v` has schema `field` and value `value`.
fn typed_with(
    settings: ConnectorSettings,
    mut field: serde_json::Value,
    value: serde_json::Value,
) -> Result<Value, String> {
    field["field"] = json!("v");
    let record = json!({
        "schema": {"type": "struct", "fields": [
            {"field": "after", "type": "struct", "optional": true, "fields": [field]},
            {"field": "op", "type": "string"}
        ]},
        "payload": {"op": "c", "after": {"v": value}, "source": {"table": "t"}}
    });
    let mut decoder = Decoder::new(settings, TypeHints::default());
    let decoded = decoder.decode(None, Some(record.to_string().as_bytes())).map_err(|e| e.to_string())?;
    Ok(decoded.change().and_then(|e| e.after.as_ref()?.get("v").cloned()).expect("column v"))
}

fn typed(field: serde_json::Value, value: serde_json::Value) -> Value {
    typed_with(ConnectorSettings::default(), field, value).unwrap_or_else(|e| panic!("{e}"))
}

/// Decodes a schemaless create event of table `t` whose column `v` is typed by a hint.
fn hinted_with(settings: ConnectorSettings, hint: FieldType, value: serde_json::Value) -> Result<Value, String> {
    let mut hints = TypeHints::default();
    hints.insert("t", "v", hint);
    let record = json!({"op": "c", "after": {"v": value}, "source": {"table": "t"}});
    let mut decoder = Decoder::new(settings, hints);
    let decoded = decoder.decode(None, Some(record.to_string().as_bytes())).map_err(|e| e.to_string())?;
    Ok(decoded.change().and_then(|e| e.after.as_ref()?.get("v").cloned()).expect("column v"))
}

fn hinted(hint: FieldType, value: serde_json::Value) -> Value {
    hinted_with(ConnectorSettings::default(), hint, value).unwrap_or_else(|e| panic!("{e}"))
}

fn named(shape: &str, name: &str) -> serde_json::Value {
    json!({"type": shape, "name": name})
}

fn dec(text: &str) -> Value {
    Value::Decimal(BigDecimal::from_str(text).expect("decimal"))
}

fn date(y: i32, m: u32, d: u32) -> Value {
    Value::Date(NaiveDate::from_ymd_opt(y, m, d).expect("date"))
}

fn ts(text: &str) -> Value {
    Value::Timestamp(NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").expect("timestamp"))
}

/// Big-endian two's-complement bytes of `unscaled`, base64, as Connect's Decimal writes them.
fn decimal_bytes(unscaled: &str) -> String {
    use base64::Engine as _;
    let n = bigdecimal::num_bigint::BigInt::from_str(unscaled).expect("integer");
    base64::engine::general_purpose::STANDARD.encode(n.to_signed_bytes_be())
}

fn decimal_field(scale: i64) -> serde_json::Value {
    json!({"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": scale.to_string()}})
}

#[test]
fn decimals() {
    let max38 = "99999999999999999999999999999999999999";
    assert_eq!(typed(decimal_field(0), json!(decimal_bytes(max38))), dec(max38));
    assert_eq!(
        typed(decimal_field(10), json!(decimal_bytes(&format!("-{max38}")))),
        dec("-9999999999999999999999999999.9999999999")
    );
    assert_eq!(typed(decimal_field(-3), json!(decimal_bytes("12"))), dec("12000"));
    assert_eq!(typed(decimal_field(2), json!(decimal_bytes("-1"))), dec("-0.01"));
    assert_eq!(typed(decimal_field(2), json!("AA==")), dec("0.00"));
    // PostgreSQL money is a Decimal with scale 2.
    assert_eq!(typed(decimal_field(2), json!(decimal_bytes("-92233720368547758"))), dec("-922337203685477.58"));
    // NUMERIC without scale: VariableScaleDecimal {scale, value}.
    let variable = named("struct", "io.debezium.data.VariableScaleDecimal");
    assert_eq!(typed(variable.clone(), json!({"scale": 5, "value": decimal_bytes("314159")})), dec("3.14159"));
    assert_eq!(typed(variable, json!({"scale": 0, "value": decimal_bytes(max38)})), dec(max38));
    // decimal.handling.mode=string and =double: no semantic name, the hint says decimal.
    let string_mode = ConnectorSettings { decimal_handling_mode: DecimalMode::String, ..ConnectorSettings::default() };
    let hint = FieldType::named(Shape::Bytes, "org.apache.kafka.connect.data.Decimal", &[("scale", "3")]);
    assert_eq!(
        hinted_with(string_mode, hint.clone(), json!("-12345678901234567890.123")),
        Ok(dec("-12345678901234567890.123"))
    );
    assert_eq!(hinted(hint.clone(), json!(12.5)), dec("12.5"));
    // Schemaless with a hint: base64 unscaled bytes.
    assert_eq!(hinted(hint.clone(), json!(decimal_bytes("12345"))), dec("12.345"));
    let err = hinted_with(ConnectorSettings::default(), hint, json!("12.5")).unwrap_err();
    assert!(err.starts_with("value.after.v: Decimal bytes are not valid base64"), "{err}");
    assert!(err.contains("decimal.handling.mode=string"), "{err}");
}

#[test]
fn integers() {
    assert_eq!(typed(json!({"type": "int64"}), json!(i64::MAX)), Value::Int(i64::MAX));
    assert_eq!(typed(json!({"type": "int64"}), json!(i64::MIN)), Value::Int(i64::MIN));
    assert_eq!(typed(json!({"type": "int8"}), json!(-128)), Value::Int(-128));
    let overflow = typed_with(ConnectorSettings::default(), json!({"type": "int8"}), json!(128)).unwrap_err();
    assert_eq!(overflow, "value.payload.after.v: expected int8, found number 128");
    // BIGINT UNSIGNED, bigint.unsigned.handling.mode=precise: a scale-0 Decimal.
    assert_eq!(typed(decimal_field(0), json!(decimal_bytes("18446744073709551615"))), dec("18446744073709551615"));
    // bigint.unsigned.handling.mode=long: the connector wraps values above i64::MAX.
    let unsigned = FieldType::named(Shape::Int64, "dualsync.Unsigned", &[]);
    assert_eq!(hinted(unsigned.clone(), json!(-1)), Value::UInt(u64::MAX));
    assert_eq!(hinted(unsigned, json!(7)), Value::Int(7));
    // Without schema or hint, integers keep their width and sign.
    assert_eq!(hinted(FieldType::plain(Shape::String), json!("x")), Value::Text("x".into()));
    let record = json!({"op": "c", "after": {"u": 18446744073709551615u64, "big": 123456789012345678901234567890u128, "f": 1.5e3}});
    let event = Decoder::default().decode(None, Some(record.to_string().as_bytes())).expect("decodes");
    let row = event.change().and_then(|e| e.after.clone()).expect("after");
    assert_eq!(row.get("u"), Some(&Value::UInt(u64::MAX)));
    assert_eq!(row.get("big"), Some(&dec("123456789012345678901234567890")));
    assert_eq!(row.get("f"), Some(&Value::Float(1500.0)));
}

#[test]
fn booleans_from_tinyint() {
    let hint = FieldType::plain(Shape::Boolean);
    assert_eq!(hinted(hint.clone(), json!(1)), Value::Bool(true));
    assert_eq!(hinted(hint.clone(), json!(0)), Value::Bool(false));
    assert_eq!(typed(json!({"type": "int16"}), json!(1)), Value::Int(1));
    assert!(hinted_with(ConnectorSettings::default(), hint, json!(2)).is_err());
}

#[test]
fn dates() {
    let d = named("int32", "io.debezium.time.Date");
    assert_eq!(typed(d.clone(), json!(0)), date(1970, 1, 1));
    assert_eq!(typed(d.clone(), json!(-1)), date(1969, 12, 31));
    assert_eq!(typed(d.clone(), json!(-25567)), date(1900, 1, 1));
    assert_eq!(typed(d.clone(), json!(19782)), date(2024, 2, 29));
    assert_eq!(typed(d.clone(), json!(2932896)), date(9999, 12, 31));
    assert_eq!(typed(d.clone(), json!(-719162)), date(1, 1, 1));
    // PostgreSQL ±infinity dates: what real Debezium 3.6.3 sends (wrapped day numbers), and the
    // int32 extremes dualsync's capture wrote before.
    assert_eq!(typed(d.clone(), json!(-2_147_472_692)), Value::Infinity { negative: false });
    assert_eq!(typed(d.clone(), json!(-2_147_472_691)), Value::Infinity { negative: true });
    assert_eq!(typed(d.clone(), json!(i32::MAX)), Value::Infinity { negative: false });
    assert_eq!(typed(d, json!(i32::MIN)), Value::Infinity { negative: true });
    assert_eq!(typed(named("int32", "org.apache.kafka.connect.data.Date"), json!(11016)), date(2000, 2, 29));
    // MySQL zero dates: Debezium sends null for a nullable column, the epoch for NOT NULL.
    assert_eq!(typed(named("int32", "io.debezium.time.Date"), json!(null)), Value::Null);
}

#[test]
fn times() {
    assert_eq!(typed(named("int32", "io.debezium.time.Time"), json!(45_296_789)), Value::Time(45_296_789_000_000));
    assert_eq!(
        typed(named("int64", "io.debezium.time.MicroTime"), json!(86_399_999_999i64)),
        Value::Time(86_399_999_999_000)
    );
    // MySQL TIME is a duration: -838:59:59 .. 838:59:59.
    let min = -(838 * 3600 + 59 * 60 + 59) * 1_000_000i64;
    assert_eq!(typed(named("int64", "io.debezium.time.MicroTime"), json!(min)), Value::Time(min * 1000));
    assert_eq!(Value::Time(min * 1000).to_string(), "-838:59:59");
    assert_eq!(typed(named("int64", "io.debezium.time.NanoTime"), json!(1)), Value::Time(1));
    assert_eq!(typed(named("int32", "org.apache.kafka.connect.data.Time"), json!(1000)), Value::Time(1_000_000_000));
    let zoned = named("string", "io.debezium.time.ZonedTime");
    assert_eq!(
        typed(zoned.clone(), json!("10:15:30.123456Z")),
        Value::TimeTz(
            NaiveTime::from_hms_micro_opt(10, 15, 30, 123_456).expect("time"),
            FixedOffset::east_opt(0).expect("utc")
        )
    );
    assert_eq!(
        typed(zoned, json!("23:59:59-05:30")),
        Value::TimeTz(
            NaiveTime::from_hms_opt(23, 59, 59).expect("time"),
            FixedOffset::west_opt(5 * 3600 + 1800).expect("offset")
        )
    );
}

#[test]
fn timestamps() {
    let ms = named("int64", "io.debezium.time.Timestamp");
    let us = named("int64", "io.debezium.time.MicroTimestamp");
    let ns = named("int64", "io.debezium.time.NanoTimestamp");
    assert_eq!(typed(ms.clone(), json!(0)), ts("1970-01-01 00:00:00"));
    assert_eq!(typed(ms, json!(-1)), ts("1969-12-31 23:59:59.999"));
    assert_eq!(typed(us.clone(), json!(-1)), ts("1969-12-31 23:59:59.999999"));
    assert_eq!(typed(us.clone(), json!(951_782_400_000_001i64)), ts("2000-02-29 00:00:00.000001"));
    assert_eq!(typed(us.clone(), json!(253_402_300_799_999_999i64)), ts("9999-12-31 23:59:59.999999"));
    assert_eq!(typed(us.clone(), json!(-2_208_988_800_000_000i64)), ts("1900-01-01 00:00:00"));
    assert_eq!(typed(ns, json!(1_700_000_000_123_456_789i64)), ts("2023-11-14 22:13:20.123456789"));
    // PostgreSQL ±infinity timestamps: Debezium's constants in microseconds and milliseconds
    // (seen with real Debezium 3.6.3), and the int64 extremes dualsync's capture wrote before.
    assert_eq!(typed(us.clone(), json!(9_223_372_036_825_200_000i64)), Value::Infinity { negative: false });
    assert_eq!(typed(us.clone(), json!(-9_223_372_036_832_400_000i64)), Value::Infinity { negative: true });
    let millis = named("int64", "io.debezium.time.Timestamp");
    assert_eq!(typed(millis.clone(), json!(9_223_372_036_825_200i64)), Value::Infinity { negative: false });
    assert_eq!(typed(millis, json!(-9_223_372_036_832_400i64)), Value::Infinity { negative: true });
    assert_eq!(typed(us.clone(), json!(i64::MAX)), Value::Infinity { negative: false });
    assert_eq!(typed(us, json!(i64::MIN)), Value::Infinity { negative: true });
    assert_eq!(
        typed(named("int64", "org.apache.kafka.connect.data.Timestamp"), json!(86_400_000)),
        ts("1970-01-02 00:00:00")
    );
    let zoned = named("string", "io.debezium.time.ZonedTimestamp");
    assert_eq!(
        typed(zoned.clone(), json!("2024-02-29T23:59:59.999999+02:00")),
        Value::TimestampTz(DateTime::parse_from_rfc3339("2024-02-29T23:59:59.999999+02:00").expect("parse"))
    );
    assert_eq!(typed(zoned.clone(), json!("infinity")), Value::Infinity { negative: false });
    assert_eq!(typed(zoned.clone(), json!("-infinity")), Value::Infinity { negative: true });
    // A MySQL zero TIMESTAMP in a NOT NULL column arrives as the epoch.
    assert_eq!(
        typed(zoned.clone(), json!("1970-01-01T00:00:00Z")),
        Value::TimestampTz(DateTime::parse_from_rfc3339("1970-01-01T00:00:00Z").expect("parse"))
    );
    let bad = typed_with(ConnectorSettings::default(), zoned, json!("yesterday")).unwrap_err();
    assert!(bad.starts_with("value.payload.after.v: \"yesterday\" is not an ISO 8601 timestamp"), "{bad}");
    // Schemaless: an epoch number in a column the hint declares a MicroTimestamp.
    assert_eq!(
        hinted(FieldType::named(Shape::Int64, "io.debezium.time.MicroTimestamp", &[]), json!(1_000_001)),
        ts("1970-01-01 00:00:01.000001")
    );
}

#[test]
fn years_durations_intervals() {
    assert_eq!(typed(named("int32", "io.debezium.time.Year"), json!(2155)), Value::Int(2155));
    assert_eq!(
        typed(named("int64", "io.debezium.time.MicroDuration"), json!(-90_061_000_001i64)),
        Value::Interval(Interval { months: 0, days: 0, micros: -90_061_000_001 })
    );
    let iso = named("string", "io.debezium.time.Interval");
    assert_eq!(
        typed(iso.clone(), json!("P1Y2M3DT4H5M6.78S")),
        Value::Interval(Interval { months: 14, days: 3, micros: 14_706_780_000 })
    );
    assert_eq!(
        typed(iso.clone(), json!("P-1Y-2M-3DT-4H-5M-6.000001S")),
        Value::Interval(Interval { months: -14, days: -3, micros: -14_706_000_001 })
    );
    assert_eq!(typed(iso.clone(), json!("P0D")), Value::Interval(Interval::default()));
    assert!(typed_with(ConnectorSettings::default(), iso, json!("1 day")).is_err());
}

#[test]
fn strings_with_meaning() {
    assert_eq!(
        typed(named("string", "io.debezium.data.Json"), json!("{\"a\": [1, 2.50]}")),
        Value::Json("{\"a\": [1, 2.50]}".into())
    );
    assert_eq!(
        typed(named("string", "io.debezium.data.Uuid"), json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
        Value::Uuid(uuid::Uuid::parse_str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").expect("uuid"))
    );
    assert_eq!(typed(named("string", "io.debezium.data.Enum"), json!("Active")), Value::Enum("Active".into()));
    assert_eq!(
        typed(named("string", "io.debezium.data.EnumSet"), json!("a,c")),
        Value::Set(vec!["a".into(), "c".into()])
    );
    assert_eq!(typed(named("string", "io.debezium.data.EnumSet"), json!("")), Value::Set(vec![]));
    assert_eq!(typed(named("string", "io.debezium.data.Xml"), json!("<a/>")), Value::Text("<a/>".into()));
    assert_eq!(
        typed(named("string", "io.debezium.data.Ltree"), json!("top.science")),
        Value::Text("top.science".into())
    );
    assert_eq!(typed(json!({"type": "string"}), json!("emoji 🦀 4-byte")), Value::Text("emoji 🦀 4-byte".into()));
}

#[test]
fn bits_bytes_and_binary_modes() {
    let bits = json!({"type": "bytes", "name": "io.debezium.data.Bits", "parameters": {"length": "10"}});
    assert_eq!(typed(bits, json!("BQI=")), Value::Bits { bytes: vec![5, 2], length: 10 });
    assert_eq!(Value::Bits { bytes: vec![5, 2], length: 10 }.to_string(), "B'1000000101'");
    assert_eq!(typed(json!({"type": "bytes"}), json!("AP8=")), Value::Bytes(vec![0, 255]));
    let bytes = FieldType::plain(Shape::Bytes);
    let mode = |m| ConnectorSettings { binary_handling_mode: m, ..ConnectorSettings::default() };
    assert_eq!(hinted_with(mode(BinaryMode::Base64), bytes.clone(), json!("AP8=")), Ok(Value::Bytes(vec![0, 255])));
    assert_eq!(
        hinted_with(mode(BinaryMode::Base64UrlSafe), bytes.clone(), json!("AP8")),
        Ok(Value::Bytes(vec![0, 255]))
    );
    assert_eq!(hinted_with(mode(BinaryMode::Hex), bytes.clone(), json!("00ff")), Ok(Value::Bytes(vec![0, 255])));
    let err = hinted_with(mode(BinaryMode::Hex), bytes, json!("zz")).unwrap_err();
    assert!(err.contains("not valid hex") && err.contains("binary.handling.mode"), "{err}");
    // binary.handling.mode=hex with a schema: the schema says string, the hint says bytes.
    let record = json!({
        "schema": {"type": "struct", "fields": [{"field": "after", "type": "struct", "fields": [{"field": "v", "type": "string"}]}]},
        "payload": {"op": "c", "after": {"v": "0a0b"}, "source": {"table": "t"}}
    });
    let mut hints = TypeHints::default();
    hints.insert("t", "v", FieldType::plain(Shape::Bytes));
    let mut decoder = Decoder::new(mode(BinaryMode::Hex), hints);
    let event = decoder.decode(None, Some(record.to_string().as_bytes())).expect("decodes");
    assert_eq!(event.change().and_then(|e| e.after.as_ref()?.get("v").cloned()), Some(Value::Bytes(vec![10, 11])));
}

#[test]
fn geometry() {
    let geometry = named("struct", "io.debezium.data.geometry.Geometry");
    assert_eq!(
        typed(geometry, json!({"wkb": "AQEAAAAAAAAAAADwPwAAAAAAAABA", "srid": 4326})),
        Value::Geometry {
            wkb: vec![1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40],
            srid: Some(4326)
        }
    );
    // A Point struct without wkb: its well-known binary is built from x and y.
    let point = named("struct", "io.debezium.data.geometry.Point");
    assert_eq!(
        typed(point, json!({"x": 1.0, "y": 2.0, "srid": null})),
        Value::Geometry {
            wkb: vec![1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40],
            srid: None
        }
    );
}

#[test]
fn arrays_maps_and_hstore() {
    let ints = json!({"type": "array", "items": {"type": "int32"}});
    assert_eq!(typed(ints, json!([1, null, -3])), Value::Array(vec![Value::Int(1), Value::Null, Value::Int(-3)]));
    let dates = json!({"type": "array", "items": {"type": "int32", "name": "io.debezium.time.Date"}});
    assert_eq!(typed(dates, json!([0])), Value::Array(vec![date(1970, 1, 1)]));
    // hstore.handling.mode=map and =json.
    let map = json!({"type": "map", "keys": {"type": "string"}, "values": {"type": "string", "optional": true}});
    assert_eq!(
        typed(map, json!({"a": "1", "b": null})),
        Value::Map(vec![("a".into(), Value::Text("1".into())), ("b".into(), Value::Null)])
    );
    assert_eq!(
        typed(named("string", "io.debezium.data.Json"), json!("{\"a\":\"1\"}")),
        Value::Json("{\"a\":\"1\"}".into())
    );
}

#[test]
fn unchanged_toast_placeholders() {
    let placeholder = "__debezium_unavailable_value";
    assert_eq!(typed(json!({"type": "string"}), json!(placeholder)), Value::Unavailable);
    assert_eq!(typed(named("string", "io.debezium.data.Json"), json!(placeholder)), Value::Unavailable);
    // bytea: the placeholder's bytes, base64.
    assert_eq!(typed(json!({"type": "bytes"}), json!("X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==")), Value::Unavailable);
    // arrays: an array holding the placeholder.
    assert_eq!(typed(json!({"type": "array", "items": {"type": "string"}}), json!([placeholder])), Value::Unavailable);
    // hstore in map mode.
    let map = json!({"type": "map", "keys": {"type": "string"}, "values": {"type": "string"}});
    assert_eq!(typed(map, json!({placeholder: placeholder})), Value::Unavailable);
    // Without schema.
    let record = json!({"op": "u", "after": {"id": 1, "doc": placeholder}});
    let event = Decoder::default().decode(None, Some(record.to_string().as_bytes())).expect("decodes");
    assert_eq!(event.change().and_then(|e| e.after.as_ref()?.get("doc").cloned()), Some(Value::Unavailable));
    // A configured placeholder.
    let custom = ConnectorSettings { unavailable_value_placeholder: "~toast~".into(), ..ConnectorSettings::default() };
    assert_eq!(typed_with(custom, json!({"type": "string"}), json!("~toast~")), Ok(Value::Unavailable));
}

#[test]
fn unknown_semantic_names_decode_by_shape() {
    assert_eq!(typed(named("int64", "io.example.Custom"), json!(5)), Value::Int(5));
}

/// Schemaless records typed by the target's column: what real Debezium 3.6.3 sent where the
/// hint expected another encoding (found by `consumer/tests/debezium_e2e.rs`).
#[test]
fn hints_take_the_encodings_real_debezium_sends() {
    // interval.handling.mode=string: an ISO 8601 duration where MicroDuration was expected.
    let duration =
        dualsync_envelope::FieldType::named(dualsync_envelope::Shape::Int64, "io.debezium.time.MicroDuration", &[]);
    assert_eq!(
        hinted(duration, json!("P1Y2M3DT4H5M6.789S")),
        Value::Interval(dualsync_envelope::Interval { months: 14, days: 3, micros: 14_706_789_000 })
    );
    // NUMERIC without a scale: a {scale, value} struct, or text with decimal.handling.mode=string.
    let variable = dualsync_envelope::FieldType::named(
        dualsync_envelope::Shape::Struct(Vec::new()),
        "io.debezium.data.VariableScaleDecimal",
        &[],
    );
    assert_eq!(
        hinted(variable.clone(), json!({"scale": 30, "value": "/w=="})),
        dec("-0.000000000000000000000000000001")
    );
    let text =
        ConnectorSettings { decimal_handling_mode: dualsync_envelope::DecimalMode::String, ..Default::default() };
    assert_eq!(hinted_with(text, variable, json!("12.5")), Ok(dec("12.5")));
    // BIT(10): base64 bytes, little-endian.
    let bits = dualsync_envelope::FieldType::named(
        dualsync_envelope::Shape::Bytes,
        "io.debezium.data.Bits",
        &[("length", "10")],
    );
    assert_eq!(hinted(bits, json!("qgI=")), Value::Bits { bytes: vec![0xaa, 0x02], length: 10 });
}
