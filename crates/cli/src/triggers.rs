//! `dualsync install-triggers` / `uninstall-triggers`: the source-flag triggers on both sides of
//! every table pair that has `sync.source_flag`.

use std::process::ExitCode;

use anyhow::Context as _;
use dualsync_mapping::Mapping;
use dualsync_writer::Writer;

use crate::check::Args;

/// Installs (`install: true`) or removes the flag triggers; prints one line per table.
pub fn run(args: &Args, install: bool) -> anyhow::Result<ExitCode> {
    let mapping = Mapping::load(&args.config)?;
    let (Some(legacy_url), Some(revamp_url)) = (&args.legacy_url, &args.revamp_url) else {
        anyhow::bail!("give --legacy-url and --revamp-url (or DUALSYNC_LEGACY_URL, DUALSYNC_REVAMP_URL)");
    };
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async {
        let legacy = Writer::connect(legacy_url).await.context("legacy database")?;
        let revamp = Writer::connect(revamp_url).await.context("revamp database")?;
        for pair in mapping.tables() {
            let Some(flag) = &pair.sync.source_flag else {
                println!("{} ↔ {}: no sync.source_flag, nothing to do", pair.legacy, pair.revamp);
                continue;
            };
            for (writer, table, side) in [(&legacy, &pair.legacy, &flag.legacy), (&revamp, &pair.revamp, &flag.revamp)]
            {
                if install {
                    writer.install_flag_trigger(table, &side.column, &side.local).await?;
                    println!(
                        "{table}: trigger installed (application changes set `{}` to {:?})",
                        side.column, side.local
                    );
                } else {
                    writer.uninstall_flag_trigger(table).await?;
                    println!("{table}: trigger removed");
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
