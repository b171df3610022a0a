//! The mapping file as written: the YAML schema operators edit. [`crate::Mapping`] is its
//! validated form. `docs/mapping.schema.json` is generated from these types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// A mapping file: how legacy tables correspond to revamp tables, for both directions.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingSpec {
    /// The format version; this build reads `1`.
    pub version: u32,
    /// Settings of each side.
    #[serde(default)]
    pub sides: SidesSpec,
    /// The table pairs.
    pub tables: Vec<TableSpec>,
}

/// Settings of the legacy and the revamp side.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SidesSpec {
    /// The legacy side.
    #[serde(default)]
    pub legacy: SideSpec,
    /// The revamp side.
    #[serde(default)]
    pub revamp: SideSpec,
}

/// Settings of one side.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SideSpec {
    /// The time zone in which this side's timestamps without zone (MySQL `DATETIME`, PostgreSQL
    /// `timestamp`) are written: an IANA name such as `Europe/Berlin`, or `UTC` (the default).
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// One legacy table and its revamp counterpart. Column names are legacy names unless the key says
/// otherwise; a column listed nowhere keeps its name on both sides.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// The legacy table: `database.table` (MySQL) or `schema.table` (PostgreSQL), or `table`.
    pub legacy: String,
    /// The revamp table, likewise.
    pub revamp: String,
    /// Key columns (legacy names) that identify a row on both sides; a primary key or unique key
    /// on both. Default: the target table's primary key.
    #[serde(default)]
    pub key: Vec<String>,
    /// Renamed columns: `legacy_column: revamp_column`.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Columns (legacy names) that exist on both sides but are never synced.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Value maps: `legacy_column: {legacy value: revamp value}`, inverted for the other
    /// direction. A map whose inverse is ambiguous needs `reverse_values`.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// Explicit reverse value maps: `legacy_column: {revamp value: legacy value}`.
    #[serde(default)]
    pub reverse_values: BTreeMap<String, BTreeMap<String, String>>,
    /// Type conversions: `legacy_column: {legacy: representation, revamp: representation}`.
    #[serde(default)]
    pub convert: BTreeMap<String, ConversionSpec>,
    /// Columns (legacy names) whose conversion may lose data, declared as accepted.
    #[serde(default)]
    pub lossy: Vec<String>,
    /// Columns that exist only on the legacy side, with the value written there.
    #[serde(default)]
    pub legacy_only: BTreeMap<String, OneSideSpec>,
    /// Columns that exist only on the revamp side, with the value written there.
    #[serde(default)]
    pub revamp_only: BTreeMap<String, OneSideSpec>,
    /// Rows to sync, per direction.
    #[serde(default)]
    pub filter: FilterSpec,
    /// Loop prevention, conflict resolution and delete handling.
    #[serde(default)]
    pub sync: SyncSpec,
}

/// How a column's values are represented on each side.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversionSpec {
    /// The legacy side's representation.
    pub legacy: Representation,
    /// The revamp side's representation.
    pub revamp: Representation,
}

/// A value representation a conversion produces on the side it writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Representation {
    /// A boolean (PostgreSQL `boolean`).
    Bool,
    /// A boolean as the integer 0 or 1 (MySQL `TINYINT(1)`, `BIT(1)`).
    IntBool,
    /// A JSON document (`JSON`, `JSONB`).
    Json,
    /// A UUID (PostgreSQL `uuid`).
    Uuid,
    /// A UUID as 16 bytes (MySQL `BINARY(16)`).
    UuidBinary,
    /// A UUID as its 36-character text (`CHAR(36)`).
    UuidText,
    /// A timestamp without zone, in the side's declared time zone (`DATETIME`, `timestamp`).
    Timestamp,
    /// An instant (MySQL `TIMESTAMP`, PostgreSQL `timestamptz`).
    Timestamptz,
    /// Text (`VARCHAR`, `TEXT`, CHECK-constrained text).
    Text,
    /// An enumerated value (MySQL `ENUM`, PostgreSQL enum types).
    Enum,
    /// A MySQL `SET`.
    Set,
    /// A text array (PostgreSQL `text[]`).
    Array,
    /// An exact decimal (`DECIMAL`, `NUMERIC`).
    Decimal,
    /// A signed 64-bit integer.
    Int,
    /// Bytes (`BLOB`, `BYTEA`).
    Bytes,
}

/// A column on one side only: what to write there. With neither `default` nor `compute`, the
/// column is not synced (the database's own default applies to new rows).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OneSideSpec {
    /// A constant written on every upsert into this side.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// A value computed from the other side's columns.
    #[serde(default)]
    pub compute: Option<Expr>,
}

/// A safe expression over the other side's columns. No arbitrary code, no clock. Written as a
/// one-key map, e.g. `{concat: [{column: first}, {constant: " "}, {column: last}]}`.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "snake_case")]
pub enum Expr {
    /// The value of a column (source-side name).
    Column(String),
    /// A constant.
    Constant(serde_json::Value),
    /// The texts of the parts joined; NULL parts are skipped.
    Concat(Vec<Expr>),
    /// One part of a text split by a separator.
    Split(SplitSpec),
    /// Lower case.
    Lower(Box<Expr>),
    /// Upper case.
    Upper(Box<Expr>),
    /// Without leading and trailing white space.
    Trim(Box<Expr>),
    /// The first value that is not NULL.
    Coalesce(Vec<Expr>),
}

const EXPR_FORMS: &[&str] = &["column", "constant", "concat", "split", "lower", "upper", "trim", "coalesce"];

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExprVisitor;
        impl<'de> serde::de::Visitor<'de> for ExprVisitor {
            type Value = Expr;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an expression: a one-key map such as `{column: name}` or `{constant: \" \"}`")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Expr, A::Error> {
                use serde::de::Error as _;
                let Some(form) = map.next_key::<String>()? else {
                    return Err(A::Error::custom("an expression needs one key, e.g. `column`, `concat`"));
                };
                let expr = match form.as_str() {
                    "column" => Expr::Column(map.next_value()?),
                    "constant" => Expr::Constant(map.next_value()?),
                    "concat" => Expr::Concat(map.next_value()?),
                    "split" => Expr::Split(map.next_value()?),
                    "lower" => Expr::Lower(map.next_value()?),
                    "upper" => Expr::Upper(map.next_value()?),
                    "trim" => Expr::Trim(map.next_value()?),
                    "coalesce" => Expr::Coalesce(map.next_value()?),
                    other => return Err(A::Error::unknown_variant(other, EXPR_FORMS)),
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(A::Error::custom(format!("an expression has one key; `{extra}` is a second one")));
                }
                Ok(expr)
            }
        }
        deserializer.deserialize_map(ExprVisitor)
    }
}

/// `split`: part `part` (0-based) of `of` split by `separator`; with `rest`, that part and all
/// after it, joined again.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitSpec {
    /// The text to split.
    pub of: Box<Expr>,
    /// The separator.
    pub separator: String,
    /// Which part, from 0.
    pub part: usize,
    /// Keep the remainder from `part` on, separators included.
    #[serde(default)]
    pub rest: bool,
}

/// Rows to sync per direction; a row that does not match is skipped.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// Condition on legacy rows (legacy names) for changes going to the revamp side.
    #[serde(default)]
    pub to_revamp: Option<ConditionSpec>,
    /// Condition on revamp rows (revamp names) for changes going to the legacy side.
    #[serde(default)]
    pub to_legacy: Option<ConditionSpec>,
}

/// A condition on one column; exactly one operator.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    /// The column.
    pub column: String,
    /// Equal to this value.
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
    /// Not equal to this value (NULL is not equal).
    #[serde(default)]
    pub not_equals: Option<serde_json::Value>,
    /// One of these values.
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<serde_json::Value>>,
    /// None of these values.
    #[serde(default)]
    pub not_in: Option<Vec<serde_json::Value>>,
    /// NULL (`true`) or not NULL (`false`).
    #[serde(default)]
    pub is_null: Option<bool>,
}

/// Loop prevention, conflict resolution and deletes.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncSpec {
    /// The source-flag column on each side.
    #[serde(default)]
    pub source_flag: Option<PerSide<FlagSpec>>,
    /// The conflict column and policy.
    #[serde(default)]
    pub conflict: Option<ConflictSpec>,
    /// How deletes are applied on each side.
    #[serde(default)]
    pub delete: PerSide<DeleteSpec>,
    /// What a truncate does.
    #[serde(default)]
    pub truncate: TruncateMode,
    /// What the initial snapshots do with a row both sides already hold with different content.
    #[serde(default)]
    pub bootstrap: BootstrapMode,
}

/// A setting for each side.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerSide<T> {
    /// The legacy side.
    pub legacy: T,
    /// The revamp side.
    pub revamp: T,
}

/// The source-flag column of one side: which value marks a change made here, which a change
/// written by dualsync.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagSpec {
    /// The column.
    pub column: String,
    /// The value meaning "written on this side" (by the application).
    pub local: String,
    /// The value meaning "written by dualsync".
    pub dualsync: String,
}

/// Conflict resolution: last writer wins by a timestamp column, or higher version wins.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConflictSpec {
    /// `timestamp` or `version`.
    pub kind: ConflictKind,
    /// The legacy side's column.
    pub legacy: String,
    /// The revamp side's column.
    pub revamp: String,
    /// Which side wins a tie.
    pub tie: Side,
}

/// What the conflict column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// A modification timestamp: strictly newer wins.
    Timestamp,
    /// A version number: higher wins.
    Version,
}

/// A side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The legacy side.
    Legacy,
    /// The revamp side.
    Revamp,
}

/// How deletes are applied on one side.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteSpec {
    /// `hard` (default: the row is deleted) or `soft` (a column is set).
    #[serde(default)]
    pub mode: DeleteMode,
    /// Soft delete: the column set.
    #[serde(default)]
    pub column: Option<String>,
    /// Soft delete: the value it is set to.
    #[serde(default)]
    pub value: Option<serde_json::Value>,
}

/// Hard or soft delete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeleteMode {
    /// Delete the row.
    #[default]
    Hard,
    /// Set a column instead.
    Soft,
}

/// How the bootstrap of two non-empty sides settles a key under which both sides hold different
/// rows (each application's own data from before sync began). Rows on one side only are copied
/// whatever this says; identical rows are left alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BootstrapMode {
    /// Leave both rows alone and report the collision with its key (default).
    #[default]
    Refuse,
    /// The legacy row replaces the revamp row.
    LegacyWins,
    /// The revamp row replaces the legacy row.
    RevampWins,
    /// The conflict column decides (the table needs `sync.conflict`; without it, `refuse`).
    NewestWins,
}

/// What a truncate event does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TruncateMode {
    /// Skip it, with a warning (default).
    #[default]
    Ignore,
    /// Truncate the target table.
    Apply,
}
