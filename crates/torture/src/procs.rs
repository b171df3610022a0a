//! The four dualsync processes under test (two captures, two consumers), supervised as a service
//! manager would: a process that exits is started again after a second; a killed one after the
//! fault's pause.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// One supervised process.
pub struct Process {
    /// Its name in the report and its log file's name.
    pub name: String,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    /// Not started again before this instant (a kill's pause).
    hold_until: Option<Instant>,
    /// How often it exited by itself (a crash, or an exit on an outage).
    pub exits: u32,
    /// How often the harness killed it.
    pub kills: u32,
}

impl Process {
    /// A process running `program args…`, its standard error appended to `log`.
    pub fn new(name: &str, program: PathBuf, args: Vec<String>, log: PathBuf) -> Process {
        Process { name: name.into(), program, args, log, child: None, hold_until: None, exits: 0, kills: 0 }
    }

    fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).context("process log")?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.program.display()))?;
        self.child = Some(child);
        Ok(())
    }
}

/// The supervised processes.
pub struct Supervisor {
    /// The processes, in start order.
    pub processes: Vec<Process>,
}

impl Supervisor {
    /// Starts every process.
    pub fn start(processes: Vec<Process>) -> anyhow::Result<Supervisor> {
        let mut supervisor = Supervisor { processes };
        for process in &mut supervisor.processes {
            process.start()?;
        }
        Ok(supervisor)
    }

    /// `kill -9` of process `index`; it is started again after `pause`.
    pub async fn kill(&mut self, index: usize, pause: Duration) {
        let process = &mut self.processes[index];
        if let Some(mut child) = process.child.take() {
            let _ = child.kill().await;
            process.kills += 1;
        }
        process.hold_until = Some(Instant::now() + pause);
    }

    /// Notes the processes that exited and starts again those whose pause is over.
    pub fn tend(&mut self) -> anyhow::Result<()> {
        for process in &mut self.processes {
            if let Some(child) = process.child.as_mut()
                && child.try_wait()?.is_some()
            {
                process.child = None;
                process.exits += 1;
                process.hold_until = Some(Instant::now() + Duration::from_secs(1));
            }
            if process.child.is_none() && process.hold_until.is_none_or(|t| Instant::now() >= t) {
                process.hold_until = None;
                process.start()?;
            }
        }
        Ok(())
    }

    /// SIGTERM to every process, then waits for each (SIGKILL after 30 s).
    pub async fn stop(&mut self) {
        for process in &mut self.processes {
            if let Some(pid) = process.child.as_ref().and_then(Child::id) {
                let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
            }
        }
        for process in &mut self.processes {
            if let Some(mut child) = process.child.take()
                && tokio::time::timeout(Duration::from_secs(30), child.wait()).await.is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

/// Where the dualsync binaries are: beside this harness's own binary (one `cargo build`).
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("the harness's own path")?;
    let path = me.parent().map_or_else(|| Path::new(name).to_path_buf(), |dir| dir.join(name));
    anyhow::ensure!(path.exists(), "{} not found: build it first (testing/torture.sh does)", path.display());
    Ok(path)
}
