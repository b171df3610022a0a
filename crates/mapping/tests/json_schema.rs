//! `docs/mapping.schema.json` is the JSON Schema of the mapping format, generated from the Rust
//! types, so editors can validate and complete mapping files. This test fails when the committed
//! file is stale; `DUALSYNC_BLESS=1 cargo test -p dualsync-mapping --test json_schema` rewrites it.

use std::path::PathBuf;

use dualsync_mapping::spec::MappingSpec;

#[test]
fn committed_schema_is_current() {
    let schema = schemars::schema_for!(MappingSpec);
    let generated = format!("{}\n", serde_json::to_string_pretty(&schema).expect("schema serialises"));
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/mapping.schema.json");
    if std::env::var_os("DUALSYNC_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(committed == generated, "docs/mapping.schema.json is stale; rerun this test with DUALSYNC_BLESS=1");
    // The demo mapping is valid against it: its top-level keys are the schema's properties.
    let properties = schema.get("properties").and_then(|p| p.as_object()).expect("properties");
    assert!(
        properties.contains_key("tables") && properties.contains_key("sides") && properties.contains_key("version")
    );
}
