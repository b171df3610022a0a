//! The command line shared by `legacy-to-revamp` and `revamp-to-legacy`.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use tracing_subscriber::EnvFilter;

use crate::{Config, Consumer, Direction};

/// Consumes Debezium change events from Kafka and applies them to the other database.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The consumer configuration file (YAML: kafka, target, mapping, batch). See docs/consumer.md.
    #[arg(long, short, env = "DUALSYNC_CONFIG")]
    config: PathBuf,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, env = "DUALSYNC_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per line.
    Json,
}

/// Runs the consumer binary for `direction`: parses arguments, sets up logging, consumes until
/// SIGINT or SIGTERM, and reports a failure readably.
pub fn main(direction: Direction) -> ExitCode {
    let args = Args::parse();
    let filter = EnvFilter::try_from_env("DUALSYNC_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match args.log_format {
        LogFormat::Human => subscriber.init(),
        LogFormat::Json => subscriber.json().init(),
    }
    match try_main(direction, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: error: {e:#}", direction.name());
            ExitCode::FAILURE
        }
    }
}

fn try_main(direction: Direction, args: &Args) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let consumer = Consumer::start(config, direction).await?;
        consumer.run(shutdown_signal()).await?;
        Ok(())
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the consumer");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutdown requested; writing the batch in hand and committing offsets");
}
