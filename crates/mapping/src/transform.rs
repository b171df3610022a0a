//! Value-level operations of a mapping: conversions between representations, expressions and
//! row conditions. Pure functions over [`Value`]s.

use std::str::FromStr;

use bigdecimal::{BigDecimal, ToPrimitive};
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use dualsync_envelope::{Row, Value};

use crate::spec::{Expr, Representation};

/// A constant from the YAML file as a value.
pub(crate) fn constant(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                BigDecimal::from_str(&n.to_string()).map_or_else(|_| Value::Text(n.to_string()), Value::Decimal)
            }
        }
        serde_json::Value::String(s) => Value::Text(s.clone()),
        other => Value::Json(other.to_string()),
    }
}

/// The text of a scalar value, as an expression or a value map sees it.
pub(crate) fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Null | Value::Unavailable => None,
        Value::Text(s) | Value::Enum(s) | Value::Json(s) => Some(s.clone()),
        Value::Set(members) => Some(members.join(",")),
        Value::Decimal(d) => Some(d.to_plain_string()),
        Value::Float(x) => Some(x.to_string()),
        Value::Uuid(u) => Some(u.hyphenated().to_string()),
        other => Some(other.to_string()),
    }
}

/// Whether two values are equal for a row condition: same value, or same text (a YAML `7` equals
/// a column's `7` whatever its integer kind).
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    a == b || (!a.is_null() && !b.is_null() && text_of(a) == text_of(b))
}

/// Evaluates an expression over a source row.
pub(crate) fn evaluate(expr: &Expr, row: &Row) -> Result<Value, String> {
    let text = |e: &Expr| -> Result<Option<String>, String> { Ok(text_of(&evaluate(e, row)?)) };
    Ok(match expr {
        Expr::Column(name) => row.get(name).cloned().unwrap_or(Value::Null),
        Expr::Constant(json) => constant(json),
        Expr::Concat(parts) => {
            let mut out = String::new();
            for part in parts {
                if let Some(t) = text(part)? {
                    out.push_str(&t);
                }
            }
            Value::Text(out)
        }
        Expr::Split(split) => match text(&split.of)? {
            None => Value::Null,
            Some(t) => {
                if split.separator.is_empty() {
                    return Err("split: the separator is empty".into());
                }
                let parts: Vec<&str> = t.split(split.separator.as_str()).collect();
                match parts.get(split.part) {
                    None => Value::Null,
                    Some(_) if split.rest => Value::Text(parts[split.part..].join(&split.separator)),
                    Some(p) => Value::Text(p.to_string()),
                }
            }
        },
        Expr::Lower(e) => text(e)?.map_or(Value::Null, |t| Value::Text(t.to_lowercase())),
        Expr::Upper(e) => text(e)?.map_or(Value::Null, |t| Value::Text(t.to_uppercase())),
        Expr::Trim(e) => text(e)?.map_or(Value::Null, |t| Value::Text(t.trim().to_string())),
        Expr::Coalesce(options) => {
            for option in options {
                let value = evaluate(option, row)?;
                if !value.is_null() {
                    return Ok(value);
                }
            }
            Value::Null
        }
    })
}

/// The columns an expression reads.
pub(crate) fn columns_of(expr: &Expr, out: &mut Vec<String>) {
    match expr {
        Expr::Column(name) => out.push(name.clone()),
        Expr::Constant(_) => {}
        Expr::Concat(parts) | Expr::Coalesce(parts) => parts.iter().for_each(|p| columns_of(p, out)),
        Expr::Split(split) => columns_of(&split.of, out),
        Expr::Lower(e) | Expr::Upper(e) | Expr::Trim(e) => columns_of(e, out),
    }
}

/// Which representations a value can move between without being reinterpreted.
pub(crate) fn family(r: Representation) -> &'static str {
    use Representation::*;
    match r {
        Bool | IntBool => "boolean",
        Json | Text | Enum => "text",
        Uuid | UuidBinary | UuidText => "uuid",
        Timestamp | Timestamptz => "timestamp",
        Set | Array => "set",
        Decimal | Int => "number",
        Bytes => "bytes",
    }
}

/// Whether representation `to` can be produced from values of representation `from`.
pub(crate) fn compatible(from: Representation, to: Representation) -> bool {
    family(from) == family(to)
        || matches!((family(from), family(to)), ("text", "set" | "uuid") | ("set" | "uuid", "text"))
}

/// Converts `value`, written on a side whose naive timestamps are in `from_zone`, into `to` for a
/// side whose naive timestamps are in `to_zone`.
pub(crate) fn convert(value: Value, to: Representation, from_zone: Tz, to_zone: Tz) -> Result<Value, String> {
    use Representation as R;
    if matches!(value, Value::Null | Value::Unavailable) {
        return Ok(value);
    }
    let cannot = |value: &Value| Err(format!("cannot convert {} value {value} to {}", value.kind(), name(to)));
    Ok(match (to, value) {
        (R::Bool | R::IntBool, v) => {
            let b = match &v {
                Value::Bool(b) => *b,
                Value::Int(0) | Value::UInt(0) => false,
                Value::Int(1) | Value::UInt(1) => true,
                Value::Text(t) if matches!(t.as_str(), "0" | "f" | "false") => false,
                Value::Text(t) if matches!(t.as_str(), "1" | "t" | "true") => true,
                Value::Bits { bytes, length: 1 } => bytes.first().is_some_and(|b| b & 1 == 1),
                _ => return cannot(&v),
            };
            if to == R::Bool { Value::Bool(b) } else { Value::Int(i64::from(b)) }
        }
        (R::Json, Value::Json(s) | Value::Text(s)) => {
            serde_json::from_str::<serde::de::IgnoredAny>(&s).map_err(|e| format!("not a JSON document ({e})"))?;
            Value::Json(s)
        }
        (R::Uuid | R::UuidBinary | R::UuidText, v) => {
            let u = match &v {
                Value::Uuid(u) => *u,
                Value::Text(t) => uuid::Uuid::parse_str(t).map_err(|e| format!("not a UUID ({e})"))?,
                Value::Bytes(b) if b.len() == 16 => uuid::Uuid::from_slice(b).map_err(|e| e.to_string())?,
                _ => return cannot(&v),
            };
            match to {
                R::Uuid => Value::Uuid(u),
                R::UuidBinary => Value::Bytes(u.as_bytes().to_vec()),
                _ => Value::Text(u.hyphenated().to_string()),
            }
        }
        (R::Timestamp | R::Timestamptz, v) => {
            let instant: DateTime<FixedOffset> = match &v {
                Value::TimestampTz(t) => *t,
                Value::Timestamp(naive) => in_zone(naive, from_zone)?,
                Value::Infinity { .. } => return Ok(v),
                // Text, as schemaless events carry timestamps: an instant, or a wall-clock time
                // on the source side.
                Value::Text(t) => match DateTime::parse_from_rfc3339(t) {
                    Ok(instant) => instant,
                    Err(_) => in_zone(
                        &NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
                            .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f"))
                            .map_err(|_| format!("{t:?} is not a timestamp"))?,
                        from_zone,
                    )?,
                },
                _ => return cannot(&v),
            };
            if to == R::Timestamptz {
                Value::TimestampTz(instant)
            } else {
                Value::Timestamp(instant.with_timezone(&to_zone).naive_local())
            }
        }
        (R::Text, v) => match text_of(&v) {
            Some(t) => Value::Text(t),
            None => return cannot(&v),
        },
        (R::Enum, Value::Text(s) | Value::Enum(s)) => Value::Enum(s),
        (R::Set, Value::Set(m)) => Value::Set(m),
        (R::Set, Value::Text(s)) => {
            Value::Set(if s.is_empty() { vec![] } else { s.split(',').map(str::to_owned).collect() })
        }
        (R::Set, Value::Array(items)) => Value::Set(
            items
                .iter()
                .map(|i| text_of(i).ok_or("a NULL array element has no SET member".to_string()))
                .collect::<Result<_, _>>()?,
        ),
        (R::Array, Value::Set(m)) => Value::Array(m.into_iter().map(Value::Text).collect()),
        (R::Array, Value::Array(items)) => Value::Array(items),
        (R::Decimal, v) => match &v {
            Value::Decimal(_) => v,
            Value::Int(i) => Value::Decimal(BigDecimal::from(*i)),
            Value::UInt(u) => Value::Decimal(BigDecimal::from(*u)),
            Value::Float(x) => Value::Decimal(BigDecimal::from_str(&x.to_string()).map_err(|e| e.to_string())?),
            Value::Text(t) => Value::Decimal(BigDecimal::from_str(t).map_err(|_| format!("{t:?} is not a decimal"))?),
            _ => return cannot(&v),
        },
        (R::Int, v) => match &v {
            Value::Int(_) => v,
            Value::Bool(b) => Value::Int(i64::from(*b)),
            Value::UInt(u) => {
                Value::Int(i64::try_from(*u).map_err(|_| format!("{u} does not fit a signed 64-bit integer"))?)
            }
            Value::Decimal(d) if d.is_integer() => {
                Value::Int(d.to_i64().ok_or(format!("{d} does not fit a signed 64-bit integer"))?)
            }
            Value::Text(t) => Value::Int(t.parse().map_err(|_| format!("{t:?} is not an integer"))?),
            _ => return cannot(&v),
        },
        (R::Bytes, Value::Bytes(b)) => Value::Bytes(b),
        (R::Bytes, Value::Text(t)) => Value::Bytes(t.into_bytes()),
        (_, v) => return cannot(&v),
    })
}

/// A naive timestamp read in `zone`. A time that does not exist there (a daylight-saving gap) is
/// an error; an ambiguous one (the repeated hour) takes the earlier instant.
fn in_zone(naive: &NaiveDateTime, zone: Tz) -> Result<DateTime<FixedOffset>, String> {
    zone.from_local_datetime(naive)
        .earliest()
        .map(|t| t.fixed_offset())
        .ok_or_else(|| format!("{naive} does not exist in time zone {zone}"))
}

/// The YAML spelling of a representation.
pub(crate) fn name(r: Representation) -> &'static str {
    use Representation::*;
    match r {
        Bool => "bool",
        IntBool => "int-bool",
        Json => "json",
        Uuid => "uuid",
        UuidBinary => "uuid-binary",
        UuidText => "uuid-text",
        Timestamp => "timestamp",
        Timestamptz => "timestamptz",
        Text => "text",
        Enum => "enum",
        Set => "set",
        Array => "array",
        Decimal => "decimal",
        Int => "int",
        Bytes => "bytes",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::SplitSpec;

    fn row(cols: &[(&str, Value)]) -> Row {
        Row(cols.iter().map(|(n, v)| (n.to_string(), v.clone())).collect())
    }

    #[test]
    fn expressions() {
        let r = row(&[
            ("first", Value::Text("Ada".into())),
            ("last", Value::Text("Lovelace".into())),
            ("none", Value::Null),
        ]);
        let full =
            Expr::Concat(vec![Expr::Column("first".into()), Expr::Constant(" ".into()), Expr::Column("last".into())]);
        assert_eq!(evaluate(&full, &r), Ok(Value::Text("Ada Lovelace".into())));
        let name = row(&[("full", Value::Text("Ada King Lovelace".into()))]);
        let part = |part, rest| {
            Expr::Split(SplitSpec { of: Box::new(Expr::Column("full".into())), separator: " ".into(), part, rest })
        };
        assert_eq!(evaluate(&part(0, false), &name), Ok(Value::Text("Ada".into())));
        assert_eq!(evaluate(&part(1, true), &name), Ok(Value::Text("King Lovelace".into())));
        assert_eq!(evaluate(&part(5, false), &name), Ok(Value::Null));
        assert_eq!(evaluate(&Expr::Upper(Box::new(Expr::Column("first".into()))), &r), Ok(Value::Text("ADA".into())));
        assert_eq!(evaluate(&Expr::Trim(Box::new(Expr::Constant("  x ".into()))), &r), Ok(Value::Text("x".into())));
        let coalesce =
            Expr::Coalesce(vec![Expr::Column("none".into()), Expr::Column("missing".into()), Expr::Constant(7.into())]);
        assert_eq!(evaluate(&coalesce, &r), Ok(Value::Int(7)));
    }

    #[test]
    fn conversions() {
        let utc = Tz::UTC;
        let berlin: Tz = "Europe/Berlin".parse().expect("zone");
        assert_eq!(convert(Value::Int(1), Representation::Bool, utc, utc), Ok(Value::Bool(true)));
        assert_eq!(convert(Value::Bool(false), Representation::IntBool, utc, utc), Ok(Value::Int(0)));
        assert!(convert(Value::Int(2), Representation::Bool, utc, utc).is_err());
        let u = uuid::Uuid::parse_str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").expect("uuid");
        assert_eq!(convert(Value::Bytes(u.as_bytes().to_vec()), Representation::Uuid, utc, utc), Ok(Value::Uuid(u)));
        assert_eq!(
            convert(Value::Uuid(u), Representation::UuidBinary, utc, utc),
            Ok(Value::Bytes(u.as_bytes().to_vec()))
        );
        // 12:00 in Berlin (winter, +01:00) is 11:00 UTC.
        let noon = NaiveDateTime::parse_from_str("2024-01-15 12:00:00", "%Y-%m-%d %H:%M:%S").expect("ts");
        let eleven = NaiveDateTime::parse_from_str("2024-01-15 11:00:00", "%Y-%m-%d %H:%M:%S").expect("ts");
        assert_eq!(
            convert(Value::Timestamp(noon), Representation::Timestamp, berlin, utc),
            Ok(Value::Timestamp(eleven))
        );
        let instant = DateTime::parse_from_rfc3339("2024-01-15T11:00:00Z").expect("ts");
        assert_eq!(
            convert(Value::Timestamp(noon), Representation::Timestamptz, berlin, utc),
            Ok(Value::TimestampTz(instant.with_timezone(&FixedOffset::east_opt(3600).expect("offset"))))
        );
        assert_eq!(
            convert(Value::TimestampTz(instant), Representation::Timestamp, utc, berlin),
            Ok(Value::Timestamp(noon))
        );
        assert_eq!(
            convert(Value::Text("2024-01-15 12:00:00".into()), Representation::Timestamp, berlin, utc),
            Ok(Value::Timestamp(eleven))
        );
        assert_eq!(
            convert(Value::Text("2024-01-15T11:00:00Z".into()), Representation::Timestamp, utc, berlin),
            Ok(Value::Timestamp(noon))
        );
        let gap = NaiveDateTime::parse_from_str("2024-03-31 02:30:00", "%Y-%m-%d %H:%M:%S").expect("ts");
        assert!(convert(Value::Timestamp(gap), Representation::Timestamptz, berlin, utc).is_err());
        assert_eq!(
            convert(Value::Set(vec!["a".into(), "b".into()]), Representation::Array, utc, utc),
            Ok(Value::Array(vec![Value::Text("a".into()), Value::Text("b".into())]))
        );
        assert_eq!(
            convert(Value::UInt(u64::MAX), Representation::Decimal, utc, utc),
            Ok(Value::Decimal(BigDecimal::from(u64::MAX)))
        );
        assert!(convert(Value::UInt(u64::MAX), Representation::Int, utc, utc).is_err());
        assert!(convert(Value::Text("{".into()), Representation::Json, utc, utc).is_err());
    }
}
