//! JSON values → [`Value`], by their Connect schema (semantic types) or by their JSON type.
//!
//! Semantic types are described in Debezium's connector documentation
//! (<https://debezium.io/documentation/reference/stable/connectors/mysql.html#mysql-data-types>,
//! <https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-data-types>).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::BigInt;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};

use crate::infinity;
use crate::raw::{Fields, Raw};
use crate::schema::{FieldType, Shape};
use crate::settings::{BinaryMode, ConnectorSettings, DecimalMode};
use crate::{DecodeError, Interval, Value};

/// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Converts JSON values of one record; carries the connector settings.
pub(crate) struct Converter<'a> {
    pub(crate) settings: &'a ConnectorSettings,
}

fn invalid(path: &str, message: impl Into<String>) -> DecodeError {
    DecodeError::Value { path: path.to_string(), message: message.into() }
}

pub(crate) fn type_error(path: &str, expected: &str, found: Raw<'_>) -> DecodeError {
    let text = found.text();
    let shown = if text.len() > 60 {
        let cut = (0..=60).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        format!("{}…", &text[..cut])
    } else {
        text.to_string()
    };
    DecodeError::Type {
        path: path.to_string(),
        expected: expected.to_string(),
        found: format!("{} {shown}", found.kind()),
    }
}

fn as_i64(raw: Raw<'_>, path: &str, expected: &str) -> Result<i64, DecodeError> {
    raw.as_i64().ok_or_else(|| type_error(path, expected, raw))
}

fn as_str<'j>(raw: Raw<'j>, path: &str, expected: &str) -> Result<std::borrow::Cow<'j, str>, DecodeError> {
    raw.as_str().ok_or_else(|| type_error(path, expected, raw))
}

impl Converter<'_> {
    /// A value whose type the record's schema (or a hint) gives.
    pub(crate) fn typed(&self, json: Raw<'_>, ty: &FieldType, path: &str) -> Result<Value, DecodeError> {
        if json.is_null() {
            return Ok(Value::Null);
        }
        if let Some(name) = ty.name.as_deref()
            && let Some(value) = self.semantic(name, json, ty, path)?
        {
            return Ok(value);
        }
        self.by_shape(json, ty, path)
    }

    /// Decodes a value by its semantic type name; `None` for a name this decoder does not know,
    /// which then decodes by its shape (losing nothing, but without the meaning).
    fn semantic(&self, name: &str, json: Raw<'_>, ty: &FieldType, path: &str) -> Result<Option<Value>, DecodeError> {
        let value = match name {
            "org.apache.kafka.connect.data.Decimal" => self.decimal(json, ty, path)?,
            // Text or a number where a target's NUMERIC said VariableScaleDecimal: the connector
            // has decimal.handling.mode=string or double.
            "io.debezium.data.VariableScaleDecimal" if json.get("scale").is_none() => self.decimal(json, ty, path)?,
            "io.debezium.data.VariableScaleDecimal" => {
                // A struct {scale: int32, value: bytes} for NUMERIC without a declared scale.
                let scale = json.get("scale").ok_or_else(|| invalid(path, "VariableScaleDecimal has no `scale`"))?;
                let scale = as_i64(scale, &format!("{path}.scale"), "int32")?;
                let bytes = json.get("value").ok_or_else(|| invalid(path, "VariableScaleDecimal has no `value`"))?;
                let bytes =
                    self.base64(&as_str(bytes, &format!("{path}.value"), "base64 bytes")?, &format!("{path}.value"))?;
                Value::Decimal(BigDecimal::new(BigInt::from_signed_bytes_be(&bytes), scale))
            }
            "io.debezium.time.Date" | "org.apache.kafka.connect.data.Date" => {
                let days = as_i64(json, path, "int32 days since 1970-01-01")?;
                date(days, path)?
            }
            "io.debezium.time.Time" | "org.apache.kafka.connect.data.Time" => {
                Value::Time(scaled(as_i64(json, path, "int32 milliseconds")?, 1_000_000, path)?)
            }
            "io.debezium.time.MicroTime" => {
                Value::Time(scaled(as_i64(json, path, "int64 microseconds")?, 1_000, path)?)
            }
            "io.debezium.time.NanoTime" => Value::Time(as_i64(json, path, "int64 nanoseconds")?),
            "io.debezium.time.Timestamp" | "org.apache.kafka.connect.data.Timestamp" => {
                timestamp(as_i64(json, path, "int64 milliseconds since the epoch")?, 1_000_000, path)?
            }
            "io.debezium.time.MicroTimestamp" => {
                timestamp(as_i64(json, path, "int64 microseconds since the epoch")?, 1_000, path)?
            }
            "io.debezium.time.NanoTimestamp" => {
                timestamp(as_i64(json, path, "int64 nanoseconds since the epoch")?, 1, path)?
            }
            "io.debezium.time.ZonedTimestamp" => zoned_timestamp(&as_str(json, path, "an ISO 8601 timestamp")?, path)?,
            "io.debezium.time.ZonedTime" => zoned_time(&as_str(json, path, "an ISO 8601 time with offset")?, path)?,
            "io.debezium.time.Year" => Value::Int(as_i64(json, path, "int32 year")?),
            // A string where the target's column type said MicroDuration: the connector has
            // interval.handling.mode=string (exact; what debezium/revamp-postgres.json sets).
            "io.debezium.time.MicroDuration" if json.as_str().is_some() => {
                iso_interval(&as_str(json, path, "an ISO 8601 duration")?, path)?
            }
            "io.debezium.time.MicroDuration" => {
                Value::Interval(Interval { micros: as_i64(json, path, "int64 microseconds")?, ..Interval::default() })
            }
            "io.debezium.time.Interval" => iso_interval(&as_str(json, path, "an ISO 8601 duration")?, path)?,
            "io.debezium.data.Json" => self.text_or_unavailable(json, path, Value::Json)?,
            "io.debezium.data.Uuid" => {
                let text = as_str(json, path, "a UUID string")?;
                if text == self.settings.unavailable_value_placeholder {
                    Value::Unavailable
                } else {
                    Value::Uuid(uuid::Uuid::parse_str(&text).map_err(|e| invalid(path, format!("not a UUID: {e}")))?)
                }
            }
            "io.debezium.data.Enum" => self.text_or_unavailable(json, path, Value::Enum)?,
            "io.debezium.data.EnumSet" => self.text_or_unavailable(json, path, |text| {
                Value::Set(if text.is_empty() { Vec::new() } else { text.split(',').map(str::to_owned).collect() })
            })?,
            "io.debezium.data.Xml" | "io.debezium.data.Ltree" => self.text_or_unavailable(json, path, Value::Text)?,
            "io.debezium.data.Bits" => {
                let bytes = self.bytes(json, path)?;
                let length = match ty.parameter("length") {
                    Some(l) => l.parse().map_err(|_| invalid(path, format!("Bits length {l:?} is not a number")))?,
                    None => u32::try_from(bytes.len() * 8).map_err(|_| invalid(path, "bit string too long"))?,
                };
                Value::Bits { bytes, length }
            }
            "io.debezium.data.geometry.Geometry"
            | "io.debezium.data.geometry.Geography"
            | "io.debezium.data.geometry.Point" => self.geometry(json, path)?,
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    fn by_shape(&self, json: Raw<'_>, ty: &FieldType, path: &str) -> Result<Value, DecodeError> {
        let int = |min: i64, max: i64| match json.as_i64() {
            Some(i) if (min..=max).contains(&i) => Ok(Value::Int(i)),
            _ => Err(type_error(path, &ty.describe(), json)),
        };
        match &ty.shape {
            Shape::Int8 => int(i8::MIN.into(), i8::MAX.into()),
            Shape::Int16 => int(i16::MIN.into(), i16::MAX.into()),
            Shape::Int32 => int(i32::MIN.into(), i32::MAX.into()),
            // `dualsync.Unsigned` marks a BIGINT UNSIGNED sent with bigint.unsigned.handling.mode=long:
            // the connector wrote the value as a Java long, so values above i64::MAX arrive
            // wrapped to negative numbers; reinterpreting the bits restores them.
            Shape::Int64 if ty.name.as_deref() == Some("dualsync.Unsigned") => match json.as_i64() {
                Some(i) if i < 0 => Ok(Value::UInt(i as u64)),
                Some(i) => Ok(Value::Int(i)),
                None => json.as_u64().map(Value::UInt).ok_or_else(|| type_error(path, "int64", json)),
            },
            Shape::Int64 => int(i64::MIN, i64::MAX),
            Shape::Float32 | Shape::Float64 => {
                if let Some(x) = json.as_f64() {
                    return Ok(Value::Float(x));
                }
                // Java's JSON writers spell the non-finite doubles as strings.
                match json.as_str().as_deref() {
                    Some("NaN") => Ok(Value::Float(f64::NAN)),
                    Some("Infinity") => Ok(Value::Float(f64::INFINITY)),
                    Some("-Infinity") => Ok(Value::Float(f64::NEG_INFINITY)),
                    _ => Err(type_error(path, &ty.describe(), json)),
                }
            }
            Shape::Boolean => match (json.as_bool(), json.number()) {
                (Some(b), _) => Ok(Value::Bool(b)),
                // MySQL TINYINT(1) columns are sent as integers 0/1; a boolean hint reads them.
                (None, Some("0")) => Ok(Value::Bool(false)),
                (None, Some("1")) => Ok(Value::Bool(true)),
                _ => Err(type_error(path, "boolean", json)),
            },
            Shape::String => match json.as_str() {
                Some(s) if s == self.settings.unavailable_value_placeholder => Ok(Value::Unavailable),
                Some(s) => Ok(Value::Text(s.into_owned())),
                None => Err(type_error(path, "string", json)),
            },
            Shape::Bytes => {
                let bytes = self.bytes(json, path)?;
                Ok(if bytes == self.settings.unavailable_value_placeholder.as_bytes() {
                    Value::Unavailable
                } else {
                    Value::Bytes(bytes)
                })
            }
            Shape::Array(items) => {
                let elements = json.array().ok_or_else(|| type_error(path, "array", json))?;
                let values = elements
                    .into_iter()
                    .enumerate()
                    .map(|(i, e)| self.typed(e, items, &format!("{path}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                // An unchanged TOASTed array arrives as an array holding the placeholder.
                Ok(if values.len() == 1 && values[0] == Value::Unavailable {
                    Value::Unavailable
                } else {
                    Value::Array(values)
                })
            }
            Shape::Map(_, values) => {
                let entries = json.object().ok_or_else(|| type_error(path, "object (map)", json))?;
                let mut map = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let value = self.typed(v, values, &format!("{path}.{k}"))?;
                    map.push((k.into_owned(), value));
                }
                if map.iter().any(|(k, _)| *k == self.settings.unavailable_value_placeholder) {
                    return Ok(Value::Unavailable);
                }
                Ok(Value::Map(map))
            }
            Shape::Struct(_) => {
                let entries = json.object().ok_or_else(|| type_error(path, "object (struct)", json))?;
                self.fields(entries, Some(ty), None, path).map(Value::Struct)
            }
        }
    }

    /// Decodes the fields of a struct or row: each by the struct's schema, else by a hint, else by
    /// its JSON type. A hint wins over a schema type that has no semantic name.
    pub(crate) fn fields(
        &self,
        entries: Fields<'_>,
        schema: Option<&FieldType>,
        hints: Option<&std::collections::HashMap<String, FieldType>>,
        path: &str,
    ) -> Result<Vec<(String, Value)>, DecodeError> {
        let mut fields = Vec::with_capacity(entries.len());
        for (name, json) in entries {
            let from_schema = schema.and_then(|s| s.field(&name));
            let hint = hints.and_then(|h| h.get(name.as_ref()));
            let value = match (from_schema, hint) {
                (Some(s), Some(h)) if s.name.is_none() => self.typed(json, h, &format!("{path}.{name}"))?,
                (Some(s), _) => self.typed(json, s, &format!("{path}.{name}"))?,
                (None, Some(h)) => self.typed(json, h, &format!("{path}.{name}"))?,
                (None, None) => self.untyped(json, path, &name),
            };
            fields.push((name.into_owned(), value));
        }
        Ok(fields)
    }

    /// A value without a schema or hint: its type is its JSON type. Integers stay integers
    /// (unsigned above `i64::MAX`, exact decimals beyond 64 bits), numbers with a fraction or
    /// exponent are doubles, objects are JSON documents (their text as sent).
    pub(crate) fn untyped(&self, json: Raw<'_>, path: &str, name: &str) -> Value {
        if json.is_null() {
            return Value::Null;
        }
        if let Some(b) = json.as_bool() {
            return Value::Bool(b);
        }
        if let Some(text) = json.number() {
            return if let Ok(i) = text.parse::<i64>() {
                Value::Int(i)
            } else if let Ok(u) = text.parse::<u64>() {
                Value::UInt(u)
            } else if text.contains(['.', 'e', 'E']) {
                text.parse().map_or_else(|_| Value::Text(text.to_string()), Value::Float)
            } else {
                text.parse::<BigDecimal>().map_or_else(|_| Value::Text(text.to_string()), Value::Decimal)
            };
        }
        if let Some(s) = json.as_str() {
            return if s == self.settings.unavailable_value_placeholder {
                Value::Unavailable
            } else {
                Value::Text(s.into_owned())
            };
        }
        if let Some(items) = json.array() {
            let path = format!("{path}.{name}");
            return Value::Array(
                items.into_iter().enumerate().map(|(i, item)| self.untyped(item, &path, &i.to_string())).collect(),
            );
        }
        Value::Json(json.text().to_string())
    }

    /// `org.apache.kafka.connect.data.Decimal`: the unscaled value as big-endian two's-complement
    /// bytes (base64 in JSON) with the `scale` parameter; or, under decimal.handling.mode=string
    /// or =double (or the JSON converter's `decimal.format=NUMERIC`), the number itself.
    fn decimal(&self, json: Raw<'_>, ty: &FieldType, path: &str) -> Result<Value, DecodeError> {
        if let Some(number) = json.number() {
            return exact(number, path);
        }
        let Some(text) = json.as_str() else {
            return Err(type_error(path, "Decimal (base64 bytes or a number)", json));
        };
        if self.settings.decimal_handling_mode == DecimalMode::String {
            return exact(&text, path);
        }
        let scale: i64 = match ty.parameter("scale") {
            Some(scale) => {
                scale.parse().map_err(|_| invalid(path, format!("Decimal scale {scale:?} is not an integer")))?
            }
            None => return Err(invalid(path, "Decimal schema has no `scale` parameter")),
        };
        let bytes = STANDARD.decode(text.as_bytes()).map_err(|e| {
            invalid(
                path,
                format!(
                    "Decimal bytes are not valid base64 ({e}); if the connector sets \
                     decimal.handling.mode=string, declare that setting to dualsync"
                ),
            )
        })?;
        Ok(Value::Decimal(BigDecimal::new(BigInt::from_signed_bytes_be(&bytes), scale)))
    }

    fn text_or_unavailable(
        &self,
        json: Raw<'_>,
        path: &str,
        make: impl FnOnce(String) -> Value,
    ) -> Result<Value, DecodeError> {
        let text = as_str(json, path, "string")?;
        Ok(if text == self.settings.unavailable_value_placeholder {
            Value::Unavailable
        } else {
            make(text.into_owned())
        })
    }

    /// Binary as the JSON converter and `binary.handling.mode` write it.
    fn bytes(&self, json: Raw<'_>, path: &str) -> Result<Vec<u8>, DecodeError> {
        let text = as_str(json, path, "a binary string")?;
        match self.settings.binary_handling_mode {
            BinaryMode::Bytes | BinaryMode::Base64 => self.base64(&text, path),
            BinaryMode::Base64UrlSafe => {
                URL_SAFE.decode(text.as_bytes()).or_else(|_| URL_SAFE_NO_PAD.decode(text.as_bytes())).map_err(|e| {
                    invalid(path, format!("bytes are not valid URL-safe base64 ({e}); check binary.handling.mode"))
                })
            }
            BinaryMode::Hex => hex::decode(text.as_bytes())
                .map_err(|e| invalid(path, format!("bytes are not valid hex ({e}); check binary.handling.mode"))),
        }
    }

    fn base64(&self, text: &str, path: &str) -> Result<Vec<u8>, DecodeError> {
        STANDARD
            .decode(text)
            .map_err(|e| invalid(path, format!("bytes are not valid base64 ({e}); check binary.handling.mode")))
    }

    /// Geometry/Geography: {wkb: bytes, srid: int32}; Point: {x, y, wkb, srid}.
    fn geometry(&self, json: Raw<'_>, path: &str) -> Result<Value, DecodeError> {
        let fields = json.object().ok_or_else(|| type_error(path, "object (geometry)", json))?;
        let get = |key: &str| fields.iter().find(|(k, v)| k == key && !v.is_null()).map(|(_, v)| *v);
        let srid = match get("srid") {
            None => None,
            Some(s) => Some(
                s.as_i64()
                    .and_then(|s| i32::try_from(s).ok())
                    .ok_or_else(|| type_error(&format!("{path}.srid"), "int32", s))?,
            ),
        };
        let wkb = match get("wkb") {
            Some(w) => self.base64(&as_str(w, &format!("{path}.wkb"), "base64 bytes")?, &format!("{path}.wkb"))?,
            None => {
                // A Point without wkb: write the well-known binary of POINT(x y) ourselves.
                let coordinate = |axis: &str| {
                    get(axis)
                        .and_then(Raw::as_f64)
                        .ok_or_else(|| invalid(path, format!("geometry has neither `wkb` nor `{axis}`")))
                };
                let (x, y) = (coordinate("x")?, coordinate("y")?);
                let mut wkb = vec![1, 1, 0, 0, 0];
                wkb.extend_from_slice(&x.to_le_bytes());
                wkb.extend_from_slice(&y.to_le_bytes());
                wkb
            }
        };
        Ok(Value::Geometry { wkb, srid })
    }
}

fn exact(text: &str, path: &str) -> Result<Value, DecodeError> {
    text.parse::<BigDecimal>()
        .map(Value::Decimal)
        .map_err(|_| invalid(path, format!("{text:?} is not a decimal number")))
}

fn scaled(value: i64, factor: i64, path: &str) -> Result<i64, DecodeError> {
    value.checked_mul(factor).ok_or_else(|| invalid(path, format!("time {value} is out of range")))
}

/// Days since 1970-01-01. PostgreSQL's `±infinity` dates arrive as Debezium's wrapped values or
/// as the int32 extremes (dualsync's capture before it wrote Debezium's values).
fn date(days: i64, path: &str) -> Result<Value, DecodeError> {
    match days {
        d if d == i64::from(infinity::DATE_INFINITY) => return Ok(Value::Infinity { negative: false }),
        d if d == i64::from(infinity::DATE_NEG_INFINITY) => return Ok(Value::Infinity { negative: true }),
        d if d == i64::from(i32::MAX) || d == i64::from(i32::MIN) => return Ok(Value::Infinity { negative: d < 0 }),
        _ => {}
    }
    i32::try_from(days)
        .ok()
        .and_then(|d| d.checked_add(UNIX_EPOCH_DAYS_FROM_CE))
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .map(Value::Date)
        .ok_or_else(|| invalid(path, format!("date {days} days from 1970-01-01 is out of range")))
}

/// A timestamp without zone, `value` units of `nanos_per_unit` nanoseconds since the epoch.
/// PostgreSQL's `±infinity` arrive as the int64 extremes
/// (<https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-temporal-types>).
fn timestamp(value: i64, nanos_per_unit: i64, path: &str) -> Result<Value, DecodeError> {
    if value == i64::MAX || value == i64::MIN {
        return Ok(Value::Infinity { negative: value < 0 });
    }
    // What Debezium's PostgreSQL connector sends, in microseconds or milliseconds.
    let micros = i128::from(value) * i128::from(nanos_per_unit) / 1000;
    if micros == i128::from(infinity::TIMESTAMP_MICROS_INFINITY) {
        return Ok(Value::Infinity { negative: false });
    }
    if micros == i128::from(infinity::TIMESTAMP_MICROS_NEG_INFINITY) {
        return Ok(Value::Infinity { negative: true });
    }
    let secs = value.div_euclid(1_000_000_000 / nanos_per_unit);
    let nanos = value.rem_euclid(1_000_000_000 / nanos_per_unit) * nanos_per_unit;
    DateTime::from_timestamp(secs, nanos as u32)
        .map(|t| Value::Timestamp(t.naive_utc()))
        .ok_or_else(|| invalid(path, format!("timestamp {value} is out of range")))
}

fn zoned_timestamp(text: &str, path: &str) -> Result<Value, DecodeError> {
    match text {
        "infinity" => return Ok(Value::Infinity { negative: false }),
        "-infinity" => return Ok(Value::Infinity { negative: true }),
        _ => {}
    }
    DateTime::parse_from_rfc3339(text)
        .map(Value::TimestampTz)
        .map_err(|e| invalid(path, format!("{text:?} is not an ISO 8601 timestamp with offset ({e})")))
}

/// `HH:MM:SS[.fraction](Z|±HH:MM)`.
fn zoned_time(text: &str, path: &str) -> Result<Value, DecodeError> {
    let bad = || invalid(path, format!("{text:?} is not an ISO 8601 time with offset"));
    let (time, offset) = if let Some(time) = text.strip_suffix('Z') {
        (time, FixedOffset::east_opt(0).ok_or_else(bad)?)
    } else {
        let split = text.rfind(['+', '-']).ok_or_else(bad)?;
        let (time, offset) = text.split_at(split);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = offset[1..].split_once(':').unwrap_or((&offset[1..], "0"));
        let seconds = hours.parse::<i32>().map_err(|_| bad())? * 3600 + minutes.parse::<i32>().map_err(|_| bad())? * 60;
        (time, FixedOffset::east_opt(sign * seconds).ok_or_else(bad)?)
    };
    let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f").map_err(|_| bad())?;
    Ok(Value::TimeTz(time, offset))
}

/// ISO 8601 durations as Debezium writes PostgreSQL intervals (`interval.handling.mode=string`):
/// `P1Y2M3DT4H5M6.78S`, each component optionally negative.
fn iso_interval(text: &str, path: &str) -> Result<Value, DecodeError> {
    let bad = |why: &str| invalid(path, format!("{text:?} is not an ISO 8601 duration: {why}"));
    let body = text.strip_prefix('P').ok_or_else(|| bad("it does not start with P"))?;
    let (date_part, time_part) = body.split_once('T').unwrap_or((body, ""));
    let mut interval = Interval::default();
    for (part, in_time) in [(date_part, false), (time_part, true)] {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '-' || c == '.' || c == ',' {
                number.push(if c == ',' { '.' } else { c });
                continue;
            }
            let amount = std::mem::take(&mut number);
            let whole = || amount.parse::<i64>().map_err(|_| bad("a component is not a whole number"));
            let overflow = || bad("a component is too large");
            match (c, in_time) {
                ('Y', false) => {
                    interval.months =
                        whole()?.checked_mul(12).and_then(|m| m.checked_add(interval.months)).ok_or_else(overflow)?
                }
                ('M', false) => interval.months = interval.months.checked_add(whole()?).ok_or_else(overflow)?,
                ('W', false) => {
                    interval.days =
                        whole()?.checked_mul(7).and_then(|d| d.checked_add(interval.days)).ok_or_else(overflow)?
                }
                ('D', false) => interval.days = interval.days.checked_add(whole()?).ok_or_else(overflow)?,
                ('H', true) => {
                    interval.micros = whole()?
                        .checked_mul(3_600_000_000)
                        .and_then(|m| m.checked_add(interval.micros))
                        .ok_or_else(overflow)?
                }
                ('M', true) => {
                    interval.micros = whole()?
                        .checked_mul(60_000_000)
                        .and_then(|m| m.checked_add(interval.micros))
                        .ok_or_else(overflow)?
                }
                ('S', true) => {
                    let seconds: BigDecimal = amount.parse().map_err(|_| bad("seconds are not a number"))?;
                    let micros = (seconds * BigDecimal::from(1_000_000)).with_scale(0);
                    let micros: i64 = micros.to_string().parse().map_err(|_| overflow())?;
                    interval.micros = interval.micros.checked_add(micros).ok_or_else(overflow)?;
                }
                _ => return Err(bad(&format!("unexpected designator {c:?}"))),
            }
        }
        if !number.is_empty() {
            return Err(bad("a number has no designator"));
        }
    }
    Ok(Value::Interval(interval))
}
