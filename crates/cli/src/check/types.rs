//! SQL column types reduced to what matters for syncing: the kind of value and its range.

use dualsync_writer::{ColumnInfo, Dialect, TableInfo};

/// What a column holds, as far as moving values between databases is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A true boolean (PostgreSQL `boolean`, MySQL `BIT(1)`).
    Bool,
    /// An integer of `bytes` bytes.
    Int { bytes: u8, unsigned: bool },
    /// An exact decimal; `precision` 1000 means unbounded.
    Decimal { precision: u32, scale: u32 },
    /// A float of `bytes` bytes.
    Float { bytes: u8 },
    /// Text of at most `max` characters (`None`: unbounded for our purposes).
    Text { max: Option<u64> },
    /// An enumerated type.
    Enum,
    /// A MySQL SET.
    Set,
    /// JSON.
    Json,
    /// A UUID type.
    Uuid,
    /// Binary of at most `max` bytes.
    Binary { max: Option<u64> },
    /// A date.
    Date,
    /// A time of day with `frac` fractional digits.
    Time { frac: u32 },
    /// A timestamp with `frac` fractional digits; `zoned` for instants (timestamptz, MySQL TIMESTAMP).
    Timestamp { frac: u32, zoned: bool },
    /// MySQL YEAR.
    Year,
    /// PostgreSQL interval.
    Interval,
    /// A PostgreSQL array.
    Array,
    /// Anything else, by its type name.
    Other(String),
}

fn number_in_parens(sql_type: &str, index: usize) -> Option<u64> {
    let inner = sql_type.split_once('(')?.1.split(')').next()?;
    inner.split(',').nth(index)?.trim().parse().ok()
}

/// The kind of a live column.
pub fn kind(table: &TableInfo, column: &ColumnInfo) -> Kind {
    let t = column.sql_type.as_str();
    let base = t.split(['(', ' ']).next().unwrap_or_default();
    let n = |i| number_in_parens(t, i);
    let unsigned = t.contains("unsigned");
    match table.dialect {
        Dialect::Postgres => {
            if t.ends_with("[]") {
                return Kind::Array;
            }
            if !column.enum_values.is_empty() {
                return Kind::Enum;
            }
            match base {
                "boolean" => Kind::Bool,
                "smallint" => Kind::Int { bytes: 2, unsigned: false },
                "integer" => Kind::Int { bytes: 4, unsigned: false },
                "bigint" => Kind::Int { bytes: 8, unsigned: false },
                "numeric" => match (n(0), n(1)) {
                    (Some(p), s) => Kind::Decimal { precision: p as u32, scale: s.unwrap_or(0) as u32 },
                    (None, _) => Kind::Decimal { precision: 1000, scale: 1000 },
                },
                "money" => Kind::Decimal { precision: 19, scale: 2 },
                "real" => Kind::Float { bytes: 4 },
                "double" => Kind::Float { bytes: 8 },
                "character" | "char" | "varchar" => Kind::Text { max: n(0) },
                "text" | "citext" | "xml" | "ltree" => Kind::Text { max: None },
                "json" | "jsonb" => Kind::Json,
                "uuid" => Kind::Uuid,
                "bytea" => Kind::Binary { max: None },
                "date" => Kind::Date,
                "time" => Kind::Time { frac: n(0).unwrap_or(6) as u32 },
                "timestamp" => Kind::Timestamp { frac: n(0).unwrap_or(6) as u32, zoned: t.contains("with time zone") },
                "interval" => Kind::Interval,
                other => Kind::Other(other.to_string()),
            }
        }
        Dialect::MySql => match base {
            "bit" if n(0) == Some(1) => Kind::Bool,
            "bit" => Kind::Binary { max: n(0).map(|bits| bits.div_ceil(8)) },
            "tinyint" => Kind::Int { bytes: 1, unsigned },
            "smallint" => Kind::Int { bytes: 2, unsigned },
            "mediumint" => Kind::Int { bytes: 3, unsigned },
            "int" | "integer" => Kind::Int { bytes: 4, unsigned },
            "bigint" => Kind::Int { bytes: 8, unsigned },
            "decimal" | "numeric" => {
                Kind::Decimal { precision: n(0).unwrap_or(10) as u32, scale: n(1).unwrap_or(0) as u32 }
            }
            "float" => Kind::Float { bytes: 4 },
            "double" | "real" => Kind::Float { bytes: 8 },
            "char" | "varchar" => Kind::Text { max: n(0) },
            // MariaDB's JSON is LONGTEXT with a json_valid CHECK.
            "longtext"
                if table.checks.iter().any(|c| {
                    c.to_ascii_lowercase().contains(&format!("json_valid(`{}`)", column.name.to_ascii_lowercase()))
                }) =>
            {
                Kind::Json
            }
            "tinytext" => Kind::Text { max: Some(255) },
            "text" => Kind::Text { max: Some(65_535) },
            "mediumtext" => Kind::Text { max: Some(16_777_215) },
            "longtext" => Kind::Text { max: None },
            "json" => Kind::Json,
            "enum" => Kind::Enum,
            "set" => Kind::Set,
            "binary" | "varbinary" => Kind::Binary { max: n(0) },
            "tinyblob" => Kind::Binary { max: Some(255) },
            "blob" => Kind::Binary { max: Some(65_535) },
            "mediumblob" => Kind::Binary { max: Some(16_777_215) },
            "longblob" => Kind::Binary { max: None },
            "uuid" => Kind::Uuid,
            "date" => Kind::Date,
            "time" => Kind::Time { frac: n(0).unwrap_or(0) as u32 },
            "datetime" => Kind::Timestamp { frac: n(0).unwrap_or(0) as u32, zoned: false },
            "timestamp" => Kind::Timestamp { frac: n(0).unwrap_or(0) as u32, zoned: true },
            "year" => Kind::Year,
            other => Kind::Other(other.to_string()),
        },
    }
}

/// Decimal digits an integer of `bytes` bytes can need.
fn int_digits(bytes: u8, unsigned: bool) -> u32 {
    match (bytes, unsigned) {
        (1, _) => 3,
        (2, _) => 5,
        (3, _) => 8,
        (4, _) => 10,
        (_, false) => 19,
        (_, true) => 20,
    }
}

/// How values of kind `from` fare in a column of kind `to`.
#[derive(Debug, PartialEq)]
pub enum Fit {
    /// Every value fits.
    Fits,
    /// Some values can be cut, rounded or refused: the reason.
    Lossy(String),
    /// The values are of another kind: a `convert` entry is needed.
    Incompatible(&'static str),
}

/// How values of kind `from` fare in a column of kind `to`.
pub fn fit(from: &Kind, to: &Kind) -> Fit {
    use Kind::*;
    let lossy = |why: &str| Fit::Lossy(why.to_string());
    match (from, to) {
        (Bool, Bool)
        | (Enum, Enum)
        | (Set, Set)
        | (Json, Json)
        | (Uuid, Uuid)
        | (Date, Date)
        | (Year, Year)
        | (Interval, Interval)
        | (Array, Array) => Fit::Fits,
        (Int { bytes: a, unsigned: ua }, Int { bytes: b, unsigned: ub }) => {
            if (ua == ub && b >= a) || (*ua && !ub && b > a) {
                Fit::Fits
            } else {
                lossy("the integer range is smaller")
            }
        }
        (Int { bytes, unsigned }, Decimal { precision, scale }) => {
            if precision.saturating_sub(*scale) >= int_digits(*bytes, *unsigned) {
                Fit::Fits
            } else {
                lossy("the decimal has fewer integer digits")
            }
        }
        (Decimal { precision: p1, scale: s1 }, Decimal { precision: p2, scale: s2 }) => {
            if p2.saturating_sub(*s2) >= p1.saturating_sub(*s1) && s2 >= s1 {
                Fit::Fits
            } else {
                lossy("the decimal has fewer digits")
            }
        }
        (Decimal { scale: 0, precision }, Int { bytes, unsigned })
            if *precision <= int_digits(*bytes, *unsigned).saturating_sub(1) =>
        {
            Fit::Fits
        }
        (Decimal { .. }, Int { .. }) => lossy("decimals are cut to integers"),
        (Int { bytes, .. }, Float { bytes: f }) => {
            if *f == 8 && *bytes <= 4 || *f == 4 && *bytes <= 2 {
                Fit::Fits
            } else {
                lossy("large integers round in a float")
            }
        }
        (Decimal { .. }, Float { .. }) | (Float { .. }, Decimal { .. }) | (Float { .. }, Int { .. }) => {
            lossy("values round between float and exact types")
        }
        (Float { bytes: a }, Float { bytes: b }) => {
            if b >= a {
                Fit::Fits
            } else {
                lossy("double precision rounds to single")
            }
        }
        (Text { max: a }, Text { max: b }) | (Binary { max: a }, Binary { max: b }) => match (a, b) {
            (_, None) => Fit::Fits,
            (Some(a), Some(b)) if b >= a => Fit::Fits,
            _ => lossy("the target is shorter"),
        },
        (Enum | Uuid | Json | Set, Text { max: None }) => Fit::Fits,
        (Uuid, Text { max: Some(n) }) if *n >= 36 => Fit::Fits,
        (Enum | Set | Json | Uuid, Text { .. }) => lossy("the target text may be too short"),
        (Text { .. }, Enum) => lossy("text outside the enum's values is refused"),
        (Text { .. }, Json) => lossy("text that is not JSON is refused"),
        (Text { .. }, Uuid) => lossy("text that is not a UUID is refused"),
        (Date, Timestamp { .. }) => Fit::Fits,
        (Timestamp { .. }, Date) => lossy("the time of day is dropped"),
        (Time { frac: a }, Time { frac: b }) => {
            if b >= a {
                Fit::Fits
            } else {
                lossy("fractional seconds are cut")
            }
        }
        (Timestamp { zoned: za, .. }, Timestamp { zoned: zb, .. }) if za != zb => Fit::Incompatible(
            "one side stores instants, the other wall-clock times; declare `convert: {legacy: timestamp|timestamptz, revamp: …}` and the sides' time zones",
        ),
        (Timestamp { frac: a, .. }, Timestamp { frac: b, .. }) => {
            if b >= a {
                Fit::Fits
            } else {
                lossy("fractional seconds are cut")
            }
        }
        (Year, Int { bytes, .. }) if *bytes >= 2 => Fit::Fits,
        (Int { .. }, Year) => lossy("only years 1901 to 2155 fit"),
        (Int { bytes: 1, .. }, Bool) | (Bool, Int { .. }) => Fit::Incompatible(
            "booleans are 0/1 integers on one side; declare `convert: {legacy: int-bool, revamp: bool}` (or the reverse)",
        ),
        (Binary { .. }, Uuid) | (Uuid, Binary { .. }) => {
            Fit::Incompatible("UUIDs are bytes on one side; declare `convert` with `uuid-binary` and `uuid`")
        }
        (Set, Array) | (Array, Set) => {
            Fit::Incompatible("a SET is an array on the other side; declare `convert` with `set` and `array`")
        }
        _ => Fit::Incompatible(
            "the types hold different kinds of values; declare a `convert` entry or map the column elsewhere",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits() {
        let int = |bytes, unsigned| Kind::Int { bytes, unsigned };
        assert_eq!(fit(&int(4, false), &int(8, false)), Fit::Fits);
        assert_eq!(fit(&int(4, true), &int(8, false)), Fit::Fits);
        assert!(matches!(fit(&int(8, true), &int(8, false)), Fit::Lossy(_)));
        assert_eq!(fit(&int(8, true), &Kind::Decimal { precision: 20, scale: 0 }), Fit::Fits);
        assert!(matches!(
            fit(&Kind::Decimal { precision: 20, scale: 6 }, &Kind::Decimal { precision: 10, scale: 2 }),
            Fit::Lossy(_)
        ));
        assert_eq!(fit(&Kind::Text { max: Some(50) }, &Kind::Text { max: None }), Fit::Fits);
        assert!(matches!(fit(&Kind::Text { max: None }, &Kind::Text { max: Some(255) }), Fit::Lossy(_)));
        assert!(matches!(
            fit(&Kind::Timestamp { frac: 6, zoned: false }, &Kind::Timestamp { frac: 6, zoned: true }),
            Fit::Incompatible(_)
        ));
        assert!(matches!(fit(&int(1, false), &Kind::Bool), Fit::Incompatible(_)));
    }
}
