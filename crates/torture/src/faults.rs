//! Faults at random moments of the run, drawn from the seed: `kill -9` and restart of each
//! capture and each consumer, a database outage on each side, a broker restart.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::procs::Supervisor;

/// One fault.
#[derive(Debug, Clone)]
pub enum Fault {
    /// `kill -9` of a process (by index), started again after the pause.
    Kill(usize, Duration),
    /// Stop a database (`mariadb` or `postgres`) for this long, then start it.
    Outage(&'static str, Duration),
    /// Stop the broker for this long, then start it (durable storage only).
    BrokerRestart(Duration),
}

/// A fault and when, from the start of the writes.
pub type Planned = (Duration, Fault);

/// The plan for a run of `seconds` with `processes` processes: each process killed once (and a
/// few more kills at random), an outage of each database, and a broker restart when `broker`.
pub fn plan(seed: u64, seconds: u64, processes: usize, outage: Duration, broker: bool) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let extra: Vec<usize> = (0..processes / 2).map(|_| rng.random_range(0..processes)).collect();
    let mut faults: Vec<Fault> =
        (0..processes).chain(extra).map(|p| Fault::Kill(p, Duration::from_millis(rng.random_range(0..3000)))).collect();
    faults.push(Fault::Outage("postgres", outage));
    faults.push(Fault::Outage("mariadb", outage));
    if broker {
        faults.push(Fault::BrokerRestart(Duration::from_secs(3)));
    }
    faults.shuffle(&mut rng);
    // Spread over the run, leaving its last tenth quiet.
    let span = (seconds * 900).max(1);
    let mut planned: Vec<Planned> =
        faults.into_iter().map(|f| (Duration::from_millis(rng.random_range(span / 20..span)), f)).collect();
    planned.sort_by_key(|(at, _)| *at);
    planned
}

/// Carries the plan out, one fault at a time (a fault that comes while an outage lasts waits
/// for it). Returns what was injected, with when it started.
pub async fn inject(
    plan: Vec<Planned>,
    supervisor: Arc<Mutex<Supervisor>>,
    services: PathBuf,
    started: Instant,
) -> Vec<(Duration, String)> {
    let mut done = Vec::new();
    for (at, fault) in plan {
        tokio::time::sleep_until(started + at).await;
        let when = started.elapsed();
        let what = match &fault {
            Fault::Kill(index, pause) => {
                let mut supervisor = supervisor.lock().await;
                supervisor.kill(*index, *pause).await;
                format!("kill -9 {} (restarted after {} ms)", supervisor.processes[*index].name, pause.as_millis())
            }
            Fault::Outage(db, length) => {
                let ran = run_services(&services, &["outage", db, &length.as_secs().to_string()]).await;
                format!("{db} down for {} s{ran}", length.as_secs())
            }
            Fault::BrokerRestart(length) => {
                let ran = run_services(&services, &["broker-restart", &length.as_secs().to_string()]).await;
                format!("broker down for {} s{ran}", length.as_secs())
            }
        };
        eprintln!("torture: {:>6.1} s  fault: {what}", when.as_secs_f64());
        done.push((when, what));
    }
    done
}

async fn run_services(services: &PathBuf, args: &[&str]) -> String {
    match tokio::process::Command::new(services).args(args).output().await {
        Ok(out) if out.status.success() => String::new(),
        Ok(out) => format!(" (FAILED: {})", String::from_utf8_lossy(&out.stderr).trim()),
        Err(e) => format!(" (FAILED: {e})"),
    }
}
