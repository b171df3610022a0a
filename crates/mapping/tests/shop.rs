//! Every mapping feature of the demo shop (`mappings/shop/shop.yaml`), in both directions, with
//! exact rows; and the property that the invertible parts round-trip.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use dualsync_envelope::{ChangeEvent, Op, Row, Source, Value};
use dualsync_mapping::{Direction, MapError, Mapped, Mapping, RowChange, RowChangeKind, Skip, TableName};
use proptest::prelude::*;

fn shop() -> Mapping {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../mappings/shop/shop.yaml");
    Mapping::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn row(cols: &[(&str, Value)]) -> Row {
    Row(cols.iter().map(|(n, v)| (n.to_string(), v.clone())).collect())
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn event(op: Op, namespace: &str, table: &str, before: Option<Row>, after: Option<Row>) -> ChangeEvent {
    let mut event = ChangeEvent::new(op);
    event.before = before;
    event.after = after;
    event.source = Source { db: Some(namespace.into()), table: Some(table.into()), ..Source::default() };
    event
}

fn naive(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("timestamp")
}

fn upserted(mapped: Result<Mapped, MapError>) -> (TableName, Row) {
    match mapped {
        Ok(Mapped::Apply(RowChange { table, kind: RowChangeKind::Upsert(row) | RowChangeKind::Create(row) })) => {
            (table, row)
        }
        other => panic!("expected an upsert, got {other:?}"),
    }
}

fn legacy_customer() -> Row {
    row(&[
        ("id", Value::Int(1)),
        ("first_name", text("Ada")),
        ("last_name", text("King Lovelace")),
        ("email", text("ada@example.org")),
        ("status", Value::Enum("active".into())),
        ("is_vip", Value::Int(1)),
        ("prefs", Value::Json(r#"{"theme": "dark"}"#.into())),
        ("legacy_code", text("X-1")),
        ("sync_source", text("legacy")),
        ("modified", Value::Timestamp(naive("2024-01-15 12:00:00"))),
    ])
}

#[test]
fn customer_legacy_to_revamp() {
    let (table, revamp) =
        upserted(shop().map_event(
            Direction::LegacyToRevamp,
            &event(Op::Create, "shop", "customers", None, Some(legacy_customer())),
        ));
    assert_eq!(table, TableName { namespace: Some("public".into()), name: "customers".into() });
    // Berlin is UTC+1 in January: 12:00 there is 11:00 UTC.
    let instant = DateTime::parse_from_rfc3339("2024-01-15T11:00:00Z").expect("instant");
    assert_eq!(
        revamp,
        row(&[
            ("id", Value::Int(1)),
            ("email", text("ada@example.org")),
            ("state", Value::Enum("Active".into())),
            ("vip", Value::Bool(true)),
            ("preferences", Value::Json(r#"{"theme": "dark"}"#.into())),
            // Stamped: the revamp side sees this row as written by dualsync.
            ("sync_source", text("dualsync")),
            ("updated_at", Value::TimestampTz(instant)),
            ("full_name", text("Ada King Lovelace")),
            ("is_deleted", Value::Bool(false)),
            ("loyalty_tier", text("bronze")),
        ])
    );
}

#[test]
fn customer_revamp_to_legacy() {
    let revamp = row(&[
        ("id", Value::Int(1)),
        ("full_name", text("Ada King Lovelace")),
        ("email", text("ada@example.org")),
        ("state", text("Banned")),
        ("vip", Value::Bool(false)),
        ("preferences", Value::Json("{}".into())),
        ("loyalty_tier", text("gold")),
        ("is_deleted", Value::Bool(false)),
        ("sync_source", text("revamp")),
        ("updated_at", Value::TimestampTz(DateTime::parse_from_rfc3339("2024-07-01T10:00:00Z").expect("instant"))),
    ]);
    let (table, legacy) = upserted(
        shop().map_event(Direction::RevampToLegacy, &event(Op::Update, "public", "customers", None, Some(revamp))),
    );
    assert_eq!(table, TableName { namespace: Some("shop".into()), name: "customers".into() });
    // Berlin is UTC+2 in July.
    assert_eq!(
        legacy,
        row(&[
            ("id", Value::Int(1)),
            ("email", text("ada@example.org")),
            ("status", text("banned")),
            ("is_vip", Value::Int(0)),
            ("prefs", Value::Json("{}".into())),
            ("sync_source", text("dualsync")),
            ("modified", Value::Timestamp(naive("2024-07-01 12:00:00"))),
            ("first_name", text("Ada")),
            ("last_name", text("King Lovelace")),
        ])
    );
}

#[test]
fn dualsync_writes_coming_back_are_echoes() {
    let mut echo = legacy_customer();
    echo.0[8].1 = text("dualsync");
    let mapped =
        shop().map_event(Direction::LegacyToRevamp, &event(Op::Update, "shop", "customers", None, Some(echo.clone())));
    assert_eq!(mapped, Ok(Mapped::Skip(Skip::Echo)));
    // A delete is applied whatever its before-image says.
    let mut delete = event(Op::Delete, "shop", "customers", Some(echo), None);
    delete.key = Some(row(&[("id", Value::Int(1))]));
    assert!(matches!(shop().map_event(Direction::LegacyToRevamp, &delete), Ok(Mapped::Apply(_))));
}

#[test]
fn unmapped_enum_value_and_bad_conversion_are_errors() {
    let mut customer = legacy_customer();
    customer.0[4].1 = Value::Enum("suspended".into());
    let err = shop()
        .map_event(Direction::LegacyToRevamp, &event(Op::Create, "shop", "customers", None, Some(customer)))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"shop.customers.status: value "suspended" is not in the value map; add it to `values` (or `reverse_values`) in the mapping"#
    );
    let mut customer = legacy_customer();
    customer.0[5].1 = Value::Int(7);
    let err = shop()
        .map_event(Direction::LegacyToRevamp, &event(Op::Create, "shop", "customers", None, Some(customer)))
        .unwrap_err();
    assert_eq!(err.to_string(), "shop.customers.is_vip: cannot convert int value 7 to bool");
}

#[test]
fn deletes_map_only_the_key_columns_given() {
    let key = row(&[("id", Value::Int(1))]);
    let mut delete = event(Op::Delete, "public", "customers", None, None);
    delete.key = Some(key.clone());
    let mapped = shop().map_event(Direction::RevampToLegacy, &delete);
    assert_eq!(
        mapped,
        Ok(Mapped::Apply(RowChange {
            table: TableName { namespace: Some("shop".into()), name: "customers".into() },
            kind: RowChangeKind::Delete(key)
        }))
    );
}

/// Debezium gives a PostgreSQL delete under the default replica identity a before image with
/// every required column set to its type's or column's default (`""`, `false`, 1970), not null.
/// Only the key and the conflict column of a delete are mapped; before, the value map refused
/// `state: ""` and every such delete was dead-lettered (found by testing/scenarios with real
/// Debezium).
#[test]
fn a_deletes_filled_in_before_image_is_not_mapped() {
    let epoch = Value::TimestampTz(DateTime::parse_from_rfc3339("1970-01-01T00:00:00Z").expect("instant"));
    let before = row(&[
        ("id", Value::Int(7)),
        ("full_name", text("")),
        ("email", text("")),
        ("state", text("")),
        ("vip", Value::Bool(false)),
        ("preferences", Value::Null),
        ("loyalty_tier", text("bronze")),
        ("is_deleted", Value::Bool(false)),
        ("sync_source", text("revamp")),
        ("updated_at", epoch),
    ]);
    let mut delete = event(Op::Delete, "public", "customers", Some(before), None);
    delete.key = Some(row(&[("id", Value::Int(7))]));
    delete.source.ts_ms = Some(1_700_000_000_000);
    let mapped = shop().map_event(Direction::RevampToLegacy, &delete);
    let Ok(Mapped::Apply(RowChange { kind: RowChangeKind::Delete(deleted), .. })) = mapped else {
        panic!("{mapped:?}")
    };
    assert_eq!(deleted.get("id"), Some(&Value::Int(7)));
    // The delete's time is its commit time, the filled-in 1970 being older.
    let at = match deleted.get("modified") {
        Some(Value::TimestampTz(t)) => t.to_utc().to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(at, "2023-11-14 22:13:20 UTC");
}

fn order(shop_id: i64, state: &str) -> Row {
    row(&[
        ("id", Value::Int(10)),
        ("cust_id", Value::Int(1)),
        ("shop_id", Value::Int(shop_id)),
        ("total", Value::Decimal("19.90".parse().expect("decimal"))),
        ("placed", Value::Timestamp(naive("2024-01-15 12:00:00"))),
        ("state", Value::Enum(state.into())),
        ("sync_source", text("legacy")),
        ("version", Value::Int(3)),
    ])
}

#[test]
fn orders_filter_per_direction() {
    let mapping = shop();
    let (table, revamp) = upserted(
        mapping.map_event(Direction::LegacyToRevamp, &event(Op::Create, "shop", "orders", None, Some(order(1, "new")))),
    );
    assert_eq!(table.name, "purchases");
    assert_eq!(
        revamp,
        row(&[
            ("id", Value::Int(10)),
            ("customer_id", Value::Int(1)),
            ("amount", Value::Decimal("19.90".parse().expect("decimal"))),
            ("placed_at", Value::TimestampTz(DateTime::parse_from_rfc3339("2024-01-15T11:00:00Z").expect("instant"))),
            ("status", Value::Enum("pending".into())),
            ("sync_source", text("dualsync")),
            ("version", Value::Int(3)),
        ])
    );
    // Another shop's order is not synced...
    let other =
        mapping.map_event(Direction::LegacyToRevamp, &event(Op::Create, "shop", "orders", None, Some(order(2, "new"))));
    assert_eq!(other, Ok(Mapped::Skip(Skip::Filtered)));
    // ...and an order moved to another shop leaves the revamp side.
    let moved = mapping.map_event(
        Direction::LegacyToRevamp,
        &event(Op::Update, "shop", "orders", Some(order(1, "paid")), Some(order(2, "paid"))),
    );
    let Ok(Mapped::Apply(RowChange { kind: RowChangeKind::Delete(key), .. })) = moved else { panic!("{moved:?}") };
    assert_eq!(key.get("id"), Some(&Value::Int(10)));
    // The revamp side has no shop_id: orders written back get the default.
    let purchase = row(&[
        ("id", Value::Int(11)),
        ("status", text("shipped")),
        ("amount", Value::Decimal("5".parse().expect("decimal"))),
    ]);
    let (_, legacy) = upserted(
        mapping.map_event(Direction::RevampToLegacy, &event(Op::Create, "public", "purchases", None, Some(purchase))),
    );
    assert_eq!(
        legacy,
        row(&[
            ("id", Value::Int(11)),
            ("state", text("shipped")),
            ("total", Value::Decimal("5".parse().expect("decimal"))),
            ("shop_id", Value::Int(1)),
            ("sync_source", text("dualsync")),
        ])
    );
}

#[test]
fn validation_messages() {
    let base = "version: 1\ntables:\n  - legacy: a\n    revamp: b\n";
    let cases = [
        (
            format!("{base}    values:\n      s: {{x: X, y: X}}\n"),
            "<mapping>: tables[0]: values.s: `x` and `y` both map to `X`, so the reverse direction is ambiguous; add reverse_values.s saying which legacy value `X` becomes",
        ),
        (
            format!("{base}    reverse_values:\n      s: {{X: x}}\n"),
            "<mapping>: tables[0]: reverse_values.s: there is no values.s for it to reverse",
        ),
        (
            format!("{base}    convert:\n      c: {{legacy: uuid, revamp: bool}}\n"),
            "<mapping>: tables[0]: convert.c: uuid and bool are not the same kind of value; pick representations of one kind (boolean, text, uuid, timestamp, set, number, bytes)",
        ),
        (
            format!("{base}    convert:\n      c: {{legacy: uuid, revamp: boolean}}\n"),
            "<mapping>:6:33: tables[0].convert.c.revamp: unknown variant `boolean`, expected one of `bool`, `int-bool`, `json`, `uuid`, `uuid-binary`, `uuid-text`, `timestamp`, `timestamptz`, `text`, `enum`, `set`, `array`, `decimal`, `int`, `bytes`; did you mean `bool`?",
        ),
        (
            format!("{base}    exclude: [c]\n    columns:\n      c: d\n"),
            "<mapping>: tables[0]: exclude: `c` is excluded but also listed in `columns`; remove one",
        ),
        (
            format!("{base}    filter:\n      to_revamp: {{column: t, equals: 7, in: [8]}}\n"),
            "<mapping>: tables[0]: filter.to_revamp: give exactly one of equals, not_equals, in, not_in, is_null (found 2)",
        ),
        (
            format!("{base}    sync:\n      delete:\n        legacy: {{mode: soft}}\n        revamp: {{}}\n"),
            "<mapping>: tables[0]: sync.delete.legacy: soft delete needs `column` and `value`",
        ),
        (
            format!(
                "{base}    sync:\n      source_flag:\n        legacy: {{column: s, local: x, dualsync: x}}\n        revamp: {{column: s, local: a, dualsync: b}}\n"
            ),
            "<mapping>: tables[0]: sync.source_flag.legacy: `local` and `dualsync` are both \"x\"; they must differ, or loops cannot be told apart",
        ),
        (
            format!("{base}    sync:\n      bootstrap: newest-wins\n"),
            "<mapping>: tables[0]: sync.bootstrap: `newest-wins` needs `sync.conflict` to tell which row is newer; choose `legacy-wins`, `revamp-wins` or `refuse`",
        ),
        (
            "version: 1\nsides:\n  legacy:\n    time_zone: Mars/Olympus\ntables: []\n".to_string(),
            "<mapping>: sides.legacy.time_zone: \"Mars/Olympus\" is not an IANA time zone name (e.g. Europe/Berlin, UTC)",
        ),
        (
            format!("{base}    legacy_only:\n      c: {{default: 1, compute: {{column: x}}}}\n"),
            "<mapping>: tables[0]: legacy_only.c: give `default` or `compute`, not both",
        ),
        (
            format!("{base}    revamp_only:\n      c:\n        compute: {{concatenate: []}}\n"),
            "<mapping>:7:18: tables[0].revamp_only.c.compute: unknown variant `concatenate`, expected one of `column`, `constant`, `concat`, `split`, `lower`, `upper`, `trim`, `coalesce`; did you mean `concat`?",
        ),
    ];
    for (yaml, expected) in cases {
        match Mapping::from_yaml(&yaml) {
            Ok(_) => panic!("accepted:\n{yaml}"),
            Err(e) => assert_eq!(e.to_string(), expected, "\n{yaml}"),
        }
    }
}

/// `sync.bootstrap` names the winning side; each direction learns whether its incoming snapshot
/// rows overwrite, keep or weigh a different stored row.
#[test]
fn the_bootstrap_policy_per_direction() {
    use dualsync_conflict::OnCollision::{Keep, Newest, Overwrite, Refuse};
    let base = "version: 1\ntables:\n  - legacy: a\n    revamp: b\n    sync:\n      conflict: {kind: version, legacy: v, revamp: v, tie: legacy}\n";
    for (mode, to_revamp, to_legacy) in [
        ("", Refuse, Refuse),
        ("      bootstrap: refuse\n", Refuse, Refuse),
        ("      bootstrap: legacy-wins\n", Overwrite, Keep),
        ("      bootstrap: revamp-wins\n", Keep, Overwrite),
        ("      bootstrap: newest-wins\n", Newest, Newest),
    ] {
        let mapping = Mapping::from_yaml(&format!("{base}{mode}")).expect("valid");
        let pair = &mapping.tables()[0];
        assert_eq!(pair.on_collision(Direction::LegacyToRevamp), to_revamp, "{mode}");
        assert_eq!(pair.on_collision(Direction::RevampToLegacy), to_legacy, "{mode}");
    }
    // A snapshot read becomes a snapshot row; a read without `source.snapshot` (a flattened record
    // stating the row as it is) stays an upsert.
    let mapping = Mapping::from_yaml(base).expect("valid");
    for (snapshot, seed) in [(Some("true"), true), (Some("last"), true), (Some("false"), false), (None, false)] {
        let mut event = ChangeEvent::new(Op::Read);
        event.source = Source { table: Some("a".into()), snapshot: snapshot.map(Into::into), ..Source::default() };
        event.after = Some(Row(vec![("id".into(), Value::Int(1)), ("v".into(), Value::Int(1))]));
        let Ok(Mapped::Apply(change)) = mapping.map_event(Direction::LegacyToRevamp, &event) else {
            panic!("{snapshot:?}")
        };
        assert_eq!(matches!(change.kind, RowChangeKind::Seed(_)), seed, "{snapshot:?}");
    }
}

proptest! {
    /// Customers written on the legacy side come back unchanged after a trip through the revamp
    /// side (all synced columns; the name split is invertible for first names without spaces).
    #[test]
    fn customers_round_trip(
        id in any::<i32>(),
        first in "[A-Za-z]{1,12}",
        last in "[A-Za-z]{1,8}( [A-Za-z]{1,8}){0,2}",
        status in prop_oneof![Just("active"), Just("inactive"), Just("banned")],
        vip in 0i64..=1,
        days in 0i64..20_000,
        seconds in 4 * 3600i64..23 * 3600,
    ) {
        let modified = NaiveDate::from_ymd_opt(1980, 1, 1).expect("date").and_hms_opt(0, 0, 0).expect("time")
            + chrono::Duration::days(days) + chrono::Duration::seconds(seconds);
        let legacy = row(&[
            ("id", Value::Int(id.into())),
            ("first_name", text(&first)),
            ("last_name", text(&last)),
            ("email", text("x@example.org")),
            ("status", text(status)),
            ("is_vip", Value::Int(vip)),
            ("prefs", Value::Json("[1]".into())),
            ("sync_source", text("legacy")),
            ("modified", Value::Timestamp(modified)),
        ]);
        let mapping = shop();
        let (_, mut revamp) = upserted(mapping.map_event(Direction::LegacyToRevamp, &event(Op::Create, "shop", "customers", None, Some(legacy.clone()))));
        // The revamp application edits the row (its trigger resets the flag), so it syncs back.
        for (name, value) in revamp.0.iter_mut() {
            if name == "sync_source" {
                *value = text("revamp");
            }
        }
        let (_, back) = upserted(mapping.map_event(Direction::RevampToLegacy, &event(Op::Update, "public", "customers", None, Some(revamp))));
        let sorted = |r: Row| { let mut c = r.0; c.sort_by(|a, b| a.0.cmp(&b.0)); c };
        let mut expected = legacy;
        expected.0[7].1 = text("dualsync");
        prop_assert_eq!(sorted(back), sorted(expected));
    }
}
