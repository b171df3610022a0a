//! `dualsync check` against the real MariaDB and PostgreSQL: the demo shop mapping passes, and
//! each kind of broken mapping produces its exact message and exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dualsync_testkit::{Kind, TestDb, unique};

/// The demo shop's schemas, each in a namespace of its own, and its mapping pointed at them.
struct Shop {
    legacy: TestDb,
    revamp: TestDb,
    mapping: String,
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

async fn shop() -> Shop {
    let legacy = TestDb::new(Kind::MySql).await;
    let revamp = TestDb::new(Kind::Postgres).await;
    let read = |p: &str| std::fs::read_to_string(repo(p)).expect("demo file");
    legacy.exec(&read("mappings/shop/legacy.sql")).await;
    revamp.exec(&format!("SET search_path = {{ns}};\n{}", read("mappings/shop/revamp.sql"))).await;
    let mapping = read("mappings/shop/shop.yaml")
        .replace("legacy: shop.", &format!("legacy: {}.", legacy.namespace))
        .replace("revamp: public.", &format!("revamp: {}.", revamp.namespace));
    Shop { legacy, revamp, mapping }
}

impl Shop {
    fn check(&self, mapping: &str) -> (i32, String) {
        self.command("check", mapping)
    }

    /// Runs `dualsync <command> --config <mapping>` against the shop's databases.
    fn command(&self, command: &str, mapping: &str) -> (i32, String) {
        let dir = std::env::temp_dir().join(unique("dualsync-check"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("mapping.yaml");
        std::fs::write(&path, mapping).expect("write mapping");
        let output = run(command, &path, Some((&self.legacy.url, &self.revamp.url)));
        (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn install_triggers(&self) {
        let (code, out) = self.command("install-triggers", &self.mapping);
        assert_eq!(code, 0, "{out}");
        assert_eq!(out.matches("flag trigger installed").count(), 4, "{out}");
        // Hard deletes with a conflict rule: customers on the legacy side, orders on both.
        assert_eq!(out.matches("delete trigger installed").count(), 3, "{out}");
    }

    /// The report's finding lines, with the test namespaces written as `LEGACY` and `REVAMP`.
    fn findings(&self, mapping: &str) -> (i32, Vec<String>) {
        let (code, out) = self.check(mapping);
        let lines = out
            .lines()
            .filter(|l| {
                l.starts_with("  ") || l.ends_with("warnings") || l.ends_with("warning") || l.starts_with("error")
            })
            .map(|l| l.trim().replace(&self.legacy.namespace, "LEGACY").replace(&self.revamp.namespace, "REVAMP"))
            .collect();
        (code, lines)
    }
}

fn run(subcommand: &str, mapping: &Path, urls: Option<(&str, &str)>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dualsync"));
    command
        .arg(subcommand)
        .arg("--config")
        .arg(mapping)
        .env_remove("DUALSYNC_LEGACY_URL")
        .env_remove("DUALSYNC_REVAMP_URL");
    if let Some((legacy, revamp)) = urls {
        command.env("DUALSYNC_LEGACY_URL", legacy).env("DUALSYNC_REVAMP_URL", revamp);
    }
    command.output().expect("run dualsync check")
}

#[tokio::test]
async fn the_demo_shop_passes() {
    let shop = shop().await;
    // Without the triggers: warnings only, so the check passes.
    let (code, out) = shop.check(&shop.mapping);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("warning: sync.source_flag.").count(), 4, "{out}");
    assert!(out.contains("no dualsync flag trigger on"), "{out}");
    assert_eq!(out.matches("warning: sync.conflict: no dualsync delete trigger on").count(), 3, "{out}");
    assert!(out.ends_with("0 errors, 7 warnings\n"), "{out}");
    shop.install_triggers();
    let (code, out) = shop.check(&shop.mapping);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("legacy: MySQL protocol 10.11"), "{out}");
    assert!(out.contains("revamp: PostgreSQL 15"), "{out}");
    assert_eq!(out.matches("\n  ok (0 legacy rows compared, none collides)\n").count(), 2, "{out}");
    assert!(out.ends_with("0 errors, 0 warnings\n"), "{out}");
}

#[tokio::test]
async fn broken_mappings_are_explained() {
    let shop = shop().await;
    shop.install_triggers();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            shop.mapping.replace("prefs: preferences", "prefs: preference"),
            vec![
                "ok",
                "error: columns: revamp column `preference` does not exist in REVAMP.customers",
                "error: revamp column `preferences` has no counterpart `preferences` in LEGACY.customers; rename it in `columns`, list it in `exclude`, or declare it in `revamp_only`",
            ],
        ),
        (
            shop.mapping.replacen("key: [id]", "key: [status]", 1),
            vec![
                "error: key [status] is neither the primary key nor a unique key of LEGACY.customers; the key must identify one row on both sides",
                "error: key [state] is neither the primary key nor a unique key of REVAMP.customers; the key must identify one row on both sides",
            ],
        ),
        (
            shop.mapping.replace(", banned: Banned", ""),
            vec![
                "error: values.status: legacy value `banned` of `status` has no entry; add one",
                "error: values.status: revamp value `Banned` of `state` maps back to nothing; add it to values.status or reverse_values.status",
            ],
        ),
        (
            shop.mapping.replace("    lossy: [email]", "    lossy: []"),
            vec![
                "error: `email`: revamp → legacy, text into varchar(255) can lose data (the target is shorter); declare `email` in `lossy` if that is accepted",
            ],
        ),
        (
            shop.mapping.replace("      modified: {legacy: timestamp, revamp: timestamptz}\n", ""),
            vec![
                "error: `modified`: legacy datetime(6) and revamp timestamp with time zone: one side stores instants, the other wall-clock times; declare `convert: {legacy: timestamp|timestamptz, revamp: …}` and the sides' time zones",
            ],
        ),
    ];
    for (mapping, expected) in cases {
        let (code, mut lines) = shop.findings(&mapping);
        assert_eq!(code, 1, "{lines:#?}");
        let summary = lines.pop().expect("summary line");
        let errors = expected.iter().filter(|l| l.starts_with("error")).count();
        assert_eq!(summary, format!("{errors} error{}, 0 warnings", if errors == 1 { "" } else { "s" }));
        let found: Vec<&str> = lines.iter().map(String::as_str).filter(|l| !l.starts_with("ok")).collect();
        let expected: Vec<&str> = expected.into_iter().filter(|l| *l != "ok").collect();
        assert_eq!(found, expected);
    }
}

#[tokio::test]
async fn a_misspelt_key_is_located_with_a_suggestion() {
    let shop = shop().await;
    let (code, out) = shop.command("uninstall-triggers", &shop.mapping);
    assert_eq!((code, out.matches("triggers removed").count()), (0, 4), "{out}");
    let (code, lines) = shop.findings(&shop.mapping.replacen("    columns:", "    colums:", 1));
    assert_eq!(code, 1);
    assert!(lines[0].starts_with("error: "), "{lines:?}");
    assert!(lines[0].ends_with(":16:5: tables[0]: unknown field `colums`, expected one of `legacy`, `revamp`, `key`, `columns`, `exclude`, `values`, `reverse_values`, `convert`, `lossy`, `legacy_only`, `revamp_only`, `filter`, `sync`; did you mean `columns`?"), "{lines:?}");
    assert_eq!(lines[1], "1 error, 0 warnings");
}

#[tokio::test]
async fn restamping_and_triggers_on_the_conflict_column_are_reported() {
    let shop = shop().await;
    shop.install_triggers();
    shop.legacy.exec("ALTER TABLE {ns}.customers MODIFY modified DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)").await;
    shop.revamp
        .exec("CREATE FUNCTION {ns}.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;\n\
               CREATE TRIGGER touch_customers BEFORE UPDATE ON {ns}.customers FOR EACH ROW EXECUTE FUNCTION {ns}.touch()")
        .await;
    let (code, lines) = shop.findings(&shop.mapping);
    assert_eq!(code, 1, "{lines:#?}");
    assert_eq!(
        lines,
        [
            "error: sync.conflict.legacy: `modified` of LEGACY.customers has ON UPDATE CURRENT_TIMESTAMP, so the database re-stamps every write dualsync makes and last-writer-wins breaks; drop that clause and let the application set the column",
            "warning: trigger `touch_customers` on REVAMP.customers: make sure it does not change `updated_at` on dualsync's writes, or last-writer-wins and loop prevention break",
            "ok (0 legacy rows compared, none collides)",
            "1 error, 1 warning",
        ]
    );
}

/// Whole seconds on one side, microseconds on the other, although a `convert` is declared for the
/// column: updates within one second would be ties on the legacy side (and lost there).
#[tokio::test]
async fn conflict_columns_of_different_precision_are_reported() {
    let shop = shop().await;
    shop.install_triggers();
    shop.legacy.exec("ALTER TABLE {ns}.customers MODIFY modified DATETIME NOT NULL").await;
    let (code, lines) = shop.findings(&shop.mapping);
    assert_eq!(code, 1, "{lines:#?}");
    assert_eq!(
        lines,
        [
            "error: sync.conflict: legacy `modified` keeps 0 and revamp `updated_at` keeps 6 fractional digits of a second; two changes within the same second are a tie on the legacy side, so updates are lost there and the two sides decide differently. Give legacy `modified` of LEGACY.customers 6 digits too (MySQL `DATETIME(6)` / `TIMESTAMP(6)`, PostgreSQL `timestamp(6)`)",
            "ok (0 legacy rows compared, none collides)",
            "1 error, 0 warnings",
        ]
    );
}

#[tokio::test]
async fn keys_generated_on_both_sides_are_warned_about() {
    let shop = shop().await;
    shop.install_triggers();
    shop.revamp.exec("CREATE SEQUENCE {ns}.customers_id_seq OWNED BY {ns}.customers.id; ALTER TABLE {ns}.customers ALTER COLUMN id SET DEFAULT nextval('{ns}.customers_id_seq')").await;
    let (code, lines) = shop.findings(&shop.mapping);
    assert_eq!(code, 0, "a warning alone passes: {lines:#?}");
    assert_eq!(
        lines,
        [
            "warning: key `id` is generated independently on both sides (LEGACY.customers and REVAMP.customers), so both can hand out the same id; give them disjoint ranges (MySQL `auto_increment_increment`/`auto_increment_offset`, PostgreSQL `ALTER SEQUENCE … INCREMENT BY … START …`, e.g. odd ids on one side and even on the other) or use UUID keys",
            "ok (0 legacy rows compared, none collides)",
            "0 errors, 1 warning",
        ]
    );
}

/// Both applications hold their own customers before sync begins: ids 2 and 3 are different people
/// on the two sides (a bootstrap would have to choose), id 1 is the same person in both
/// representations (renamed columns, enum spelling, int-bool, JSON spacing, Berlin wall-clock time
/// against an instant), id 4 is on the legacy side only.
#[tokio::test]
async fn rows_both_sides_hold_differently_are_reported_before_the_bootstrap() {
    let shop = shop().await;
    shop.install_triggers();
    shop.legacy
        .exec(
            "INSERT INTO {ns}.customers (id, first_name, last_name, email, status, is_vip, prefs, modified) VALUES \
             (1, 'Ada', 'Lovelace', 'ada@example.com', 'active', 1, '{\"lang\": \"en\"}', '2024-01-01 10:00:00'), \
             (2, 'Bob', 'Stone', 'bob@example.com', 'active', 0, NULL, '2024-01-01 10:00:00'), \
             (3, 'Cy', 'Young', 'cy@example.com', 'banned', 0, NULL, '2024-01-01 10:00:00'), \
             (4, 'Dee', 'Dee', 'dee@example.com', 'active', 0, NULL, '2024-01-01 10:00:00')",
        )
        .await;
    shop.revamp
        .exec(
            "INSERT INTO {ns}.customers (id, full_name, email, state, vip, preferences, updated_at) VALUES \
             (1, 'Ada Lovelace', 'ada@example.com', 'Active', true, '{\"lang\":\"en\"}', '2024-01-01 09:00:00+00'), \
             (2, 'Bea Hill', 'bea@example.com', 'Active', false, NULL, '2024-01-01 09:00:00+00'), \
             (3, 'Cy Young', 'cy@example.com', 'Active', false, NULL, '2024-01-01 09:00:00+00')",
        )
        .await;
    let (code, lines) = shop.findings(&shop.mapping);
    assert_eq!(code, 0, "collisions are a warning: {lines:#?}");
    assert_eq!(
        lines,
        [
            "warning: 2 of 4 rows collide: both sides hold a different row under the same key (id=2; id=3); sync.bootstrap is `refuse` (the default): the snapshots leave them alone and dead-letter them; choose `legacy-wins`, `revamp-wins` or `newest-wins` for this table before starting the consumers",
            "ok (0 legacy rows compared, none collides)",
            "0 errors, 1 warning",
        ]
    );
    let chosen = shop.mapping.replacen(
        "      conflict: {kind: timestamp",
        "      bootstrap: legacy-wins\n      conflict: {kind: timestamp",
        1,
    );
    let (code, lines) = shop.findings(&chosen);
    assert_eq!(code, 0, "{lines:#?}");
    assert!(
        lines[0].starts_with("note: 2 of 4 rows collide")
            && lines[0].ends_with("sync.bootstrap settles them when the snapshots arrive"),
        "{lines:#?}"
    );
    assert_eq!(lines[2], "0 errors, 0 warnings");
}

#[test]
fn without_databases_only_the_file_is_checked() {
    let output = run("check", &repo("mappings/shop/shop.yaml"), None);
    assert_eq!(output.status.code(), Some(0));
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("the file is valid (2 table pairs)"), "{out}");
    assert!(out.ends_with("0 errors, 1 warning\n"), "{out}");
}
