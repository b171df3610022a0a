//! MySQL/MariaDB column types → Debezium kinds, and MySQL values (from the binlog or from a
//! snapshot query) → Debezium JSON.

use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use mysql_async::Value;
use serde_json::{Value as Json, json};

use crate::debezium::{self, Kind};

/// A column as `information_schema.COLUMNS` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct MyColumn {
    /// `COLUMN_NAME`.
    pub name: String,
    /// `DATA_TYPE`, lower case (`int`, `varchar`, …).
    pub data_type: String,
    /// `COLUMN_TYPE` (`int(10) unsigned`, `enum('a','b')`, …).
    pub column_type: String,
    /// `IS_NULLABLE = 'YES'`.
    pub nullable: bool,
    /// `NUMERIC_PRECISION` (bits for `BIT`).
    pub precision: Option<u64>,
    /// `NUMERIC_SCALE`.
    pub scale: Option<u64>,
    /// `DATETIME_PRECISION`.
    pub fraction: Option<u64>,
    /// A MariaDB `JSON` column (a `LONGTEXT` checked by `json_valid`).
    pub json: bool,
}

impl MyColumn {
    fn unsigned(&self) -> bool {
        self.column_type.contains("unsigned")
    }

    /// The Debezium kind the MySQL connector uses for this column, with default settings.
    pub fn kind(&self) -> Kind {
        let unsigned = self.unsigned();
        let fraction = self.fraction.unwrap_or(0) as u32;
        match self.data_type.as_str() {
            "tinyint" => Kind::Int16,
            "smallint" if unsigned => Kind::Int32,
            "smallint" => Kind::Int16,
            "mediumint" => Kind::Int32,
            "int" | "integer" if unsigned => Kind::Int64,
            "int" | "integer" => Kind::Int32,
            // Exact, as the connector's bigint.unsigned.handling.mode=precise writes it.
            "bigint" if unsigned => Kind::Decimal { precision: Some(20), scale: 0 },
            "bigint" => Kind::Int64,
            "decimal" | "numeric" => {
                Kind::Decimal { precision: self.precision.map(|p| p as u32), scale: self.scale.unwrap_or(0) as u32 }
            }
            "float" | "double" | "real" => Kind::Float64,
            "bit" if self.precision == Some(1) => Kind::Boolean,
            "bit" => Kind::Bits(self.precision.unwrap_or(1) as u32),
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => Kind::Bytes,
            "date" => Kind::Date,
            "time" => Kind::MicroTime,
            "datetime" if fraction <= 3 => Kind::Timestamp,
            "datetime" => Kind::MicroTimestamp,
            "timestamp" => Kind::ZonedTimestamp(Some(fraction)),
            "year" => Kind::Year,
            "json" => Kind::Json,
            "enum" => Kind::Enum(members(&self.column_type)),
            "set" => Kind::EnumSet(members(&self.column_type)),
            "uuid" => Kind::Uuid,
            _ if self.json => Kind::Json,
            _ => Kind::String,
        }
    }

    /// The width in bits of an integer column, for reading unsigned values the binlog sent
    /// without their signedness.
    fn bits(&self) -> u32 {
        match self.data_type.as_str() {
            "tinyint" => 8,
            "smallint" => 16,
            "mediumint" => 24,
            "int" | "integer" => 32,
            _ => 64,
        }
    }
}

/// The quoted members of `enum('a','b')` / `set('a','b')`, with `''` unescaped.
fn members(column_type: &str) -> Vec<String> {
    let Some(inner) = column_type.split_once('(').and_then(|(_, rest)| rest.rsplit_once(')')).map(|(inner, _)| inner)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut member = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    member.push('\'');
                } else {
                    break;
                }
            } else {
                member.push(c);
            }
        }
        out.push(member);
    }
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Where a value was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A binlog row event.
    Binlog,
    /// A snapshot query.
    Query,
}

/// Decodes one value of `column` (as `kind`). The binlog sends typed values (ENUM as its index,
/// SET as a bit mask, TIMESTAMP as epoch seconds text); a snapshot query sends text or typed
/// values (TIMESTAMP in the session's zone, which the capture sets to UTC). Both are accepted.
pub fn value(column: &MyColumn, kind: &Kind, value: Value, origin: Origin) -> Result<Json, String> {
    let bad = |what: &str, v: &Value| format!("{v:?} is not {what}");
    if value == Value::NULL {
        return Ok(Json::Null);
    }
    // Without binlog_row_metadata=FULL the binlog does not say a column is unsigned.
    let integer = ["tinyint", "smallint", "mediumint", "int", "integer", "bigint"].contains(&column.data_type.as_str());
    let value = match value {
        Value::Int(i) if i < 0 && integer && column.unsigned() => {
            Value::UInt((i128::from(i) + (1i128 << column.bits())) as u64)
        }
        // mysql_common reads a signed MEDIUMINT from the binlog without extending its sign.
        Value::Int(i) if column.data_type == "mediumint" && !column.unsigned() && i >= 1 << 23 => {
            Value::Int(i - (1 << 24))
        }
        other => other,
    };
    Ok(match kind {
        Kind::Int16 | Kind::Int32 | Kind::Int64 | Kind::Year => match value {
            Value::Int(i) => json!(i),
            Value::UInt(u) => json!(u),
            Value::Bytes(ref b) => {
                let t = text(b);
                match (i64::from_str(&t), u64::from_str(&t)) {
                    (Ok(i), _) => json!(i),
                    (_, Ok(u)) => json!(u),
                    _ => return Err(bad("an integer", &value)),
                }
            }
            ref v => return Err(bad("an integer", v)),
        },
        Kind::Boolean => match value {
            Value::Bytes(ref b) => json!(b.iter().any(|&x| x != 0 && x != b'0')),
            Value::Int(i) => json!(i != 0),
            Value::UInt(u) => json!(u != 0),
            ref v => return Err(bad("a bit", v)),
        },
        Kind::Bits(length) => match value {
            Value::Bytes(b) => {
                let width = (*length as usize).div_ceil(8);
                let mut be = vec![0u8; width.saturating_sub(b.len())];
                be.extend_from_slice(&b[b.len().saturating_sub(width)..]);
                debezium::bits(&be)
            }
            Value::Int(i) => debezium::bits(&i.to_be_bytes()[8 - (*length as usize).div_ceil(8)..]),
            Value::UInt(u) => debezium::bits(&u.to_be_bytes()[8 - (*length as usize).div_ceil(8)..]),
            ref v => return Err(bad("a bit string", v)),
        },
        Kind::Decimal { scale, .. } => match value {
            Value::Bytes(ref b) => {
                debezium::decimal(&BigDecimal::from_str(&text(b)).map_err(|_| bad("a decimal", &value))?, Some(*scale))
            }
            Value::Int(i) => debezium::decimal(&BigDecimal::from(i), Some(*scale)),
            Value::UInt(u) => debezium::decimal(&BigDecimal::from(u), Some(*scale)),
            ref v => return Err(bad("a decimal", v)),
        },
        Kind::Float64 | Kind::Float32 => match value {
            // FLOAT is single precision: widened as the connector does (3.14 → 3.140000104904175).
            Value::Float(f) => json!(f64::from(f)),
            Value::Double(d) => json!(d),
            Value::Bytes(ref b) if column.data_type == "float" => {
                json!(f64::from(f32::from_str(&text(b)).map_err(|_| bad("a number", &value))?))
            }
            Value::Bytes(ref b) => serde_json::from_str::<Json>(&text(b))
                .ok()
                .filter(Json::is_number)
                .ok_or_else(|| bad("a number", &value))?,
            ref v => return Err(bad("a number", v)),
        },
        Kind::String | Kind::Json | Kind::Interval => match value {
            Value::Bytes(b) => json!(text(&b)),
            Value::Int(i) => json!(i.to_string()),
            Value::UInt(u) => json!(u.to_string()),
            Value::Double(d) => json!(d.to_string()),
            ref v => return Err(bad("text", v)),
        },
        Kind::Uuid => match value {
            Value::Bytes(b) if b.len() == 16 => {
                json!(uuid::Uuid::from_slice(&b).map_err(|e| e.to_string())?.to_string())
            }
            Value::Bytes(b) => json!(text(&b)),
            ref v => return Err(bad("a UUID", v)),
        },
        Kind::Bytes => match value {
            Value::Bytes(b) => debezium::bytes(&b),
            ref v => return Err(bad("bytes", v)),
        },
        Kind::Enum(allowed) => match value {
            Value::Int(i) => {
                json!(if i >= 1 { allowed.get(i as usize - 1).cloned().unwrap_or_default() } else { String::new() })
            }
            Value::UInt(u) => {
                json!(if u >= 1 { allowed.get(u as usize - 1).cloned().unwrap_or_default() } else { String::new() })
            }
            Value::Bytes(b) => json!(text(&b)),
            ref v => return Err(bad("an enum value", v)),
        },
        Kind::EnumSet(allowed) => {
            let mask = match value {
                Value::Int(i) => i as u64,
                Value::UInt(u) => u,
                // The binlog: the bit mask, little-endian, 1 to 8 bytes.
                Value::Bytes(b) if origin == Origin::Binlog => {
                    b.iter().rev().fold(0u64, |mask, &byte| (mask << 8) | u64::from(byte))
                }
                Value::Bytes(b) => return Ok(json!(text(&b))),
                ref v => return Err(bad("a set value", v)),
            };
            let members: Vec<&str> =
                allowed.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, m)| m.as_str()).collect();
            json!(members.join(","))
        }
        Kind::Date => match value {
            Value::Date(0, ..) => Json::Null,
            Value::Date(y, m, d, ..) => debezium::date(
                NaiveDate::from_ymd_opt(y.into(), m.into(), d.into()).ok_or_else(|| bad("a date", &value))?,
            ),
            Value::Bytes(ref b) => match NaiveDate::parse_from_str(&text(b), "%Y-%m-%d") {
                Ok(d) => debezium::date(d),
                Err(_) if text(b).starts_with("0000") => Json::Null,
                Err(_) => return Err(bad("a date", &value)),
            },
            ref v => return Err(bad("a date", v)),
        },
        Kind::MicroTime => match value {
            Value::Time(negative, days, h, m, s, us) => {
                let micros = ((i64::from(days) * 24 + i64::from(h)) * 3600 + i64::from(m) * 60 + i64::from(s))
                    * 1_000_000
                    + i64::from(us);
                json!(if negative { -micros } else { micros })
            }
            Value::Bytes(ref b) => json!(debezium::time_micros(&text(b)).ok_or_else(|| bad("a time", &value))?),
            ref v => return Err(bad("a time", v)),
        },
        Kind::Timestamp | Kind::MicroTimestamp => {
            let micros = *kind == Kind::MicroTimestamp;
            match datetime(&value) {
                Some(Some(t)) => debezium::timestamp(t, micros),
                Some(None) => Json::Null,
                None => return Err(bad("a datetime", &value)),
            }
        }
        Kind::ZonedTimestamp(digits) => {
            let instant: DateTime<Utc> = match &value {
                // The binlog: seconds since the epoch, with the fraction as text.
                Value::Bytes(b) if !b.contains(&b'-') => {
                    let t = text(b);
                    let (secs, fraction) = t.split_once('.').unwrap_or((&t, ""));
                    let secs = i64::from_str(secs).map_err(|_| bad("a timestamp", &value))?;
                    let nanos: u32 =
                        if fraction.is_empty() { 0 } else { format!("{fraction:0<9}")[..9].parse().unwrap_or(0) };
                    DateTime::from_timestamp(secs, nanos).ok_or_else(|| bad("a timestamp", &value))?
                }
                _ => match datetime(&value) {
                    Some(Some(t)) => t.and_utc(),
                    Some(None) => DateTime::UNIX_EPOCH,
                    None => return Err(bad("a timestamp", &value)),
                },
            };
            debezium::zoned(instant, *digits)
        }
        other => return Err(format!("{other:?} is not a MySQL kind")),
    })
}

/// A DATETIME/TIMESTAMP value; `Some(None)` for MySQL's zero date.
fn datetime(value: &Value) -> Option<Option<NaiveDateTime>> {
    match value {
        Value::Date(0, 0, 0, ..) => Some(None),
        Value::Date(y, mo, d, h, mi, s, us) => {
            Some(Some(NaiveDate::from_ymd_opt((*y).into(), (*mo).into(), (*d).into())?.and_hms_micro_opt(
                (*h).into(),
                (*mi).into(),
                (*s).into(),
                *us,
            )?))
        }
        Value::Bytes(b) => {
            let t = text(b);
            if t.starts_with("0000-00-00") {
                return Some(None);
            }
            NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S%.f").ok().map(Some)
        }
        _ => None,
    }
}

/// A value as text, for storing the last snapshot key and binding it again.
pub fn key_text(value: &Value) -> String {
    match value {
        Value::NULL => String::new(),
        Value::Bytes(b) => text(b),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Date(y, mo, d, h, mi, s, us) => format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}"),
        Value::Time(neg, days, h, m, s, us) => {
            format!("{}{}:{m:02}:{s:02}.{us:06}", if *neg { "-" } else { "" }, u32::from(*h) + days * 24)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(data_type: &str, column_type: &str) -> MyColumn {
        MyColumn {
            name: "c".into(),
            data_type: data_type.into(),
            column_type: column_type.into(),
            nullable: true,
            precision: None,
            scale: None,
            fraction: None,
            json: false,
        }
    }

    #[test]
    fn unsigned_values_sent_as_signed_are_corrected() {
        let c = column("int", "int(10) unsigned");
        assert_eq!(value(&c, &c.kind(), Value::Int(-1), Origin::Binlog).unwrap(), json!(4_294_967_295u64));
        let c = column("bigint", "bigint(20) unsigned");
        let max = debezium::decimal(&BigDecimal::from(u64::MAX), Some(0));
        assert_eq!(value(&c, &c.kind(), Value::Int(-1), Origin::Binlog).unwrap(), max);
        assert_eq!(value(&c, &c.kind(), Value::UInt(u64::MAX), Origin::Binlog).unwrap(), max);
    }

    #[test]
    fn signed_mediumint_from_the_binlog_keeps_its_sign() {
        let c = column("mediumint", "mediumint(9)");
        assert_eq!(value(&c, &c.kind(), Value::Int(8_388_608), Origin::Binlog).unwrap(), json!(-8_388_608));
        assert_eq!(value(&c, &c.kind(), Value::Int(-5), Origin::Binlog).unwrap(), json!(-5));
        let c = column("mediumint", "mediumint(8) unsigned");
        assert_eq!(value(&c, &c.kind(), Value::Int(16_777_215), Origin::Binlog).unwrap(), json!(16_777_215));
    }

    #[test]
    fn enums_and_sets_from_the_binlog_and_from_queries() {
        let c = column("enum", "enum('small','it''s','large')");
        assert_eq!(c.kind(), Kind::Enum(vec!["small".into(), "it's".into(), "large".into()]));
        assert_eq!(value(&c, &c.kind(), Value::Int(2), Origin::Binlog).unwrap(), json!("it's"));
        assert_eq!(value(&c, &c.kind(), Value::Bytes(b"large".to_vec()), Origin::Query).unwrap(), json!("large"));
        let c = column("set", "set('a','b','c')");
        assert_eq!(value(&c, &c.kind(), Value::Int(0b101), Origin::Binlog).unwrap(), json!("a,c"));
        assert_eq!(value(&c, &c.kind(), Value::Bytes(vec![0b110]), Origin::Binlog).unwrap(), json!("b,c"));
        assert_eq!(value(&c, &c.kind(), Value::Bytes(b"a,b".to_vec()), Origin::Query).unwrap(), json!("a,b"));
    }

    #[test]
    fn temporal_values() {
        let mut c = column("timestamp", "timestamp(3)");
        c.fraction = Some(3);
        assert_eq!(
            value(&c, &c.kind(), Value::Bytes(b"1704164645.123000".to_vec()), Origin::Binlog).unwrap(),
            json!("2024-01-02T03:04:05.123Z")
        );
        assert_eq!(
            value(&c, &c.kind(), Value::Date(2024, 1, 2, 3, 4, 5, 123_000), Origin::Binlog).unwrap(),
            json!("2024-01-02T03:04:05.123Z")
        );
        let c = column("time", "time(6)");
        assert_eq!(
            value(&c, &c.kind(), Value::Time(true, 1, 2, 0, 0, 5), Origin::Binlog).unwrap(),
            json!(-(26 * 3_600_000_000i64 + 5))
        );
        assert_eq!(
            value(&c, &c.kind(), Value::Bytes(b"-26:00:00.000005".to_vec()), Origin::Query).unwrap(),
            json!(-(26 * 3_600_000_000i64 + 5))
        );
        let c = column("date", "date");
        assert_eq!(value(&c, &c.kind(), Value::Date(0, 0, 0, 0, 0, 0, 0), Origin::Binlog).unwrap(), Json::Null);
    }

    #[test]
    fn floats_widen_like_the_connector() {
        let c = column("float", "float");
        assert_eq!(value(&c, &c.kind(), Value::Float(2.71), Origin::Binlog).unwrap().to_string(), "2.7100000381469727");
        assert_eq!(
            value(&c, &c.kind(), Value::Bytes(b"3.14".to_vec()), Origin::Query).unwrap().to_string(),
            "3.140000104904175"
        );
    }

    #[test]
    fn bits_are_little_endian() {
        let mut c = column("bit", "bit(12)");
        c.precision = Some(12);
        assert_eq!(
            value(&c, &c.kind(), Value::Bytes(vec![0x0a, 0xbc]), Origin::Binlog).unwrap(),
            debezium::bytes(&[0xbc, 0x0a])
        );
    }
}
