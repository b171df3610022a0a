//! The value of one column in a decoded row: as exact as the event carried it.

use std::fmt;

use bigdecimal::BigDecimal;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};

/// One column value. Nothing is rounded or reinterpreted on the way in: decimals stay exact,
/// integers keep their sign and width, times keep their precision.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer up to 64 bits.
    Int(i64),
    /// An unsigned 64-bit integer above `i64::MAX` (MySQL `BIGINT UNSIGNED`).
    UInt(u64),
    /// A floating-point number the source sent as `float32`/`float64`.
    Float(f64),
    /// An exact decimal of any precision and scale (including negative scale).
    Decimal(BigDecimal),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A JSON document, as the text the source sent (JSON, JSONB, hstore in json mode).
    Json(String),
    /// A UUID.
    Uuid(uuid::Uuid),
    /// A calendar date.
    Date(NaiveDate),
    /// A time of day in nanoseconds since midnight. MySQL `TIME` is a duration, so this may be
    /// negative or exceed 24 hours.
    Time(i64),
    /// A time of day with a UTC offset (PostgreSQL `timetz`).
    TimeTz(NaiveTime, FixedOffset),
    /// A timestamp without time zone (MySQL `DATETIME`, PostgreSQL `timestamp`).
    Timestamp(NaiveDateTime),
    /// A timestamp with a UTC offset (MySQL `TIMESTAMP`, PostgreSQL `timestamptz`).
    TimestampTz(DateTime<FixedOffset>),
    /// PostgreSQL's `infinity` (`negative: false`) or `-infinity` for dates and timestamps.
    Infinity {
        /// `-infinity`.
        negative: bool,
    },
    /// An interval or duration.
    Interval(Interval),
    /// A bit string of `length` bits, least significant byte first (as Debezium sends it).
    Bits {
        /// The bits, little-endian by byte.
        bytes: Vec<u8>,
        /// Number of bits.
        length: u32,
    },
    /// A value of an enumerated type (MySQL `ENUM`, PostgreSQL enum types).
    Enum(String),
    /// A MySQL `SET` value: its members.
    Set(Vec<String>),
    /// An array.
    Array(Vec<Value>),
    /// A map with text keys (PostgreSQL hstore in map mode).
    Map(Vec<(String, Value)>),
    /// A geometry or geography: its well-known binary and spatial reference id.
    Geometry {
        /// Well-known binary.
        wkb: Vec<u8>,
        /// Spatial reference id, when the source gave one.
        srid: Option<i32>,
    },
    /// A struct the decoder has no semantic type for, kept field by field.
    Struct(Vec<(String, Value)>),
    /// The source did not send this value: Debezium's unchanged-TOAST placeholder
    /// (`__debezium_unavailable_value`). The writer leaves such a column untouched.
    Unavailable,
}

/// An interval: months and days kept apart from the exact time part, as PostgreSQL does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interval {
    /// Months (a year is 12).
    pub months: i64,
    /// Days.
    pub days: i64,
    /// Microseconds.
    pub micros: i64,
}

impl Value {
    /// The name of this value's kind, as used in error messages and `dualsync decode` output.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::UInt(_) => "uint",
            Value::Float(_) => "float",
            Value::Decimal(_) => "decimal",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Json(_) => "json",
            Value::Uuid(_) => "uuid",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::TimeTz(..) => "timetz",
            Value::Timestamp(_) => "timestamp",
            Value::TimestampTz(_) => "timestamptz",
            Value::Infinity { .. } => "infinity",
            Value::Interval(_) => "interval",
            Value::Bits { .. } => "bits",
            Value::Enum(_) => "enum",
            Value::Set(_) => "set",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Geometry { .. } => "geometry",
            Value::Struct(_) => "struct",
            Value::Unavailable => "unavailable",
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Formats nanoseconds since midnight as `[-]HH:MM:SS[.fraction]`, hours unbounded.
fn fmt_time(f: &mut fmt::Formatter<'_>, nanos: i64) -> fmt::Result {
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let (secs, frac) = (n / 1_000_000_000, n % 1_000_000_000);
    write!(f, "{sign}{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)?;
    if frac != 0 {
        let digits = format!("{frac:09}");
        write!(f, ".{}", digits.trim_end_matches('0'))?;
    }
    Ok(())
}

fn fmt_list<T>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    one: impl Fn(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    f.write_str("[")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        one(f, item)?;
    }
    f.write_str("]")
}

impl fmt::Display for Value {
    /// A readable, unambiguous rendering: text is quoted, bytes are hex, times are ISO 8601.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::UInt(u) => write!(f, "{u}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Decimal(d) => write!(f, "{d}"),
            Value::Text(s) | Value::Enum(s) => write!(f, "{s:?}"),
            Value::Json(s) => f.write_str(s),
            Value::Bytes(b) => write!(f, "\\x{}", hex::encode(b)),
            Value::Uuid(u) => write!(f, "{u}"),
            Value::Date(d) => write!(f, "{d}"),
            Value::Time(nanos) => fmt_time(f, *nanos),
            Value::TimeTz(t, offset) => write!(f, "{}{offset}", t.format("%H:%M:%S%.f")),
            Value::Timestamp(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S%.f")),
            Value::TimestampTz(t) => write!(f, "{}", t.to_rfc3339()),
            Value::Infinity { negative } => f.write_str(if *negative { "-infinity" } else { "infinity" }),
            Value::Interval(i) => write!(f, "{} months {} days {} us", i.months, i.days, i.micros),
            Value::Bits { bytes, length } => {
                let bits: String = (0..*length)
                    .rev()
                    .map(|i| {
                        let byte = bytes.get((i / 8) as usize).copied().unwrap_or(0);
                        if byte >> (i % 8) & 1 == 1 { '1' } else { '0' }
                    })
                    .collect();
                write!(f, "B'{bits}'")
            }
            Value::Set(members) => write!(f, "{:?}", members.join(",")),
            Value::Array(items) => fmt_list(f, items, |f, v| write!(f, "{v}")),
            Value::Map(entries) | Value::Struct(entries) => fmt_list(f, entries, |f, (k, v)| write!(f, "{k:?}: {v}")),
            Value::Geometry { wkb, srid } => match srid {
                Some(srid) => write!(f, "SRID={srid};\\x{}", hex::encode(wkb)),
                None => write!(f, "\\x{}", hex::encode(wkb)),
            },
            Value::Unavailable => f.write_str("(unavailable)"),
        }
    }
}
