//! The checks of one table pair against the live tables. Pure: catalog descriptions in, findings out.

use dualsync_mapping::{Direction, OneSide, TablePair, expression_columns};
use dualsync_writer::{ColumnInfo, TableInfo};

use super::types::{Fit, Kind, fit, kind};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The mapping cannot work as written.
    Error,
    /// Worth a look; syncing can proceed.
    Warning,
}

/// One thing `dualsync check` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and what to do.
    pub message: String,
}

struct Report(Vec<Finding>);

impl Report {
    fn error(&mut self, message: String) {
        self.0.push(Finding { severity: Severity::Error, message });
    }
    fn warning(&mut self, message: String) {
        self.0.push(Finding { severity: Severity::Warning, message });
    }
}

/// Checks a table pair against the live legacy and revamp tables.
pub fn check_pair(pair: &TablePair, legacy: &TableInfo, revamp: &TableInfo) -> Vec<Finding> {
    let mut report = Report(Vec::new());
    declared_columns_exist(pair, legacy, revamp, &mut report);
    counterparts(pair, legacy, revamp, &mut report);
    key(pair, legacy, revamp, &mut report);
    types_and_domains(pair, legacy, revamp, &mut report);
    one_side_columns(pair, legacy, revamp, &mut report);
    sync_columns(pair, legacy, revamp, &mut report);
    report.0
}

fn revamp_name<'a>(pair: &'a TablePair, legacy_column: &'a str) -> &'a str {
    pair.target_column(Direction::LegacyToRevamp, legacy_column)
}

fn declared_columns_exist(pair: &TablePair, legacy: &TableInfo, revamp: &TableInfo, report: &mut Report) {
    let mut need = |table: &TableInfo, side: &str, column: &str, what: &str| {
        if table.column(column).is_none() {
            report.error(format!("{what}: {side} column `{column}` does not exist in {}", table.name));
        }
    };
    for (l, r) in &pair.renames {
        need(legacy, "legacy", l, "columns");
        need(revamp, "revamp", r, "columns");
    }
    for c in &pair.excluded {
        need(legacy, "legacy", c, "exclude");
    }
    for m in &pair.value_maps {
        need(legacy, "legacy", &m.column, "values");
    }
    for (c, _) in &pair.conversions {
        need(legacy, "legacy", c, "convert");
    }
    for c in &pair.lossy {
        need(legacy, "legacy", c, "lossy");
    }
    for (c, one) in &pair.legacy_only {
        need(legacy, "legacy", c, "legacy_only");
        for input in expression_columns(one) {
            need(revamp, "revamp", &input, &format!("legacy_only.{c}.compute"));
        }
    }
    for (c, one) in &pair.revamp_only {
        need(revamp, "revamp", c, "revamp_only");
        for input in expression_columns(one) {
            need(legacy, "legacy", &input, &format!("revamp_only.{c}.compute"));
        }
    }
    if let Some(f) = &pair.filter_to_revamp {
        need(legacy, "legacy", &f.column, "filter.to_revamp");
    }
    if let Some(f) = &pair.filter_to_legacy {
        need(revamp, "revamp", &f.column, "filter.to_legacy");
    }
}

/// Every synced column has its counterpart on the other side.
fn counterparts(pair: &TablePair, legacy: &TableInfo, revamp: &TableInfo, report: &mut Report) {
    let one_side = |list: &[(String, OneSide)], c: &str| list.iter().any(|(n, _)| n == c);
    for column in &legacy.columns {
        let l = column.name.as_str();
        if pair.excluded.iter().any(|c| c == l) || one_side(&pair.legacy_only, l) {
            continue;
        }
        let r = revamp_name(pair, l);
        if revamp.column(r).is_none() && !pair.renames.iter().any(|(from, _)| from == l) {
            report.error(format!(
                "legacy column `{l}` has no counterpart `{r}` in {}; rename it in `columns`, list it in `exclude`, or declare it in `legacy_only`",
                revamp.name
            ));
        }
    }
    for column in &revamp.columns {
        let r = column.name.as_str();
        if one_side(&pair.revamp_only, r) {
            continue;
        }
        let l = pair.target_column(Direction::RevampToLegacy, r);
        if pair.excluded.iter().any(|c| c == l) {
            continue;
        }
        if legacy.column(l).is_none() && !pair.renames.iter().any(|(_, to)| to == r) {
            report.error(format!(
                "revamp column `{r}` has no counterpart `{l}` in {}; rename it in `columns`, list it in `exclude`, or declare it in `revamp_only`",
                legacy.name
            ));
        }
    }
}

fn key(pair: &TablePair, legacy: &TableInfo, revamp: &TableInfo, report: &mut Report) {
    let legacy_key: Vec<String> = if pair.key.is_empty() { legacy.primary_key.clone() } else { pair.key.clone() };
    if legacy_key.is_empty() {
        report.error(format!("{} has no primary key; name the columns that identify a row in `key`", legacy.name));
        return;
    }
    let revamp_key: Vec<String> = legacy_key.iter().map(|c| revamp_name(pair, c).to_string()).collect();
    if let ([l], [r]) = (legacy_key.as_slice(), revamp_key.as_slice())
        && legacy.column(l).is_some_and(|c| c.generated_key)
        && revamp.column(r).is_some_and(|c| c.generated_key)
    {
        report.warning(format!(
            "key `{l}` is generated independently on both sides ({} and {}), so both can hand out the same id; \
             give them disjoint ranges (MySQL `auto_increment_increment`/`auto_increment_offset`, PostgreSQL \
             `ALTER SEQUENCE … INCREMENT BY … START …`, e.g. odd ids on one side and even on the other) or use UUID keys",
            legacy.name, revamp.name
        ));
    }
    for (table, key) in [(legacy, &legacy_key), (revamp, &revamp_key)] {
        if key.iter().any(|c| table.column(c).is_none()) {
            continue; // reported as a missing column
        }
        if !table.is_unique(key) {
            report.error(format!(
                "key [{}] is neither the primary key nor a unique key of {}; the key must identify one row on both sides",
                key.join(", "),
                table.name
            ));
        }
        if let Some(c) = key.iter().filter_map(|c| table.column(c)).find(|c| c.nullable) {
            report
                .error(format!("key column `{}` of {} accepts NULL; key columns must be NOT NULL", c.name, table.name));
        }
    }
}

/// The values a column allows, when the catalog says: ENUM/SET members or a CHECK list.
fn domain(table: &TableInfo, column: &ColumnInfo) -> Option<Vec<String>> {
    if !column.enum_values.is_empty() {
        return Some(column.enum_values.clone());
    }
    table.check_domain(&column.name)
}

fn types_and_domains(pair: &TablePair, legacy: &TableInfo, revamp: &TableInfo, report: &mut Report) {
    for l in &legacy.columns {
        let Some(r) = revamp.column(revamp_name(pair, &l.name)) else { continue };
        if pair.excluded.contains(&l.name) || pair.legacy_only.iter().any(|(c, _)| *c == l.name) {
            continue;
        }
        let value_map = pair.value_maps.iter().find(|m| m.column == l.name);
        let (legacy_domain, revamp_domain) = (domain(legacy, l), domain(revamp, r));
        if legacy_domain.is_some() || revamp_domain.is_some() || value_map.is_some() {
            domains(&l.name, &r.name, legacy_domain.as_deref(), revamp_domain.as_deref(), value_map, report);
        }
        if pair.conversions.iter().any(|(c, _)| *c == l.name) {
            continue; // the operator declared the representations
        }
        if pair.sync.source_flag.as_ref().is_some_and(|f| f.legacy.column == l.name && f.revamp.column == r.name) {
            continue; // only the flag values are written: checked with the sync settings
        }
        let (lk, rk) = (kind(legacy, l), kind(revamp, r));
        // Enumerated values are checked value by value, and a value map refuses what it lacks.
        let values_checked = value_map.is_some() || (legacy_domain.is_some() && revamp_domain.is_some());
        for (from, from_type, to, to_type, direction) in [
            (&lk, &l.sql_type, &rk, &r.sql_type, "legacy → revamp"),
            (&rk, &r.sql_type, &lk, &l.sql_type, "revamp → legacy"),
        ] {
            match fit(from, to) {
                Fit::Fits => {}
                Fit::Incompatible(why) => {
                    report.error(format!("`{}`: legacy {} and revamp {}: {why}", l.name, l.sql_type, r.sql_type));
                    break;
                }
                Fit::Lossy(_) if values_checked && matches!((from, to), (Kind::Text { .. } | Kind::Enum, Kind::Text { .. } | Kind::Enum)) => {}
                Fit::Lossy(why) if !pair.lossy.contains(&l.name) => report.error(format!(
                    "`{}`: {direction}, {from_type} into {to_type} can lose data ({why}); declare `{}` in `lossy` if that is accepted",
                    l.name, l.name
                )),
                Fit::Lossy(_) => {}
            }
        }
    }
}

fn domains(
    legacy_column: &str,
    revamp_column: &str,
    legacy_domain: Option<&[String]>,
    revamp_domain: Option<&[String]>,
    value_map: Option<&dualsync_mapping::ValueMap>,
    report: &mut Report,
) {
    let sides = [
        (
            "legacy",
            legacy_column,
            legacy_domain,
            "revamp",
            revamp_column,
            revamp_domain,
            value_map.map(|m| &m.to_revamp),
            "values",
        ),
        (
            "revamp",
            revamp_column,
            revamp_domain,
            "legacy",
            legacy_column,
            legacy_domain,
            value_map.map(|m| &m.to_legacy),
            "values (reverse)",
        ),
    ];
    for (side, column, source, other, other_column, target, map, section) in sides {
        let Some(source) = source else { continue };
        for value in source {
            let mapped = match map {
                Some(map) => match map.iter().find(|(from, _)| from == value) {
                    Some((_, to)) => to,
                    None => {
                        report.error(match section {
                            "values" => format!("values.{legacy_column}: {side} value `{value}` of `{column}` has no entry; add one"),
                            _ => format!("values.{legacy_column}: {side} value `{value}` of `{column}` maps back to nothing; add it to values.{legacy_column} or reverse_values.{legacy_column}"),
                        });
                        continue;
                    }
                },
                None => value,
            };
            if let Some(target) = target
                && !target.contains(mapped)
            {
                let how = if map.is_some() { format!("maps to `{mapped}`") } else { "is copied as is".to_string() };
                report.error(format!(
                    "`{legacy_column}`: {side} value `{value}` {how}, which {other} column `{other_column}` does not allow (allowed: {}); fix the value map",
                    target.join(", ")
                ));
            }
        }
    }
}

fn one_side_columns(pair: &TablePair, legacy: &TableInfo, revamp: &TableInfo, report: &mut Report) {
    for (section, list, table) in
        [("legacy_only", &pair.legacy_only, legacy), ("revamp_only", &pair.revamp_only, revamp)]
    {
        for (name, one) in list {
            if let (OneSide::Untouched, Some(c)) = (one, table.column(name))
                && !c.nullable
                && !c.has_default
            {
                report.error(format!(
                    "{section}.{name}: the column is NOT NULL without a default, so rows from the other side cannot be inserted into {}; give it a `default` or `compute`",
                    table.name
                ));
            }
        }
    }
}

fn sync_columns(pair: &TablePair, legacy: &TableInfo, revamp: &TableInfo, report: &mut Report) {
    let sync = &pair.sync;
    for (side, direction, table) in
        [("legacy", Direction::RevampToLegacy, legacy), ("revamp", Direction::LegacyToRevamp, revamp)]
    {
        let hard_deletes = pair.guard(direction).is_some() && pair.soft_delete(direction).is_none();
        if hard_deletes && !table.triggers.iter().any(|t| t.starts_with(dualsync_writer::TOMBSTONE_PREFIX)) {
            report.warning(format!(
                "sync.conflict: no dualsync delete trigger on {} ({side}); run `dualsync install-triggers` so that an application delete there is not undone by an older change from the other side",
                table.name
            ));
        }
    }
    if let Some(flag) = &sync.source_flag {
        for (side, f, table) in [("legacy", &flag.legacy, legacy), ("revamp", &flag.revamp, revamp)] {
            let Some(c) = table.column(&f.column) else {
                report
                    .error(format!("sync.source_flag.{side}: column `{}` does not exist in {}", f.column, table.name));
                continue;
            };
            if !table.triggers.iter().any(|t| t.starts_with(dualsync_writer::TRIGGER_PREFIX)) {
                report.warning(format!(
                    "sync.source_flag.{side}: no dualsync flag trigger on {}; run `dualsync install-triggers` so that an application edit of a row dualsync wrote last is not taken for an echo",
                    table.name
                ));
            }
            for value in [&f.local, &f.dualsync] {
                if let Some(allowed) = domain(table, c)
                    && !allowed.contains(value)
                {
                    report.error(format!(
                        "sync.source_flag.{side}: `{}` does not accept {value:?} (allowed: {}); change the column or the flag values",
                        f.column,
                        allowed.join(", ")
                    ));
                }
                if let Kind::Text { max: Some(max) } = kind(table, c)
                    && value.chars().count() as u64 > max
                {
                    report.error(format!(
                        "sync.source_flag.{side}: {value:?} is longer than `{}` ({})",
                        f.column, c.sql_type
                    ));
                }
            }
        }
    }
    let mut watched: Vec<(&TableInfo, &str)> = Vec::new();
    if let Some(conflict) = &sync.conflict {
        conflict_precision(conflict, legacy, revamp, report);
        for (side, column, table) in [("legacy", &conflict.legacy, legacy), ("revamp", &conflict.revamp, revamp)] {
            let Some(c) = table.column(column) else {
                report.error(format!("sync.conflict.{side}: column `{column}` does not exist in {}", table.name));
                continue;
            };
            watched.push((table, column));
            let expected = match conflict.kind {
                dualsync_mapping::spec::ConflictKind::Timestamp => matches!(kind(table, c), Kind::Timestamp { .. }),
                dualsync_mapping::spec::ConflictKind::Version => {
                    matches!(kind(table, c), Kind::Int { .. } | Kind::Decimal { scale: 0, .. })
                }
            };
            if !expected {
                report.error(format!(
                    "sync.conflict.{side}: `{column}` is {}, which is not a {:?} column",
                    c.sql_type, conflict.kind
                ));
            }
            if c.on_update_now {
                report.error(format!(
                    "sync.conflict.{side}: `{column}` of {} has ON UPDATE CURRENT_TIMESTAMP, so the database re-stamps every write dualsync makes and last-writer-wins breaks; drop that clause and let the application set the column",
                    table.name
                ));
            }
        }
    }
    for (side, delete, table) in [("legacy", &sync.delete.legacy, legacy), ("revamp", &sync.delete.revamp, revamp)] {
        if let Some(column) = &delete.column
            && table.column(column).is_none()
        {
            report.error(format!("sync.delete.{side}: soft-delete column `{column}` does not exist in {}", table.name));
        }
    }
    for table in [legacy, revamp] {
        for trigger in table.triggers.iter().filter(|t| !t.starts_with("dualsync_")) {
            let columns: Vec<&str> = watched.iter().filter(|(t, _)| t.name == table.name).map(|(_, c)| *c).collect();
            let what = if columns.is_empty() {
                "the synced columns".to_string()
            } else {
                format!("`{}`", columns.join("`, `"))
            };
            report.warning(format!(
                "trigger `{trigger}` on {}: make sure it does not change {what} on dualsync's writes, or last-writer-wins and loop prevention break",
                table.name
            ));
        }
    }
}

/// Conflict timestamps of different precision on the two sides: the coarser side stores two
/// changes within one of its ticks as the same time, so the later one is a tie there (lost, or a
/// loop) while the finer side orders them, and the two sides decide differently. Whatever a
/// `convert` says: it changes representations, not the precision a column keeps.
fn conflict_precision(
    conflict: &dualsync_mapping::spec::ConflictSpec,
    legacy: &TableInfo,
    revamp: &TableInfo,
    report: &mut Report,
) {
    let frac = |table: &TableInfo, column: &str| match table.column(column).map(|c| kind(table, c)) {
        Some(Kind::Timestamp { frac, .. }) => Some(frac),
        _ => None,
    };
    let (Some(l), Some(r)) = (frac(legacy, &conflict.legacy), frac(revamp, &conflict.revamp)) else { return };
    if l == r {
        return;
    }
    let (finer, coarser) = (l.max(r), l.min(r));
    let (side, table, column) =
        if l < r { ("legacy", legacy, &conflict.legacy) } else { ("revamp", revamp, &conflict.revamp) };
    let tick = if coarser == 0 { "second".to_string() } else { format!("1/{} s", 10u64.pow(coarser)) };
    report.error(format!(
        "sync.conflict: legacy `{}` keeps {l} and revamp `{}` keeps {r} fractional digits of a second; two changes within the same {tick} are a tie on the {side} side, so updates are lost there and the two sides decide differently. Give {side} `{column}` of {} {finer} digits too (MySQL `DATETIME({finer})` / `TIMESTAMP({finer})`, PostgreSQL `timestamp({finer})`)",
        conflict.legacy, conflict.revamp, table.name
    ));
}
