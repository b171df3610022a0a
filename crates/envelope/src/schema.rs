//! Kafka Connect schemas, as the JSON converter writes them with `schemas.enable=true`.

use serde_json::Value as Json;

use crate::DecodeError;

/// The shape of a Connect schema type.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// `int8`.
    Int8,
    /// `int16`.
    Int16,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `float32`.
    Float32,
    /// `float64`.
    Float64,
    /// `boolean`.
    Boolean,
    /// `string`.
    String,
    /// `bytes` (base64 in JSON).
    Bytes,
    /// `array` of items.
    Array(Box<FieldType>),
    /// `map` with keys and values.
    Map(Box<FieldType>, Box<FieldType>),
    /// `struct` with named fields, in order.
    Struct(Vec<(String, FieldType)>),
}

/// A Connect schema: its shape, its semantic name (e.g. `io.debezium.time.MicroTimestamp`) and
/// the name's parameters (e.g. a decimal's `scale`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldType {
    /// The underlying type.
    pub shape: Shape,
    /// The logical or semantic type name, if any.
    pub name: Option<String>,
    /// The name's parameters, in order.
    pub parameters: Vec<(String, String)>,
}

impl FieldType {
    /// A type of `shape` with no semantic name.
    pub fn plain(shape: Shape) -> FieldType {
        FieldType { shape, name: None, parameters: Vec::new() }
    }

    /// A type of `shape` with a semantic name and parameters.
    pub fn named(shape: Shape, name: &str, parameters: &[(&str, &str)]) -> FieldType {
        let parameters = parameters.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        FieldType { shape, name: Some(name.to_string()), parameters }
    }

    /// Reads a schema from its JSON form; `path` locates it in errors.
    pub fn parse(json: &Json, path: &str) -> Result<FieldType, DecodeError> {
        let unsupported = |what: String| DecodeError::UnsupportedType { path: path.to_string(), schema_type: what };
        let type_name = json.get("type").and_then(Json::as_str).ok_or_else(|| DecodeError::Missing {
            path: format!("{path}.type"),
            hint: "every Connect schema names its type",
        })?;
        let shape = match type_name {
            "int8" => Shape::Int8,
            "int16" => Shape::Int16,
            "int32" => Shape::Int32,
            "int64" => Shape::Int64,
            "float32" | "float" => Shape::Float32,
            "float64" | "double" => Shape::Float64,
            "boolean" => Shape::Boolean,
            "string" => Shape::String,
            "bytes" => Shape::Bytes,
            "array" => {
                let items = json.get("items").ok_or_else(|| unsupported("array without items".into()))?;
                Shape::Array(Box::new(FieldType::parse(items, &format!("{path}.items"))?))
            }
            "map" => {
                let keys = json.get("keys").ok_or_else(|| unsupported("map without keys".into()))?;
                let values = json.get("values").ok_or_else(|| unsupported("map without values".into()))?;
                Shape::Map(
                    Box::new(FieldType::parse(keys, &format!("{path}.keys"))?),
                    Box::new(FieldType::parse(values, &format!("{path}.values"))?),
                )
            }
            "struct" => {
                let fields = json.get("fields").and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default();
                let mut parsed = Vec::with_capacity(fields.len());
                for (i, field) in fields.iter().enumerate() {
                    let name = field.get("field").and_then(Json::as_str).ok_or_else(|| DecodeError::Missing {
                        path: format!("{path}.fields[{i}].field"),
                        hint: "every struct field has a name",
                    })?;
                    parsed.push((name.to_string(), FieldType::parse(field, &format!("{path}.{name}"))?));
                }
                Shape::Struct(parsed)
            }
            other => return Err(unsupported(other.to_string())),
        };
        let name = json.get("name").and_then(Json::as_str).map(str::to_owned);
        let parameters = match json.get("parameters") {
            Some(Json::Object(map)) => {
                map.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
            }
            _ => Vec::new(),
        };
        Ok(FieldType { shape, name, parameters })
    }

    /// The type of struct field `name`, if this is a struct that has it.
    pub fn field(&self, name: &str) -> Option<&FieldType> {
        match &self.shape {
            Shape::Struct(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, t)| t),
            _ => None,
        }
    }

    /// The value of parameter `key`.
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The semantic name, or the shape's own name.
    pub fn describe(&self) -> String {
        let shape = match &self.shape {
            Shape::Int8 => "int8",
            Shape::Int16 => "int16",
            Shape::Int32 => "int32",
            Shape::Int64 => "int64",
            Shape::Float32 => "float32",
            Shape::Float64 => "float64",
            Shape::Boolean => "boolean",
            Shape::String => "string",
            Shape::Bytes => "bytes",
            Shape::Array(_) => "array",
            Shape::Map(..) => "map",
            Shape::Struct(_) => "struct",
        };
        match &self.name {
            Some(name) => format!("{name} ({shape})"),
            None => shape.to_string(),
        }
    }
}
