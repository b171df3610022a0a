//! Values → what is bound to a statement parameter, per dialect.
//!
//! Numbers, booleans and bytes bind as themselves. Everything else binds as the text the target
//! parses for its column type: exact decimals as their digits, timestamps in ISO form, arrays as
//! PostgreSQL array literals. PostgreSQL casts each parameter to its column type (see `sql.rs`);
//! MySQL converts text parameters itself.

use std::borrow::Cow;

use dualsync_envelope::Value;

use crate::Dialect;

/// A parameter value, ready to bind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bound<'a> {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A double.
    Float(f64),
    /// Text the target parses.
    Text(Cow<'a, str>),
    /// Bytes.
    Bytes(&'a [u8]),
}

/// The parameter for `value` in `dialect`, or why that value cannot be written there.
pub(crate) fn bind(value: &Value, dialect: Dialect) -> Result<Bound<'_>, String> {
    let text = |s: String| Ok(Bound::Text(Cow::Owned(s)));
    match value {
        Value::Null => Ok(Bound::Null),
        Value::Bool(b) => Ok(Bound::Bool(*b)),
        Value::Int(i) => Ok(Bound::Int(*i)),
        Value::Float(x) => Ok(Bound::Float(*x)),
        Value::Text(s) | Value::Json(s) | Value::Enum(s) => Ok(Bound::Text(Cow::Borrowed(s))),
        Value::Bytes(b) => Ok(Bound::Bytes(b)),
        Value::UInt(u) => text(u.to_string()),
        Value::Decimal(d) => text(d.to_plain_string()),
        Value::Uuid(u) => text(u.hyphenated().to_string()),
        Value::Date(d) => text(d.format("%Y-%m-%d").to_string()),
        Value::Time(_) => text(value.to_string()),
        Value::TimeTz(t, offset) => text(format!("{}{offset}", t.format("%H:%M:%S%.f"))),
        Value::Timestamp(t) => text(t.format("%Y-%m-%d %H:%M:%S%.f").to_string()),
        // MySQL takes no offset in a TIMESTAMP literal; sqlx sets the session time zone to UTC,
        // so the instant is written in UTC.
        Value::TimestampTz(t) => match dialect {
            Dialect::Postgres => text(t.to_rfc3339()),
            Dialect::MySql => text(t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string()),
        },
        Value::Infinity { negative } => match dialect {
            Dialect::Postgres => text(if *negative { "-infinity" } else { "infinity" }.to_string()),
            Dialect::MySql => Err("MySQL has no infinite dates or timestamps; map the value explicitly".into()),
        },
        Value::Interval(i) => match dialect {
            Dialect::Postgres => text(format!("{} months {} days {} microseconds", i.months, i.days, i.micros)),
            Dialect::MySql if i.months == 0 && i.days == 0 => {
                text(Value::Time(i.micros.saturating_mul(1000)).to_string())
            }
            Dialect::MySql => {
                Err("MySQL has no interval type; an interval with months or days cannot be written".into())
            }
        },
        Value::Bits { bytes, length } => match dialect {
            Dialect::Postgres => text(bit_string(bytes, *length)),
            Dialect::MySql => {
                if *length > 64 {
                    return Err("MySQL BIT holds at most 64 bits".into());
                }
                let mut n: u64 = 0;
                for (i, byte) in bytes.iter().take(8).enumerate() {
                    n |= u64::from(*byte) << (8 * i);
                }
                text(n.to_string())
            }
        },
        Value::Set(members) => text(members.join(",")),
        Value::Array(items) => match dialect {
            Dialect::Postgres => pg_array(items).map(|s| Bound::Text(Cow::Owned(s))),
            Dialect::MySql => text(json_array(items)),
        },
        Value::Map(entries) | Value::Struct(entries) => text(json_object(entries)),
        Value::Geometry { wkb, .. } => Ok(Bound::Bytes(wkb)),
        Value::Unavailable => Err("the unchanged-TOAST placeholder is never written".into()),
    }
}

/// Bits as `0`/`1` text, most significant first (Debezium sends them least significant byte first).
fn bit_string(bytes: &[u8], length: u32) -> String {
    (0..length)
        .rev()
        .map(|i| {
            let byte = bytes.get((i / 8) as usize).copied().unwrap_or(0);
            if byte >> (i % 8) & 1 == 1 { '1' } else { '0' }
        })
        .collect()
}

/// A PostgreSQL array literal of `Value`s: `{"a","b",NULL}`; nested arrays nest.
fn pg_array(items: &[Value]) -> Result<String, String> {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Value::Array(inner) => out.push_str(&pg_array(inner)?),
            other => push_pg_element(&mut out, &bind(other, Dialect::Postgres)?),
        }
    }
    out.push('}');
    Ok(out)
}

/// Appends a parameter to a PostgreSQL array literal being built, as the text PostgreSQL parses
/// for it: NULL, booleans `t`/`f`, numbers as written (doubles in their shortest exact form,
/// `NaN`, `Infinity`), text quoted with `"` and `\` escaped, bytes as quoted `\x…` hex. Writes
/// straight into `out`, so building a batch's arrays allocates little.
pub(crate) fn push_pg_element(out: &mut String, bound: &Bound<'_>) {
    match bound {
        Bound::Null => out.push_str("NULL"),
        Bound::Text(_) | Bound::Bytes(_) => {
            out.push('"');
            push_pg_text(out, bound, |out, c| {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            });
            out.push('"');
        }
        _ => push_pg_text(out, bound, String::push),
    }
}

/// Appends a parameter as one field of PostgreSQL's `COPY` text format: the same text as
/// [`push_pg_element`], unquoted, NULL as `\N`, and backslash, newline, carriage return and tab
/// escaped with a backslash.
pub(crate) fn push_copy_field(out: &mut String, bound: &Bound<'_>) {
    match bound {
        Bound::Null => out.push_str("\\N"),
        _ => push_pg_text(out, bound, |out, c| match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }),
    }
}

/// Appends the text PostgreSQL parses for a non-NULL parameter, each character of text and bytes
/// through `escape`.
fn push_pg_text(out: &mut String, bound: &Bound<'_>, escape: impl Fn(&mut String, char)) {
    use std::fmt::Write as _;
    match bound {
        Bound::Null => {}
        Bound::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Bound::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Bound::Float(x) if x.is_nan() => out.push_str("NaN"),
        Bound::Float(x) if x.is_infinite() => out.push_str(if *x > 0.0 { "Infinity" } else { "-Infinity" }),
        Bound::Float(x) => {
            let _ = write!(out, "{x}");
        }
        Bound::Text(s) => s.chars().for_each(|c| escape(out, c)),
        Bound::Bytes(b) => {
            escape(out, '\\');
            out.push('x');
            for byte in *b {
                let _ = write!(out, "{byte:02x}");
            }
        }
    }
}

fn json_value(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Decimal(d) => d.to_plain_string(),
        Value::Float(x) if x.is_finite() => x.to_string(),
        Value::Json(s) => s.clone(),
        Value::Array(items) => json_array(items),
        Value::Map(entries) | Value::Struct(entries) => json_object(entries),
        other => json_string(&match bind(other, Dialect::Postgres) {
            Ok(Bound::Text(s)) => s.into_owned(),
            _ => other.to_string(),
        }),
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_array(items: &[Value]) -> String {
    format!("[{}]", items.iter().map(json_value).collect::<Vec<_>>().join(","))
}

fn json_object(entries: &[(String, Value)]) -> String {
    let fields: Vec<String> = entries.iter().map(|(k, v)| format!("{}:{}", json_string(k), json_value(v))).collect();
    format!("{{{}}}", fields.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms() {
        let text = |v: &Value, d| match bind(v, d) {
            Ok(Bound::Text(s)) => s.into_owned(),
            other => panic!("{other:?}"),
        };
        assert_eq!(text(&Value::Bits { bytes: vec![0b0000_0101, 0b1], length: 9 }, Dialect::Postgres), "100000101");
        assert_eq!(text(&Value::Bits { bytes: vec![5, 1], length: 9 }, Dialect::MySql), "261");
        let array = Value::Array(vec![Value::Text("a\"b".into()), Value::Null, Value::Int(3)]);
        assert_eq!(text(&array, Dialect::Postgres), r#"{"a\"b",NULL,3}"#);
        assert_eq!(text(&array, Dialect::MySql), r#"["a\"b",null,3]"#);
        assert_eq!(text(&Value::Time(-(3600 * 1_000_000_000 + 500_000)), Dialect::MySql), "-01:00:00.0005");
        assert!(bind(&Value::Infinity { negative: true }, Dialect::MySql).is_err());
        assert!(bind(&Value::Unavailable, Dialect::Postgres).is_err());
    }

    #[test]
    fn copy_fields_and_array_elements() {
        let both = |bound: Bound<'_>| {
            let (mut copy, mut element) = (String::new(), String::new());
            push_copy_field(&mut copy, &bound);
            push_pg_element(&mut element, &bound);
            (copy, element)
        };
        assert_eq!(both(Bound::Null), (r"\N".into(), "NULL".into()));
        assert_eq!(both(Bound::Text("a\tb\\c\nd\"".into())), (r#"a\tb\\c\nd""#.into(), "\"a\tb\\\\c\nd\\\"\"".into()));
        assert_eq!(both(Bound::Bytes(&[0, 255])), (r"\\x00ff".into(), r#""\\x00ff""#.into()));
        assert_eq!(both(Bound::Float(f64::NEG_INFINITY)), ("-Infinity".into(), "-Infinity".into()));
        assert_eq!(both(Bound::Bool(true)), ("t".into(), "t".into()));
    }
}
