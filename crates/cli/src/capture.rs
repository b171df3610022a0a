//! `dualsync capture`: native change capture from MySQL/MariaDB or PostgreSQL into Kafka.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use dualsync_capture::CaptureConfig;
use tracing_subscriber::EnvFilter;

/// Arguments of `dualsync capture`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The capture configuration file (YAML: name, source, kafka, include, …). See docs/capture.md.
    #[arg(long, short, env = "DUALSYNC_CAPTURE_CONFIG")]
    config: PathBuf,
    /// Only run the preflight checks (server settings, privileges, tables) and print the warnings.
    #[arg(long)]
    check: bool,
}

/// Runs the capture until SIGINT or SIGTERM, or only its preflight checks.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let filter = EnvFilter::try_from_env("DUALSYNC_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let config = CaptureConfig::load(&args.config)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        if args.check {
            let warnings = dualsync_capture::preflight(&config).await?;
            for warning in &warnings {
                println!("warning: {warning}");
            }
            println!("preflight passed for {} ({} warnings)", dualsync_capture::redact(&config.source), warnings.len());
            return Ok(ExitCode::SUCCESS);
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match terminate.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
            tracing::info!("shutdown requested; waiting for the broker to acknowledge what was sent, then storing the offset");
            let _ = stop.send(true);
        });
        dualsync_capture::run(config, stopped, Default::default()).await?;
        Ok(ExitCode::SUCCESS)
    })
}
