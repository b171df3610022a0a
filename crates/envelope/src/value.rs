//! The value of one column in a decoded row.

use std::fmt;

/// One column value, as exact as the event carried it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL (a JSON `null`).
    Null,
    /// A boolean (`boolean` schema type, or a JSON `true`/`false`).
    Bool(bool),
    /// A signed integer up to 64 bits (`int8`…`int64`).
    Int(i64),
    /// A floating-point number the source sent as `float32`/`float64` (or, without a schema, a JSON
    /// number with a fraction or exponent).
    Float(f64),
    /// Text (`string`).
    Text(String),
}

impl Value {
    /// The name of this value's kind, as used in error messages and `dualsync decode` output.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Text(_) => "text",
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Text(s) => write!(f, "{s:?}"),
        }
    }
}
