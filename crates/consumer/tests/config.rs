//! Reading the consumer configuration file.

use dualsync_consumer::Config;

const MINIMAL: &str =
    "kafka:\n  brokers: b:9092\n  group: g\n  topics: [t]\ntarget:\n  url: postgres://u:secret@h/db\nmapping: m.yaml\n";

#[test]
fn defaults_and_passthrough() {
    let config = Config::from_yaml(MINIMAL, "c.yaml").unwrap();
    assert_eq!(config.batch.max_events, 500);
    assert_eq!(config.batch.linger_ms, 100);
    assert!(config.kafka.options.is_empty());
    let with_options = format!("{MINIMAL}batch:\n  max_events: 7\n");
    assert_eq!(Config::from_yaml(&with_options, "c.yaml").unwrap().batch.max_events, 7);
}

#[test]
fn the_target_url_is_never_printed() {
    let config = Config::from_yaml(MINIMAL, "c.yaml").unwrap();
    let shown = format!("{:?}", config.target);
    assert!(!shown.contains("secret") && shown.contains("postgres://"), "{shown}");
}

#[test]
fn mistakes_are_located() {
    let cases = [
        (
            MINIMAL.replace("group: g", "gruop: g"),
            "c.yaml:3:3: kafka: unknown field `gruop`, expected one of `brokers`, `group`, `topics`, `instance_id`, `options`; did you mean `group`?",
        ),
        (MINIMAL.replace("topics: [t]", "topics: []"), "c.yaml: kafka.topics: list at least one topic"),
        (format!("{MINIMAL}batch:\n  max_events: 0\n"), "c.yaml: batch.max_events: must be at least 1"),
        (MINIMAL.replace("mapping: m.yaml\n", ""), "c.yaml:1:1: missing field `mapping`"),
    ];
    for (yaml, expected) in cases {
        let err = Config::from_yaml(&yaml, "c.yaml").err().expect("rejected").to_string();
        assert_eq!(err, expected);
    }
}

#[test]
fn mapping_path_is_relative_to_the_file() {
    let dir = std::env::temp_dir().join(format!("dualsync-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("consumer.yaml");
    std::fs::write(&path, MINIMAL).unwrap();
    assert_eq!(Config::load(&path).unwrap().mapping, dir.join("m.yaml"));
}

#[test]
fn connector_settings() {
    use dualsync_envelope::{BinaryMode, DecimalMode};
    let yaml = format!(
        "{MINIMAL}debezium:\n  decimal.handling.mode: string\n  binary.handling.mode: base64-url-safe\n  unavailable.value.placeholder: \"~\"\n"
    );
    let settings = Config::from_yaml(&yaml, "c.yaml").unwrap().debezium.settings();
    assert_eq!(settings.decimal_handling_mode, DecimalMode::String);
    assert_eq!(settings.binary_handling_mode, BinaryMode::Base64UrlSafe);
    assert_eq!(settings.unavailable_value_placeholder, "~");
    let defaults = Config::from_yaml(MINIMAL, "c.yaml").unwrap().debezium.settings();
    assert_eq!(defaults, dualsync_envelope::ConnectorSettings::default());
    let bad = format!("{MINIMAL}debezium:\n  decimal.handling.mode: exact\n");
    let err = Config::from_yaml(&bad, "c.yaml").err().expect("rejected").to_string();
    assert!(err.starts_with("c.yaml:9:26: debezium.decimal.handling.mode: unknown variant `exact`"), "{err}");
}

#[test]
fn environment_overrides_and_secret_files() {
    let dir = std::env::temp_dir().join(format!("dualsync-env-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("url");
    std::fs::write(&secret, "mysql://u:from-file@h/db\n").unwrap();
    let env: std::collections::HashMap<&str, String> = [
        ("DUALSYNC_KAFKA_BROKERS", "k1:9092,k2:9092".to_string()),
        ("DUALSYNC_KAFKA_TOPICS", "a, b,".to_string()),
        ("DUALSYNC_KAFKA_INSTANCE_ID", "consumer-0".to_string()),
        ("DUALSYNC_KAFKA_SASL_PASSWORD", "hunter2".to_string()),
        ("DUALSYNC_TARGET_URL_FILE", secret.display().to_string()),
        ("DUALSYNC_BATCH_MAX_EVENTS", "64".to_string()),
        ("DUALSYNC_DLQ_TOPIC", "dead".to_string()),
        ("DUALSYNC_HTTP_LISTEN", "127.0.0.1:9400".to_string()),
    ]
    .into_iter()
    .collect();
    let mut config = Config::from_yaml(MINIMAL, "c.yaml").unwrap();
    config.override_from(|name| env.get(name).cloned()).unwrap();
    assert_eq!(config.kafka.brokers, "k1:9092,k2:9092");
    assert_eq!(config.kafka.topics, ["a", "b"]);
    assert_eq!(config.kafka.instance_id.as_deref(), Some("consumer-0"));
    assert_eq!(config.target.url, "mysql://u:from-file@h/db");
    assert_eq!(config.batch.max_events, 64);
    assert_eq!(config.dlq.as_ref().map(|d| d.topic.as_str()), Some("dead"));
    assert_eq!(config.http.as_ref().map(|h| h.listen.as_str()), Some("127.0.0.1:9400"));
    let shown = format!("{:?} {:?}", config.kafka, config.target);
    assert!(!shown.contains("hunter2") && !shown.contains("from-file"), "secrets are never printed: {shown}");

    let bad = |name: &str, value: &str| {
        let mut config = Config::from_yaml(MINIMAL, "c.yaml").unwrap();
        config.override_from(|n| (n == name).then(|| value.to_string())).unwrap_err().to_string()
    };
    assert_eq!(bad("DUALSYNC_BATCH_LINGER_MS", "soon"), "$DUALSYNC_BATCH_LINGER_MS: \"soon\" is not a whole number");
    assert_eq!(bad("DUALSYNC_KAFKA_TOPICS", ","), "environment overrides: kafka.topics: list at least one topic");
    assert!(
        bad("DUALSYNC_TARGET_URL_FILE", "/nonexistent/secret")
            .starts_with("$DUALSYNC_TARGET_URL_FILE: cannot read /nonexistent/secret")
    );
}

/// The configurations docker-compose.yml runs load as the binaries load them, and every topic a
/// consumer reads is a table of its side's mapping, or that table's tombstone table (the compose
/// file's own cross-checks are `testing/compose-check.sh`).
#[test]
fn the_compose_deployments_configurations_load() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for (file, prefix, legacy_side) in
        [("legacy-to-revamp.yaml", "legacy.", true), ("revamp-to-legacy.yaml", "revamp.", false)]
    {
        let config = Config::load(&repo.join("mappings/shop").join(file)).unwrap();
        let mapping = dualsync_mapping::Mapping::load(&config.mapping).unwrap();
        let tables: Vec<_> =
            mapping.tables().iter().map(|p| if legacy_side { p.legacy.clone() } else { p.revamp.clone() }).collect();
        for topic in &config.kafka.topics {
            let (namespace, table) = topic.strip_prefix(prefix).and_then(|t| t.split_once('.')).unwrap();
            let mapped = tables.iter().any(|t| {
                let named = table == t.name || table == dualsync_mapping::tombstone::table_name(&t.name);
                named && t.namespace.as_deref().is_none_or(|ns| ns == namespace)
            });
            assert!(mapped, "{file}: topic {topic} is no table of the mapping");
        }
    }
    for file in ["capture-legacy-mysql.yaml", "capture-revamp-postgres.yaml"] {
        dualsync_capture::CaptureConfig::load(&repo.join("debezium").join(file)).unwrap();
    }
}
