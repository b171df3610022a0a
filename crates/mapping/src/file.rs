//! The mapping file: its YAML form, loading and validation.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

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

/// One legacy table and the revamp table it corresponds to.
#[derive(Debug, Clone, PartialEq)]
pub struct TablePair {
    /// The table on the legacy side.
    pub legacy: TableName,
    /// The table on the revamp side.
    pub revamp: TableName,
    /// Renamed columns, as (legacy name, revamp name). Columns not listed keep their name.
    pub renames: Vec<(String, String)>,
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
}

/// A loaded, validated mapping file.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    tables: Vec<TablePair>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    version: u32,
    tables: Vec<TablePairFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TablePairFile {
    legacy: String,
    revamp: String,
    /// legacy column name → revamp column name
    #[serde(default)]
    columns: serde_yaml::Mapping,
}

impl Mapping {
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

    fn parse(text: &str, origin: &str) -> Result<Mapping, MappingError> {
        let invalid = |location: String, message: String| MappingError::Invalid { location, message };
        let file: MappingFile = serde_yaml::from_str(text).map_err(|e| {
            let (location, message) = locate_yaml_error(origin, &e);
            invalid(location, message)
        })?;
        if file.version != FORMAT_VERSION {
            return Err(invalid(
                origin.to_string(),
                format!("version {} is not supported; this build reads version {FORMAT_VERSION}", file.version),
            ));
        }
        let mut tables = Vec::with_capacity(file.tables.len());
        for (i, spec) in file.tables.into_iter().enumerate() {
            let at = |message: String| invalid(origin.to_string(), format!("tables[{i}]: {message}"));
            let legacy = TableName::parse(&spec.legacy).map_err(|m| at(format!("legacy: {m}")))?;
            let revamp = TableName::parse(&spec.revamp).map_err(|m| at(format!("revamp: {m}")))?;
            let mut renames = Vec::with_capacity(spec.columns.len());
            let (mut seen_legacy, mut seen_revamp) = (HashSet::new(), HashSet::new());
            for (from, to) in spec.columns {
                let (Some(from), Some(to)) = (from.as_str(), to.as_str()) else {
                    return Err(at("columns: each entry is `legacy_column: revamp_column`, both strings".into()));
                };
                if !seen_legacy.insert(from.to_string()) || !seen_revamp.insert(to.to_string()) {
                    return Err(at(format!(
                        "columns: `{from}: {to}` maps a column twice; each column may appear once per side"
                    )));
                }
                renames.push((from.to_string(), to.to_string()));
            }
            tables.push(TablePair { legacy, revamp, renames });
        }
        Ok(Mapping { tables })
    }

    /// The table pairs, in file order.
    pub fn tables(&self) -> &[TablePair] {
        &self.tables
    }

    /// The table pair whose source side, in `direction`, is `namespace`.`table`.
    pub fn route(&self, direction: Direction, namespace: Option<&str>, table: &str) -> Option<&TablePair> {
        self.tables.iter().find(|pair| pair.source(direction).matches(namespace, table))
    }
}

/// Splits a YAML error into `origin:line:column` and the message without serde_yaml's trailing
/// "at line L column C", for errors an operator can jump to in an editor.
pub fn locate_yaml_error(origin: &str, error: &serde_yaml::Error) -> (String, String) {
    let location = match error.location() {
        Some(l) => format!("{origin}:{}:{}", l.line(), l.column()),
        None => origin.to_string(),
    };
    let message = error.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message).to_string();
    (location, message)
}
