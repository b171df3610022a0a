//! What the decoder cannot read off a record: connector settings that change how values are
//! written, and column types for records sent without a schema.

use std::collections::HashMap;

use crate::FieldType;

/// Debezium's `decimal.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecimalMode {
    /// `precise` (default): `Decimal` bytes, base64 in JSON.
    #[default]
    Precise,
    /// `string`: the decimal's text.
    String,
    /// `double`: a JSON number (already rounded through a double by the connector).
    Double,
}

/// Debezium's `binary.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BinaryMode {
    /// `bytes` (default): Connect bytes, which the JSON converter writes as base64.
    #[default]
    Bytes,
    /// `base64`: a base64 string.
    Base64,
    /// `base64-url-safe`: a URL-safe base64 string.
    Base64UrlSafe,
    /// `hex`: a hexadecimal string.
    Hex,
}

/// Connector settings the decoder must know, because a record does not show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorSettings {
    /// How decimals are written.
    pub decimal_handling_mode: DecimalMode,
    /// How binary columns are written.
    pub binary_handling_mode: BinaryMode,
    /// Debezium's `unavailable.value.placeholder`: what stands for an unchanged TOAST value.
    pub unavailable_value_placeholder: String,
}

impl Default for ConnectorSettings {
    fn default() -> Self {
        ConnectorSettings {
            decimal_handling_mode: DecimalMode::default(),
            binary_handling_mode: BinaryMode::default(),
            unavailable_value_placeholder: "__debezium_unavailable_value".to_string(),
        }
    }
}

/// Column types for records without a schema (`schemas.enable=false`), per table and column,
/// written as the Connect schema the connector would have sent with default settings (e.g.
/// `io.debezium.time.MicroTimestamp` on `int64` for a `DATETIME(6)` column). The mapping, or the
/// target table, supplies them. A column without a hint is typed by its JSON value.
///
/// A hint also refines a plain schema type: a `string` column hinted as `bytes` is binary sent
/// with `binary.handling.mode=hex`, an `int16` column hinted as `boolean` is a MySQL `TINYINT(1)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypeHints {
    tables: HashMap<String, HashMap<String, FieldType>>,
}

impl TypeHints {
    /// Declares the type of `table`.`column` (the table as named in the event's `source.table`).
    pub fn insert(&mut self, table: &str, column: &str, field_type: FieldType) {
        self.tables.entry(table.to_string()).or_default().insert(column.to_string(), field_type);
    }

    /// The hints for one table, if any.
    pub fn table(&self, table: &str) -> Option<&HashMap<String, FieldType>> {
        self.tables.get(table)
    }

    /// Whether no hint is declared.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}
