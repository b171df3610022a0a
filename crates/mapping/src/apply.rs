//! Applying a mapping to a decoded change event.

use dualsync_envelope::{ChangeEvent, Decoded, Op, Row, Value};

use crate::file::{Condition, OneSide, Test};
use crate::transform::{convert, evaluate, same, text_of};
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
    /// A row the source has just inserted: an upsert, except where the target generates its key
    /// (a surrogate id): a different row stored there under that key, not newer than this one,
    /// is another entity that took the same id on the other side — a collision, left alone and
    /// reported, never merged.
    Create(Row),
    /// Delete the row with this key (the row holds at least the key columns, target names).
    Delete(Row),
    /// The row as a snapshot read it at the source (the bootstrap): inserted when the target
    /// lacks it, left alone when the target holds the same row; a different stored row is a
    /// collision of two entities under one key, which the table's `sync.bootstrap` settles.
    Seed(Row),
    /// Empty the table (a truncate, when the mapping says `sync.truncate: apply`).
    Truncate,
}

impl RowChangeKind {
    /// The row written, for an upsert or a snapshot row.
    pub fn written_row(&self) -> Option<&Row> {
        match self {
            RowChangeKind::Upsert(row) | RowChangeKind::Create(row) | RowChangeKind::Seed(row) => Some(row),
            RowChangeKind::Delete(_) | RowChangeKind::Truncate => None,
        }
    }
}

/// Why an event produces nothing to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A tombstone: Debezium's compaction marker after a delete, which carries no change.
    Tombstone,
    /// The event's table is not in the mapping.
    UnmappedTable,
    /// A truncate, ignored as the mapping says (`sync.truncate: ignore`, the default).
    Truncate,
    /// A logical decoding message, which is not a row change.
    Message,
    /// A transaction marker, heartbeat or schema change: connector metadata, not a row change.
    Metadata,
    /// The row does not match the table's filter for this direction.
    Filtered,
    /// The change is dualsync's own write coming back (its after-image carries the source side's
    /// dualsync flag value).
    Echo,
    /// A delete without the deleted row's conflict value (a PostgreSQL delete under the default
    /// replica identity, with a version column): its twin in the source's tombstone stream,
    /// written by the delete trigger with the row's value, applies it instead (see
    /// [`Mapping::read_tombstones_of`]).
    DeleteWithoutTime,
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
    /// A value has no entry in the column's value map.
    #[error(
        "{table}.{column}: value {value:?} is not in the value map; add it to `values` (or `reverse_values`) in the mapping"
    )]
    UnmappedValue {
        /// The source table.
        table: String,
        /// The source column.
        column: String,
        /// The value.
        value: String,
    },
    /// A value could not be converted or computed.
    #[error("{table}.{column}: {message}")]
    Value {
        /// The source table (or the target table, for computed columns).
        table: String,
        /// The column.
        column: String,
        /// What went wrong.
        message: String,
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
        if event.op == Op::Message {
            return Ok(Mapped::Skip(Skip::Message));
        }
        let table = event.source.table.as_deref().ok_or(MapError::NoTable)?;
        let Some(pair) = self.route(direction, event.source.namespace(), table) else {
            if let Some(pair) = self.route_tombstone(direction, event.source.namespace(), table) {
                return self.map_tombstone(pair, direction, event);
            }
            return Ok(Mapped::Skip(Skip::UnmappedTable));
        };
        if event.op == Op::Truncate {
            return Ok(match pair.sync.truncate {
                crate::spec::TruncateMode::Apply => {
                    Mapped::Apply(RowChange { table: pair.target(direction).clone(), kind: RowChangeKind::Truncate })
                }
                crate::spec::TruncateMode::Ignore => Mapped::Skip(Skip::Truncate),
            });
        }
        if let Some(flag) = pair.source_flag(direction)
            && dualsync_loopguard::is_echo(event, flag)
        {
            return Ok(Mapped::Skip(Skip::Echo));
        }
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
                // A delete is applied unless its before image shows the row was outside the filter.
                if let (Some(filter), Some(before)) = (pair.filter(direction), &event.before)
                    && !matches(filter, before)
                {
                    return Ok(Mapped::Skip(Skip::Filtered));
                }
                let mut row = self.row(pair, direction, key, false, &source_name)?;
                match self.delete_stamp(pair, direction, event, &source_name)? {
                    Some(stamp) => row.set(stamp.0, stamp.1),
                    // Without its time a delete would be written unguarded, over a newer row;
                    // the source's delete trigger carries it with its time in the tombstone
                    // stream, which the consumer reads.
                    None if pair.guard(direction).is_some()
                        && self.reads_tombstones(event.source.namespace(), table) =>
                    {
                        return Ok(Mapped::Skip(Skip::DeleteWithoutTime));
                    }
                    None => {}
                }
                RowChangeKind::Delete(row)
            }
            op => {
                let after =
                    event.after.as_ref().ok_or_else(|| MapError::NoAfter { table: source_name(), op: op.code() })?;
                if let Some(filter) = pair.filter(direction)
                    && !matches(filter, after)
                {
                    // A row updated out of the filter leaves the target: delete it there.
                    let was_in = event.before.as_ref().is_some_and(|before| matches(filter, before));
                    if op == Op::Update && was_in {
                        let key = event.key.as_ref().filter(|k| !k.is_empty()).unwrap_or(after);
                        let key = self.row(pair, direction, key, false, &source_name)?;
                        return Ok(Mapped::Apply(RowChange {
                            table: pair.target(direction).clone(),
                            kind: RowChangeKind::Delete(key),
                        }));
                    }
                    return Ok(Mapped::Skip(Skip::Filtered));
                }
                let mut row = self.row(pair, direction, after, true, &source_name)?;
                if let Some(flag) = pair.source_flag(direction.reverse()) {
                    dualsync_loopguard::stamp(&mut row, flag);
                }
                match op {
                    Op::Read if event.source.is_snapshot() => RowChangeKind::Seed(row),
                    Op::Create => RowChangeKind::Create(row),
                    _ => RowChangeKind::Upsert(row),
                }
            }
        };
        Ok(Mapped::Apply(RowChange { table: pair.target(direction).clone(), kind }))
    }

    /// A row written to a source table's tombstone table by its delete trigger: the application
    /// deleted that row, at the time the row holds (at the conflict column's own precision), so
    /// it becomes a delete of the row on the target stamped with that exact time — the same time
    /// the source side's tombstone keeps, so both sides weigh later changes against one time.
    /// The delete event of the table itself comes too, with a time that can be too coarse (MySQL
    /// binlog events have whole seconds); whichever arrives first, the later finds its work done.
    /// Tombstones leaving (pruning), without a time, and those of a pair with a filter in this
    /// direction (the tombstone lacks the columns the filter reads) are skipped.
    fn map_tombstone(&self, pair: &TablePair, direction: Direction, event: &ChangeEvent) -> Result<Mapped, MapError> {
        use crate::tombstone::{DELETED_AT, RECORDED_AT};
        let (Some(conflict), Some(after)) = (&pair.sync.conflict, &event.after) else {
            return Ok(Mapped::Skip(Skip::Metadata));
        };
        if event.op == Op::Delete || pair.filter(direction).is_some() {
            return Ok(Mapped::Skip(Skip::Metadata));
        }
        if after.get(DELETED_AT).is_none_or(|v| matches!(v, Value::Null | Value::Unavailable)) {
            return Ok(Mapped::Skip(Skip::Metadata));
        }
        let source_column = match direction {
            Direction::LegacyToRevamp => &conflict.legacy,
            Direction::RevampToLegacy => &conflict.revamp,
        };
        let deleted = Row(after
            .iter()
            .filter(|(column, _)| *column != RECORDED_AT)
            .map(|(column, value)| {
                let column = if column == DELETED_AT { source_column.clone() } else { column.to_string() };
                (column, value.clone())
            })
            .collect());
        let source = pair.source(direction).to_string();
        let row = self.row(pair, direction, &deleted, false, &|| source.clone())?;
        Ok(Mapped::Apply(RowChange { table: pair.target(direction).clone(), kind: RowChangeKind::Delete(row) }))
    }

    /// When a delete happened, as a value of the target's conflict column, so the writer can
    /// weigh it against the stored row and later changes (last writer wins for deletes too).
    /// Timestamps: the source commit time, as an instant at the target zone's offset (so a
    /// target column without zone takes its wall-clock time there), but never older than the
    /// deleted row's own time in the before image: MySQL binlog event times have whole seconds
    /// (PostgreSQL commit times milliseconds), so a delete in the same second as the row's last
    /// update would otherwise be older than the row it deleted, and lose to it on the other
    /// side. Versions, or timestamps kept as numbers: the before image's value. `None` without a
    /// guard or a known time.
    fn delete_stamp(
        &self,
        pair: &TablePair,
        direction: Direction,
        event: &ChangeEvent,
        table: &dyn Fn() -> String,
    ) -> Result<Option<(String, Value)>, MapError> {
        let (Some(guard), Some(conflict)) = (pair.guard(direction), &pair.sync.conflict) else { return Ok(None) };
        // Only the conflict column of the before image: the rest may be a connector's filling
        // (Debezium gives a PostgreSQL delete under the default replica identity every required
        // column's default, `""` for text, which a value map refuses).
        let source_column = match direction {
            Direction::LegacyToRevamp => &conflict.legacy,
            Direction::RevampToLegacy => &conflict.revamp,
        };
        let before = match &event.before {
            Some(before) => {
                let only = Row(before
                    .iter()
                    .filter(|(c, _)| c == source_column)
                    .map(|(c, v)| (c.to_string(), v.clone()))
                    .collect());
                self.row(pair, direction, &only, false, table)?.get(&guard.column).cloned()
            }
            None => None,
        };
        let before = before.filter(|v| !matches!(v, Value::Null | Value::Unavailable));
        let numeric = matches!(before, Some(Value::Int(_) | Value::UInt(_) | Value::Decimal(_) | Value::Float(_)));
        let committed = event.source.ts_ms.and_then(chrono::DateTime::from_timestamp_millis);
        let stamp = match (guard.kind, committed) {
            (dualsync_conflict::Kind::Timestamp, Some(at)) if !numeric => {
                let at = at.with_timezone(&self.target_zone(direction)).fixed_offset();
                let older_than_row = match &before {
                    Some(Value::TimestampTz(row)) => *row > at,
                    Some(Value::Timestamp(row)) => *row > at.naive_local(),
                    _ => false,
                };
                if older_than_row { before } else { Some(Value::TimestampTz(at)) }
            }
            _ => before,
        };
        Ok(stamp.map(|v| (guard.column, v)))
    }

    /// A source row in target terms: renamed, value-mapped and converted, without excluded and
    /// source-only columns; for upserts, with the target-only columns' defaults and computed
    /// values.
    fn row(
        &self,
        pair: &TablePair,
        direction: Direction,
        source: &Row,
        upsert: bool,
        table: &dyn Fn() -> String,
    ) -> Result<Row, MapError> {
        let (from_zone, to_zone) = match direction {
            Direction::LegacyToRevamp => (self.legacy_zone, self.revamp_zone),
            Direction::RevampToLegacy => (self.revamp_zone, self.legacy_zone),
        };
        let mut out = Vec::with_capacity(source.len());
        for (column, value) in source.iter() {
            let legacy = pair.legacy_name(direction, column);
            if pair.excluded.iter().any(|c| c == legacy) || pair.source_only(direction).iter().any(|(c, _)| c == column)
            {
                continue;
            }
            let mut value = value.clone();
            if let Some(map) = pair.value_maps.iter().find(|m| m.column == legacy) {
                let entries = match direction {
                    Direction::LegacyToRevamp => &map.to_revamp,
                    Direction::RevampToLegacy => &map.to_legacy,
                };
                value = map_value(value, entries).map_err(|value| MapError::UnmappedValue {
                    table: table(),
                    column: column.to_string(),
                    value,
                })?;
            }
            if let Some((_, conversion)) = pair.conversions.iter().find(|(c, _)| c == legacy) {
                let to = match direction {
                    Direction::LegacyToRevamp => conversion.revamp,
                    Direction::RevampToLegacy => conversion.legacy,
                };
                value = convert(value, to, from_zone, to_zone).map_err(|message| MapError::Value {
                    table: table(),
                    column: column.to_string(),
                    message,
                })?;
            }
            out.push((pair.target_column(direction, column).to_string(), value));
        }
        if upsert {
            for (column, one_side) in pair.target_only(direction) {
                let value = match one_side {
                    OneSide::Untouched => continue,
                    OneSide::Default(value) => value.clone(),
                    OneSide::Compute(expr) => evaluate(expr, source).map_err(|message| MapError::Value {
                        table: pair.target(direction).to_string(),
                        column: column.clone(),
                        message,
                    })?,
                };
                out.push((column.clone(), value));
            }
        }
        Ok(Row(out))
    }
}

/// The mapped value; the unmapped value's text as the error.
fn map_value(value: Value, entries: &[(String, String)]) -> Result<Value, String> {
    let text = match &value {
        Value::Null | Value::Unavailable => return Ok(value),
        Value::Text(s) | Value::Enum(s) => s.clone(),
        other => text_of(other).unwrap_or_default(),
    };
    let mapped = entries.iter().find(|(from, _)| *from == text).map(|(_, to)| to.clone()).ok_or(text)?;
    Ok(match value {
        Value::Enum(_) => Value::Enum(mapped),
        _ => Value::Text(mapped),
    })
}

/// Whether a row passes a condition; a column the row lacks counts as NULL.
fn matches(condition: &Condition, row: &Row) -> bool {
    let value = row.get(&condition.column).unwrap_or(&Value::Null);
    match &condition.test {
        Test::Equals(v) => same(value, v),
        Test::NotEquals(v) => !value.is_null() && !same(value, v),
        Test::In(values) => values.iter().any(|v| same(value, v)),
        Test::NotIn(values) => !value.is_null() && !values.iter().any(|v| same(value, v)),
        Test::IsNull(null) => value.is_null() == *null,
    }
}
