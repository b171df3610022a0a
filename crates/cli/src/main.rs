//! `dualsync`: the operator command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod capture;
mod check;
mod decode;
mod dlq;
mod offsets;
mod triggers;

/// dualsync operator tools.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode Debezium records (JSON lines) and print what the engine sees, with explicit value
    /// kinds. Each input line is a bare record value, or `{"key": …, "value": …}`.
    Decode(decode::Args),
    /// Validate a mapping file, then check it against the live legacy and revamp databases:
    /// tables, columns, keys, types, lossy conversions, value domains, sync columns, triggers.
    Check(check::Args),
    /// Install, on both sides of every table pair with `sync.source_flag`, the trigger that sets
    /// the flag column to the side's local value on every change dualsync does not make.
    InstallTriggers(check::Args),
    /// Remove the triggers `install-triggers` created.
    UninstallTriggers(check::Args),
    /// Inspect the dead-letter topic and replay dead letters.
    Dlq(dlq::Args),
    /// Capture changes from MySQL/MariaDB (binlog) or PostgreSQL (pgoutput) into Kafka as
    /// Debezium JSON, dropping the dualsync writer's own transactions. See docs/capture.md.
    Capture(capture::Args),
    /// Print the end offset of each partition of some topics (`topic<TAB>partition<TAB>end`):
    /// what the operator scenarios compare to prove that nothing echoes between the sides.
    Offsets(offsets::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => decode::run(&args),
        Command::Check(args) => check::run(&args),
        Command::InstallTriggers(args) => triggers::run(&args, true),
        Command::UninstallTriggers(args) => triggers::run(&args, false),
        Command::Dlq(args) => dlq::run(&args),
        Command::Capture(args) => capture::run(&args),
        Command::Offsets(args) => offsets::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dualsync: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
