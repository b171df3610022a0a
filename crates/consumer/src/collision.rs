//! Collisions of two different rows under one key, as the writer reports them (a snapshot row
//! meeting the other application's row, a create meeting a row under the same generated id):
//! what the consumer tells the operator about each.

use std::collections::HashMap;

use dualsync_mapping::TableName;
use dualsync_writer::{Collision, Decisions};

/// The refused collisions of a write's decisions, with their tables.
pub(crate) fn collisions(decisions: HashMap<TableName, Decisions>) -> impl Iterator<Item = (TableName, Collision)> {
    decisions.into_iter().flat_map(|(table, d)| d.collisions.into_iter().map(move |c| (table.clone(), c)))
}

/// What a collision's dead letter says: the key, the stored row, and the operator's next step.
pub(crate) fn collision_text(table: &TableName, collision: &Collision) -> String {
    let key: Vec<String> = collision.key.iter().map(|(c, v)| format!("{c}={v}")).collect();
    let (key, stored) = (key.join(", "), &collision.stored);
    if collision.create {
        format!(
            "id collision in {table}: the source created a row under ({key}), and the target holds a different row \
             under it, created there: {stored}. Both rows are left as they are: the two applications hand out the \
             same ids. Give the key disjoint ranges on the two sides (see `dualsync check`), give one of the two \
             rows a new id, then replay this dead letter (`dualsync dlq replay`)"
        )
    } else {
        format!(
            "bootstrap collision in {table}: the target already holds a different row under ({key}): {stored}. Both \
             rows are left as they are. Choose which side wins in the mapping (`sync.bootstrap: legacy-wins`, \
             `revamp-wins` or `newest-wins`), restart the consumer, then replay this dead letter (`dualsync dlq replay`)"
        )
    }
}

/// A collision reported without a dead-letter topic; `event` is its `topic[partition]@offset`.
pub(crate) fn log_collision(event: &str, table: &TableName, collision: &Collision) {
    tracing::error!(event, "{}", collision_text(table, collision));
}
