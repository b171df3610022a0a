//! `dualsync install-triggers` / `uninstall-triggers`: on both sides of every table pair, the
//! source-flag trigger (pairs with `sync.source_flag`) and the delete trigger that remembers
//! application deletes (pairs with `sync.conflict` and hard deletes on that side).

use std::process::ExitCode;

use anyhow::Context as _;
use dualsync_mapping::{Direction, Mapping};
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
        let mut legacy = Writer::connect(legacy_url).await.context("legacy database")?;
        let mut revamp = Writer::connect(revamp_url).await.context("revamp database")?;
        for pair in mapping.tables() {
            // Each side, with the direction whose writes go there.
            let flags = pair.sync.source_flag.as_ref();
            let sides = [
                (&mut legacy, &pair.legacy, Direction::RevampToLegacy, flags.map(|f| &f.legacy)),
                (&mut revamp, &pair.revamp, Direction::LegacyToRevamp, flags.map(|f| &f.revamp)),
            ];
            for (writer, table, direction, flag) in sides {
                if !install {
                    writer.uninstall_triggers(table).await?;
                    println!("{table}: triggers removed");
                    continue;
                }
                match flag {
                    Some(flag) => {
                        writer.install_flag_trigger(table, &flag.column, &flag.local).await?;
                        println!(
                            "{table}: flag trigger installed (application changes set `{}` to {:?})",
                            flag.column, flag.local
                        );
                    }
                    None => println!("{table}: no sync.source_flag, no flag trigger"),
                }
                match pair.guard(direction).filter(|_| pair.soft_delete(direction).is_none()) {
                    Some(guard) => {
                        let zone = mapping.target_zone(direction);
                        match writer.install_tombstone_trigger(table, &guard, zone.name()).await? {
                            Some(tomb) => println!(
                                "{table}: delete trigger installed (application deletes are remembered in {tomb}, \
                                 so older changes from the other side do not bring the rows back)"
                            ),
                            None => anyhow::bail!(
                                "{table} has no column `{}` (sync.conflict); fix the mapping or the table",
                                guard.column
                            ),
                        }
                    }
                    None => println!("{table}: no sync.conflict or soft deletes, no delete trigger"),
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
