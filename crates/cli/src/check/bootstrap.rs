//! The bootstrap part of `dualsync check`: rows both sides already hold under one key with
//! different content (each application's own data from before sync began). The legacy side's
//! rows are read, mapped as the consumer maps its snapshot, and compared with the revamp side's
//! rows by the query the writer runs before a snapshot row is written.

use dualsync_envelope::{ChangeEvent, Op, Source};
use dualsync_mapping::{Direction, Mapped, Mapping, RowChangeKind, TablePair};
use dualsync_writer::{Collision, Writer};
use futures_util::StreamExt as _;

/// Rows compared per query.
const CHUNK: usize = 1000;
/// Colliding keys printed per table; the rest are counted.
const SHOWN: usize = 10;

/// What the comparison of one table pair found.
pub struct Report {
    /// Legacy rows compared.
    pub compared: u64,
    /// The colliding rows (key and the revamp row), in the order found.
    pub collisions: Vec<Collision>,
}

/// Compares the legacy rows of `pair` with the revamp side's.
pub async fn compare(
    mapping: &Mapping,
    pair: &TablePair,
    legacy: &mut Writer,
    revamp: &mut Writer,
) -> anyhow::Result<Report> {
    let direction = Direction::LegacyToRevamp;
    revamp.set_policy(pair.target(direction).clone(), dualsync_consumer::table_policy(pair, direction));
    let mut report = Report { compared: 0, collisions: Vec::new() };
    let mut rows = legacy.scan(pair.source(direction)).await?;
    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        let row = rows.next().await.transpose()?;
        let done = row.is_none();
        if let Some(row) = row {
            report.compared += 1;
            let mut event = ChangeEvent::new(Op::Read);
            let source = pair.source(direction);
            event.source = Source {
                schema: source.namespace.clone(),
                table: Some(source.name.clone()),
                snapshot: Some("true".into()),
                ..Source::default()
            };
            event.after = Some(row);
            // A row the mapping leaves out (filtered, dualsync's own) is not compared.
            if let Mapped::Apply(change) = mapping.map_event(direction, &event)?
                && matches!(change.kind, RowChangeKind::Seed(_))
            {
                chunk.push(change);
            }
        }
        if chunk.len() >= CHUNK || (done && !chunk.is_empty()) {
            report.collisions.extend(revamp.collisions(&chunk).await?.into_iter().map(|(_, c)| c));
            chunk.clear();
        }
        if done {
            return Ok(report);
        }
    }
}

/// The report's lines: nothing when no row collides.
pub fn describe(pair: &TablePair, report: &Report) -> Option<String> {
    if report.collisions.is_empty() {
        return None;
    }
    let keys: Vec<String> = (report.collisions.iter().take(SHOWN))
        .map(|c| c.key.iter().map(|(column, value)| format!("{column}={value}")).collect::<Vec<_>>().join(","))
        .collect();
    let more = report.collisions.len().saturating_sub(SHOWN);
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    let policy = match pair.sync.bootstrap {
        dualsync_mapping::spec::BootstrapMode::Refuse => {
            "sync.bootstrap is `refuse` (the default): the snapshots leave them alone and dead-letter them; choose \
             `legacy-wins`, `revamp-wins` or `newest-wins` for this table before starting the consumers"
        }
        _ => "sync.bootstrap settles them when the snapshots arrive",
    };
    Some(format!(
        "{} of {} rows collide: both sides hold a different row under the same key ({}{more}); {policy}",
        report.collisions.len(),
        report.compared,
        keys.join("; ")
    ))
}
