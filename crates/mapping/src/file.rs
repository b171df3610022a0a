//! Loading a mapping file: parsing, validation, and errors located at `file:line:column`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use chrono_tz::Tz;
use dualsync_envelope::Value;

use crate::spec::{
    ConditionSpec, Expr, FilterSpec, MappingSpec, OneSideSpec, Representation, SyncSpec, TableSpec, TruncateMode,
};
use crate::transform::{columns_of, compatible, constant, name};

/// The mapping format version this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// Which way changes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Changes captured on the legacy side, written to the revamp side.
    LegacyToRevamp,
    /// Changes captured on the revamp side, written to the legacy side.
    RevampToLegacy,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::LegacyToRevamp => Direction::RevampToLegacy,
            Direction::RevampToLegacy => Direction::LegacyToRevamp,
        }
    }

    /// The name used for the consumer binary and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Direction::LegacyToRevamp => "legacy-to-revamp",
            Direction::RevampToLegacy => "revamp-to-legacy",
        }
    }
}

/// A table name, optionally qualified by its namespace: the MySQL database or the PostgreSQL
/// schema. Written `namespace.table` or `table` in YAML.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName {
    /// The MySQL database or PostgreSQL schema; `None` means the connection's default (and, on the
    /// source side, any namespace).
    pub namespace: Option<String>,
    /// The table.
    pub name: String,
}

impl TableName {
    fn parse(text: &str) -> Result<TableName, String> {
        let parts: Vec<&str> = text.split('.').collect();
        let valid = |s: &&str| !s.is_empty();
        match parts.as_slice() {
            [name] if valid(name) => Ok(TableName { namespace: None, name: name.to_string() }),
            [ns, name] if valid(ns) && valid(name) => {
                Ok(TableName { namespace: Some(ns.to_string()), name: name.to_string() })
            }
            _ => Err(format!("{text:?} is not a table name; write `table` or `namespace.table`")),
        }
    }

    /// Whether a change captured from `namespace`.`table` belongs to this table.
    pub fn matches(&self, namespace: Option<&str>, table: &str) -> bool {
        self.name == table && self.namespace.as_deref().is_none_or(|ns| Some(ns) == namespace)
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A value map of one column, both ways.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueMap {
    /// The legacy column.
    pub column: String,
    /// Legacy value → revamp value.
    pub to_revamp: Vec<(String, String)>,
    /// Revamp value → legacy value.
    pub to_legacy: Vec<(String, String)>,
}

/// A type conversion of one column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conversion {
    /// The legacy side's representation.
    pub legacy: Representation,
    /// The revamp side's representation.
    pub revamp: Representation,
}

/// What a one-side column gets on writes into its side.
#[derive(Debug, Clone, PartialEq)]
pub enum OneSide {
    /// Nothing: the column is not synced.
    Untouched,
    /// A constant.
    Default(Value),
    /// An expression over the other side's columns.
    Compute(Expr),
}

/// A row condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The column.
    pub column: String,
    /// The test.
    pub test: Test,
}

/// The test of a [`Condition`].
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// Equal to.
    Equals(Value),
    /// Not equal to.
    NotEquals(Value),
    /// One of.
    In(Vec<Value>),
    /// None of.
    NotIn(Vec<Value>),
    /// NULL (`true`) or not NULL.
    IsNull(bool),
}

/// One legacy table and the revamp table it corresponds to, validated.
#[derive(Debug, Clone)]
pub struct TablePair {
    /// The table on the legacy side.
    pub legacy: TableName,
    /// The table on the revamp side.
    pub revamp: TableName,
    /// Key columns, legacy names; empty means the target's primary key.
    pub key: Vec<String>,
    /// Renamed columns, as (legacy name, revamp name). Columns not listed keep their name.
    pub renames: Vec<(String, String)>,
    /// Columns (legacy names) never synced.
    pub excluded: Vec<String>,
    /// Value maps.
    pub value_maps: Vec<ValueMap>,
    /// Conversions, by legacy column.
    pub conversions: Vec<(String, Conversion)>,
    /// Columns (legacy names) whose lossy conversion is declared.
    pub lossy: Vec<String>,
    /// Columns only on the legacy side.
    pub legacy_only: Vec<(String, OneSide)>,
    /// Columns only on the revamp side.
    pub revamp_only: Vec<(String, OneSide)>,
    /// Condition on legacy rows going to the revamp side.
    pub filter_to_revamp: Option<Condition>,
    /// Condition on revamp rows going to the legacy side.
    pub filter_to_legacy: Option<Condition>,
    /// Loop prevention, conflicts and deletes (applied by the writer).
    pub sync: SyncSpec,
}

impl TablePair {
    /// The table changes are captured from, in `direction`.
    pub fn source(&self, direction: Direction) -> &TableName {
        match direction {
            Direction::LegacyToRevamp => &self.legacy,
            Direction::RevampToLegacy => &self.revamp,
        }
    }

    /// The table changes are written to, in `direction`.
    pub fn target(&self, direction: Direction) -> &TableName {
        match direction {
            Direction::LegacyToRevamp => &self.revamp,
            Direction::RevampToLegacy => &self.legacy,
        }
    }

    /// The target-side name of source column `column`, in `direction`.
    pub fn target_column<'a>(&'a self, direction: Direction, column: &'a str) -> &'a str {
        let found = self.renames.iter().find_map(|(legacy, revamp)| match direction {
            Direction::LegacyToRevamp => (legacy == column).then_some(revamp),
            Direction::RevampToLegacy => (revamp == column).then_some(legacy),
        });
        found.map_or(column, String::as_str)
    }

    /// The legacy name of a column named `column` on the source side of `direction`.
    pub fn legacy_name<'a>(&'a self, direction: Direction, column: &'a str) -> &'a str {
        match direction {
            Direction::LegacyToRevamp => column,
            Direction::RevampToLegacy => self.target_column(direction, column),
        }
    }

    /// The columns only on the side `direction` writes to, with what they get.
    pub fn target_only(&self, direction: Direction) -> &[(String, OneSide)] {
        match direction {
            Direction::LegacyToRevamp => &self.revamp_only,
            Direction::RevampToLegacy => &self.legacy_only,
        }
    }

    /// The columns only on the side `direction` reads from.
    pub fn source_only(&self, direction: Direction) -> &[(String, OneSide)] {
        self.target_only(direction.reverse())
    }

    /// The source flag of the side changes come from in `direction` (the side they are written to
    /// is `direction.reverse()`'s source).
    pub fn source_flag(&self, direction: Direction) -> Option<dualsync_loopguard::SourceFlag<'_>> {
        let flag = self.sync.source_flag.as_ref()?;
        let side = match direction {
            Direction::LegacyToRevamp => &flag.legacy,
            Direction::RevampToLegacy => &flag.revamp,
        };
        Some(dualsync_loopguard::SourceFlag { column: &side.column, dualsync: &side.dualsync })
    }

    /// The conflict rule for writes in `direction`: the target side's conflict column, and whether
    /// the source side wins ties.
    pub fn guard(&self, direction: Direction) -> Option<dualsync_conflict::Guard> {
        let conflict = self.sync.conflict.as_ref()?;
        let (column, source_side) = match direction {
            Direction::LegacyToRevamp => (&conflict.revamp, crate::spec::Side::Legacy),
            Direction::RevampToLegacy => (&conflict.legacy, crate::spec::Side::Revamp),
        };
        let kind = match conflict.kind {
            crate::spec::ConflictKind::Timestamp => dualsync_conflict::Kind::Timestamp,
            crate::spec::ConflictKind::Version => dualsync_conflict::Kind::Version,
        };
        Some(dualsync_conflict::Guard { kind, column: column.clone(), incoming_wins_ties: conflict.tie == source_side })
    }

    /// For writes in `direction`, the column and value a soft delete sets on the target side, or
    /// `None` for hard deletes.
    pub fn soft_delete(&self, direction: Direction) -> Option<(String, Value)> {
        let delete = match direction {
            Direction::LegacyToRevamp => &self.sync.delete.revamp,
            Direction::RevampToLegacy => &self.sync.delete.legacy,
        };
        match (delete.mode, &delete.column, &delete.value) {
            (crate::spec::DeleteMode::Soft, Some(column), Some(value)) => Some((column.clone(), constant(value))),
            _ => None,
        }
    }

    /// What a snapshot row written in `direction` does to a different row stored under its key
    /// (see [`crate::spec::BootstrapMode`]).
    pub fn on_collision(&self, direction: Direction) -> dualsync_conflict::OnCollision {
        use crate::spec::BootstrapMode::{LegacyWins, NewestWins, Refuse, RevampWins};
        use dualsync_conflict::OnCollision;
        match (self.sync.bootstrap, direction) {
            (Refuse, _) => OnCollision::Refuse,
            (NewestWins, _) => OnCollision::Newest,
            (LegacyWins, Direction::LegacyToRevamp) | (RevampWins, Direction::RevampToLegacy) => OnCollision::Overwrite,
            (LegacyWins, Direction::RevampToLegacy) | (RevampWins, Direction::LegacyToRevamp) => OnCollision::Keep,
        }
    }

    /// The row condition for `direction`.
    pub fn filter(&self, direction: Direction) -> Option<&Condition> {
        match direction {
            Direction::LegacyToRevamp => self.filter_to_revamp.as_ref(),
            Direction::RevampToLegacy => self.filter_to_legacy.as_ref(),
        }
    }
}

/// A loaded, validated mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub(crate) legacy_zone: Tz,
    pub(crate) revamp_zone: Tz,
    tables: Vec<TablePair>,
    /// Source tables whose tombstone stream (the delete trigger's rows) is read.
    tombstone_streams: Vec<TableName>,
}

/// Why a mapping file was rejected. The message starts with `file:line:column` where known.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The file could not be read.
    #[error("{path}: cannot read the mapping file: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not fit the format.
    #[error("{location}: {message}")]
    Invalid {
        /// `file:line:column`, or the file alone.
        location: String,
        /// What is wrong and what is expected.
        message: String,
    },
}

impl Mapping {
    /// Says that the tombstone stream of source table `table` (its delete trigger's rows, see
    /// [`crate::tombstone`]) is read with its changes: its deletes that lack the deleted row's
    /// conflict value are then left to their twins in that stream, which carry it.
    pub fn read_tombstones_of(&mut self, table: TableName) {
        self.tombstone_streams.push(table);
    }

    pub(crate) fn reads_tombstones(&self, namespace: Option<&str>, table: &str) -> bool {
        self.tombstone_streams.iter().any(|t| t.matches(namespace, table))
    }

    /// Reads and validates a mapping file.
    pub fn load(path: &Path) -> Result<Mapping, MappingError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| MappingError::Read { path: shown.clone(), source })?;
        Mapping::parse(&text, &shown)
    }

    /// Parses and validates mapping YAML (errors are located as `<mapping>:line:column`).
    pub fn from_yaml(text: &str) -> Result<Mapping, MappingError> {
        Mapping::parse(text, "<mapping>")
    }

    /// Parses and validates mapping YAML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Mapping, MappingError> {
        let spec: MappingSpec = serde_yaml::from_str(text).map_err(|e| {
            let (location, message) = locate_yaml_error(origin, &e);
            MappingError::Invalid { location, message }
        })?;
        Mapping::validate(spec).map_err(|message| MappingError::Invalid { location: origin.to_string(), message })
    }

    fn validate(spec: MappingSpec) -> Result<Mapping, String> {
        if spec.version != FORMAT_VERSION {
            return Err(format!(
                "version {} is not supported; this build reads version {FORMAT_VERSION}",
                spec.version
            ));
        }
        let zone = |side: &str, zone: Option<String>| -> Result<Tz, String> {
            match zone {
                None => Ok(Tz::UTC),
                Some(z) => z.parse().map_err(|_| {
                    format!("sides.{side}.time_zone: {z:?} is not an IANA time zone name (e.g. Europe/Berlin, UTC)")
                }),
            }
        };
        let legacy_zone = zone("legacy", spec.sides.legacy.time_zone)?;
        let revamp_zone = zone("revamp", spec.sides.revamp.time_zone)?;
        let tables = spec
            .tables
            .into_iter()
            .enumerate()
            .map(|(i, table)| validate_table(table).map_err(|m| format!("tables[{i}]: {m}")))
            .collect::<Result<_, _>>()?;
        Ok(Mapping { legacy_zone, revamp_zone, tables, tombstone_streams: Vec::new() })
    }

    /// The declared time zone of the side that writes in `direction` go to (UTC unless the
    /// mapping says otherwise).
    pub fn target_zone(&self, direction: Direction) -> Tz {
        match direction {
            Direction::LegacyToRevamp => self.revamp_zone,
            Direction::RevampToLegacy => self.legacy_zone,
        }
    }

    /// The table pairs, in file order.
    pub fn tables(&self) -> &[TablePair] {
        &self.tables
    }

    /// The table pair whose source side, in `direction`, is `namespace`.`table`.
    pub fn route(&self, direction: Direction, namespace: Option<&str>, table: &str) -> Option<&TablePair> {
        self.tables.iter().find(|pair| pair.source(direction).matches(namespace, table))
    }

    /// The table pair with a conflict rule whose source side's tombstone table, in `direction`,
    /// is `namespace`.`table` (see [`crate::tombstone`]).
    pub fn route_tombstone(&self, direction: Direction, namespace: Option<&str>, table: &str) -> Option<&TablePair> {
        self.tables.iter().find(|pair| {
            let source = pair.source(direction);
            pair.sync.conflict.is_some()
                && crate::tombstone::is_tombstone_of(table, &source.name)
                && source.namespace.as_deref().is_none_or(|ns| Some(ns) == namespace)
        })
    }
}

fn validate_table(spec: TableSpec) -> Result<TablePair, String> {
    let legacy = TableName::parse(&spec.legacy).map_err(|m| format!("legacy: {m}"))?;
    let revamp = TableName::parse(&spec.revamp).map_err(|m| format!("revamp: {m}"))?;
    let mut seen_revamp = HashSet::new();
    for (from, to) in &spec.columns {
        if !seen_revamp.insert(to.clone()) {
            return Err(format!(
                "columns: `{from}: {to}` maps a second column to `{to}`; each column may appear once per side"
            ));
        }
    }
    let renames: Vec<(String, String)> = spec.columns.into_iter().collect();
    let renamed = |c: &str| renames.iter().any(|(l, _)| l == c);
    for column in &spec.exclude {
        let also = [
            (renamed(column), "columns"),
            (spec.values.contains_key(column), "values"),
            (spec.convert.contains_key(column), "convert"),
        ];
        if let Some((_, section)) = also.iter().find(|(clash, _)| *clash) {
            return Err(format!("exclude: `{column}` is excluded but also listed in `{section}`; remove one"));
        }
    }
    for column in spec.legacy_only.keys() {
        if renamed(column) || spec.exclude.contains(column) {
            return Err(format!(
                "legacy_only: `{column}` exists only on the legacy side, so it cannot be renamed or excluded"
            ));
        }
    }
    for column in spec.revamp_only.keys() {
        if renames.iter().any(|(_, r)| r == column) {
            return Err(format!(
                "revamp_only: `{column}` exists only on the revamp side, so no legacy column can map to it"
            ));
        }
    }
    let value_maps = value_maps(spec.values, spec.reverse_values)?;
    let mut conversions = Vec::new();
    for (column, c) in spec.convert {
        if !compatible(c.legacy, c.revamp) || !compatible(c.revamp, c.legacy) {
            return Err(format!(
                "convert.{column}: {} and {} are not the same kind of value; pick representations of one kind (boolean, text, uuid, timestamp, set, number, bytes)",
                name(c.legacy),
                name(c.revamp)
            ));
        }
        conversions.push((column, Conversion { legacy: c.legacy, revamp: c.revamp }));
    }
    let one_side = |side: &str, columns: BTreeMap<String, OneSideSpec>| -> Result<Vec<(String, OneSide)>, String> {
        columns
            .into_iter()
            .map(|(column, spec)| {
                let value = match (spec.default, spec.compute) {
                    (Some(_), Some(_)) => {
                        return Err(format!("{side}.{column}: give `default` or `compute`, not both"));
                    }
                    (Some(d), None) => OneSide::Default(constant(&d)),
                    (None, Some(e)) => OneSide::Compute(e),
                    (None, None) => OneSide::Untouched,
                };
                Ok((column, value))
            })
            .collect()
    };
    let FilterSpec { to_revamp, to_legacy } = spec.filter;
    let condition = |which: &str, spec: Option<ConditionSpec>| {
        spec.map(|c| condition(c).map_err(|m| format!("filter.{which}: {m}"))).transpose()
    };
    validate_sync(&spec.sync)?;
    Ok(TablePair {
        legacy,
        revamp,
        key: spec.key,
        renames,
        excluded: spec.exclude,
        value_maps,
        conversions,
        lossy: spec.lossy,
        legacy_only: one_side("legacy_only", spec.legacy_only)?,
        revamp_only: one_side("revamp_only", spec.revamp_only)?,
        filter_to_revamp: condition("to_revamp", to_revamp)?,
        filter_to_legacy: condition("to_legacy", to_legacy)?,
        sync: spec.sync,
    })
}

/// Value maps with their inverses; a map that cannot be inverted needs `reverse_values`.
fn value_maps(
    values: BTreeMap<String, BTreeMap<String, String>>,
    mut reverse: BTreeMap<String, BTreeMap<String, String>>,
) -> Result<Vec<ValueMap>, String> {
    let mut maps = Vec::new();
    for (column, forward) in values {
        let to_legacy: Vec<(String, String)> = match reverse.remove(&column) {
            Some(explicit) => explicit.into_iter().collect(),
            None => {
                let mut inverse: BTreeMap<&String, &String> = BTreeMap::new();
                for (legacy_value, revamp_value) in &forward {
                    if let Some(first) = inverse.insert(revamp_value, legacy_value) {
                        return Err(format!(
                            "values.{column}: `{first}` and `{legacy_value}` both map to `{revamp_value}`, so the reverse \
                             direction is ambiguous; add reverse_values.{column} saying which legacy value `{revamp_value}` becomes"
                        ));
                    }
                }
                inverse.into_iter().map(|(r, l)| (r.clone(), l.clone())).collect()
            }
        };
        maps.push(ValueMap { column, to_revamp: forward.into_iter().collect(), to_legacy });
    }
    if let Some(column) = reverse.keys().next() {
        return Err(format!("reverse_values.{column}: there is no values.{column} for it to reverse"));
    }
    Ok(maps)
}

fn condition(spec: ConditionSpec) -> Result<Condition, String> {
    let values = |v: Vec<serde_json::Value>| v.iter().map(constant).collect();
    let tests: Vec<Test> = [
        spec.equals.map(|v| Test::Equals(constant(&v))),
        spec.not_equals.map(|v| Test::NotEquals(constant(&v))),
        spec.one_of.map(|v| Test::In(values(v))),
        spec.not_in.map(|v| Test::NotIn(values(v))),
        spec.is_null.map(Test::IsNull),
    ]
    .into_iter()
    .flatten()
    .collect();
    match <[Test; 1]>::try_from(tests) {
        Ok([test]) => Ok(Condition { column: spec.column, test }),
        Err(tests) => {
            Err(format!("give exactly one of equals, not_equals, in, not_in, is_null (found {})", tests.len()))
        }
    }
}

fn validate_sync(sync: &SyncSpec) -> Result<(), String> {
    if let Some(flag) = &sync.source_flag {
        for (side, f) in [("legacy", &flag.legacy), ("revamp", &flag.revamp)] {
            if f.column.is_empty() {
                return Err(format!("sync.source_flag.{side}.column: name the column"));
            }
            if f.local == f.dualsync {
                return Err(format!(
                    "sync.source_flag.{side}: `local` and `dualsync` are both {:?}; they must differ, or loops cannot be told apart",
                    f.local
                ));
            }
        }
    }
    for (side, delete) in [("legacy", &sync.delete.legacy), ("revamp", &sync.delete.revamp)] {
        match delete.mode {
            crate::spec::DeleteMode::Soft if delete.column.is_none() || delete.value.is_none() => {
                return Err(format!("sync.delete.{side}: soft delete needs `column` and `value`"));
            }
            crate::spec::DeleteMode::Hard if delete.column.is_some() || delete.value.is_some() => {
                return Err(format!("sync.delete.{side}: `column` and `value` are for `mode: soft`"));
            }
            _ => {}
        }
    }
    if sync.truncate == TruncateMode::Apply
        && (sync.delete.legacy.mode != crate::spec::DeleteMode::Hard
            || sync.delete.revamp.mode != crate::spec::DeleteMode::Hard)
    {
        return Err("sync.truncate: `apply` would hard-delete rows a soft-delete side keeps; use `ignore`".into());
    }
    if sync.bootstrap == crate::spec::BootstrapMode::NewestWins && sync.conflict.is_none() {
        return Err("sync.bootstrap: `newest-wins` needs `sync.conflict` to tell which row is newer; \
                    choose `legacy-wins`, `revamp-wins` or `refuse`"
            .into());
    }
    Ok(())
}

/// The columns (source-side names) the expression of a one-side column reads.
pub fn expression_columns(one_side: &OneSide) -> Vec<String> {
    let mut out = Vec::new();
    if let OneSide::Compute(expr) = one_side {
        columns_of(expr, &mut out);
    }
    out
}

/// Splits a YAML error into `origin:line:column` and the message without serde_yaml's trailing
/// "at line L column C", adding a "did you mean" for a misspelt key or variant.
pub fn locate_yaml_error(origin: &str, error: &serde_yaml::Error) -> (String, String) {
    let location = match error.location() {
        Some(l) => format!("{origin}:{}:{}", l.line(), l.column()),
        None => origin.to_string(),
    };
    let message = error.to_string();
    let mut message = message.split(" at line ").next().unwrap_or(&message).to_string();
    if let Some(suggestion) = did_you_mean(&message) {
        message.push_str(&format!("; did you mean `{suggestion}`?"));
    }
    (location, message)
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant"), the expected
/// name closest to `x`, if it is close.
fn did_you_mean(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1).or_else(|| message.split("unknown variant `").nth(1))?;
    let (unknown, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    if let Some(prefix) = candidates.iter().find(|c| unknown.starts_with(**c) || c.starts_with(unknown)) {
        return Some(prefix.to_string());
    }
    let (best, distance) = candidates.iter().map(|c| (*c, edit_distance(unknown, c))).min_by_key(|(_, d)| *d)?;
    (distance <= (unknown.len() / 3).max(2)).then(|| best.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            current.push((previous[j] + usize::from(ca != *cb)).min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}
