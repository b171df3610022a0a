//! Decoding errors, each pointing at the field that could not be read.

/// Why a Kafka record could not be decoded. The message names the field path, e.g.
/// `value.payload.after.id: expected int32, found "abc"`.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not JSON.
    #[error("{part}: not valid JSON ({source}); is the connector using the JSON converter?")]
    Json {
        /// `key`, `value` or `schema`.
        part: &'static str,
        /// The parser's complaint, with line and column.
        source: serde_json::Error,
    },
    /// A field has the wrong JSON type for what the envelope or the schema says it holds.
    #[error("{path}: expected {expected}, found {found}")]
    Type {
        /// Where in the record.
        path: String,
        /// What was expected there.
        expected: String,
        /// What was found (shortened).
        found: String,
    },
    /// A field the envelope needs is absent.
    #[error("{path}: missing; {hint}")]
    Missing {
        /// Where in the record.
        path: String,
        /// What the operator can check.
        hint: &'static str,
    },
    /// The `op` field holds a code Debezium does not define.
    #[error("{path}: unknown operation {code:?} (expected one of c, u, d, r, t, m)")]
    UnknownOp {
        /// Where in the record.
        path: String,
        /// The code found.
        code: String,
    },
    /// A value does not fit its declared type (bad base64, a date out of range, …).
    #[error("{path}: {message}")]
    Value {
        /// Where in the record.
        path: String,
        /// What is wrong, and what setting to check.
        message: String,
    },
    /// The schema names a type this version does not decode.
    #[error("{path}: unsupported schema type {schema_type:?}")]
    UnsupportedType {
        /// Where in the record.
        path: String,
        /// The schema's type (and name, if any).
        schema_type: String,
    },
}
