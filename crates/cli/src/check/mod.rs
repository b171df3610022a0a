//! `dualsync check`: validates a mapping file, then checks it against both live databases.

mod bootstrap;
mod rules;
mod types;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use dualsync_mapping::{Direction, Mapping};
use dualsync_writer::Writer;

use rules::{Severity, check_pair};

/// A mapping file and the two databases it maps between.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The mapping file.
    #[arg(long)]
    pub config: PathBuf,
    /// The legacy database (`mysql://…` or `postgres://…`).
    #[arg(long, env = "DUALSYNC_LEGACY_URL", hide_env_values = true)]
    pub legacy_url: Option<String>,
    /// The revamp database.
    #[arg(long, env = "DUALSYNC_REVAMP_URL", hide_env_values = true)]
    pub revamp_url: Option<String>,
}

/// Prints a report; exits 1 when there is an error (warnings alone exit 0).
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mapping = match Mapping::load(&args.config) {
        Ok(mapping) => mapping,
        Err(e) => {
            println!("error: {e}");
            println!("1 error, 0 warnings");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("{}: the file is valid ({} table pairs)", args.config.display(), mapping.tables().len());
    let (Some(legacy_url), Some(revamp_url)) = (&args.legacy_url, &args.revamp_url) else {
        println!(
            "warning: live checks skipped; give --legacy-url and --revamp-url (or DUALSYNC_LEGACY_URL, DUALSYNC_REVAMP_URL)"
        );
        println!("0 errors, 1 warning");
        return Ok(ExitCode::SUCCESS);
    };
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(live(&mapping, legacy_url, revamp_url))
}

async fn live(mapping: &Mapping, legacy_url: &str, revamp_url: &str) -> anyhow::Result<ExitCode> {
    let mut legacy = Writer::connect(legacy_url).await.context("legacy database")?;
    let mut revamp = Writer::connect(revamp_url).await.context("revamp database")?;
    println!("legacy: {}", legacy.server_version().await?);
    println!("revamp: {}", revamp.server_version().await?);
    let (mut errors, mut warnings) = (0, 0);
    for (i, pair) in mapping.tables().iter().enumerate() {
        println!("tables[{i}] {} ↔ {}", pair.legacy, pair.revamp);
        let legacy_info = legacy.table_info(pair.source(Direction::LegacyToRevamp)).await?;
        let revamp_info = revamp.table_info(pair.target(Direction::LegacyToRevamp)).await?;
        let findings = match (legacy_info, revamp_info) {
            (Some(l), Some(r)) => check_pair(pair, &l, &r),
            (l, r) => {
                for (missing, side, name) in
                    [(l.is_none(), "legacy", &pair.legacy), (r.is_none(), "revamp", &pair.revamp)]
                {
                    if missing {
                        println!(
                            "  error: {side} table {name} does not exist; create it or fix the name in the mapping"
                        );
                        errors += 1;
                    }
                }
                continue;
            }
        };
        let findings_empty = findings.is_empty();
        // Rows both sides hold differently: what the bootstrap will meet.
        match bootstrap::compare(mapping, pair, &mut legacy, &mut revamp).await {
            Err(e) => {
                errors += 1;
                println!("  error: the rows of the two sides cannot be compared: {e:#}");
            }
            Ok(report) => match bootstrap::describe(pair, &report) {
                Some(line) => {
                    let refuse = pair.sync.bootstrap == dualsync_mapping::spec::BootstrapMode::Refuse;
                    warnings += usize::from(refuse);
                    println!("  {}: {line}", if refuse { "warning" } else { "note" });
                }
                None if findings_empty => println!("  ok ({} legacy rows compared, none collides)", report.compared),
                None => {}
            },
        }
        for finding in findings {
            match finding.severity {
                Severity::Error => {
                    errors += 1;
                    println!("  error: {}", finding.message);
                }
                Severity::Warning => {
                    warnings += 1;
                    println!("  warning: {}", finding.message);
                }
            }
        }
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    println!("{}, {}", plural(errors, "error"), plural(warnings, "warning"));
    Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
