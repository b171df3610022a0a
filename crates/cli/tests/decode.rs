//! `dualsync decode` on real Debezium samples and on bad input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn decode(input: &str, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dualsync"))
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dualsync");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write input");
    child.wait_with_output().expect("wait")
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect()
}

#[test]
fn decodes_a_fixture_file_with_kinds() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/debezium/flink/debezium-data-schema-include.txt"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_dualsync")).args(["decode", path]).output().expect("run");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = lines(&output);
    assert_eq!(events.len(), 16);
    assert_eq!(events[0]["op"], json!("c"));
    assert_eq!(events[0]["after"]["id"], json!({"kind": "int", "value": 101}));
    assert_eq!(events[0]["after"]["weight"], json!({"kind": "float", "value": "3.140000104904175"}));
    assert_eq!(events[0]["source"]["file"], json!("mysql-bin.000003"));
    assert_eq!(events[15]["op"], json!("d"));
}

#[test]
fn key_value_lines_tombstones_and_exact_decimals() {
    let decimal = r#"{"schema":{"type":"struct","fields":[{"field":"after","type":"struct","fields":[{"field":"p","type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"20"}}]}]},"payload":{"op":"c","after":{"p":"CUmw9vACMxPESZBQ3jjzTg=="},"source":{"table":"t"}}}"#;
    let input = format!("{{\"key\":{{\"id\":7}},\"value\":null}}\n{decimal}\n");
    let output = decode(&input, &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let out = lines(&output);
    assert_eq!(out[0], json!({"kind": "tombstone", "key": {"id": {"kind": "int", "value": 7}}}));
    assert_eq!(out[1]["after"]["p"], json!({"kind": "decimal", "value": "123456789012345678.90123456789012345678"}));
}

#[test]
fn bad_lines_exit_non_zero_with_the_field_path() {
    let input =
        "{\"op\":\"c\",\"after\":{\"id\":1},\"source\":{\"table\":\"t\"}}\n{\"op\":\"c\",\"after\":[1]}\nnot json\n";
    let output = decode(input, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(lines(&output).len(), 1, "the good line is still printed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("<stdin>:2: value.after: expected an object or null, found array [1]"), "{stderr}");
    assert!(stderr.contains("<stdin>:3: value: not valid JSON"), "{stderr}");
}

#[test]
fn connector_settings_change_the_reading() {
    let input = r#"{"schema":{"type":"struct","fields":[{"field":"after","type":"struct","fields":[{"field":"b","type":"bytes"}]}]},"payload":{"op":"c","after":{"b":"0a0b0c"}}}"#;
    let output = decode(input, &["--binary-handling-mode", "hex"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(lines(&output)[0]["after"]["b"], json!({"kind": "bytes", "value": "0a0b0c"}));
    let default = decode(input, &[]);
    assert!(!default.status.success(), "0a0b0c is not base64 bytes");
}
