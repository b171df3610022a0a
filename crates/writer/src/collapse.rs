//! Several changes to one row within a batch collapse to the row's final state.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;

use dualsync_conflict::Guard;
use dualsync_envelope::Value;
use dualsync_mapping::{RowChange, RowChangeKind};

/// Collapses `changes` whose `keys` (one per change: the table and its key values) repeat: the
/// last change of each row wins and takes the place of that last occurrence, so the final states
/// keep their relative order — unless `guard` (the table's conflict rule, if any) says the earlier
/// change is newer: one row's changes can arrive from two topics (a delete from the table's topic,
/// with its coarse binlog time, and its exact twin from the tombstone topic), whose order in the
/// batch says nothing, and the change last writer wins would keep must be the one kept. A later
/// upsert that lacks a value (unchanged TOAST) keeps the value an earlier upsert of the batch
/// gave; a delete followed by a create is a create.
pub(crate) fn collapse<'a>(
    changes: &'a [RowChange],
    keys: &[String],
    guard: impl Fn(&RowChange) -> Option<Guard>,
) -> Cow<'a, [RowChange]> {
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        last.insert(key.as_str(), i);
    }
    if last.len() == changes.len() {
        return Cow::Borrowed(changes);
    }
    let mut state: HashMap<&str, RowChange> = HashMap::new();
    let mut out = Vec::with_capacity(last.len());
    for (i, (change, key)) in changes.iter().zip(keys).enumerate() {
        let earlier = state.remove(key.as_str());
        if let Some(earlier) = &earlier
            && guard(change).is_some_and(|g| newer(&g, earlier, change))
        {
            keep(&mut out, &mut state, &last, i, key, earlier.clone());
            continue;
        }
        let merged = match (earlier, &change.kind) {
            (Some(RowChange { kind: earlier, .. }), RowChangeKind::Upsert(later))
                if earlier.written_row().is_some() =>
            {
                let earlier = earlier.written_row().expect("checked");
                let mut row = later.clone();
                for (column, value) in row.0.iter_mut() {
                    if *value == Value::Unavailable
                        && let Some(known) = earlier.get(column).filter(|v| **v != Value::Unavailable)
                    {
                        *value = known.clone();
                    }
                }
                RowChange { table: change.table.clone(), kind: RowChangeKind::Upsert(row) }
            }
            _ => change.clone(),
        };
        keep(&mut out, &mut state, &last, i, key, merged);
    }
    Cow::Owned(out)
}

/// Keeps `change` as the state of the row `key`: out in place of its last occurrence `i`, or
/// in `state` until then.
fn keep<'k>(
    out: &mut Vec<RowChange>,
    state: &mut HashMap<&'k str, RowChange>,
    last: &HashMap<&str, usize>,
    i: usize,
    key: &'k str,
    change: RowChange,
) {
    if last.get(key) == Some(&i) {
        out.push(change);
    } else {
        state.insert(key, change);
    }
}

/// Whether `earlier` beats `later` under `guard`: both carry the conflict value, and the earlier
/// one's is greater, or equal with the earlier a delete and the later not (a delete wins ties).
fn newer(guard: &Guard, earlier: &RowChange, later: &RowChange) -> bool {
    fn stamp<'c>(c: &'c RowChange, column: &str) -> Option<&'c Value> {
        match &c.kind {
            RowChangeKind::Upsert(row)
            | RowChangeKind::Create(row)
            | RowChangeKind::Seed(row)
            | RowChangeKind::Delete(row) => row.get(column).filter(|v| !v.is_null()),
            RowChangeKind::Truncate => None,
        }
    }
    let is_delete = |c: &RowChange| matches!(c.kind, RowChangeKind::Delete(_));
    match stamp(earlier, &guard.column).zip(stamp(later, &guard.column)).and_then(|(a, b)| order(a, b)) {
        Some(Ordering::Greater) => true,
        Some(Ordering::Equal) => is_delete(earlier) && !is_delete(later),
        _ => false,
    }
}

/// The order of two conflict values of one column, when they are comparable. A timestamp without
/// zone and one with compare by wall-clock time: the mapping gives a delete's commit time as an
/// instant at the target zone's offset, and the same row's exact time from a tombstone (or the
/// before image) as the column's own zoneless value; both mean the target zone's wall clock.
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Timestamp(a), Value::TimestampTz(b)) => Some(a.cmp(&b.naive_local())),
        (Value::TimestampTz(a), Value::Timestamp(b)) => Some(a.naive_local().cmp(b)),
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::UInt(a), Value::UInt(b)) => Some(a.cmp(b)),
        (Value::Int(a), Value::UInt(b)) => Some(i128::from(*a).cmp(&i128::from(*b))),
        (Value::UInt(a), Value::Int(b)) => Some(i128::from(*a).cmp(&i128::from(*b))),
        (Value::Decimal(a), Value::Decimal(b)) => Some(a.cmp(b)),
        (Value::Timestamp(a), Value::Timestamp(b)) => Some(a.cmp(b)),
        (Value::TimestampTz(a), Value::TimestampTz(b)) => Some(a.cmp(b)),
        (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// Within each run of consecutive changes to one table, moves the deletes before the upserts
/// (keeping each group's order), so the run is written as two multi-row statements instead of
/// alternating small ones. The changes are collapsed (each row once), so rows are independent
/// except through a foreign key of the table to itself, whose runs keep their order; unique keys
/// only gain (a value a delete frees is free earlier). Truncates and the order between tables
/// stay where they were. Returns the new order as positions into `changes`, or `None` when
/// nothing moves.
pub(crate) fn deletes_first(changes: &[RowChange], self_referencing: &[bool]) -> Option<Vec<usize>> {
    let mut order = Vec::with_capacity(changes.len());
    let mut i = 0;
    while i < changes.len() {
        let mut end = i + 1;
        if !matches!(changes[i].kind, RowChangeKind::Truncate) {
            while end < changes.len()
                && changes[end].table == changes[i].table
                && !matches!(changes[end].kind, RowChangeKind::Truncate)
            {
                end += 1;
            }
        }
        let run = i..end;
        if self_referencing[i] {
            order.extend(run);
        } else {
            let is_delete = |k: &usize| matches!(changes[*k].kind, RowChangeKind::Delete(_));
            order.extend(run.clone().filter(is_delete));
            order.extend(run.filter(|k| !is_delete(k)));
        }
        i = end;
    }
    order.iter().enumerate().any(|(position, k)| position != *k).then_some(order)
}

#[cfg(test)]
mod tests {
    use dualsync_envelope::Row;
    use dualsync_mapping::TableName;

    use super::*;

    fn change(id: i64, kind: &str, doc: Value) -> (RowChange, String) {
        let table = TableName { namespace: None, name: "t".into() };
        let row = Row(vec![("id".into(), Value::Int(id)), ("doc".into(), doc)]);
        let kind = if kind == "d" { RowChangeKind::Delete(row) } else { RowChangeKind::Upsert(row) };
        (RowChange { table, kind }, format!("t/{id}"))
    }

    fn run(input: Vec<(RowChange, String)>) -> Vec<(i64, &'static str, Value)> {
        let (changes, keys): (Vec<_>, Vec<_>) = input.into_iter().unzip();
        collapse(&changes, &keys, |_| None)
            .into_owned()
            .into_iter()
            .map(|c| match c.kind {
                RowChangeKind::Upsert(r) => (r.0[0].1.clone(), "u", r.0[1].1.clone()),
                RowChangeKind::Delete(r) => (r.0[0].1.clone(), "d", r.0[1].1.clone()),
                RowChangeKind::Seed(r) => (r.0[0].1.clone(), "s", r.0[1].1.clone()),
                RowChangeKind::Create(r) => (r.0[0].1.clone(), "c", r.0[1].1.clone()),
                RowChangeKind::Truncate => (Value::Null, "t", Value::Null),
            })
            .map(|(id, k, doc)| (if let Value::Int(i) = id { i } else { -1 }, k, doc))
            .collect()
    }

    #[test]
    fn last_state_wins_in_order_of_last_change() {
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(
            run(vec![change(1, "u", text("a")), change(2, "u", text("x")), change(1, "u", text("b"))]),
            vec![(2, "u", text("x")), (1, "u", text("b"))]
        );
        assert_eq!(run(vec![change(1, "u", text("a")), change(1, "d", Value::Null)]), vec![(1, "d", Value::Null)]);
        assert_eq!(run(vec![change(1, "d", Value::Null), change(1, "u", text("new"))]), vec![(1, "u", text("new"))]);
        // An unchanged TOAST value keeps what an earlier change of the batch wrote.
        assert_eq!(
            run(vec![change(1, "u", text("big")), change(1, "u", Value::Unavailable)]),
            vec![(1, "u", text("big"))]
        );
        assert_eq!(run(vec![change(1, "u", Value::Unavailable)]), vec![(1, "u", Value::Unavailable)]);
    }

    /// A PostgreSQL delete under the default replica identity comes twice: from the table's topic
    /// with its commit time (an instant at the target zone's offset) and from the tombstone
    /// topic with the row's exact, zoneless time. Whichever is last in the batch, the newer is
    /// kept; before, the two types did not compare, the last was kept, and a commit time older
    /// than the row lost to it on the target: the row stayed for ever (found by
    /// `a_delete_wins_over_the_row_it_deleted_both_ways`).
    #[test]
    fn a_zoneless_and_a_zoned_stamp_compare_by_wall_clock() {
        use chrono::{DateTime, NaiveDateTime};
        let guard = Guard { kind: dualsync_conflict::Kind::Timestamp, column: "doc".into(), incoming_wins_ties: false };
        let exact = NaiveDateTime::parse_from_str("2026-12-03 18:57:10.704039", "%Y-%m-%d %H:%M:%S%.f").expect("time");
        let commit = DateTime::parse_from_rfc3339("2026-12-03T18:57:09.517+01:00").expect("time");
        let (exact, commit) = (change(1, "d", Value::Timestamp(exact)), change(1, "d", Value::TimestampTz(commit)));
        for input in [vec![exact.clone(), commit.clone()], vec![commit.clone(), exact.clone()]] {
            let (changes, keys): (Vec<_>, Vec<_>) = input.into_iter().unzip();
            let kept = collapse(&changes, &keys, |_| Some(guard.clone())).into_owned();
            assert_eq!(kept, vec![exact.0.clone()]);
        }
    }

    #[test]
    fn deletes_move_first_within_a_table_run() {
        let table = |name: &str| TableName { namespace: None, name: name.into() };
        let row = |id: i64| Row(vec![("id".into(), Value::Int(id))]);
        let up = |t: &str, id| RowChange { table: table(t), kind: RowChangeKind::Upsert(row(id)) };
        let del = |t: &str, id| RowChange { table: table(t), kind: RowChangeKind::Delete(row(id)) };
        let truncate = |t: &str| RowChange { table: table(t), kind: RowChangeKind::Truncate };
        let changes =
            [up("a", 1), del("a", 2), up("a", 3), del("a", 4), up("b", 5), del("b", 6), truncate("b"), del("b", 7)];
        assert_eq!(deletes_first(&changes, &[false; 8]), Some(vec![1, 3, 0, 2, 5, 4, 6, 7]));
        // A table referencing itself keeps its order; so does a batch with nothing to move.
        let tree = [true, true, true, true, false, false, false, false];
        assert_eq!(deletes_first(&changes, &tree), Some(vec![0, 1, 2, 3, 5, 4, 6, 7]));
        assert_eq!(deletes_first(&changes[..1], &[false]), None);
    }
}
