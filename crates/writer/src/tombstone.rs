//! Tombstones: a hard-deleted row is remembered with the time of its delete, so that a change
//! older than the delete which arrives later (a concurrent edit made on the other side, a replayed
//! dead letter) does not bring the row back.
//!
//! Each synced table with a conflict rule and hard deletes has a tombstone table beside it,
//! `dualsync_tomb_<table>`: its key columns and `deleted_at`, of the conflict column's type. Two
//! things write it: the writer, for every delete it applies (stamped with the delete's time at its
//! source), and the delete trigger `dualsync install-triggers` installs, for the application's own
//! deletes on that side (stamped with the time of the delete there). Before an upsert, the writer
//! looks up the incoming rows: a row deleted at or after the incoming change's time is not
//! written. A delete wins ties. Tombstones older than the retention (7 days unless set) are
//! pruned, at most once an hour per table.

use dualsync_conflict::{Guard, Kind};
use dualsync_envelope::Value;
use dualsync_mapping::{RowChange, RowChangeKind, TableName};

use crate::{Column, Dialect, TablePolicy, TableSchema};

pub use dualsync_mapping::tombstone::{DELETED_AT, RECORDED_AT, TOMBSTONE_PREFIX};

/// The tombstone table of `target` under `policy`, or `None` when it keeps none: without a
/// conflict rule (nothing to compare a delete's time with), with soft deletes (the row stays and
/// its conflict column carries the delete's time), or when the conflict column is missing.
pub(crate) fn schema(target: &TableSchema, policy: Option<&TablePolicy>) -> Option<TableSchema> {
    let policy = policy?;
    let guard = policy.guard.as_ref().filter(|_| policy.soft_delete.is_none())?;
    let stamp = target.column(&guard.column)?;
    let name = dualsync_mapping::tombstone::table_name(&target.name.name);
    let mut columns: Vec<Column> = target.key.iter().filter_map(|k| target.column(k).cloned()).collect();
    columns.push(Column { name: DELETED_AT.into(), ..stamp.clone() });
    Some(TableSchema {
        name: TableName { namespace: target.name.namespace.clone(), name },
        columns,
        key: target.key.clone(),
        sequence: None,
        generated_key: false,
        self_referencing: false,
    })
}

/// The rule tombstones are recorded under: a later delete replaces an earlier one's time.
pub(crate) fn guard(kind: Kind) -> Guard {
    Guard { kind, column: DELETED_AT.into(), incoming_wins_ties: false }
}

/// `CREATE TABLE IF NOT EXISTS` for a tombstone table.
pub(crate) fn create_sql(dialect: Dialect, tomb: &TableSchema) -> String {
    let columns: Vec<String> = tomb
        .columns
        .iter()
        .map(|c| {
            let null = if c.name == DELETED_AT { "NULL" } else { "NOT NULL" };
            format!("{} {} {null}", dialect.quote(&c.name), c.sql_type)
        })
        .collect();
    let key: Vec<String> = tomb.key.iter().map(|k| dialect.quote(k)).collect();
    let recorded = match dialect {
        Dialect::Postgres => "timestamptz NOT NULL DEFAULT now()",
        Dialect::MySql => "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP",
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({}, {} {recorded}, PRIMARY KEY ({}))",
        dialect.table(&tomb.name),
        columns.join(", "),
        dialect.quote(RECORDED_AT),
        key.join(", ")
    )
}

/// `DELETE` the tombstones first recorded more than `days` days ago: a change older than a
/// delete is not expected to arrive that late (the retention is the operator's to set).
pub(crate) fn prune_sql(dialect: Dialect, tomb: &TableSchema, days: u64) -> String {
    let older = match dialect {
        Dialect::Postgres => format!("now() - make_interval(days => {days})"),
        Dialect::MySql => format!("NOW() - INTERVAL {days} DAY"),
    };
    format!("DELETE FROM {} WHERE {} < {older}", dialect.table(&tomb.name), dialect.quote(RECORDED_AT))
}

/// Whether a column type holds a wall-clock time without zone (MySQL `DATETIME`, PostgreSQL
/// `timestamp`).
pub(crate) fn is_naive_timestamp(sql_type: &str) -> bool {
    let t = sql_type.to_ascii_lowercase();
    t.starts_with("datetime") || (t.starts_with("timestamp") && t.contains("without time zone"))
}

/// The expression a delete trigger stamps a tombstone with: the time of the delete in the
/// column's terms (`zone`: the side's declared time zone, for columns without zone), or for
/// versions (and timestamps kept as numbers) the deleted row's own value.
pub(crate) fn trigger_stamp(dialect: Dialect, guard: &Guard, column: &Column, zone: &str) -> String {
    let old = format!("OLD.{}", dialect.quote(&guard.column));
    let t = column.sql_type.to_ascii_lowercase();
    let is_time = t.starts_with("datetime") || t.starts_with("timestamp");
    if guard.kind == Kind::Version || !is_time {
        return old;
    }
    let zone = zone.replace('\'', "''");
    let now = match (dialect, is_naive_timestamp(&t)) {
        (Dialect::Postgres, true) => format!("(clock_timestamp() AT TIME ZONE '{zone}')"),
        (Dialect::Postgres, false) => "clock_timestamp()".into(),
        (Dialect::MySql, true) if zone == "UTC" => "UTC_TIMESTAMP(6)".into(),
        // Named zones need MySQL's time zone tables; without them, the session's zone.
        (Dialect::MySql, true) => format!("COALESCE(CONVERT_TZ(UTC_TIMESTAMP(6), '+00:00', '{zone}'), NOW(6))"),
        (Dialect::MySql, false) => "NOW(6)".into(),
    };
    // A delete is never older than the row it deleted (an application whose clock runs ahead,
    // or a row stamped in the future): the mapping stamps deletes the same way, so both sides
    // keep the same time. MySQL's GREATEST is NULL when an argument is.
    format!("GREATEST({now}, COALESCE({old}, {now}))")
}

/// MySQL takes no offset in a datetime literal: a delete's time (an instant at the target zone's
/// offset) bound for a `DATETIME` conflict column becomes that zone's wall-clock time. PostgreSQL
/// does this itself when it casts to `timestamp`.
pub(crate) fn localize(
    dialect: Dialect,
    changes: &mut std::borrow::Cow<'_, [RowChange]>,
    schemas: &[std::sync::Arc<TableSchema>],
    policies: &std::collections::HashMap<TableName, TablePolicy>,
) {
    if dialect != Dialect::MySql {
        return;
    }
    for i in 0..changes.len() {
        let change = &changes[i];
        let Some(guard) = policies.get(&change.table).and_then(|p| p.guard.as_ref()) else { continue };
        let naive = schemas[i].column(&guard.column).is_some_and(|c| is_naive_timestamp(&c.sql_type));
        let local = match &change.kind {
            RowChangeKind::Delete(row) if naive => match row.get(&guard.column) {
                Some(Value::TimestampTz(t)) if t.offset().local_minus_utc() != 0 => Value::Timestamp(t.naive_local()),
                _ => continue,
            },
            _ => continue,
        };
        if let RowChangeKind::Delete(row) = &mut changes.to_mut()[i].kind {
            row.set(guard.column.clone(), local);
        }
    }
}
