//! The demo shop mapping end to end: Debezium events of one side travel through the broker and a
//! consumer into the other side's real tables, with renames, value maps, conversions, computed
//! and default columns, source-flag stamping and echo suppression.

mod common;

use common::{consume, temp_dir, write_config};
use dualsync_consumer::Direction;
use dualsync_testkit::{Kind, TestDb, create_topic, produce, rows, unique};
use serde_json::json;

fn repo(path: &str) -> String {
    std::fs::read_to_string(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path))
        .expect("demo file")
}

/// The shop mapping with its tables in the test's namespaces.
fn mapping(legacy: &str, revamp: &str) -> String {
    repo("mappings/shop/shop.yaml")
        .replace("legacy: shop.", &format!("legacy: {legacy}."))
        .replace("revamp: public.", &format!("revamp: {revamp}."))
}

/// A MySQL connector event of `shop.customers`, with schema, as Debezium writes it.
fn legacy_customer(op: &str, after: serde_json::Value) -> Vec<u8> {
    let field = |name: &str, ty: &str, semantic: Option<&str>| {
        let mut f = json!({"field": name, "type": ty, "optional": true});
        if let Some(s) = semantic {
            f["name"] = json!(s);
        }
        f
    };
    let row = |name: &str| {
        json!({"type": "struct", "optional": true, "field": name, "fields": [
            field("id", "int32", None), field("first_name", "string", None), field("last_name", "string", None),
            field("email", "string", None), field("status", "string", Some("io.debezium.data.Enum")),
            field("is_vip", "int16", None), field("prefs", "string", Some("io.debezium.data.Json")),
            field("legacy_code", "string", None), field("sync_source", "string", None),
            field("modified", "int64", Some("io.debezium.time.MicroTimestamp")),
        ]})
    };
    json!({
        "schema": {"type": "struct", "fields": [row("before"), row("after"), {"field": "op", "type": "string"}]},
        "payload": {"op": op, "before": null, "after": after,
                    "source": {"connector": "mysql", "name": "legacy", "db": "shop", "table": "customers"}}
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn legacy_customers_into_the_revamp_side() {
    let revamp = TestDb::new(Kind::Postgres).await;
    revamp.exec(&format!("SET search_path = {{ns}};\n{}", repo("mappings/shop/revamp.sql"))).await;
    let topic = unique("legacy.shop.customers");
    create_topic(&topic, 1).await;
    // 2024-01-15 12:00:00 as Berlin wall-clock microseconds (DATETIME carries no zone).
    let noon = 1_705_320_000_000_000i64;
    let ada = |status: &str, vip: i64, email: &str, source: &str| {
        json!({"id": 1, "first_name": "Ada", "last_name": "King Lovelace", "email": email, "status": status,
               "is_vip": vip, "prefs": "{\"theme\": \"dark\"}", "legacy_code": "X-1", "sync_source": source, "modified": noon})
    };
    let key = Some(br#"{"id":1}"#.to_vec());
    let events = [
        (key.clone(), Some(legacy_customer("c", ada("active", 1, "ada@example.org", "legacy")))),
        (key.clone(), Some(legacy_customer("u", ada("banned", 0, "ada@example.org", "legacy")))),
        // dualsync's own write coming back: not applied (the email would change otherwise).
        (key, Some(legacy_customer("u", ada("banned", 0, "echo@example.org", "dualsync")))),
    ];
    produce(&topic, &events).await;
    let config = write_config(&temp_dir(), &topic, &revamp, &mapping("shop", &revamp.namespace));
    consume(&config, Direction::LegacyToRevamp, events.len() as u64).await;
    assert_eq!(
        revamp
            .rows("SELECT id::text, full_name, email, state, vip::text, preferences::text, loyalty_tier, is_deleted::text, sync_source, updated_at::text FROM {ns}.customers")
            .await,
        rows(&[&["1", "Ada King Lovelace", "ada@example.org", "Banned", "false", "{\"theme\": \"dark\"}", "bronze", "false", "dualsync", "2024-01-15 11:00:00+00"]])
    );
}

#[tokio::test]
async fn revamp_customers_into_the_legacy_side_without_schema() {
    let legacy = TestDb::new(Kind::MySql).await;
    legacy.exec(&repo("mappings/shop/legacy.sql")).await;
    let topic = unique("revamp.public.customers");
    create_topic(&topic, 1).await;
    let grace = json!({
        "op": "c", "before": null,
        "after": {"id": 2, "full_name": "Grace Brewster Hopper", "email": "grace@example.org", "state": "Active", "vip": true,
                  "preferences": "{\"a\": 1}", "loyalty_tier": "gold", "is_deleted": false, "sync_source": "revamp",
                  "updated_at": "2024-07-01T10:00:00Z"},
        "source": {"connector": "postgresql", "name": "revamp", "db": "shop", "schema": "public", "table": "customers"}
    });
    produce(&topic, &[(Some(br#"{"id":2}"#.to_vec()), Some(grace.to_string().into_bytes()))]).await;
    let config = write_config(&temp_dir(), &topic, &legacy, &mapping(&legacy.namespace, "public"));
    consume(&config, Direction::RevampToLegacy, 1).await;
    assert_eq!(
        legacy
            .rows("SELECT CAST(id AS CHAR), first_name, last_name, email, status, CAST(is_vip AS CHAR), prefs, legacy_code, sync_source, CAST(modified AS CHAR) FROM {ns}.customers")
            .await,
        // July: Berlin is UTC+2.
        rows(&[&["2", "Grace", "Brewster Hopper", "grace@example.org", "active", "1", "{\"a\": 1}", "NULL", "dualsync", "2024-07-01 12:00:00.000000"]])
    );
}
