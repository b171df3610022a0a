//! Applying a mapping to a decoded change event.

use dualsync_envelope::{ChangeEvent, Decoded, Op, Row};

use crate::{Direction, Mapping, TableName, TablePair};

/// A change to write to the target side: the table and the mapped row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    /// The target table.
    pub table: TableName,
    /// What to do to it.
    pub kind: RowChangeKind,
}

/// What a [`RowChange`] does.
#[derive(Debug, Clone, PartialEq)]
pub enum RowChangeKind {
    /// Insert the row, or update the existing row with the same key.
    Upsert(Row),
    /// Delete the row with this key (the row holds at least the key columns, target names).
    Delete(Row),
}

/// Why an event produces nothing to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A tombstone: Debezium's compaction marker after a delete, which carries no change.
    Tombstone,
    /// The event's table is not in the mapping.
    UnmappedTable,
    /// A truncate, which this version does not apply.
    Truncate,
    /// A logical decoding message, which is not a row change.
    Message,
    /// A transaction marker, heartbeat or schema change: connector metadata, not a row change.
    Metadata,
}

/// The outcome of mapping one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    /// Write this change.
    Apply(RowChange),
    /// Nothing to write, for this reason.
    Skip(Skip),
}

/// Why an event could not be mapped.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MapError {
    /// The event's source block names no table, so it cannot be routed.
    #[error("the event's source block names no table; the mapping routes events by source.table")]
    NoTable,
    /// A create, read or update without an after image.
    #[error("{table}: {op} event has no `after` row")]
    NoAfter {
        /// The source table.
        table: String,
        /// The operation.
        op: &'static str,
    },
    /// A delete that does not say which row.
    #[error(
        "{table}: delete event carries neither a Kafka key nor a `before` row, so the row to delete is unknown; \
         keep the connector's message keys (do not drop them in a transform)"
    )]
    NoKey {
        /// The source table.
        table: String,
    },
}

impl Mapping {
    /// Maps a decoded Kafka record for writing in `direction`.
    pub fn map(&self, direction: Direction, decoded: &Decoded) -> Result<Mapped, MapError> {
        match decoded {
            Decoded::Tombstone { .. } => Ok(Mapped::Skip(Skip::Tombstone)),
            Decoded::Change(event) => self.map_event(direction, event),
            Decoded::Transaction(_) | Decoded::Heartbeat { .. } | Decoded::SchemaChange { .. } => {
                Ok(Mapped::Skip(Skip::Metadata))
            }
        }
    }

    /// Maps one change event for writing in `direction`.
    pub fn map_event(&self, direction: Direction, event: &ChangeEvent) -> Result<Mapped, MapError> {
        match event.op {
            Op::Message => return Ok(Mapped::Skip(Skip::Message)),
            Op::Truncate => return Ok(Mapped::Skip(Skip::Truncate)),
            _ => {}
        }
        let table = event.source.table.as_deref().ok_or(MapError::NoTable)?;
        let Some(pair) = self.route(direction, event.source.namespace(), table) else {
            return Ok(Mapped::Skip(Skip::UnmappedTable));
        };
        let source_name =
            || TableName { namespace: event.source.namespace().map(str::to_owned), name: table.into() }.to_string();
        let kind = match event.op {
            Op::Delete => {
                let key = event
                    .key
                    .as_ref()
                    .filter(|k| !k.is_empty())
                    .or(event.before.as_ref())
                    .ok_or_else(|| MapError::NoKey { table: source_name() })?;
                RowChangeKind::Delete(rename(pair, direction, key))
            }
            op => {
                let after =
                    event.after.as_ref().ok_or_else(|| MapError::NoAfter { table: source_name(), op: op.code() })?;
                RowChangeKind::Upsert(rename(pair, direction, after))
            }
        };
        Ok(Mapped::Apply(RowChange { table: pair.target(direction).clone(), kind }))
    }
}

fn rename(pair: &TablePair, direction: Direction, row: &Row) -> Row {
    Row(row.iter().map(|(name, value)| (pair.target_column(direction, name).to_string(), value.clone())).collect())
}
