//! Mappings between a legacy database and its rewrite, read from operator-edited YAML.
//!
//! One file describes both directions. A [`Mapping`] turns a decoded change event from one side
//! into a [`RowChange`] for the other: the target table, and the row (or key) with the target's
//! column names. This crate is pure: it never touches a database.
//!
//! ```
//! use dualsync_mapping::{Direction, Mapping};
//! let mapping = Mapping::from_yaml(
//!     "version: 1\ntables:\n  - legacy: shop.users\n    revamp: public.customers\n    columns:\n      name: full_name\n",
//! ).unwrap();
//! assert_eq!(mapping.tables()[0].target_column(Direction::LegacyToRevamp, "name"), "full_name");
//! assert_eq!(mapping.tables()[0].target_column(Direction::RevampToLegacy, "full_name"), "name");
//! ```

mod apply;
mod file;
pub mod spec;
pub mod tombstone;
mod transform;

pub use apply::{MapError, Mapped, RowChange, RowChangeKind, Skip};
pub use file::{
    Condition, Conversion, Direction, Mapping, MappingError, OneSide, TableName, TablePair, Test, ValueMap,
    expression_columns, locate_yaml_error,
};
