//! Kafka records → [`Decoded`].
//!
//! Record layouts that reach us:
//! - `schemas.enable=true`: `{"schema": {...}, "payload": {...}}`; the schema gives each column's
//!   Connect type and semantic name.
//! - `schemas.enable=false`: the payload alone; a column's type comes from a [`TypeHints`] entry,
//!   else from its JSON value.
//! - Payloads: the change event envelope (`op`, `before`, `after`, `source`, …), the flattened row
//!   of `ExtractNewRecordState` (columns plus `__op`, `__deleted`, `__source_ts_ms`, … ), a
//!   transaction marker (`status` BEGIN/END), a heartbeat (`ts_ms` alone), a schema change
//!   (`ddl`, `tableChanges`), or null (tombstone).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json};

use crate::convert::{Converter, type_error};
use crate::{
    ChangeEvent, ConnectorSettings, DecodeError, Decoded, FieldType, LogicalMessage, Op, Row, Source, Transaction,
    TransactionMarker, TypeHints, Value,
};

/// Distinct schemas kept parsed; a topic has one per table version, so this is plenty, and the
/// cache is simply emptied when full.
const SCHEMA_CACHE_SIZE: usize = 256;

/// Decodes records; keeps parsed schemas so that each distinct schema is parsed once.
#[derive(Debug, Default)]
pub struct Decoder {
    settings: ConnectorSettings,
    hints: TypeHints,
    schemas: HashMap<String, Arc<FieldType>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wrapped<'a> {
    #[serde(borrow)]
    schema: &'a RawValue,
    #[serde(borrow)]
    payload: &'a RawValue,
}

/// Decodes one Kafka record with default connector settings and no type hints.
/// See [`Decoder::decode`].
pub fn decode(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Decoded, DecodeError> {
    Decoder::default().decode(key, value)
}

impl Decoder {
    /// A decoder for a connector with these settings, typing schemaless columns by `hints`.
    pub fn new(settings: ConnectorSettings, hints: TypeHints) -> Decoder {
        Decoder { settings, hints, schemas: HashMap::new() }
    }

    /// Decodes one Kafka record: its key and value bytes as the JSON converter wrote them.
    ///
    /// A missing or empty value is a tombstone. Malformed input of any kind is a [`DecodeError`]
    /// naming the field; this function never panics.
    pub fn decode(&mut self, key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Decoded, DecodeError> {
        let key = match key {
            Some(bytes) if !bytes.is_empty() => Some(self.decode_key(bytes)?),
            _ => None,
        };
        let Some(bytes) = value.filter(|b| !b.is_empty()) else {
            return Ok(Decoded::Tombstone { key });
        };
        let (payload, schema, path) = self.unwrap(bytes, "value")?;
        let payload = match payload {
            Json::Null => return Ok(Decoded::Tombstone { key }),
            Json::Object(map) => map,
            other => return Err(type_error(&path, "an object (a Debezium record)", &other)),
        };
        self.decode_payload(payload, schema.as_deref(), &path, key)
    }

    /// Parses a record part, splitting off its schema when it is `{"schema":…, "payload":…}`.
    fn unwrap(
        &mut self,
        bytes: &[u8],
        part: &'static str,
    ) -> Result<(Json, Option<Arc<FieldType>>, String), DecodeError> {
        let json_error = |source| DecodeError::Json { part, source };
        if starts_with_schema_key(bytes)
            && let Ok(wrapped) = serde_json::from_slice::<Wrapped<'_>>(bytes)
        {
            let payload: Json = serde_json::from_str(wrapped.payload.get()).map_err(json_error)?;
            let path = format!("{part}.payload");
            let schema = match wrapped.schema.get() {
                "null" => None,
                text => Some(self.schema(text, &format!("{part}.schema"))?),
            };
            return Ok((payload, schema, path));
        }
        let json: Json = serde_json::from_slice(bytes).map_err(json_error)?;
        Ok((json, None, part.to_string()))
    }

    fn schema(&mut self, text: &str, path: &str) -> Result<Arc<FieldType>, DecodeError> {
        if let Some(schema) = self.schemas.get(text) {
            return Ok(schema.clone());
        }
        let json: Json = serde_json::from_str(text).map_err(|source| DecodeError::Json { part: "schema", source })?;
        let schema = Arc::new(FieldType::parse(&json, path)?);
        if self.schemas.len() >= SCHEMA_CACHE_SIZE {
            self.schemas.clear();
        }
        self.schemas.insert(text.to_string(), schema.clone());
        Ok(schema)
    }

    fn converter(&self) -> Converter<'_> {
        Converter { settings: &self.settings }
    }

    fn decode_key(&mut self, bytes: &[u8]) -> Result<Row, DecodeError> {
        let (payload, schema, path) = self.unwrap(bytes, "key")?;
        match payload {
            Json::Object(map) => Ok(Row(self.converter().fields(map, schema.as_deref(), None, &path)?)),
            other => Err(type_error(&path, "an object (the row's key columns)", &other)),
        }
    }

    fn decode_payload(
        &self,
        mut payload: Map<String, Json>,
        schema: Option<&FieldType>,
        path: &str,
        key: Option<Row>,
    ) -> Result<Decoded, DecodeError> {
        if payload.contains_key("op") {
            return self.decode_envelope(payload, schema, path, key).map(Decoded::Change);
        }
        if let (Some(Json::String(status)), Some(Json::String(_))) = (payload.get("status"), payload.get("id"))
            && (status == "BEGIN" || status == "END")
        {
            return transaction_marker(payload, path).map(Decoded::Transaction);
        }
        if payload.contains_key("ddl") || payload.contains_key("tableChanges") {
            let mut text = |field: &str| payload.remove(field).and_then(|v| v.as_str().map(str::to_owned));
            return Ok(Decoded::SchemaChange {
                database: text("databaseName"),
                schema: text("schemaName"),
                ddl: text("ddl"),
            });
        }
        let is_heartbeat = schema.and_then(|s| s.name.as_deref()) == Some("io.debezium.connector.common.Heartbeat")
            || (payload.len() == 1 && payload.contains_key("ts_ms"));
        if is_heartbeat {
            return Ok(Decoded::Heartbeat { ts_ms: optional_i64(payload.get("ts_ms"), &format!("{path}.ts_ms"))? });
        }
        self.decode_flattened(payload, schema, path, key).map(Decoded::Change)
    }

    fn decode_envelope(
        &self,
        mut payload: Map<String, Json>,
        schema: Option<&FieldType>,
        path: &str,
        key: Option<Row>,
    ) -> Result<ChangeEvent, DecodeError> {
        let op_path = format!("{path}.op");
        let op = match payload.remove("op") {
            Some(Json::String(code)) => Op::from_code(&code).ok_or(DecodeError::UnknownOp { path: op_path, code })?,
            Some(other) => return Err(type_error(&op_path, "a one-letter string", &other)),
            None => return Err(DecodeError::Missing { path: op_path, hint: "a change event envelope has an `op`" }),
        };
        let source = match payload.remove("source") {
            Some(Json::Object(map)) => decode_source(map, &format!("{path}.source"))?,
            None | Some(Json::Null) => Source::default(),
            Some(other) => return Err(type_error(&format!("{path}.source"), "an object", &other)),
        };
        let hints = source.table.as_deref().and_then(|t| self.hints.table(t));
        let mut event = ChangeEvent::new(op);
        event.before = self.decode_image(&mut payload, "before", schema, hints, path)?;
        event.after = self.decode_image(&mut payload, "after", schema, hints, path)?;
        event.source = source;
        event.transaction = match payload.remove("transaction") {
            Some(Json::Object(map)) => Some(decode_transaction(map, &format!("{path}.transaction"))?),
            None | Some(Json::Null) => None,
            Some(other) => return Err(type_error(&format!("{path}.transaction"), "an object", &other)),
        };
        event.message = match payload.remove("message") {
            Some(Json::Object(map)) => Some(self.decode_message(map, &format!("{path}.message"))?),
            None | Some(Json::Null) => None,
            Some(other) => return Err(type_error(&format!("{path}.message"), "an object", &other)),
        };
        event.ts_ms = optional_i64(payload.get("ts_ms"), &format!("{path}.ts_ms"))?;
        event.ts_us = optional_i64(payload.get("ts_us"), &format!("{path}.ts_us"))?;
        event.ts_ns = optional_i64(payload.get("ts_ns"), &format!("{path}.ts_ns"))?;
        event.key = key;
        Ok(event)
    }

    /// Decodes `before` or `after`: null, absent, or a row.
    fn decode_image(
        &self,
        payload: &mut Map<String, Json>,
        field: &str,
        schema: Option<&FieldType>,
        hints: Option<&HashMap<String, FieldType>>,
        path: &str,
    ) -> Result<Option<Row>, DecodeError> {
        let path = format!("{path}.{field}");
        match payload.remove(field) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Object(map)) => {
                let row_schema = schema.and_then(|s| s.field(field));
                Ok(Some(Row(self.converter().fields(map, row_schema, hints, &path)?)))
            }
            Some(other) => Err(type_error(&path, "an object or null", &other)),
        }
    }

    fn decode_message(&self, mut map: Map<String, Json>, path: &str) -> Result<LogicalMessage, DecodeError> {
        let prefix = match map.remove("prefix") {
            Some(Json::String(s)) => s,
            None | Some(Json::Null) => String::new(),
            Some(other) => return Err(type_error(&format!("{path}.prefix"), "a string", &other)),
        };
        let content = match map.remove("content") {
            None | Some(Json::Null) => Vec::new(),
            Some(json) => match self.converter().typed(
                json,
                &FieldType::plain(crate::Shape::Bytes),
                &format!("{path}.content"),
            )? {
                Value::Bytes(bytes) => bytes,
                _ => Vec::new(),
            },
        };
        Ok(LogicalMessage { prefix, content })
    }

    /// The row of `ExtractNewRecordState`: columns plus `__`-prefixed fields it added.
    /// `__deleted: "true"` (delete.handling.mode=rewrite) makes it a delete of that row; without
    /// `__op` it states the row as it is now ([`Op::Read`]).
    fn decode_flattened(
        &self,
        payload: Map<String, Json>,
        schema: Option<&FieldType>,
        path: &str,
        key: Option<Row>,
    ) -> Result<ChangeEvent, DecodeError> {
        let table = match payload.get("__table") {
            Some(Json::String(t)) => Some(t.clone()),
            _ => None,
        };
        let hints = table.as_deref().and_then(|t| self.hints.table(t));
        let fields = self.converter().fields(payload, schema, hints, path)?;
        let mut event = ChangeEvent::new(Op::Read);
        let mut row = Vec::with_capacity(fields.len());
        let mut deleted = false;
        for (name, value) in fields {
            let Some(added) = name.strip_prefix("__") else {
                row.push((name, value));
                continue;
            };
            let text = || match &value {
                Value::Text(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            };
            let int = || match &value {
                Value::Int(i) => Some(*i),
                Value::Text(s) => s.parse().ok(),
                _ => None,
            };
            let field_path = || format!("{path}.{name}");
            match added {
                "op" => {
                    let code = text().unwrap_or_default();
                    event.op =
                        Op::from_code(&code).ok_or_else(|| DecodeError::UnknownOp { path: field_path(), code })?;
                }
                // `__deleted` is the string "true"/"false" (a boolean with a schema'd transform).
                "deleted" => deleted = matches!(&value, Value::Bool(true)) || text().as_deref() == Some("true"),
                "table" => event.source.table = text(),
                "db" => event.source.db = text(),
                "schema" | "source_schema" => event.source.schema = text(),
                "source_ts_ms" => event.source.ts_ms = int(),
                "source_ts_us" => event.source.ts_us = int(),
                "source_ts_ns" => event.source.ts_ns = int(),
                "source_db" => event.source.db = text(),
                "source_table" => event.source.table = text(),
                "source_connector" | "connector" => event.source.connector = text(),
                "source_name" | "name" => event.source.name = text(),
                "source_snapshot" | "snapshot" => event.source.snapshot = text(),
                "lsn" | "source_lsn" => event.source.lsn = int(),
                "ts_ms" => event.ts_ms = int(),
                "ts_us" => event.ts_us = int(),
                "ts_ns" => event.ts_ns = int(),
                _ => event.added.push((name, value)),
            }
        }
        let row = Row(row);
        if deleted || event.op == Op::Delete {
            event.op = Op::Delete;
            event.before = Some(row);
        } else {
            event.after = Some(row);
        }
        event.key = key;
        Ok(event)
    }
}

/// Whether the JSON object's first key is `"schema"`: the JSON converter with
/// `schemas.enable=true` always writes it first, so other records skip the wrapper attempt.
fn starts_with_schema_key(bytes: &[u8]) -> bool {
    let mut rest = bytes.iter().skip_while(|b| b.is_ascii_whitespace());
    if rest.next() != Some(&b'{') {
        return false;
    }
    let rest: Vec<u8> = rest.skip_while(|b| b.is_ascii_whitespace()).take(8).copied().collect();
    rest == b"\"schema\""
}

fn transaction_marker(mut map: Map<String, Json>, path: &str) -> Result<TransactionMarker, DecodeError> {
    let begin = map.get("status").and_then(Json::as_str) == Some("BEGIN");
    let id = map.remove("id").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let mut data_collections = Vec::new();
    if let Some(Json::Array(items)) = map.get("data_collections") {
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}.data_collections[{i}]");
            let name = item.get("data_collection").and_then(Json::as_str).ok_or_else(|| DecodeError::Missing {
                path: format!("{item_path}.data_collection"),
                hint: "each entry names its table",
            })?;
            let count = optional_i64(item.get("event_count"), &format!("{item_path}.event_count"))?.unwrap_or(0);
            data_collections.push((name.to_string(), count));
        }
    }
    Ok(TransactionMarker {
        begin,
        id,
        event_count: optional_i64(map.get("event_count"), &format!("{path}.event_count"))?,
        data_collections,
        ts_ms: optional_i64(map.get("ts_ms"), &format!("{path}.ts_ms"))?,
    })
}

fn decode_transaction(map: Map<String, Json>, path: &str) -> Result<Transaction, DecodeError> {
    let id = match map.get("id") {
        Some(Json::String(s)) => s.clone(),
        Some(other) if !other.is_null() => other.to_string(),
        _ => return Err(DecodeError::Missing { path: format!("{path}.id"), hint: "a transaction block has an id" }),
    };
    Ok(Transaction {
        id,
        total_order: optional_i64(map.get("total_order"), &format!("{path}.total_order"))?,
        data_collection_order: optional_i64(
            map.get("data_collection_order"),
            &format!("{path}.data_collection_order"),
        )?,
    })
}

fn decode_source(map: Map<String, Json>, path: &str) -> Result<Source, DecodeError> {
    let mut source = Source::default();
    for (field, json) in map {
        let field_path = || format!("{path}.{field}");
        let text = |json: &Json| -> Result<Option<String>, DecodeError> {
            match json {
                Json::Null => Ok(None),
                Json::String(s) => Ok(Some(s.clone())),
                other => Err(type_error(&field_path(), "a string", other)),
            }
        };
        let int = |json: &Json| optional_i64(Some(json), &field_path());
        match field.as_str() {
            "version" => source.version = text(&json)?,
            "connector" => source.connector = text(&json)?,
            "name" => source.name = text(&json)?,
            "ts_ms" => source.ts_ms = int(&json)?,
            "ts_us" => source.ts_us = int(&json)?,
            "ts_ns" => source.ts_ns = int(&json)?,
            // Debezium before 1.x sent `snapshot` as a boolean.
            "snapshot" => {
                source.snapshot = match &json {
                    Json::Bool(b) => Some(b.to_string()),
                    other => text(other)?,
                }
            }
            "db" => source.db = text(&json)?,
            "schema" => source.schema = text(&json)?,
            "table" => source.table = text(&json)?,
            "server_id" => source.server_id = int(&json)?,
            "gtid" => source.gtid = text(&json)?,
            "file" => source.file = text(&json)?,
            "pos" => source.pos = int(&json)?,
            "row" => source.row = int(&json)?,
            "thread" => source.thread = int(&json)?,
            "query" => source.query = text(&json)?,
            "lsn" => source.lsn = int(&json)?,
            "txId" => source.tx_id = int(&json)?,
            "xmin" => source.xmin = int(&json)?,
            "sequence" => source.sequence = text(&json)?,
            _ if json.is_null() => {}
            _ => source.other.push((field.clone(), json.as_str().map_or_else(|| json.to_string(), str::to_owned))),
        }
    }
    Ok(source)
}

fn optional_i64(json: Option<&Json>, path: &str) -> Result<Option<i64>, DecodeError> {
    match json {
        None | Some(Json::Null) => Ok(None),
        Some(j) => j.as_i64().map(Some).ok_or_else(|| type_error(path, "an integer", j)),
    }
}
