//! Debezium's record format, as its JSON converter writes it: the semantic types of each column,
//! the key and value schemas, the envelope and the `source` block.
//!
//! The sources (`mysql`, `postgres`) turn their values into the JSON this module's encoders
//! produce, so both databases share one definition of each semantic type.

use std::sync::Arc;

use base64::Engine as _;
use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value as Json, json};

/// The version written in `source.version`.
pub const VERSION: &str = concat!("dualsync-", env!("CARGO_PKG_VERSION"));

/// Debezium's placeholder for a value the source did not send (unchanged TOAST).
pub const UNAVAILABLE: &str = "__debezium_unavailable_value";

/// How one column is written: Kafka Connect's type plus Debezium's semantic name, as the MySQL
/// and PostgreSQL connectors choose them with their default settings.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `boolean`.
    Boolean,
    /// `int16`.
    Int16,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `float`.
    Float32,
    /// `double`.
    Float64,
    /// `string`.
    String,
    /// `bytes`, base64 in JSON.
    Bytes,
    /// `org.apache.kafka.connect.data.Decimal`: the unscaled value's big-endian two's complement.
    Decimal {
        /// Declared precision (digits), when known.
        precision: Option<u32>,
        /// Scale.
        scale: u32,
    },
    /// `io.debezium.data.VariableScaleDecimal` (PostgreSQL `numeric` without a scale).
    VariableDecimal,
    /// `io.debezium.time.Date`: days since 1970-01-01.
    Date,
    /// `io.debezium.time.Time`: milliseconds since midnight.
    Time,
    /// `io.debezium.time.MicroTime`: microseconds since midnight (MySQL `TIME` may be negative or
    /// over 24 hours).
    MicroTime,
    /// `io.debezium.time.Timestamp`: milliseconds since the epoch, no zone.
    Timestamp,
    /// `io.debezium.time.MicroTimestamp`: microseconds since the epoch, no zone.
    MicroTimestamp,
    /// `io.debezium.time.ZonedTimestamp`: ISO 8601 in UTC with this many fraction digits
    /// (MySQL: the column's), or as many as needed (`None`, PostgreSQL).
    ZonedTimestamp(Option<u32>),
    /// `io.debezium.time.ZonedTime`: ISO 8601 time in UTC.
    ZonedTime,
    /// `io.debezium.time.Year`.
    Year,
    /// `io.debezium.time.MicroDuration`.
    MicroDuration,
    /// `io.debezium.time.Interval`: ISO 8601 duration.
    Interval,
    /// `io.debezium.data.Json`.
    Json,
    /// `io.debezium.data.Uuid`.
    Uuid,
    /// `io.debezium.data.Enum` with its allowed values.
    Enum(Vec<String>),
    /// `io.debezium.data.EnumSet` with its allowed values.
    EnumSet(Vec<String>),
    /// `io.debezium.data.Bits` of this many bits.
    Bits(u32),
    /// An array of elements of the inner kind.
    Array(Box<Kind>),
}

impl Kind {
    /// The Kafka Connect schema of a field of this kind.
    pub fn schema(&self, field: Option<&str>, optional: bool) -> Json {
        let mut schema = Map::new();
        let (ty, name, parameters): (&str, Option<&str>, Vec<(&str, String)>) = match self {
            Kind::Boolean => ("boolean", None, vec![]),
            Kind::Int16 => ("int16", None, vec![]),
            Kind::Int32 => ("int32", None, vec![]),
            Kind::Int64 => ("int64", None, vec![]),
            Kind::Float32 => ("float", None, vec![]),
            Kind::Float64 => ("double", None, vec![]),
            Kind::String => ("string", None, vec![]),
            Kind::Bytes => ("bytes", None, vec![]),
            Kind::Decimal { precision, scale } => {
                let mut parameters = vec![("scale", scale.to_string())];
                if let Some(p) = precision {
                    parameters.push(("connect.decimal.precision", p.to_string()));
                }
                ("bytes", Some("org.apache.kafka.connect.data.Decimal"), parameters)
            }
            Kind::VariableDecimal => {
                schema.insert("type".into(), json!("struct"));
                schema.insert(
                    "fields".into(),
                    json!([{"type": "int32", "optional": false, "field": "scale"},
                           {"type": "bytes", "optional": false, "field": "value"}]),
                );
                schema.insert("optional".into(), json!(optional));
                schema.insert("name".into(), json!("io.debezium.data.VariableScaleDecimal"));
                schema.insert("version".into(), json!(1));
                schema.insert("doc".into(), json!("Variable scaled decimal"));
                if let Some(field) = field {
                    schema.insert("field".into(), json!(field));
                }
                return Json::Object(schema);
            }
            Kind::Date => ("int32", Some("io.debezium.time.Date"), vec![]),
            Kind::Time => ("int32", Some("io.debezium.time.Time"), vec![]),
            Kind::MicroTime => ("int64", Some("io.debezium.time.MicroTime"), vec![]),
            Kind::Timestamp => ("int64", Some("io.debezium.time.Timestamp"), vec![]),
            Kind::MicroTimestamp => ("int64", Some("io.debezium.time.MicroTimestamp"), vec![]),
            Kind::ZonedTimestamp(_) => ("string", Some("io.debezium.time.ZonedTimestamp"), vec![]),
            Kind::ZonedTime => ("string", Some("io.debezium.time.ZonedTime"), vec![]),
            Kind::Year => ("int32", Some("io.debezium.time.Year"), vec![]),
            Kind::MicroDuration => ("int64", Some("io.debezium.time.MicroDuration"), vec![]),
            Kind::Interval => ("string", Some("io.debezium.time.Interval"), vec![]),
            Kind::Json => ("string", Some("io.debezium.data.Json"), vec![]),
            Kind::Uuid => ("string", Some("io.debezium.data.Uuid"), vec![]),
            Kind::Enum(allowed) => ("string", Some("io.debezium.data.Enum"), vec![("allowed", allowed.join(","))]),
            Kind::EnumSet(allowed) => {
                ("string", Some("io.debezium.data.EnumSet"), vec![("allowed", allowed.join(","))])
            }
            Kind::Bits(length) => ("bytes", Some("io.debezium.data.Bits"), vec![("length", length.to_string())]),
            Kind::Array(element) => {
                schema.insert("type".into(), json!("array"));
                schema.insert("items".into(), element.schema(None, true));
                schema.insert("optional".into(), json!(optional));
                if let Some(field) = field {
                    schema.insert("field".into(), json!(field));
                }
                return Json::Object(schema);
            }
        };
        schema.insert("type".into(), json!(ty));
        schema.insert("optional".into(), json!(optional));
        if let Some(name) = name {
            schema.insert("name".into(), json!(name));
            schema.insert("version".into(), json!(1));
        }
        if !parameters.is_empty() {
            let parameters: Map<String, Json> =
                parameters.into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            schema.insert("parameters".into(), Json::Object(parameters));
        }
        if let Some(field) = field {
            schema.insert("field".into(), json!(field));
        }
        Json::Object(schema)
    }

    /// The JSON of an unchanged value the source did not send, as Debezium writes it.
    pub fn unavailable(&self) -> Json {
        match self {
            Kind::Bytes => bytes(UNAVAILABLE.as_bytes()),
            Kind::Array(_) => json!([UNAVAILABLE]),
            _ => json!(UNAVAILABLE),
        }
    }
}

/// One captured column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// How it is written.
    pub kind: Kind,
    /// Whether it may be NULL.
    pub optional: bool,
}

/// A captured table: its columns, key and the schemas written with its records.
#[derive(Debug, Clone)]
pub struct Table {
    /// MySQL database or PostgreSQL schema.
    pub namespace: String,
    /// The table.
    pub name: String,
    /// Columns in the source's order.
    pub columns: Vec<Column>,
    /// Positions of the primary-key columns in `columns`.
    pub key: Vec<usize>,
    /// The topic its changes go to.
    pub topic: String,
    key_schema: Arc<str>,
    value_schema: Arc<str>,
}

/// Which connector a record imitates: decides the `source` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connector {
    /// `io.debezium.connector.mysql`.
    MySql,
    /// `io.debezium.connector.postgresql`.
    Postgres,
}

impl Connector {
    fn source_schema(self) -> Json {
        let snapshot = json!({"type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
            "parameters": {"allowed": "true,last,false"}, "default": "false", "field": "snapshot"});
        let field = |ty: &str, optional: bool, name: &str| json!({"type": ty, "optional": optional, "field": name});
        let mut fields = vec![
            field("string", false, "version"),
            field("string", false, "connector"),
            field("string", false, "name"),
            field("int64", false, "ts_ms"),
            snapshot,
            field("string", false, "db"),
        ];
        let name = match self {
            Connector::MySql => {
                fields.extend([
                    field("string", true, "table"),
                    field("int64", false, "server_id"),
                    field("string", true, "gtid"),
                    field("string", false, "file"),
                    field("int64", false, "pos"),
                    field("int32", false, "row"),
                    field("int64", true, "thread"),
                    field("string", true, "query"),
                ]);
                "io.debezium.connector.mysql.Source"
            }
            Connector::Postgres => {
                fields.extend([
                    field("string", false, "schema"),
                    field("string", false, "table"),
                    field("int64", true, "txId"),
                    field("int64", true, "lsn"),
                    field("int64", true, "xmin"),
                ]);
                "io.debezium.connector.postgresql.Source"
            }
        };
        json!({"type": "struct", "fields": fields, "optional": false, "name": name, "field": "source"})
    }
}

impl Table {
    /// A table and its schemas. `topic` is `<prefix>.<namespace>.<table>`.
    pub fn new(
        connector: Connector,
        prefix: &str,
        namespace: &str,
        name: &str,
        columns: Vec<Column>,
        key: Vec<usize>,
    ) -> Table {
        let topic = format!("{prefix}.{namespace}.{name}");
        let key_fields: Vec<Json> =
            key.iter().map(|&i| columns[i].kind.schema(Some(&columns[i].name), columns[i].optional)).collect();
        let key_schema =
            json!({"type": "struct", "fields": key_fields, "optional": false, "name": format!("{topic}.Key")});
        let value_fields: Vec<Json> = columns.iter().map(|c| c.kind.schema(Some(&c.name), c.optional)).collect();
        let row = |field: &str| json!({"type": "struct", "fields": value_fields, "optional": true, "name": format!("{topic}.Value"), "field": field});
        let value_schema = json!({
            "type": "struct",
            "fields": [
                row("before"),
                row("after"),
                connector.source_schema(),
                {"type": "string", "optional": false, "field": "op"},
                {"type": "int64", "optional": true, "field": "ts_ms"},
                {"type": "struct", "fields": [
                    {"type": "string", "optional": false, "field": "id"},
                    {"type": "int64", "optional": false, "field": "total_order"},
                    {"type": "int64", "optional": false, "field": "data_collection_order"}
                ], "optional": true, "field": "transaction"}
            ],
            "optional": false,
            "name": format!("{topic}.Envelope")
        });
        Table {
            namespace: namespace.to_string(),
            name: name.to_string(),
            columns,
            key,
            topic,
            key_schema: key_schema.to_string().into(),
            value_schema: value_schema.to_string().into(),
        }
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    fn row(&self, values: Vec<Json>) -> Json {
        Json::Object(self.columns.iter().map(|c| c.name.clone()).zip(values).collect())
    }

    /// The Kafka records of one change: the change, and for a delete (when `tombstones`) a
    /// tombstone with the same key. Values are in column order.
    pub fn records(&self, change: Change, schemas: bool, tombstones: bool) -> Vec<Record> {
        let key_of = change.after.as_ref().or(change.before.as_ref());
        let key = match key_of {
            Some(values) if !self.key.is_empty() && change.op != 't' => {
                let payload: Map<String, Json> =
                    self.key.iter().map(|&i| (self.columns[i].name.clone(), values[i].clone())).collect();
                Some(wrap(schemas, &self.key_schema, &Json::Object(payload)))
            }
            _ => None,
        };
        let delete = change.op == 'd';
        let payload = json!({
            "before": change.before.map(|v| self.row(v)),
            "after": change.after.map(|v| self.row(v)),
            "source": change.source,
            "op": change.op.to_string(),
            "ts_ms": Utc::now().timestamp_millis(),
            "transaction": change.transaction
        });
        let mut records = vec![Record {
            topic: self.topic.clone(),
            key: key.clone(),
            value: Some(wrap(schemas, &self.value_schema, &payload)),
        }];
        if delete && tombstones && key.is_some() {
            records.push(Record { topic: self.topic.clone(), key, value: None });
        }
        records
    }
}

/// A logical decoding message (op `m`) on `<prefix>.message`, as the PostgreSQL connector writes it.
pub fn message_record(prefix: &str, message_prefix: &str, content: &[u8], source: Json, schemas: bool) -> Record {
    let topic = format!("{prefix}.message");
    let key_schema = json!({"type": "struct", "fields": [{"type": "string", "optional": true, "field": "prefix"}],
        "optional": false, "name": "io.debezium.connector.postgresql.MessageKey"});
    let value_schema = json!({"type": "struct", "fields": [
        {"type": "string", "optional": false, "field": "op"},
        {"type": "int64", "optional": true, "field": "ts_ms"},
        Connector::Postgres.source_schema(),
        {"type": "struct", "fields": [
            {"type": "string", "optional": false, "field": "prefix"},
            {"type": "bytes", "optional": true, "field": "content"}
        ], "optional": false, "name": "io.debezium.connector.postgresql.Message", "field": "message"}
    ], "optional": false, "name": "io.debezium.connector.postgresql.MessageValue"});
    let payload = json!({"op": "m", "ts_ms": Utc::now().timestamp_millis(), "source": source,
        "message": {"prefix": message_prefix, "content": bytes(content)}});
    Record {
        topic,
        key: Some(wrap(schemas, &key_schema.to_string(), &json!({"prefix": message_prefix}))),
        value: Some(wrap(schemas, &value_schema.to_string(), &payload)),
    }
}

/// Debezium's transaction metadata (`provide.transaction.metadata`) of one transaction: the
/// `transaction` block of its events, and its BEGIN and END records on `<prefix>.transaction`.
#[derive(Debug, Clone)]
pub struct TransactionMeta {
    id: String,
    total: i64,
    collections: Vec<(String, i64)>,
}

impl TransactionMeta {
    /// A transaction with this id (PostgreSQL `txId:lsn`, MySQL the GTID or `file:pos`).
    pub fn new(id: String) -> TransactionMeta {
        TransactionMeta { id, total: 0, collections: Vec::new() }
    }

    /// Whether no event of it was written yet (its BEGIN is due before the first).
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The `transaction` block of its next event, on `collection` (`namespace.table`).
    pub fn next(&mut self, collection: &str) -> Json {
        self.total += 1;
        let order = match self.collections.iter_mut().find(|(c, _)| c == collection) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.collections.push((collection.to_string(), 1));
                1
            }
        };
        json!({"id": self.id, "total_order": self.total, "data_collection_order": order})
    }

    /// The BEGIN (`end == false`) or END record.
    pub fn record(&self, prefix: &str, end: bool, schemas: bool) -> Record {
        let key_schema = json!({"type": "struct", "fields": [{"type": "string", "optional": false, "field": "id"}],
            "optional": false, "name": "io.debezium.connector.common.TransactionMetadataKey"});
        let value_schema = json!({"type": "struct", "fields": [
            {"type": "string", "optional": false, "field": "status"},
            {"type": "string", "optional": false, "field": "id"},
            {"type": "int64", "optional": true, "field": "event_count"},
            {"type": "array", "items": {"type": "struct", "fields": [
                {"type": "string", "optional": false, "field": "data_collection"},
                {"type": "int64", "optional": false, "field": "event_count"}
            ], "optional": false}, "optional": true, "field": "data_collections"},
            {"type": "int64", "optional": false, "field": "ts_ms"}
        ], "optional": false, "name": "io.debezium.connector.common.TransactionMetadataValue"});
        let (event_count, collections) = if end {
            let collections: Vec<Json> =
                self.collections.iter().map(|(c, n)| json!({"data_collection": c, "event_count": n})).collect();
            (json!(self.total), json!(collections))
        } else {
            (Json::Null, Json::Null)
        };
        let payload = json!({"status": if end { "END" } else { "BEGIN" }, "id": self.id, "event_count": event_count,
            "data_collections": collections, "ts_ms": Utc::now().timestamp_millis()});
        Record {
            topic: format!("{prefix}.transaction"),
            key: Some(wrap(schemas, &key_schema.to_string(), &json!({"id": self.id}))),
            value: Some(wrap(schemas, &value_schema.to_string(), &payload)),
        }
    }
}

fn wrap(schemas: bool, schema: &str, payload: &Json) -> Vec<u8> {
    if schemas {
        format!("{{\"schema\":{schema},\"payload\":{payload}}}").into_bytes()
    } else {
        payload.to_string().into_bytes()
    }
}

/// One row change, values in the table's column order.
#[derive(Debug, Clone)]
pub struct Change {
    /// `c`, `u`, `d`, `r` or `t`.
    pub op: char,
    /// The old row.
    pub before: Option<Vec<Json>>,
    /// The new row.
    pub after: Option<Vec<Json>>,
    /// The `source` block.
    pub source: Json,
    /// The `transaction` block, with transaction metadata on.
    pub transaction: Option<Json>,
}

/// One Kafka record to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Topic.
    pub topic: String,
    /// Key bytes.
    pub key: Option<Vec<u8>>,
    /// Value bytes; `None` for a tombstone.
    pub value: Option<Vec<u8>>,
}

/// `bytes` as Kafka Connect's JSON converter writes them: base64.
pub fn bytes(data: &[u8]) -> Json {
    json!(base64::engine::general_purpose::STANDARD.encode(data))
}

/// A decimal for [`Kind::Decimal`] of `scale`, or for [`Kind::VariableDecimal`] when `scale` is `None`.
pub fn decimal(value: &BigDecimal, scale: Option<u32>) -> Json {
    match scale {
        Some(scale) => {
            let (unscaled, _) = value.with_scale(i64::from(scale)).into_bigint_and_exponent();
            bytes(&unscaled.to_signed_bytes_be())
        }
        None => {
            let (unscaled, exponent) = value.normalized().into_bigint_and_exponent();
            // A negative scale (trailing zeros) is written out: Debezium's scale is never negative.
            let (unscaled, exponent) =
                if exponent < 0 { (unscaled * num_pow10(-exponent), 0) } else { (unscaled, exponent) };
            json!({"scale": exponent, "value": bytes(&unscaled.to_signed_bytes_be())})
        }
    }
}

fn num_pow10(n: i64) -> bigdecimal::num_bigint::BigInt {
    let mut result = bigdecimal::num_bigint::BigInt::from(1);
    for _ in 0..n {
        result *= 10;
    }
    result
}

/// Days since 1970-01-01.
pub fn date(date: NaiveDate) -> Json {
    json!(date.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days())
}

/// A timestamp without zone, for [`Kind::Timestamp`] (`micros == false`) or [`Kind::MicroTimestamp`].
pub fn timestamp(value: NaiveDateTime, micros: bool) -> Json {
    let utc = value.and_utc();
    if micros { json!(utc.timestamp_micros()) } else { json!(utc.timestamp_millis()) }
}

/// An instant for [`Kind::ZonedTimestamp`] with `digits` fraction digits, or as many as needed.
pub fn zoned(value: DateTime<Utc>, digits: Option<u32>) -> Json {
    let base = value.format("%Y-%m-%dT%H:%M:%S").to_string();
    json!(format!("{base}{}Z", fraction(value.timestamp_subsec_nanos(), digits)))
}

/// `.` and the fraction of a second, `digits` long or trimmed of trailing zeros (`None`).
pub fn fraction(nanos: u32, digits: Option<u32>) -> String {
    let all = format!("{nanos:09}");
    let kept = match digits {
        Some(d) => &all[..d.min(9) as usize],
        None => all.trim_end_matches('0'),
    };
    if kept.is_empty() { String::new() } else { format!(".{kept}") }
}

/// A time of day or duration as both databases write it, `[-]H:MM:SS[.ffffff]` (hours
/// unbounded), in microseconds.
pub fn time_micros(text: &str) -> Option<i64> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut parts = text.splitn(3, ':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    let seconds = parts.next()?;
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<6}")[..6].parse().ok()? };
    let micros = ((hours * 60 + minutes) * 60 + whole) * 1_000_000 + fraction;
    Some(if negative { -micros } else { micros })
}

/// A bit string for [`Kind::Bits`] from its big-endian bytes (as both databases store it):
/// Debezium writes the least significant byte first.
pub fn bits(big_endian: &[u8]) -> Json {
    let mut little: Vec<u8> = big_endian.to_vec();
    little.reverse();
    bytes(&little)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_metadata_counts_events_per_table() {
        let mut meta = TransactionMeta::new("571:53736280".into());
        assert!(meta.is_empty());
        assert_eq!(meta.next("s.a"), json!({"id": "571:53736280", "total_order": 1, "data_collection_order": 1}));
        meta.next("s.b");
        assert_eq!(meta.next("s.a")["data_collection_order"], json!(2));
        let end: Json = serde_json::from_slice(&meta.record("p", true, false).value.unwrap()).unwrap();
        assert_eq!(end["status"], json!("END"));
        assert_eq!(end["event_count"], json!(3));
        assert_eq!(
            end["data_collections"],
            json!([{"data_collection": "s.a", "event_count": 2}, {"data_collection": "s.b", "event_count": 1}])
        );
        let begin: Json = serde_json::from_slice(&meta.record("p", false, false).value.unwrap()).unwrap();
        assert_eq!((begin["status"].clone(), begin["event_count"].clone()), (json!("BEGIN"), Json::Null));
    }

    #[test]
    fn decimals_are_exact_big_endian_twos_complement() {
        let value: BigDecimal = "-12345.678901".parse().unwrap();
        assert_eq!(decimal(&value, Some(6)), bytes(&(-12_345_678_901i64).to_be_bytes()[3..]));
        let value: BigDecimal = "1.5".parse().unwrap();
        // 1.50 at scale 2 = 150 = 0x0096 (a leading zero byte keeps it positive).
        assert_eq!(decimal(&value, Some(2)), bytes(&[0x00, 0x96]));
        let value: BigDecimal = "1200".parse().unwrap();
        assert_eq!(decimal(&value, None), json!({"scale": 0, "value": bytes(&[0x04, 0xb0])}));
    }

    #[test]
    fn zoned_timestamps_keep_the_declared_digits() {
        let t = DateTime::parse_from_rfc3339("2024-01-02T03:04:05.120Z").unwrap().with_timezone(&Utc);
        assert_eq!(zoned(t, Some(0)), json!("2024-01-02T03:04:05Z"));
        assert_eq!(zoned(t, Some(3)), json!("2024-01-02T03:04:05.120Z"));
        assert_eq!(zoned(t, Some(6)), json!("2024-01-02T03:04:05.120000Z"));
        assert_eq!(zoned(t, None), json!("2024-01-02T03:04:05.12Z"));
    }

    #[test]
    fn schemas_carry_semantic_names_and_parameters() {
        let decimal = Kind::Decimal { precision: Some(10), scale: 2 }.schema(Some("price"), true);
        assert_eq!(
            decimal,
            json!({"type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal", "version": 1,
                   "parameters": {"scale": "2", "connect.decimal.precision": "10"}, "field": "price"})
        );
        let e = Kind::Enum(vec!["a".into(), "b".into()]).schema(Some("e"), false);
        assert_eq!(e["parameters"]["allowed"], json!("a,b"));
    }

    #[test]
    fn a_delete_is_followed_by_a_tombstone_with_its_key() {
        let columns = vec![
            Column { name: "id".into(), kind: Kind::Int32, optional: false },
            Column { name: "name".into(), kind: Kind::String, optional: true },
        ];
        let table = Table::new(Connector::MySql, "p", "db", "t", columns, vec![0]);
        let change = Change {
            op: 'd',
            before: Some(vec![json!(7), json!("x")]),
            after: None,
            source: json!({}),
            transaction: None,
        };
        let records = table.records(change, false, true);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].key.as_deref(), Some(&br#"{"id":7}"#[..]));
        assert_eq!(records[1].key, records[0].key);
        assert_eq!(records[1].value, None);
        assert_eq!(records[0].topic, "p.db.t");
    }
}
