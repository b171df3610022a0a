//! Changes waiting for their parent row: a change the target refused for a missing referenced
//! row (a foreign key) is parked here instead of holding its batch, its partition or the worker
//! back, and retried until the parent has arrived (from another topic, or through another worker).
//!
//! Parking is in memory; what makes it safe is that the durable positions never pass a parked
//! event: the checkpoint in the target and the Kafka offset of its partition stay just before the
//! oldest parked event, so after a crash, a restart or a handover to another consumer it is read
//! again, with everything after it (applied again, which idempotent writes make harmless). Later
//! events with the same Kafka key (the same row) are parked behind it, so each row's changes keep
//! their order.

use std::collections::BTreeMap;

use dualsync_mapping::RowChange;
use rdkafka::message::{Message, OwnedMessage};
use tokio::time::Instant;

/// A (topic, partition).
pub(crate) type Partition = (String, i32);

/// One parked change: its event and the change it maps to.
pub(crate) struct ParkedChange {
    /// The event, for the dead-letter topic and the retry's in-flight marking.
    pub(crate) message: OwnedMessage,
    /// The mapped change.
    pub(crate) change: RowChange,
    /// When its wait started: it waits for its parent until `retry.foreign_key_seconds` after
    /// this, once the consumer has read what came before it (see [`Parking::start_waits`]).
    pub(crate) since: Instant,
    /// What must be read before its wait counts.
    pub(crate) horizon: Horizon,
    /// The rows it was last refused for, found missing (empty: not known). Until one of them is
    /// there, or its wait is over, a retry round does not write it again.
    pub(crate) missing: Vec<dualsync_writer::MissingParent>,
}

/// Where a parked change's wait starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Horizon {
    /// Not yet known: taken at the next retry round.
    Unset,
    /// The partitions' ends when it was first seen: its wait starts once they are read.
    Until(BTreeMap<Partition, i64>),
    /// Read: it has waited since `since`.
    Reached,
}

impl ParkedChange {
    /// How long it has waited for its parent (nothing before its horizon is reached).
    pub(crate) fn waited(&self) -> std::time::Duration {
        match self.horizon {
            Horizon::Reached => self.since.elapsed(),
            Horizon::Unset | Horizon::Until(_) => std::time::Duration::ZERO,
        }
    }
}

/// The parked changes of one worker, in (topic, partition, offset) order.
#[derive(Default)]
pub(crate) struct Parking {
    changes: Vec<ParkedChange>,
}

impl Parking {
    /// Whether nothing is parked.
    pub(crate) fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// How many changes are parked.
    pub(crate) fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether this very event is parked already (it was read again after a rebalance).
    pub(crate) fn contains(&self, message: &OwnedMessage) -> bool {
        self.changes.iter().any(|p| same_partition(&p.message, message) && p.message.offset() == message.offset())
    }

    /// Whether an earlier event of the same row (partition and Kafka key) is parked, so this one
    /// must wait behind it. Events without a key are not ordered by key.
    pub(crate) fn holds_key(&self, message: &OwnedMessage) -> bool {
        message.key().is_some()
            && self.changes.iter().any(|p| same_partition(&p.message, message) && p.message.key() == message.key())
    }

    /// Whether an upsert of `table`'s row with these (column, value as text) pairs is parked:
    /// a missing parent that waits here too, so its child waits for its fate.
    pub(crate) fn holds(&self, table: &dualsync_mapping::TableName, key: &[(String, String)]) -> bool {
        self.changes.iter().any(|p| {
            p.change.table == *table
                && p.change.kind.written_row().is_some_and(|row| {
                    key.iter().all(|(c, v)| row.get(c).and_then(dualsync_writer::key_text).as_ref() == Some(v))
                })
        })
    }

    /// Starts the waits of the parked changes whose horizon the consumer has reached: everything
    /// the broker held, on every partition, when the change was first seen here has been handled
    /// by the workers (`positions`: per partition, the offset after the last event handled;
    /// `ends`: the partitions' high watermarks now).
    /// Until then a missing parent may still be unread, on another partition (after a restart or
    /// an outage the consumer is far behind), so its wait does not count. A partition no longer
    /// read here is not waited for.
    pub(crate) fn start_waits(&mut self, positions: &BTreeMap<Partition, i64>, ends: &BTreeMap<Partition, i64>) {
        for parked in &mut self.changes {
            match &parked.horizon {
                // Unknown ends (the broker did not answer): asked again next round.
                Horizon::Unset if ends.is_empty() => {}
                Horizon::Unset => parked.horizon = Horizon::Until(ends.clone()),
                Horizon::Until(ends) if ends.iter().all(|(p, end)| positions.get(p).is_none_or(|at| at >= end)) => {
                    parked.horizon = Horizon::Reached;
                    parked.since = Instant::now();
                }
                Horizon::Until(_) | Horizon::Reached => {}
            }
        }
    }

    /// Whether a change parked since the last round has no horizon yet (see
    /// [`Parking::start_waits`]): only then are the partitions' ends needed.
    pub(crate) fn needs_horizon(&self) -> bool {
        self.changes.iter().any(|p| p.horizon == Horizon::Unset)
    }

    /// Parks a change, keeping the order.
    pub(crate) fn park(&mut self, message: OwnedMessage, change: RowChange) {
        let position = self.changes.partition_point(|p| order(&p.message) <= order(&message));
        self.changes.insert(
            position,
            ParkedChange { message, change, since: Instant::now(), horizon: Horizon::Unset, missing: Vec::new() },
        );
    }

    /// The parked changes, in order.
    pub(crate) fn changes(&self) -> &[ParkedChange] {
        &self.changes
    }

    /// Records the rows the change at `position` was refused for.
    pub(crate) fn set_missing(&mut self, position: usize, missing: Vec<dualsync_writer::MissingParent>) {
        self.changes[position].missing = missing;
    }

    /// Removes the changes at `positions` (ascending), returning them.
    pub(crate) fn remove(&mut self, positions: &[usize]) -> Vec<ParkedChange> {
        let mut removed: Vec<ParkedChange> = positions.iter().rev().map(|&i| self.changes.remove(i)).collect();
        removed.reverse();
        removed
    }

    /// Whether the change at `position` waits behind an earlier parked change of the same row,
    /// not counting the changes at `gone` (applied in this round).
    pub(crate) fn behind(&self, position: usize, gone: &[usize]) -> bool {
        let message = &self.changes[position].message;
        message.key().is_some()
            && self.changes[..position].iter().enumerate().any(|(i, p)| {
                !gone.contains(&i) && same_partition(&p.message, message) && p.message.key() == message.key()
            })
    }

    /// Drops the changes of partitions this consumer no longer holds: their next owner reads
    /// them again (the committed offset is before them).
    pub(crate) fn retain(&mut self, mut assigned: impl FnMut(&str, i32) -> bool) {
        self.changes.retain(|p| assigned(p.message.topic(), p.message.partition()));
    }

    /// Per partition with parked changes, the offset of the oldest: no durable position may
    /// pass it.
    pub(crate) fn floor(&self) -> BTreeMap<Partition, i64> {
        let mut floor = BTreeMap::new();
        for p in &self.changes {
            let slot = floor.entry((p.message.topic().to_string(), p.message.partition())).or_insert(i64::MAX);
            *slot = (*slot).min(p.message.offset());
        }
        floor
    }

    /// `next` (per partition, the offset to resume from) held back to the oldest parked event.
    pub(crate) fn cap(&self, next: &mut BTreeMap<Partition, i64>) {
        for (partition, oldest) in self.floor() {
            if let Some(offset) = next.get_mut(&partition) {
                *offset = (*offset).min(oldest);
            }
        }
    }
}

fn same_partition(a: &OwnedMessage, b: &OwnedMessage) -> bool {
    a.partition() == b.partition() && a.topic() == b.topic()
}

fn order(m: &OwnedMessage) -> (&str, i32, i64) {
    (m.topic(), m.partition(), m.offset())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dualsync_mapping::{RowChangeKind, TableName};
    use rdkafka::Timestamp;

    fn event(partition: i32, offset: i64, key: &str) -> OwnedMessage {
        OwnedMessage::new(
            None,
            Some(key.as_bytes().to_vec()),
            "t".into(),
            Timestamp::NotAvailable,
            partition,
            offset,
            None,
        )
    }

    fn change() -> RowChange {
        RowChange { table: TableName { namespace: None, name: "posts".into() }, kind: RowChangeKind::Truncate }
    }

    #[tokio::test]
    async fn positions_never_pass_the_oldest_parked_event() {
        let mut parking = Parking::default();
        parking.park(event(0, 9, "b"), change());
        parking.park(event(0, 4, "a"), change());
        parking.park(event(1, 7, "a"), change());
        let offsets: Vec<i64> = parking.changes().iter().map(|p| p.message.offset()).collect();
        assert_eq!(offsets, [4, 9, 7], "in (partition, offset) order");
        let mut next =
            BTreeMap::from([(("t".to_string(), 0), 12), (("t".to_string(), 1), 5), (("t".to_string(), 2), 3)]);
        parking.cap(&mut next);
        assert_eq!(next.into_values().collect::<Vec<_>>(), [4, 5, 3]);
        // The same key is ordered per partition.
        assert!(parking.holds_key(&event(0, 20, "a")));
        assert!(!parking.holds_key(&event(0, 20, "c")));
        assert!(parking.holds_key(&event(1, 20, "a")));
        assert!(parking.contains(&event(0, 9, "b")) && !parking.contains(&event(0, 10, "b")));
        parking.park(event(0, 20, "a"), change());
        assert!(parking.behind(2, &[]) && !parking.behind(0, &[]));
        assert!(!parking.behind(2, &[0]), "once the first is applied the next of the row may go");
        let removed = parking.remove(&[0, 2]);
        assert_eq!(removed.iter().map(|p| p.message.offset()).collect::<Vec<_>>(), [4, 20], "in order");
        parking.park(event(0, 20, "a"), change());
        assert!(!parking.behind(1, &[]));
        parking.retain(|_, partition| partition == 1);
        assert_eq!(parking.len(), 1);
    }

    /// A round that did not learn the partitions' ends does not start a newly parked change's
    /// wait (before, an empty answer counted as "everything read").
    #[tokio::test]
    async fn unknown_ends_leave_the_horizon_unset() {
        let mut parking = Parking::default();
        parking.park(event(0, 4, "a"), change());
        assert!(parking.needs_horizon());
        // A round that did not ask the broker (or got no answer) has no ends.
        parking.start_waits(&BTreeMap::from([(("t".to_string(), 0), 5)]), &BTreeMap::new());
        parking.start_waits(&BTreeMap::from([(("t".to_string(), 0), 5)]), &BTreeMap::new());
        assert_eq!(parking.changes()[0].horizon, Horizon::Unset, "its wait has not started");
        assert!(parking.needs_horizon());
        parking.start_waits(&BTreeMap::new(), &BTreeMap::from([(("t".to_string(), 0), 9)]));
        assert!(!parking.needs_horizon());
    }

    /// After a restart the consumer is behind: a child's wait for its parent starts only once the
    /// partitions are read up to where they ended when the child was first seen.
    #[tokio::test]
    async fn a_wait_counts_once_what_came_before_the_change_is_read() {
        let mut parking = Parking::default();
        parking.park(event(0, 4, "a"), change());
        let at = |offset| BTreeMap::from([(("t".to_string(), 0), 5), (("parents".to_string(), 0), offset)]);
        let ends = at(900);
        parking.start_waits(&at(100), &ends);
        assert_eq!(parking.changes()[0].horizon, Horizon::Until(ends.clone()));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        parking.start_waits(&at(899), &at(1000));
        assert_eq!(parking.changes()[0].waited(), std::time::Duration::ZERO, "the parents' topic is still behind");
        parking.start_waits(&at(900), &at(1000));
        assert_eq!(parking.changes()[0].horizon, Horizon::Reached);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(parking.changes()[0].waited() >= std::time::Duration::from_millis(20));
        // Later rounds do not move the start again.
        let waited = parking.changes()[0].waited();
        parking.start_waits(&at(900), &at(2000));
        assert!(parking.changes()[0].waited() >= waited);
    }
}
