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

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value as Json;
use serde_json::value::RawValue;

use crate::convert::{Converter, type_error};
use crate::raw::{Fields, Raw, parse_value};
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
        let text = utf8(bytes, "value")?;
        let (payload, schema, path) = self.unwrap(text, "value")?;
        if payload.is_null() {
            return Ok(Decoded::Tombstone { key });
        }
        let payload = payload.object().ok_or_else(|| type_error(&path, "an object (a Debezium record)", payload))?;
        self.decode_payload(payload, schema.as_deref(), &path, key)
    }

    /// Parses a record part, splitting off its schema when it is `{"schema":…, "payload":…}`.
    fn unwrap<'t>(
        &mut self,
        text: &'t str,
        part: &'static str,
    ) -> Result<(Raw<'t>, Option<Arc<FieldType>>, String), DecodeError> {
        if starts_with_schema_key(text.as_bytes())
            && let Ok(wrapped) = serde_json::from_str::<Wrapped<'t>>(text)
        {
            let schema = match wrapped.schema.get() {
                "null" => None,
                schema => Some(self.schema(schema, &format!("{part}.schema"))?),
            };
            return Ok((Raw::from_raw(wrapped.payload), schema, format!("{part}.payload")));
        }
        let raw = parse_value(text).map_err(|source| DecodeError::Json { part, source })?;
        Ok((raw, None, part.to_string()))
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
        let text = utf8(bytes, "key")?;
        let (payload, schema, path) = self.unwrap(text, "key")?;
        match payload.object() {
            Some(fields) => Ok(Row(self.converter().fields(fields, schema.as_deref(), None, &path)?)),
            None => Err(type_error(&path, "an object (the row's key columns)", payload)),
        }
    }

    fn decode_payload(
        &self,
        mut payload: Fields<'_>,
        schema: Option<&FieldType>,
        path: &str,
        key: Option<Row>,
    ) -> Result<Decoded, DecodeError> {
        let has = |payload: &Fields<'_>, name: &str| payload.iter().any(|(k, _)| k == name);
        if has(&payload, "op") {
            return self.decode_envelope(payload, schema, path, key).map(Decoded::Change);
        }
        let status = member(&payload, "status").and_then(Raw::as_str);
        if matches!(status.as_deref(), Some("BEGIN" | "END")) && member(&payload, "id").is_some() {
            return transaction_marker(&payload, path).map(Decoded::Transaction);
        }
        if has(&payload, "ddl") || has(&payload, "tableChanges") {
            let text = |field: &str| member(&payload, field).and_then(Raw::as_str).map(Cow::into_owned);
            return Ok(Decoded::SchemaChange {
                database: text("databaseName"),
                schema: text("schemaName"),
                ddl: text("ddl"),
            });
        }
        let is_heartbeat = schema.and_then(|s| s.name.as_deref()) == Some("io.debezium.connector.common.Heartbeat")
            || (payload.len() == 1 && has(&payload, "ts_ms"));
        if is_heartbeat {
            return Ok(Decoded::Heartbeat {
                ts_ms: optional_i64(take(&mut payload, "ts_ms"), &format!("{path}.ts_ms"))?,
            });
        }
        self.decode_flattened(payload, schema, path, key).map(Decoded::Change)
    }

    fn decode_envelope(
        &self,
        mut payload: Fields<'_>,
        schema: Option<&FieldType>,
        path: &str,
        key: Option<Row>,
    ) -> Result<ChangeEvent, DecodeError> {
        let op_path = format!("{path}.op");
        let op = match take(&mut payload, "op") {
            Some(raw) => match raw.as_str() {
                Some(code) => Op::from_code(&code)
                    .ok_or_else(|| DecodeError::UnknownOp { path: op_path, code: code.into_owned() })?,
                None => return Err(type_error(&op_path, "a one-letter string", raw)),
            },
            None => return Err(DecodeError::Missing { path: op_path, hint: "a change event envelope has an `op`" }),
        };
        let object = |raw, field| optional_object(raw, &format!("{path}.{field}"));
        let source = match object(take(&mut payload, "source"), "source")? {
            Some(fields) => decode_source(fields, &format!("{path}.source"))?,
            None => Source::default(),
        };
        let hints = source.table.as_deref().and_then(|t| self.hints.table(t));
        let mut event = ChangeEvent::new(op);
        event.before = self.decode_image(take(&mut payload, "before"), "before", schema, hints, path)?;
        event.after = self.decode_image(take(&mut payload, "after"), "after", schema, hints, path)?;
        event.source = source;
        event.transaction = match object(take(&mut payload, "transaction"), "transaction")? {
            Some(fields) => Some(decode_transaction(&fields, &format!("{path}.transaction"))?),
            None => None,
        };
        event.message = match object(take(&mut payload, "message"), "message")? {
            Some(fields) => Some(self.decode_message(&fields, &format!("{path}.message"))?),
            None => None,
        };
        event.ts_ms = optional_i64(member(&payload, "ts_ms"), &format!("{path}.ts_ms"))?;
        event.ts_us = optional_i64(member(&payload, "ts_us"), &format!("{path}.ts_us"))?;
        event.ts_ns = optional_i64(member(&payload, "ts_ns"), &format!("{path}.ts_ns"))?;
        event.key = key;
        Ok(event)
    }

    /// Decodes `before` or `after`: null, absent, or a row.
    fn decode_image(
        &self,
        raw: Option<Raw<'_>>,
        field: &str,
        schema: Option<&FieldType>,
        hints: Option<&HashMap<String, FieldType>>,
        path: &str,
    ) -> Result<Option<Row>, DecodeError> {
        let path = format!("{path}.{field}");
        match raw {
            None => Ok(None),
            Some(r) if r.is_null() => Ok(None),
            Some(r) => {
                let fields = r.object().ok_or_else(|| type_error(&path, "an object or null", r))?;
                let row_schema = schema.and_then(|s| s.field(field));
                Ok(Some(Row(self.converter().fields(fields, row_schema, hints, &path)?)))
            }
        }
    }

    fn decode_message(&self, fields: &Fields<'_>, path: &str) -> Result<LogicalMessage, DecodeError> {
        let prefix = match member(fields, "prefix") {
            None => String::new(),
            Some(r) if r.is_null() => String::new(),
            Some(r) => {
                r.as_str().map(Cow::into_owned).ok_or_else(|| type_error(&format!("{path}.prefix"), "a string", r))?
            }
        };
        let content = match member(fields, "content") {
            None => Vec::new(),
            Some(raw) => {
                match self.converter().typed(raw, &FieldType::plain(crate::Shape::Bytes), &format!("{path}.content"))? {
                    Value::Bytes(bytes) => bytes,
                    _ => Vec::new(),
                }
            }
        };
        Ok(LogicalMessage { prefix, content })
    }

    /// The row of `ExtractNewRecordState`: columns plus `__`-prefixed fields it added.
    /// `__deleted: "true"` (delete.handling.mode=rewrite) makes it a delete of that row; without
    /// `__op` it states the row as it is now ([`Op::Read`]).
    fn decode_flattened(
        &self,
        payload: Fields<'_>,
        schema: Option<&FieldType>,
        path: &str,
        key: Option<Row>,
    ) -> Result<ChangeEvent, DecodeError> {
        let table = member(&payload, "__table").and_then(Raw::as_str).map(Cow::into_owned);
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
                "ts_ms" => event.ts_ms = int(),
                "ts_us" => event.ts_us = int(),
                "ts_ns" => event.ts_ns = int(),
                // add.fields names source fields bare (`__table`, `__lsn`) or prefixed
                // (`__source_ts_ms`); both land in the source block.
                field => match field.strip_prefix("source_").unwrap_or(field) {
                    "version" => event.source.version = text(),
                    "connector" => event.source.connector = text(),
                    "name" => event.source.name = text(),
                    "ts_ms" => event.source.ts_ms = int(),
                    "ts_us" => event.source.ts_us = int(),
                    "ts_ns" => event.source.ts_ns = int(),
                    "snapshot" => event.source.snapshot = text(),
                    "db" => event.source.db = text(),
                    "schema" => event.source.schema = text(),
                    "table" => event.source.table = text(),
                    "server_id" => event.source.server_id = int(),
                    "gtid" => event.source.gtid = text(),
                    "file" => event.source.file = text(),
                    "pos" => event.source.pos = int(),
                    "row" => event.source.row = int(),
                    "thread" => event.source.thread = int(),
                    "query" => event.source.query = text(),
                    "lsn" => event.source.lsn = int(),
                    "txId" | "tx_id" => event.source.tx_id = int(),
                    "xmin" => event.source.xmin = int(),
                    "sequence" => event.source.sequence = text(),
                    _ => event.added.push((name, value)),
                },
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

fn utf8<'b>(bytes: &'b [u8], part: &'static str) -> Result<&'b str, DecodeError> {
    std::str::from_utf8(bytes)
        .map_err(|e| DecodeError::Value { path: part.to_string(), message: format!("not UTF-8 text: {e}") })
}

/// Member `name` of an object.
fn member<'a>(fields: &Fields<'a>, name: &str) -> Option<Raw<'a>> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

/// Removes and returns member `name` of an object.
fn take<'a>(fields: &mut Fields<'a>, name: &str) -> Option<Raw<'a>> {
    let at = fields.iter().position(|(k, _)| k == name)?;
    Some(fields.swap_remove(at).1)
}

/// An object member that may be absent or null.
fn optional_object<'a>(raw: Option<Raw<'a>>, path: &str) -> Result<Option<Fields<'a>>, DecodeError> {
    match raw {
        None => Ok(None),
        Some(r) if r.is_null() => Ok(None),
        Some(r) => r.object().map(Some).ok_or_else(|| type_error(path, "an object", r)),
    }
}

fn transaction_marker(fields: &Fields<'_>, path: &str) -> Result<TransactionMarker, DecodeError> {
    let begin = member(fields, "status").and_then(Raw::as_str).as_deref() == Some("BEGIN");
    let id = member(fields, "id").and_then(Raw::as_str).map(Cow::into_owned).unwrap_or_default();
    let mut data_collections = Vec::new();
    if let Some(items) = member(fields, "data_collections").and_then(Raw::array) {
        for (i, item) in items.into_iter().enumerate() {
            let item_path = format!("{path}.data_collections[{i}]");
            let name = item.get("data_collection").and_then(Raw::as_str).ok_or_else(|| DecodeError::Missing {
                path: format!("{item_path}.data_collection"),
                hint: "each entry names its table",
            })?;
            let count = optional_i64(item.get("event_count"), &format!("{item_path}.event_count"))?.unwrap_or(0);
            data_collections.push((name.into_owned(), count));
        }
    }
    Ok(TransactionMarker {
        begin,
        id,
        event_count: optional_i64(member(fields, "event_count"), &format!("{path}.event_count"))?,
        data_collections,
        ts_ms: optional_i64(member(fields, "ts_ms"), &format!("{path}.ts_ms"))?,
    })
}

fn decode_transaction(fields: &Fields<'_>, path: &str) -> Result<Transaction, DecodeError> {
    let id = match member(fields, "id") {
        Some(r) if !r.is_null() => r.as_str().map_or_else(|| r.text().to_string(), Cow::into_owned),
        _ => return Err(DecodeError::Missing { path: format!("{path}.id"), hint: "a transaction block has an id" }),
    };
    Ok(Transaction {
        id,
        total_order: optional_i64(member(fields, "total_order"), &format!("{path}.total_order"))?,
        data_collection_order: optional_i64(
            member(fields, "data_collection_order"),
            &format!("{path}.data_collection_order"),
        )?,
    })
}

fn decode_source(fields: Fields<'_>, path: &str) -> Result<Source, DecodeError> {
    let mut source = Source::default();
    for (field, raw) in fields {
        if raw.is_null() {
            continue;
        }
        let field_path = || format!("{path}.{field}");
        let text = |raw: Raw<'_>| -> Result<Option<String>, DecodeError> {
            raw.as_str().map(|s| Some(s.into_owned())).ok_or_else(|| type_error(&field_path(), "a string", raw))
        };
        let int = |raw: Raw<'_>| optional_i64(Some(raw), &field_path());
        match field.as_ref() {
            "version" => source.version = text(raw)?,
            "connector" => source.connector = text(raw)?,
            "name" => source.name = text(raw)?,
            "ts_ms" => source.ts_ms = int(raw)?,
            "ts_us" => source.ts_us = int(raw)?,
            "ts_ns" => source.ts_ns = int(raw)?,
            // Debezium before 1.x sent `snapshot` as a boolean.
            "snapshot" => source.snapshot = raw.as_bool().map_or_else(|| text(raw), |b| Ok(Some(b.to_string())))?,
            "db" => source.db = text(raw)?,
            "schema" => source.schema = text(raw)?,
            "table" => source.table = text(raw)?,
            "server_id" => source.server_id = int(raw)?,
            "gtid" => source.gtid = text(raw)?,
            "file" => source.file = text(raw)?,
            "pos" => source.pos = int(raw)?,
            "row" => source.row = int(raw)?,
            "thread" => source.thread = int(raw)?,
            "query" => source.query = text(raw)?,
            "lsn" => source.lsn = int(raw)?,
            "txId" => source.tx_id = int(raw)?,
            "xmin" => source.xmin = int(raw)?,
            "sequence" => source.sequence = text(raw)?,
            _ => source
                .other
                .push((field.into_owned(), raw.as_str().map_or_else(|| raw.text().to_string(), Cow::into_owned))),
        }
    }
    Ok(source)
}

fn optional_i64(raw: Option<Raw<'_>>, path: &str) -> Result<Option<i64>, DecodeError> {
    match raw {
        None => Ok(None),
        Some(r) if r.is_null() => Ok(None),
        Some(r) => r.as_i64().map(Some).ok_or_else(|| type_error(path, "an integer", r)),
    }
}
