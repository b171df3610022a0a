//! JSON converter records → [`Decoded`].
//!
//! Two layouts reach us: `schemas.enable=true` wraps every key and value as
//! `{"schema": {...}, "payload": {...}}`, where the schema gives each column's Connect type;
//! `schemas.enable=false` sends the payload alone, and a column's type is read from its JSON value.

use serde_json::{Map, Value as Json};

use crate::{ChangeEvent, DecodeError, Decoded, Op, Row, Source, Value};

/// Decodes one Kafka record: its key and value bytes as the JSON converter wrote them.
///
/// A missing or empty value is a tombstone. Malformed input of any kind is a [`DecodeError`]
/// naming the field; this function never panics.
pub fn decode(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Decoded, DecodeError> {
    let key = match key {
        Some(bytes) if !bytes.is_empty() => Some(decode_key(bytes)?),
        _ => None,
    };
    let Some(bytes) = value.filter(|b| !b.is_empty()) else {
        return Ok(Decoded::Tombstone { key });
    };
    let json: Json = serde_json::from_slice(bytes).map_err(|source| DecodeError::Json { part: "value", source })?;
    let (payload, schema, path) = unwrap_schema(json, "value");
    let payload = match payload {
        Json::Null => return Ok(Decoded::Tombstone { key }),
        Json::Object(map) => map,
        other => {
            return Err(type_error(&path, "an object (the change event envelope)", &other));
        }
    };
    let event = decode_envelope(payload, schema.as_ref(), &path, key)?;
    Ok(Decoded::Change(event))
}

/// Splits `{"schema": …, "payload": …}` into its parts; a bare payload has no schema.
/// Returns the payload, the schema (if any) and the path prefix of the payload.
fn unwrap_schema(json: Json, part: &'static str) -> (Json, Option<Json>, String) {
    match json {
        Json::Object(mut map) if map.len() == 2 && map.contains_key("schema") && map.contains_key("payload") => {
            let payload = map.remove("payload").unwrap_or(Json::Null);
            let schema = map.remove("schema").filter(|s| !s.is_null());
            (payload, schema, format!("{part}.payload"))
        }
        other => (other, None, part.to_string()),
    }
}

fn decode_key(bytes: &[u8]) -> Result<Row, DecodeError> {
    let json: Json = serde_json::from_slice(bytes).map_err(|source| DecodeError::Json { part: "key", source })?;
    let (payload, schema, path) = unwrap_schema(json, "key");
    match payload {
        Json::Object(map) => decode_row(map, schema.as_ref(), &path),
        other => Err(type_error(&path, "an object (the row's key columns)", &other)),
    }
}

fn decode_envelope(
    mut payload: Map<String, Json>,
    schema: Option<&Json>,
    path: &str,
    key: Option<Row>,
) -> Result<ChangeEvent, DecodeError> {
    let op_path = format!("{path}.op");
    let op = match payload.remove("op") {
        Some(Json::String(code)) => Op::from_code(&code).ok_or(DecodeError::UnknownOp { path: op_path, code })?,
        Some(other) => return Err(type_error(&op_path, "a one-letter string", &other)),
        None => {
            return Err(DecodeError::Missing {
                path: op_path,
                hint: "this is not a Debezium change event envelope (a flattened record needs the ExtractNewRecordState form)",
            });
        }
    };
    let before = decode_image(&mut payload, "before", schema, path)?;
    let after = decode_image(&mut payload, "after", schema, path)?;
    let source = match payload.remove("source") {
        Some(Json::Object(map)) => decode_source(map, &format!("{path}.source"))?,
        None | Some(Json::Null) => Source::default(),
        Some(other) => return Err(type_error(&format!("{path}.source"), "an object", &other)),
    };
    let ts_ms = optional_i64(payload.get("ts_ms"), &format!("{path}.ts_ms"))?;
    Ok(ChangeEvent { op, key, before, after, source, ts_ms })
}

/// Decodes `before` or `after`: null, absent, or a row.
fn decode_image(
    payload: &mut Map<String, Json>,
    field: &str,
    schema: Option<&Json>,
    path: &str,
) -> Result<Option<Row>, DecodeError> {
    let path = format!("{path}.{field}");
    match payload.remove(field) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Object(map)) => {
            let row_schema = schema.and_then(|s| field_schema(s, field));
            decode_row(map, row_schema, &path).map(Some)
        }
        Some(other) => Err(type_error(&path, "an object or null", &other)),
    }
}

/// The schema of struct field `name` within a struct schema.
fn field_schema<'a>(schema: &'a Json, name: &str) -> Option<&'a Json> {
    schema.get("fields")?.as_array()?.iter().find(|f| f.get("field").and_then(Json::as_str) == Some(name))
}

fn decode_row(map: Map<String, Json>, schema: Option<&Json>, path: &str) -> Result<Row, DecodeError> {
    let mut row = Vec::with_capacity(map.len());
    for (column, json) in map {
        let column_schema = schema.and_then(|s| field_schema(s, &column));
        let value = match column_schema {
            Some(s) => typed_value(json, s, &format!("{path}.{column}"))?,
            None => untyped_value(json, &format!("{path}.{column}"))?,
        };
        row.push((column, value));
    }
    Ok(Row(row))
}

/// A column value read through its Connect schema (`schemas.enable=true`).
fn typed_value(json: Json, schema: &Json, path: &str) -> Result<Value, DecodeError> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    let schema_type = schema.get("type").and_then(Json::as_str).unwrap_or("");
    if let Some(name) = schema.get("name").and_then(Json::as_str) {
        return Err(DecodeError::UnsupportedType {
            path: path.to_string(),
            schema_type: format!("{schema_type} ({name})"),
        });
    }
    match schema_type {
        "int8" | "int16" | "int32" | "int64" => match json.as_i64() {
            Some(i) => Ok(Value::Int(i)),
            None => Err(type_error(path, schema_type, &json)),
        },
        "float32" | "float64" | "float" | "double" => match json.as_f64() {
            Some(x) if json.is_number() => Ok(Value::Float(x)),
            _ => Err(type_error(path, schema_type, &json)),
        },
        "boolean" => match json {
            Json::Bool(b) => Ok(Value::Bool(b)),
            other => Err(type_error(path, "boolean", &other)),
        },
        "string" => match json {
            Json::String(s) => Ok(Value::Text(s)),
            other => Err(type_error(path, "string", &other)),
        },
        other => Err(DecodeError::UnsupportedType { path: path.to_string(), schema_type: other.to_string() }),
    }
}

/// A column value without a schema (`schemas.enable=false`): its type is its JSON type.
fn untyped_value(json: Json, path: &str) -> Result<Value, DecodeError> {
    match json {
        Json::Null => Ok(Value::Null),
        Json::Bool(b) => Ok(Value::Bool(b)),
        Json::String(s) => Ok(Value::Text(s)),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(Value::Int(i))
            } else if n.to_string().contains(['.', 'e', 'E']) {
                n.as_f64().map(Value::Float).ok_or_else(|| type_error(path, "a number", &Json::Number(n)))
            } else {
                Err(type_error(path, "an integer within 64 signed bits", &Json::Number(n)))
            }
        }
        other @ (Json::Array(_) | Json::Object(_)) => Err(DecodeError::UnsupportedType {
            path: path.to_string(),
            schema_type: format!("nested JSON {} without a schema", json_kind(&other)),
        }),
    }
}

fn decode_source(mut map: Map<String, Json>, path: &str) -> Result<Source, DecodeError> {
    let mut text = |field: &str| -> Result<Option<String>, DecodeError> {
        match map.remove(field) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s)),
            // Debezium before 1.x sent `snapshot` as a boolean.
            Some(Json::Bool(b)) if field == "snapshot" => Ok(Some(b.to_string())),
            Some(other) => Err(type_error(&format!("{path}.{field}"), "a string", &other)),
        }
    };
    Ok(Source {
        connector: text("connector")?,
        name: text("name")?,
        db: text("db")?,
        schema: text("schema")?,
        table: text("table")?,
        snapshot: text("snapshot")?,
        ts_ms: optional_i64(map.get("ts_ms"), &format!("{path}.ts_ms"))?,
    })
}

fn optional_i64(json: Option<&Json>, path: &str) -> Result<Option<i64>, DecodeError> {
    match json {
        None | Some(Json::Null) => Ok(None),
        Some(j) => j.as_i64().map(Some).ok_or_else(|| type_error(path, "an integer", j)),
    }
}

fn json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn type_error(path: &str, expected: &str, found: &Json) -> DecodeError {
    let mut shown = found.to_string();
    if shown.len() > 60 {
        let cut = (0..=60).rev().find(|&i| shown.is_char_boundary(i)).unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    DecodeError::Type {
        path: path.to_string(),
        expected: expected.to_string(),
        found: format!("{} {shown}", json_kind(found)),
    }
}
