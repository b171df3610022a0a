//! Loading mapping files and mapping change events in both directions.

use dualsync_envelope::{ChangeEvent, Decoded, Op, Row, Source, Value};
use dualsync_mapping::{Direction, MapError, Mapped, Mapping, RowChange, RowChangeKind, Skip, TableName};
use proptest::prelude::*;

const PRODUCTS: &str = "\
version: 1
tables:
  - legacy: inventory.products
    revamp: catalog.items
    columns:
      name: title
      weight: weight_kg
";

fn row(cols: &[(&str, Value)]) -> Row {
    Row(cols.iter().map(|(n, v)| (n.to_string(), v.clone())).collect())
}

fn event(
    op: Op,
    namespace: &str,
    table: &str,
    key: Option<Row>,
    before: Option<Row>,
    after: Option<Row>,
) -> ChangeEvent {
    let mut event = ChangeEvent::new(op);
    event.key = key;
    event.before = before;
    event.after = after;
    event.source = Source { db: Some(namespace.into()), table: Some(table.into()), ..Source::default() };
    event
}

fn table(namespace: &str, name: &str) -> TableName {
    TableName { namespace: Some(namespace.into()), name: name.into() }
}

#[test]
fn upsert_renames_table_and_columns_legacy_to_revamp() {
    let mapping = Mapping::from_yaml(PRODUCTS).unwrap();
    let after = row(&[("id", Value::Int(1)), ("name", Value::Text("saw".into())), ("weight", Value::Float(1.5))]);
    let mapped = mapping
        .map_event(Direction::LegacyToRevamp, &event(Op::Create, "inventory", "products", None, None, Some(after)));
    let expected =
        row(&[("id", Value::Int(1)), ("title", Value::Text("saw".into())), ("weight_kg", Value::Float(1.5))]);
    assert_eq!(
        mapped,
        Ok(Mapped::Apply(RowChange { table: table("catalog", "items"), kind: RowChangeKind::Create(expected) }))
    );
}

#[test]
fn upsert_renames_revamp_to_legacy() {
    let mapping = Mapping::from_yaml(PRODUCTS).unwrap();
    let after = row(&[("id", Value::Int(2)), ("title", Value::Text("axe".into())), ("weight_kg", Value::Null)]);
    let mapped =
        mapping.map_event(Direction::RevampToLegacy, &event(Op::Update, "catalog", "items", None, None, Some(after)));
    let expected = row(&[("id", Value::Int(2)), ("name", Value::Text("axe".into())), ("weight", Value::Null)]);
    assert_eq!(
        mapped,
        Ok(Mapped::Apply(RowChange { table: table("inventory", "products"), kind: RowChangeKind::Upsert(expected) }))
    );
}

#[test]
fn delete_uses_the_key_then_the_before_image() {
    let mapping = Mapping::from_yaml(PRODUCTS).unwrap();
    let key = row(&[("id", Value::Int(3))]);
    let before = row(&[("id", Value::Int(3)), ("name", Value::Text("old".into()))]);
    let by_key = mapping.map_event(
        Direction::LegacyToRevamp,
        &event(Op::Delete, "inventory", "products", Some(key.clone()), Some(before.clone()), None),
    );
    assert_eq!(
        by_key,
        Ok(Mapped::Apply(RowChange { table: table("catalog", "items"), kind: RowChangeKind::Delete(key) }))
    );
    let by_before = mapping
        .map_event(Direction::LegacyToRevamp, &event(Op::Delete, "inventory", "products", None, Some(before), None));
    let renamed = row(&[("id", Value::Int(3)), ("title", Value::Text("old".into()))]);
    assert_eq!(
        by_before,
        Ok(Mapped::Apply(RowChange { table: table("catalog", "items"), kind: RowChangeKind::Delete(renamed) }))
    );
    let neither =
        mapping.map_event(Direction::LegacyToRevamp, &event(Op::Delete, "inventory", "products", None, None, None));
    assert_eq!(neither, Err(MapError::NoKey { table: "inventory.products".into() }));
}

/// A delete carries its time in the target's conflict column: the source commit time as an
/// instant at the target zone's offset for timestamps; the before image's value for versions.
#[test]
fn deletes_carry_their_time_for_the_conflict_rule() {
    let yaml = |kind: &str| {
        format!(
            "version: 1\nsides:\n  revamp: {{ time_zone: Europe/Berlin }}\ntables:\n  - legacy: inventory.products\n    revamp: catalog.items\n    \
             columns: {{ changed: modified_at, rev: version }}\n    sync:\n      conflict: {{ kind: {kind}, legacy: {col}, revamp: {rcol}, tie: legacy }}\n",
            col = if kind == "version" { "rev" } else { "changed" },
            rcol = if kind == "version" { "version" } else { "modified_at" },
        )
    };
    let key = row(&[("id", Value::Int(3))]);
    let before = row(&[("id", Value::Int(3)), ("rev", Value::Int(7)), ("changed", Value::Null)]);
    let mut delete = event(Op::Delete, "inventory", "products", Some(key), Some(before), None);
    delete.source.ts_ms = Some(1_700_000_000_123);
    let deleted = |yaml: &str| match Mapping::from_yaml(yaml).unwrap().map_event(Direction::LegacyToRevamp, &delete) {
        Ok(Mapped::Apply(RowChange { kind: RowChangeKind::Delete(row), .. })) => row,
        other => panic!("{other:?}"),
    };
    let at = chrono::DateTime::parse_from_rfc3339("2023-11-14T23:13:20.123+01:00").unwrap();
    assert_eq!(deleted(&yaml("timestamp")), row(&[("id", Value::Int(3)), ("modified_at", Value::TimestampTz(at))]));
    assert_eq!(deleted(&yaml("version")), row(&[("id", Value::Int(3)), ("version", Value::Int(7))]));
    // No conflict rule: the key alone.
    assert_eq!(deleted(PRODUCTS), row(&[("id", Value::Int(3))]));
}

/// A mapping with a timestamp conflict rule, `changed` (legacy) ↔ `modified_at` (revamp).
const STAMPED: &str = "version: 1\ntables:\n  - legacy: inventory.products\n    revamp: catalog.items\n    \
     columns: { changed: modified_at }\n    sync:\n      conflict: { kind: timestamp, legacy: changed, revamp: modified_at, tie: legacy }\n";

fn deleted_row(mapped: Result<Mapped, MapError>) -> Row {
    match mapped {
        Ok(Mapped::Apply(RowChange { kind: RowChangeKind::Delete(row), table })) => {
            assert_eq!(table, self::table("catalog", "items"));
            row
        }
        other => panic!("{other:?}"),
    }
}

/// MySQL binlog event times have whole seconds: a delete made 0.7 s after the row's last update
/// in the same second carries a time older than the row's. Before the fix that older time went
/// to the other side, where the row then won against its own delete and stayed for ever; now the
/// delete is never older than the row version it deleted.
#[test]
fn a_delete_is_never_older_than_the_row_it_deleted() {
    let updated = chrono::NaiveDateTime::parse_from_str("2023-11-14 22:13:20.700", "%Y-%m-%d %H:%M:%S%.f").unwrap();
    let before = row(&[("id", Value::Int(3)), ("changed", Value::Timestamp(updated))]);
    let mut delete =
        event(Op::Delete, "inventory", "products", Some(row(&[("id", Value::Int(3))])), Some(before), None);
    delete.source.ts_ms = Some(1_700_000_000_000); // 2023-11-14 22:13:20 UTC, whole seconds
    let mapping = Mapping::from_yaml(STAMPED).unwrap();
    let deleted = deleted_row(mapping.map_event(Direction::LegacyToRevamp, &delete));
    assert_eq!(deleted, row(&[("id", Value::Int(3)), ("modified_at", Value::Timestamp(updated))]));
    // A commit time after the row's own time is the delete's time, as before.
    delete.source.ts_ms = Some(1_700_000_001_000);
    let deleted = deleted_row(mapping.map_event(Direction::LegacyToRevamp, &delete));
    let at = chrono::DateTime::parse_from_rfc3339("2023-11-14T22:13:21Z").unwrap();
    assert_eq!(deleted, row(&[("id", Value::Int(3)), ("modified_at", Value::TimestampTz(at))]));
}

/// The delete trigger's row in the source's tombstone table carries the delete's exact time: it
/// becomes a delete of the row on the other side with that time (renamed to the target's
/// conflict column), in both directions; pruning and tombstones without a time are skipped.
#[test]
fn a_tombstone_row_is_a_delete_at_its_exact_time() {
    let mapping = Mapping::from_yaml(STAMPED).unwrap();
    let at = chrono::NaiveDateTime::parse_from_str("2023-11-14 22:13:20.654321", "%Y-%m-%d %H:%M:%S%.f").unwrap();
    let tomb = row(&[("id", Value::Int(3)), ("deleted_at", Value::Timestamp(at)), ("recorded_at", Value::Null)]);
    let recorded = event(Op::Create, "inventory", "dualsync_tomb_products", None, None, Some(tomb.clone()));
    assert_eq!(
        deleted_row(mapping.map_event(Direction::LegacyToRevamp, &recorded)),
        row(&[("id", Value::Int(3)), ("modified_at", Value::Timestamp(at))])
    );
    let back = event(Op::Update, "catalog", "dualsync_tomb_items", None, None, Some(tomb.clone()));
    match mapping.map_event(Direction::RevampToLegacy, &back) {
        Ok(Mapped::Apply(RowChange { kind: RowChangeKind::Delete(deleted), table })) => {
            assert_eq!(table, self::table("inventory", "products"));
            assert_eq!(deleted, row(&[("id", Value::Int(3)), ("changed", Value::Timestamp(at))]));
        }
        other => panic!("{other:?}"),
    }
    let pruned = event(Op::Delete, "inventory", "dualsync_tomb_products", None, Some(tomb), None);
    assert_eq!(mapping.map_event(Direction::LegacyToRevamp, &pruned), Ok(Mapped::Skip(Skip::Metadata)));
    let timeless = row(&[("id", Value::Int(4)), ("deleted_at", Value::Null)]);
    let timeless = event(Op::Create, "inventory", "dualsync_tomb_products", None, None, Some(timeless));
    assert_eq!(mapping.map_event(Direction::LegacyToRevamp, &timeless), Ok(Mapped::Skip(Skip::Metadata)));
    // Without a conflict rule a table keeps no tombstones: such a table is not routed.
    let plain = Mapping::from_yaml(PRODUCTS).unwrap();
    assert_eq!(plain.map_event(Direction::LegacyToRevamp, &recorded), Ok(Mapped::Skip(Skip::UnmappedTable)));
}

/// A PostgreSQL delete under the default replica identity carries the key alone; with a version
/// column it has no time at all, and was written unguarded: over a newer version the other side
/// had just written (found by the convergence harness). When the source's tombstone stream is
/// read, that delete is left to its twin there, which carries the deleted row's version.
#[test]
fn a_delete_without_its_time_is_left_to_the_tombstone_stream() {
    let versioned = STAMPED.replace("kind: timestamp, legacy: changed", "kind: version, legacy: changed");
    let keyed = event(Op::Delete, "inventory", "products", Some(row(&[("id", Value::Int(5))])), None, None);
    let mut mapping = Mapping::from_yaml(&versioned).unwrap();
    // Without the stream the delete still goes (unguarded: nothing else would delete the row).
    assert_eq!(deleted_row(mapping.map_event(Direction::LegacyToRevamp, &keyed)), row(&[("id", Value::Int(5))]));
    mapping.read_tombstones_of(table("inventory", "products"));
    assert_eq!(mapping.map_event(Direction::LegacyToRevamp, &keyed), Ok(Mapped::Skip(Skip::DeleteWithoutTime)));
    // A delete with its version (a full before image) is applied, guarded by it.
    let before = row(&[("id", Value::Int(5)), ("changed", Value::Int(7))]);
    let full = event(Op::Delete, "inventory", "products", None, Some(before), None);
    assert_eq!(
        deleted_row(mapping.map_event(Direction::LegacyToRevamp, &full)),
        row(&[("id", Value::Int(5)), ("modified_at", Value::Int(7))])
    );
}

#[test]
fn skips_what_is_not_a_mapped_row_change() {
    let mapping = Mapping::from_yaml(PRODUCTS).unwrap();
    let after = Some(row(&[("id", Value::Int(1))]));
    let other_table = event(Op::Create, "inventory", "orders", None, None, after.clone());
    assert_eq!(mapping.map_event(Direction::LegacyToRevamp, &other_table), Ok(Mapped::Skip(Skip::UnmappedTable)));
    let other_namespace = event(Op::Create, "elsewhere", "products", None, None, after.clone());
    assert_eq!(mapping.map_event(Direction::LegacyToRevamp, &other_namespace), Ok(Mapped::Skip(Skip::UnmappedTable)));
    // The legacy table's name on the revamp side is not routed: direction matters.
    let wrong_side = event(Op::Create, "inventory", "products", None, None, after);
    assert_eq!(mapping.map_event(Direction::RevampToLegacy, &wrong_side), Ok(Mapped::Skip(Skip::UnmappedTable)));
    assert_eq!(
        mapping.map(Direction::LegacyToRevamp, &Decoded::Tombstone { key: None }),
        Ok(Mapped::Skip(Skip::Tombstone))
    );
    let no_after = event(Op::Update, "inventory", "products", None, None, None);
    assert_eq!(
        mapping.map_event(Direction::LegacyToRevamp, &no_after),
        Err(MapError::NoAfter { table: "inventory.products".into(), op: "u" })
    );
}

#[test]
fn unqualified_source_matches_any_namespace() {
    let mapping = Mapping::from_yaml("version: 1\ntables:\n  - legacy: products\n    revamp: items\n").unwrap();
    let created = event(Op::Read, "anything", "products", None, None, Some(row(&[("id", Value::Int(1))])));
    let Ok(Mapped::Apply(change)) = mapping.map_event(Direction::LegacyToRevamp, &created) else {
        panic!("not applied")
    };
    assert_eq!(change.table, TableName { namespace: None, name: "items".into() });
}

#[test]
fn errors_say_where_and_what() {
    let cases = [
        (
            "version: 1\ntables:\n  - legacy: a\n    revamp: b\n    colums: {}\n",
            "<mapping>:5:5: tables[0]: unknown field `colums`, expected one of `legacy`, `revamp`, `key`, `columns`, `exclude`, `values`, `reverse_values`, `convert`, `lossy`, `legacy_only`, `revamp_only`, `filter`, `sync`; did you mean `columns`?",
        ),
        ("version: 1\ntables:\n  - legacy: a\n", "<mapping>:3:5: tables[0]: missing field `revamp`"),
        ("version: 2\ntables: []\n", "<mapping>: version 2 is not supported; this build reads version 1"),
        (
            "version: 1\ntables:\n  - legacy: a.b.c\n    revamp: b\n",
            "<mapping>: tables[0]: legacy: \"a.b.c\" is not a table name; write `table` or `namespace.table`",
        ),
        (
            "version: 1\ntables:\n  - legacy: a\n    revamp: b\n    columns: {x: y, z: y}\n",
            "<mapping>: tables[0]: columns: `z: y` maps a second column to `y`; each column may appear once per side",
        ),
    ];
    for (yaml, expected) in cases {
        assert_eq!(Mapping::from_yaml(yaml).unwrap_err().to_string(), expected);
    }
}

#[test]
fn load_names_the_file() {
    let dir = std::env::temp_dir().join(format!("dualsync-mapping-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.yaml");
    std::fs::write(&path, "version: 1\ntables: 3\n").unwrap();
    let err = Mapping::load(&path).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}:2:9: tables: invalid type: integer `3`", path.display())), "{err}");
    let missing = Mapping::load(&dir.join("missing.yaml")).unwrap_err().to_string();
    assert!(missing.contains("missing.yaml: cannot read the mapping file"), "{missing}");
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_filter("NaN is not equal to itself", |x| !x.is_nan()).prop_map(Value::Float),
        ".*".prop_map(Value::Text),
    ]
}

proptest! {
    #[test]
    fn reverse_of_forward_is_identity(values in proptest::collection::vec(value(), 4), extra in "[a-z]{1,8}") {
        let mapping = Mapping::from_yaml(PRODUCTS).unwrap();
        let names = ["id", "name", "weight", &format!("x_{extra}")];
        let original = Row(names.iter().map(|n| n.to_string()).zip(values).collect());
        let forward = mapping.map_event(Direction::LegacyToRevamp, &event(Op::Create, "inventory", "products", None, None, Some(original.clone())));
        let Ok(Mapped::Apply(RowChange { table, kind: RowChangeKind::Create(revamp_row) })) = forward else { panic!("{forward:?}") };
        let back = mapping.map_event(Direction::RevampToLegacy, &event(Op::Create, "catalog", &table.name, None, None, Some(revamp_row)));
        let Ok(Mapped::Apply(RowChange { kind: RowChangeKind::Create(legacy_row), .. })) = back else { panic!("{back:?}") };
        prop_assert_eq!(legacy_row, original);
    }
}

#[test]
fn excluded_columns_and_explicit_reverse_values() {
    let yaml = "version: 1\ntables:\n  - legacy: s.t\n    revamp: r.t\n    exclude: [secret]\n    values:\n      kind: {a: X, b: X}\n    reverse_values:\n      kind: {X: a}\n";
    let mapping = Mapping::from_yaml(yaml).unwrap();
    let legacy = row(&[("id", Value::Int(1)), ("kind", Value::Text("b".into())), ("secret", Value::Text("pw".into()))]);
    let forward = mapping.map_event(Direction::LegacyToRevamp, &event(Op::Create, "s", "t", None, None, Some(legacy)));
    let expected = row(&[("id", Value::Int(1)), ("kind", Value::Text("X".into()))]);
    assert_eq!(forward, Ok(Mapped::Apply(RowChange { table: table("r", "t"), kind: RowChangeKind::Create(expected) })));
    let revamp =
        row(&[("id", Value::Int(1)), ("kind", Value::Text("X".into())), ("secret", Value::Text("other".into()))]);
    let back = mapping.map_event(Direction::RevampToLegacy, &event(Op::Update, "r", "t", None, None, Some(revamp)));
    let expected = row(&[("id", Value::Int(1)), ("kind", Value::Text("a".into()))]);
    assert_eq!(back, Ok(Mapped::Apply(RowChange { table: table("s", "t"), kind: RowChangeKind::Upsert(expected) })));
}
