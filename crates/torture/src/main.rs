//! `torture`: the convergence harness (run it with `testing/torture.sh`, see the README).
//!
//! It sets up its own mapped pair (mappings/torture: PostgreSQL legacy, MariaDB revamp), starts
//! both `dualsync capture` processes and both consumers, runs writers on both sides doing
//! random inserts, updates, deletes and multi-table transactions on overlapping rows, injects
//! faults (kill -9 of each process, an outage of each database, a broker restart), waits for
//! quiet and compares both sides row by row. It exits 1 on any mismatch or dead letter and
//! prints its seed; `--seed` replays the same workload and fault plan (the interleaving of
//! concurrent transactions is the machine's).

mod compare;
mod db;
mod faults;
mod latency;
mod observe;
mod procs;
mod setup;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::db::Db;
use crate::procs::Supervisor;
use crate::setup::World;

/// The convergence harness.
#[derive(Debug, Parser)]
struct Args {
    /// The seed of the workload and of the fault plan (default: a random one, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// How long the writers write.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Writers per side.
    #[arg(long, default_value_t = 2)]
    writers: usize,
    /// The longest pause of a writer between two transactions, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pause_ms: u64,
    /// No faults: only the concurrent writes.
    #[arg(long)]
    no_faults: bool,
    /// How long each database outage lasts.
    #[arg(long, default_value_t = 10)]
    outage_seconds: u64,
    /// How long to wait, once the writers stop, for both sides to become identical.
    #[arg(long, default_value_t = 180)]
    quiet_timeout: u64,
    /// The script that stops and starts the services (outages, broker restart).
    #[arg(long, default_value = "testing/services.sh")]
    services: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("torture: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let seed = args.seed.unwrap_or_else(rand::random);
    let epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let run = format!("tt{epoch}");
    let world = World {
        dir: std::env::temp_dir().join("dualsync-torture").join(&run),
        run,
        urls: (dualsync_testkit::pg_url(), dualsync_testkit::mysql_url()),
        brokers: dualsync_testkit::kafka_brokers(),
    };
    eprintln!("torture: seed {seed}; run {} (configurations and logs in {})", world.run, world.dir.display());
    let pool = args.writers as u32 + 4;
    let (legacy, revamp) = (Db::connect(&world.urls.0, pool).await?, Db::connect(&world.urls.1, pool).await?);
    setup::schemas(&legacy, &revamp).await?;
    let supervisor = Arc::new(Mutex::new(Supervisor::start(setup::processes(&world).await?)?));
    let tending = tokio::spawn(tend(supervisor.clone()));
    ready(&world).await?;

    let durable = std::env::var("DUALSYNC_KAFKA_STORAGE").is_ok_and(|s| !s.starts_with("memory"));
    let plan = if args.no_faults {
        Vec::new()
    } else {
        faults::plan(seed, args.seconds, 4, Duration::from_secs(args.outage_seconds), durable)
    };
    if !args.no_faults && !durable {
        eprintln!("torture: the broker keeps topics in memory: no broker restart (DUALSYNC_KAFKA_STORAGE=sqlite://…)");
    }
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let known = Arc::new(std::sync::Mutex::new(workload::Known::default()));
    let tallies = [Arc::new(workload::Tally::default()), Arc::new(workload::Tally::default())];
    let mut writers = Vec::new();
    for (side, db) in [&legacy, &revamp].into_iter().enumerate() {
        for id in 0..args.writers {
            let writer = workload::Writer::new(db.clone(), id, seed, known.clone(), tallies[side].clone());
            writers.push(tokio::spawn(writer.run(until, args.pause_ms)));
        }
    }
    let probes = [(&legacy, &revamp), (&revamp, &legacy)]
        .map(|(from, to)| tokio::spawn(latency::Probe { from: from.clone(), to: to.clone() }.run(until)));
    let injected = faults::inject(plan, supervisor.clone(), args.services.clone(), started).await;
    for writer in writers {
        writer.await?;
    }
    let mut latencies = Vec::new();
    for probe in probes {
        latencies.push(probe.await?);
    }
    eprintln!("torture: writes done after {:.1} s; waiting for quiet", started.elapsed().as_secs_f64());
    let quiet_started = Instant::now();
    let outcome = quiet(&world, &legacy, &revamp, Duration::from_secs(args.quiet_timeout)).await?;
    let quiet_after = quiet_started.elapsed();
    // What the consumers still hold (uncommitted or parked): it would be applied, or
    // dead-lettered, later.
    let mut left = 0;
    for legacy in [true, false] {
        left += backlog(&world, legacy).await.unwrap_or(i64::MAX / 4);
    }

    tending.abort();
    let mut supervisor = supervisor.lock().await;
    supervisor.stop().await;
    let slot = world.slot();
    let _ = legacy
        .rows(&format!(
            "SELECT pg_drop_replication_slot('{slot}') FROM pg_replication_slots WHERE slot_name = '{slot}'"
        ))
        .await;
    let _ = legacy.script(&format!("DROP PUBLICATION IF EXISTS {slot}")).await;

    let report =
        Report { seed, args: &args, world: &world, tallies: &tallies, latencies, injected, supervisor: &supervisor };
    report.print(&outcome, quiet_after);
    println!("  events the consumers still hold (not committed, or parked): {left}");
    let dead = [true, false].iter().map(|l| observe::end_offset(&world.brokers, &world.dlq(*l))).sum::<i64>();
    Ok(outcome.mismatches.is_empty() && dead == 0 && left == 0)
}

/// Restarts what exited, twice a second.
async fn tend(supervisor: Arc<Mutex<Supervisor>>) {
    loop {
        if let Err(e) = supervisor.lock().await.tend() {
            eprintln!("torture: cannot start a process: {e:#}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until both captures stream (each stored its first offset) and both consumers are ready.
async fn ready(world: &World) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(90);
    for legacy in [true, false] {
        while observe::end_offset(&world.brokers, &world.offsets(legacy)) == 0 {
            anyhow::ensure!(Instant::now() < deadline, "a capture did not start; see {}", world.dir.display());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        while observe::get(&world.http(legacy), "/readyz").await.map(|(s, _)| s) != Some(200) {
            anyhow::ensure!(Instant::now() < deadline, "a consumer is not ready; see {}", world.dir.display());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// How many events a consumer has not committed yet, and how many it holds parked; `None` when
/// it does not answer.
async fn backlog(world: &World, legacy: bool) -> Option<i64> {
    let (_, page) = observe::get(&world.http(legacy), "/metrics").await?;
    let parked = observe::metric_sum(&page, "dualsync_changes_waiting_for_parent").unwrap_or(0.0) as i64;
    let group = world.group(legacy);
    let behind: i64 = world
        .topics(legacy)
        .iter()
        .map(|t| observe::end_offset(&world.brokers, t) - observe::committed(&world.brokers, &group, t))
        .sum();
    Some(behind + parked)
}

/// Waits for both consumers to have nothing left and both sides to compare equal twice, 5 s
/// apart; returns the last comparison (with its mismatches after `timeout`).
async fn quiet(world: &World, legacy: &Db, revamp: &Db, timeout: Duration) -> anyhow::Result<compare::Comparison> {
    let deadline = Instant::now() + timeout;
    let mut equal_once = false;
    loop {
        let idle = backlog(world, true).await == Some(0) && backlog(world, false).await == Some(0);
        let outcome = compare::compare(legacy, revamp).await.context("comparing the sides")?;
        if idle && outcome.mismatches.is_empty() {
            if equal_once {
                return Ok(outcome);
            }
            equal_once = true;
        } else {
            equal_once = false;
        }
        if Instant::now() > deadline {
            return Ok(outcome);
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// The run's figures.
struct Report<'a> {
    seed: u64,
    args: &'a Args,
    world: &'a World,
    tallies: &'a [Arc<workload::Tally>; 2],
    latencies: Vec<(Vec<Duration>, u64)>,
    injected: Vec<(Duration, String)>,
    supervisor: &'a Supervisor,
}

impl Report<'_> {
    fn print(&self, outcome: &compare::Comparison, quiet_after: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let (world, seconds) = (self.world, self.args.seconds as f64);
        println!(
            "torture: seed {}, {} s of writes, {} writers per side",
            self.seed, self.args.seconds, self.args.writers
        );
        for (name, tally) in ["legacy (PostgreSQL)", "revamp (MariaDB)"].iter().zip(self.tallies) {
            let committed = tally.committed.load(Relaxed);
            let failed = tally.failed.load(Relaxed);
            let last = tally.last_error.lock().expect("tally").clone().unwrap_or_default();
            println!(
                "  writes {name}: {committed} transactions committed ({:.1}/s), {failed} failed (last: {})",
                committed as f64 / seconds,
                last.chars().take(120).collect::<String>()
            );
        }
        for (legacy, direction) in [(true, "legacy-to-revamp"), (false, "revamp-to-legacy")] {
            let topics = world.topics(legacy);
            let captured: i64 = topics.iter().map(|t| observe::end_offset(&world.brokers, t)).sum();
            let group = world.group(legacy);
            let consumed: i64 = topics.iter().map(|t| observe::committed(&world.brokers, &group, t)).sum();
            let dead = observe::end_offset(&world.brokers, &world.dlq(legacy));
            println!(
                "  {direction}: {captured} records captured, {consumed} consumed and committed, {dead} dead-lettered"
            );
        }
        for ((seen, unseen), direction) in self.latencies.iter().zip(["legacy → revamp", "revamp → legacy"]) {
            let mut sorted = seen.clone();
            sorted.sort();
            let ms = |q| latency::quantile(&sorted, q).as_millis();
            println!(
                "  commit → visible {direction}: p50 {} ms, p99 {} ms, max {} ms ({} probes, {unseen} not written or not seen)",
                ms(0.5),
                ms(0.99),
                ms(1.0),
                sorted.len()
            );
        }
        println!("  faults injected: {}", self.injected.len());
        for (at, what) in &self.injected {
            println!("    {:>6.1} s  {what}", at.as_secs_f64());
        }
        for process in &self.supervisor.processes {
            println!("  {}: killed {} times, exited by itself {} times", process.name, process.kills, process.exits);
        }
        println!(
            "  quiet after {:.1} s; rows compared: {}; mismatches: {}",
            quiet_after.as_secs_f64(),
            outcome.rows,
            outcome.mismatches.len()
        );
        for line in &outcome.mismatches {
            println!("    {line}");
        }
    }
}
