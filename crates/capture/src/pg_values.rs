//! PostgreSQL column types → Debezium kinds, and PostgreSQL's text output → Debezium JSON.
//!
//! pgoutput sends values in their text form, and the snapshot reads `column::text`, so one
//! decoder serves both. The session pins `DateStyle=ISO`, `IntervalStyle=iso_8601` and
//! `TimeZone=UTC`, which these parsers rely on.

use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use dualsync_envelope::infinity;
use serde_json::{Value as Json, json};

use crate::config::IntervalMode;
use crate::debezium::{self, Kind};

/// What the catalog says about a column's type.
#[derive(Debug, Clone, PartialEq)]
pub struct PgType {
    /// `pg_type.typname` (of the element, for arrays).
    pub name: String,
    /// The type modifier (`atttypmod`), -1 when none.
    pub typmod: i32,
    /// An array of `name`.
    pub array: bool,
    /// The labels of an enum type, in order.
    pub labels: Option<Vec<String>>,
}

/// The Debezium kind PostgreSQL's connector uses for a type, with default settings.
pub fn kind(ty: &PgType, intervals: IntervalMode) -> Kind {
    let element = element_kind(ty, intervals);
    if ty.array { Kind::Array(Box::new(element)) } else { element }
}

fn element_kind(ty: &PgType, intervals: IntervalMode) -> Kind {
    if let Some(labels) = &ty.labels {
        return Kind::Enum(labels.clone());
    }
    let typmod = ty.typmod;
    match ty.name.as_str() {
        "bool" => Kind::Boolean,
        "int2" => Kind::Int16,
        "int4" => Kind::Int32,
        "int8" | "oid" => Kind::Int64,
        "float4" => Kind::Float32,
        "float8" => Kind::Float64,
        "numeric" if typmod >= 4 => {
            let t = (typmod - 4) as u32;
            Kind::Decimal { precision: Some((t >> 16) & 0xffff), scale: t & 0xffff }
        }
        "numeric" => Kind::VariableDecimal,
        "money" => Kind::Decimal { precision: None, scale: 2 },
        "bytea" => Kind::Bytes,
        "date" => Kind::Date,
        "time" if (0..=3).contains(&typmod) => Kind::Time,
        "time" => Kind::MicroTime,
        "timetz" => Kind::ZonedTime,
        "timestamp" if (0..=3).contains(&typmod) => Kind::Timestamp,
        "timestamp" => Kind::MicroTimestamp,
        "timestamptz" => Kind::ZonedTimestamp(None),
        "interval" => match intervals {
            IntervalMode::Numeric => Kind::MicroDuration,
            IntervalMode::String => Kind::Interval,
        },
        "json" | "jsonb" => Kind::Json,
        "uuid" => Kind::Uuid,
        "bit" if typmod == 1 => Kind::Boolean,
        "bit" | "varbit" => Kind::Bits(u32::try_from(typmod).unwrap_or(0)),
        _ => Kind::String,
    }
}

/// Microseconds in the unit of `kind`: microseconds for `MicroTimestamp`, else milliseconds.
fn in_unit(micros: i64, kind: &Kind) -> i64 {
    if *kind == Kind::MicroTimestamp { micros } else { micros / 1000 }
}

/// Decodes one value's text as `kind`. Errors name what did not parse.
pub fn value(kind: &Kind, text: &str) -> Result<Json, String> {
    let bad = |what: &str| format!("{text:?} is not {what}");
    Ok(match kind {
        Kind::Boolean => json!(text == "t" || text == "1" || text == "true"),
        Kind::Int16 | Kind::Int32 | Kind::Int64 | Kind::Year => {
            json!(i64::from_str(text).map_err(|_| bad("an integer"))?)
        }
        Kind::Float32 | Kind::Float64 => match text {
            "NaN" | "Infinity" | "-Infinity" => json!(text),
            // Kept as written: arbitrary_precision carries the digits through.
            _ => serde_json::from_str::<Json>(text).ok().filter(Json::is_number).ok_or_else(|| bad("a number"))?,
        },
        Kind::Decimal { scale, .. } => {
            let cleaned: String = text.chars().filter(|c| c.is_ascii_digit() || *c == '-' || *c == '.').collect();
            match BigDecimal::from_str(&cleaned) {
                Ok(d) => debezium::decimal(&d, Some(*scale)),
                Err(_) if text == "NaN" => Json::Null,
                Err(_) => return Err(bad("a decimal")),
            }
        }
        Kind::VariableDecimal => match text {
            "NaN" | "Infinity" | "-Infinity" => Json::Null,
            _ => debezium::decimal(&BigDecimal::from_str(text).map_err(|_| bad("a decimal"))?, None),
        },
        Kind::Bytes => {
            let hex_digits = text.strip_prefix("\\x").ok_or_else(|| bad("bytea in hex output"))?;
            debezium::bytes(&hex::decode(hex_digits).map_err(|_| bad("bytea in hex output"))?)
        }
        Kind::Date => match text {
            "infinity" => json!(infinity::DATE_INFINITY),
            "-infinity" => json!(infinity::DATE_NEG_INFINITY),
            _ => debezium::date(date(text).ok_or_else(|| bad("a date"))?),
        },
        Kind::Time => json!(debezium::time_micros(text).ok_or_else(|| bad("a time"))? / 1000),
        Kind::MicroTime => json!(debezium::time_micros(text).ok_or_else(|| bad("a time"))?),
        Kind::ZonedTime => {
            let split = text.rfind(['+', '-']).ok_or_else(|| bad("a time with offset"))?;
            let (time, offset) = text.split_at(split);
            let micros = debezium::time_micros(time).ok_or_else(|| bad("a time with offset"))?;
            let offset_secs = offset_seconds(offset).ok_or_else(|| bad("a time with offset"))?;
            let utc = (micros - offset_secs * 1_000_000).rem_euclid(86_400_000_000);
            let t = NaiveTime::from_num_seconds_from_midnight_opt(
                (utc / 1_000_000) as u32,
                (utc % 1_000_000) as u32 * 1000,
            )
            .ok_or_else(|| bad("a time with offset"))?;
            json!(format!("{}{}Z", t.format("%H:%M:%S"), debezium::fraction(t.nanosecond(), None)))
        }
        Kind::Timestamp | Kind::MicroTimestamp => match text {
            "infinity" => json!(in_unit(infinity::TIMESTAMP_MICROS_INFINITY, kind)),
            "-infinity" => json!(in_unit(infinity::TIMESTAMP_MICROS_NEG_INFINITY, kind)),
            _ => debezium::timestamp(timestamp(text).ok_or_else(|| bad("a timestamp"))?, *kind == Kind::MicroTimestamp),
        },
        Kind::ZonedTimestamp(digits) => match text {
            "infinity" | "-infinity" => json!(text),
            _ => debezium::zoned(zoned_timestamp(text).ok_or_else(|| bad("a timestamp with time zone"))?, *digits),
        },
        Kind::MicroDuration => {
            let (months, days, micros) = iso_interval(text).ok_or_else(|| bad("an ISO 8601 interval"))?;
            // Debezium's MicroDuration: a month is 365.25 / 12 days.
            let month_micros = months as f64 * 30.4375 * 86_400_000_000.0;
            json!(month_micros.round() as i64 + days * 86_400_000_000 + micros)
        }
        Kind::Interval => json!(text),
        Kind::Json | Kind::Uuid | Kind::String | Kind::Enum(_) | Kind::EnumSet(_) => json!(text),
        Kind::Bits(_) => {
            if !text.chars().all(|c| c == '0' || c == '1') {
                return Err(bad("a bit string"));
            }
            let mut be = vec![0u8; text.len().div_ceil(8)];
            for (i, c) in text.chars().rev().enumerate() {
                if c == '1' {
                    let byte = be.len() - 1 - i / 8;
                    be[byte] |= 1 << (i % 8);
                }
            }
            debezium::bits(&be)
        }
        Kind::Array(element) => {
            let items = array(text).ok_or_else(|| bad("a one-dimensional array"))?;
            Json::Array(
                items
                    .into_iter()
                    .map(|item| item.map_or(Ok(Json::Null), |t| value(element, &t)))
                    .collect::<Result<_, _>>()?,
            )
        }
    })
}

/// `YYYY-MM-DD`, with ` BC` for years before 1.
fn date(text: &str) -> Option<NaiveDate> {
    let (text, bc) = match text.strip_suffix(" BC") {
        Some(t) => (t, true),
        None => (text, false),
    };
    let d = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    if bc { NaiveDate::from_ymd_opt(1 - d.year_ce().1 as i32, d.month0() + 1, d.day0() + 1) } else { Some(d) }
}

use chrono::Datelike as _;
/// `+HH`, `+HH:MM` or `+HH:MM:SS`.
fn offset_seconds(text: &str) -> Option<i64> {
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let mut total = 0;
    for (i, part) in text[1..].split(':').enumerate() {
        let n: i64 = part.parse().ok()?;
        total += n * [3600, 60, 1].get(i)?;
    }
    Some(sign * total)
}

fn timestamp(text: &str) -> Option<NaiveDateTime> {
    let (text, bc) = match text.strip_suffix(" BC") {
        Some(t) => (t, true),
        None => (text, false),
    };
    let t = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    if bc { date(&format!("{} BC", t.date().format("%Y-%m-%d"))).map(|d| d.and_time(t.time())) } else { Some(t) }
}

fn zoned_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let split = text.rfind(['+', '-'])?;
    let (local, offset) = text.split_at(split);
    let local = timestamp(local)?;
    Some((local - chrono::Duration::seconds(offset_seconds(offset)?)).and_utc())
}

/// PostgreSQL's `iso_8601` interval output: (months, days, microseconds).
fn iso_interval(text: &str) -> Option<(i64, i64, i64)> {
    let body = text.strip_prefix('P')?;
    let (date_part, time_part) = body.split_once('T').unwrap_or((body, ""));
    let (mut months, mut days, mut micros) = (0i64, 0i64, 0i64);
    for (part, in_time) in [(date_part, false), (time_part, true)] {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '-' || c == '.' {
                number.push(c);
                continue;
            }
            let amount = std::mem::take(&mut number);
            match (c, in_time) {
                ('Y', false) => months += amount.parse::<i64>().ok()? * 12,
                ('M', false) => months += amount.parse::<i64>().ok()?,
                ('W', false) => days += amount.parse::<i64>().ok()? * 7,
                ('D', false) => days += amount.parse::<i64>().ok()?,
                ('H', true) => micros += amount.parse::<i64>().ok()? * 3_600_000_000,
                ('M', true) => micros += amount.parse::<i64>().ok()? * 60_000_000,
                ('S', true) => {
                    let negative = amount.starts_with('-');
                    let (whole, fraction) = amount.trim_start_matches('-').split_once('.').unwrap_or((&amount, ""));
                    let whole: i64 = whole.trim_start_matches('-').parse().ok()?;
                    let fraction: i64 =
                        if fraction.is_empty() { 0 } else { format!("{fraction:0<6}")[..6].parse().ok()? };
                    let value = whole * 1_000_000 + fraction;
                    micros += if negative { -value } else { value };
                }
                _ => return None,
            }
        }
        if !number.is_empty() {
            return None;
        }
    }
    Some((months, days, micros))
}

/// A one-dimensional array literal `{a,"b c",NULL}` → its items (`None` for NULL).
fn array(text: &str) -> Option<Vec<Option<String>>> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut items = Vec::new();
    if inner.is_empty() {
        return Some(items);
    }
    let mut chars = inner.chars().peekable();
    loop {
        let mut item = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next()? {
                    '\\' => item.push(chars.next()?),
                    '"' => break,
                    c => item.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '{' {
                    return None; // nested arrays are not supported
                }
                item.push(c);
                chars.next();
            }
        }
        items.push(if !quoted && item == "NULL" { None } else { Some(item) });
        match chars.next() {
            Some(',') => continue,
            None => return Some(items),
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(name: &str, typmod: i32) -> PgType {
        PgType { name: name.into(), typmod, array: false, labels: None }
    }

    #[test]
    fn kinds_follow_the_connector_defaults() {
        assert_eq!(kind(&ty("numeric", -1), IntervalMode::Numeric), Kind::VariableDecimal);
        // numeric(10,2): typmod = (10 << 16 | 2) + 4
        assert_eq!(
            kind(&ty("numeric", (10 << 16 | 2) + 4), IntervalMode::Numeric),
            Kind::Decimal { precision: Some(10), scale: 2 }
        );
        assert_eq!(kind(&ty("timestamp", 3), IntervalMode::Numeric), Kind::Timestamp);
        assert_eq!(kind(&ty("timestamp", -1), IntervalMode::Numeric), Kind::MicroTimestamp);
        assert_eq!(kind(&ty("interval", -1), IntervalMode::String), Kind::Interval);
        let mut ints = ty("int4", -1);
        ints.array = true;
        assert_eq!(kind(&ints, IntervalMode::Numeric), Kind::Array(Box::new(Kind::Int32)));
    }

    #[test]
    fn temporal_text_becomes_debezium_numbers() {
        assert_eq!(value(&Kind::Date, "1970-01-02").unwrap(), json!(1));
        // What Debezium 3.6 sends (dualsync_envelope::infinity).
        assert_eq!(value(&Kind::Date, "infinity").unwrap(), json!(-2_147_472_692));
        assert_eq!(value(&Kind::Timestamp, "infinity").unwrap(), json!(9_223_372_036_825_200i64));
        assert_eq!(value(&Kind::MicroTime, "01:00:00.5").unwrap(), json!(3_600_500_000i64));
        assert_eq!(value(&Kind::MicroTimestamp, "1970-01-01 00:00:01.000001").unwrap(), json!(1_000_001));
        assert_eq!(value(&Kind::MicroTimestamp, "-infinity").unwrap(), json!(-9_223_372_036_832_400_000i64));
        assert_eq!(
            value(&Kind::ZonedTimestamp(None), "2024-01-02 05:04:05.25+02").unwrap(),
            json!("2024-01-02T03:04:05.25Z")
        );
        assert_eq!(value(&Kind::ZonedTime, "12:00:00+05:30").unwrap(), json!("06:30:00Z"));
        assert_eq!(value(&Kind::MicroDuration, "P1DT1.5S").unwrap(), json!(86_401_500_000i64));
        assert_eq!(
            value(&Kind::Date, "0044-03-15 BC").unwrap(),
            debezium::date(NaiveDate::from_ymd_opt(-43, 3, 15).unwrap())
        );
    }

    #[test]
    fn arrays_bits_and_bytes() {
        let kind = Kind::Array(Box::new(Kind::String));
        assert_eq!(value(&kind, r#"{a,"b c",NULL,"q\"x"}"#).unwrap(), json!(["a", "b c", null, "q\"x"]));
        assert_eq!(value(&Kind::Array(Box::new(Kind::Int32)), "{}").unwrap(), json!([]));
        assert!(value(&Kind::Array(Box::new(Kind::Int32)), "{{1},{2}}").is_err());
        // 0b1_0000_0001 = 0x0101, least significant byte first.
        assert_eq!(value(&Kind::Bits(9), "100000001").unwrap(), debezium::bytes(&[0x01, 0x01]));
        assert_eq!(value(&Kind::Bytes, "\\x00ff").unwrap(), debezium::bytes(&[0, 255]));
        assert!(value(&Kind::Int32, "x").unwrap_err().contains("integer"));
    }

    #[test]
    fn money_and_numbers_stay_exact() {
        let money = Kind::Decimal { precision: None, scale: 2 };
        assert_eq!(value(&money, "-$1,234.50").unwrap(), debezium::decimal(&"-1234.50".parse().unwrap(), Some(2)));
        assert_eq!(value(&Kind::Float64, "0.1").unwrap().to_string(), "0.1");
        assert_eq!(value(&Kind::Float64, "NaN").unwrap(), json!("NaN"));
    }
}
