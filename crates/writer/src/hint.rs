//! What a column's SQL type says about how Debezium encodes its values, for records that come
//! without a schema (`schemas.enable=false`).

use dualsync_envelope::{FieldType, Shape};

use crate::Dialect;

/// The Connect type Debezium uses, with default settings, for a column of `sql_type` (as the
/// catalog formats it: PostgreSQL `format_type`, MySQL `COLUMN_TYPE`), when that tells more than
/// the JSON value does. `None` when the JSON value alone decodes right (text, integers, doubles).
///
/// Temporal precision follows Debezium's adaptive mode: up to 3 fractional digits are
/// milliseconds, more are microseconds.
pub fn debezium_type(dialect: Dialect, sql_type: &str) -> Option<FieldType> {
    let t = sql_type.to_ascii_lowercase();
    let base = t.split(['(', ' ']).next().unwrap_or_default();
    let precision = || -> u32 {
        t.split_once('(')
            .and_then(|(_, rest)| rest.split([')', ',']).next())
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0)
    };
    let scale = || t.split_once(',').and_then(|(_, rest)| rest.split(')').next()).map(|s| s.trim().to_string());
    let named = |shape, name| Some(FieldType::named(shape, name, &[]));
    let unsigned = t.contains("unsigned");
    match (dialect, base) {
        (_, "numeric" | "decimal") if scale().is_some() => {
            scale().map(|s| FieldType::named(Shape::Bytes, "org.apache.kafka.connect.data.Decimal", &[("scale", &s)]))
        }
        // PostgreSQL NUMERIC without a declared scale: a {scale, value} struct.
        (Dialect::Postgres, "numeric") => named(Shape::Struct(Vec::new()), "io.debezium.data.VariableScaleDecimal"),
        (Dialect::Postgres, "money") => {
            Some(FieldType::named(Shape::Bytes, "org.apache.kafka.connect.data.Decimal", &[("scale", "2")]))
        }
        (_, "date") => named(Shape::Int32, "io.debezium.time.Date"),
        (Dialect::Postgres, "timestamp") if t.contains("with time zone") => {
            named(Shape::String, "io.debezium.time.ZonedTimestamp")
        }
        (Dialect::Postgres, "timestamp") if t.starts_with("timestamp(") && precision() <= 3 => {
            named(Shape::Int64, "io.debezium.time.Timestamp")
        }
        (Dialect::Postgres, "timestamp") => named(Shape::Int64, "io.debezium.time.MicroTimestamp"),
        (Dialect::MySql, "timestamp") => named(Shape::String, "io.debezium.time.ZonedTimestamp"),
        (Dialect::MySql, "datetime") if precision() <= 3 => named(Shape::Int64, "io.debezium.time.Timestamp"),
        (Dialect::MySql, "datetime") => named(Shape::Int64, "io.debezium.time.MicroTimestamp"),
        (Dialect::Postgres, "time") if t.contains("with time zone") => {
            named(Shape::String, "io.debezium.time.ZonedTime")
        }
        (_, "time") => named(Shape::Int64, "io.debezium.time.MicroTime"),
        (Dialect::Postgres, "interval") => named(Shape::Int64, "io.debezium.time.MicroDuration"),
        (Dialect::Postgres, "boolean") => Some(FieldType::plain(Shape::Boolean)),
        (Dialect::MySql, "tinyint") if t.starts_with("tinyint(1)") => Some(FieldType::plain(Shape::Boolean)),
        (Dialect::MySql, "bigint") if unsigned => named(Shape::Int64, "dualsync.Unsigned"),
        (Dialect::Postgres, "bytea") => Some(FieldType::plain(Shape::Bytes)),
        (Dialect::MySql, "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob") => {
            Some(FieldType::plain(Shape::Bytes))
        }
        // BIT(1) arrives as a boolean; longer bit strings as io.debezium.data.Bits, bytes in
        // little-endian order, with the declared length (VARBIT's too).
        (_, "bit") if precision() > 1 => {
            Some(FieldType::named(Shape::Bytes, "io.debezium.data.Bits", &[("length", &precision().to_string())]))
        }
        (_, "bit") => Some(FieldType::plain(Shape::Boolean)),
        (Dialect::Postgres, "uuid") => named(Shape::String, "io.debezium.data.Uuid"),
        (_, "json" | "jsonb") => named(Shape::String, "io.debezium.data.Json"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(dialect: Dialect, sql_type: &str) -> Option<String> {
        debezium_type(dialect, sql_type).map(|t| match t.parameter("scale") {
            Some(scale) => format!("{} scale {scale}", t.describe()),
            None => t.describe(),
        })
    }

    /// Bit strings: found missing with real Debezium 3.6.3, whose schemaless BIT(10) value (base64
    /// bytes) was written into the column as its text.
    #[test]
    fn bit_strings() {
        for dialect in [Dialect::Postgres, Dialect::MySql] {
            let bits = debezium_type(dialect, "bit(10)").expect("a hint");
            assert_eq!(bits.describe(), "io.debezium.data.Bits (bytes)");
            assert_eq!(bits.parameter("length"), Some("10"));
            assert_eq!(name(dialect, "bit(1)").as_deref(), Some("boolean"));
        }
        let varbit = debezium_type(Dialect::Postgres, "bit varying(20)").expect("a hint");
        assert_eq!(varbit.parameter("length"), Some("20"));
    }

    #[test]
    fn postgres_types() {
        assert_eq!(
            name(Dialect::Postgres, "numeric(10,2)").as_deref(),
            Some("org.apache.kafka.connect.data.Decimal (bytes) scale 2")
        );
        assert_eq!(
            name(Dialect::Postgres, "numeric").as_deref(),
            Some("io.debezium.data.VariableScaleDecimal (struct)")
        );
        assert_eq!(
            name(Dialect::Postgres, "timestamp without time zone").as_deref(),
            Some("io.debezium.time.MicroTimestamp (int64)")
        );
        assert_eq!(
            name(Dialect::Postgres, "timestamp(3) without time zone").as_deref(),
            Some("io.debezium.time.Timestamp (int64)")
        );
        assert_eq!(
            name(Dialect::Postgres, "timestamp with time zone").as_deref(),
            Some("io.debezium.time.ZonedTimestamp (string)")
        );
        assert_eq!(name(Dialect::Postgres, "boolean").as_deref(), Some("boolean"));
        assert_eq!(name(Dialect::Postgres, "text"), None);
        assert_eq!(name(Dialect::Postgres, "integer"), None);
    }

    #[test]
    fn mysql_types() {
        assert_eq!(
            name(Dialect::MySql, "decimal(38,10)").as_deref(),
            Some("org.apache.kafka.connect.data.Decimal (bytes) scale 10")
        );
        assert_eq!(name(Dialect::MySql, "datetime").as_deref(), Some("io.debezium.time.Timestamp (int64)"));
        assert_eq!(name(Dialect::MySql, "datetime(6)").as_deref(), Some("io.debezium.time.MicroTimestamp (int64)"));
        assert_eq!(name(Dialect::MySql, "timestamp(3)").as_deref(), Some("io.debezium.time.ZonedTimestamp (string)"));
        assert_eq!(name(Dialect::MySql, "tinyint(1)").as_deref(), Some("boolean"));
        assert_eq!(name(Dialect::MySql, "tinyint(4)"), None);
        assert_eq!(name(Dialect::MySql, "bigint(20) unsigned").as_deref(), Some("dualsync.Unsigned (int64)"));
        assert_eq!(name(Dialect::MySql, "longblob").as_deref(), Some("bytes"));
    }
}
