//! Commit → visible on the other side, measured during the torture: each direction has a probe
//! row (id -1 made on legacy, -2 on the revamp) that one side updates and the other side is
//! polled for, one probe in flight at a time, every 250 ms.

use std::time::Duration;

use tokio::time::Instant;

use crate::db::Db;

/// One direction's probe: where it writes and where it looks.
pub struct Probe {
    /// The side written.
    pub from: Db,
    /// The side polled.
    pub to: Db,
}

/// The probe rows, written on both sides before the captures start.
pub fn rows_sql(legacy: bool) -> String {
    if legacy {
        "INSERT INTO torture.people VALUES (-1, 'probe-l@example.org', 'probe', 'active', NULL, '2000-01-01 00:00:00+00'), \
         (-2, 'probe-r@example.org', 'probe', 'active', NULL, '2000-01-01 00:00:00+00')"
            .into()
    } else {
        "INSERT INTO torture_revamp.members VALUES (-1, 'probe-l@example.org', 'probe', 'A', NULL, '2000-01-01 00:00:00'), \
         (-2, 'probe-r@example.org', 'probe', 'A', NULL, '2000-01-01 00:00:00')"
            .into()
    }
}

impl Probe {
    /// Probes until `until`; returns the latencies seen and how many probes were not seen
    /// within 120 s (or could not be written, during an outage of the written side).
    pub async fn run(self, until: Instant) -> (Vec<Duration>, u64) {
        let (mut seen, mut unseen) = (Vec::new(), 0);
        let mut n = 0u64;
        while Instant::now() < until {
            n += 1;
            let name = format!("probe-{n}");
            let write = if self.from.is_pg() {
                format!("UPDATE torture.people SET full_name = '{name}', updated_at = clock_timestamp() WHERE id = -1")
            } else {
                format!(
                    "UPDATE torture_revamp.members SET name = '{name}', modified_at = UTC_TIMESTAMP(6) WHERE member_id = -2"
                )
            };
            let look = if self.to.is_pg() {
                "SELECT full_name FROM torture.people WHERE id = -2"
            } else {
                "SELECT name FROM torture_revamp.members WHERE member_id = -1"
            };
            if self.from.transaction(&[write, "SELECT 'done'".into()]).await.is_err() {
                unseen += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            let committed = Instant::now();
            loop {
                let rows = self.to.rows(look).await.unwrap_or_default();
                if rows.first().and_then(|r| r[0].as_deref()) == Some(name.as_str()) {
                    seen.push(committed.elapsed());
                    break;
                }
                if committed.elapsed() > Duration::from_secs(120) {
                    unseen += 1;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        (seen, unseen)
    }
}

/// The `q` quantile (0..=1) of sorted latencies.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index]
}
