//! `dualsync decode [FILE]`: Debezium records in, decoded events out, one JSON line each.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::ValueEnum;
use dualsync_envelope::{
    BinaryMode, ChangeEvent, ConnectorSettings, DecimalMode, Decoded, Decoder, Row, Source, TypeHints, Value,
};
use serde_json::{Map, Value as Json, json};

/// Arguments of `dualsync decode`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file of JSON lines to read; standard input when absent or `-`.
    file: Option<PathBuf>,
    /// The connector's `decimal.handling.mode`.
    #[arg(long, value_enum, default_value_t = DecimalArg::Precise)]
    decimal_handling_mode: DecimalArg,
    /// The connector's `binary.handling.mode`.
    #[arg(long, value_enum, default_value_t = BinaryArg::Bytes)]
    binary_handling_mode: BinaryArg,
    /// The connector's `unavailable.value.placeholder`.
    #[arg(long, default_value = "__debezium_unavailable_value")]
    unavailable_value_placeholder: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DecimalArg {
    Precise,
    String,
    Double,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BinaryArg {
    Bytes,
    Base64,
    #[value(name = "base64-url-safe")]
    Base64UrlSafe,
    Hex,
}

/// Decodes every line; prints each result on standard output and each failure, with its line
/// number and field path, on standard error. Exits 1 if any line failed.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let settings = ConnectorSettings {
        decimal_handling_mode: match args.decimal_handling_mode {
            DecimalArg::Precise => DecimalMode::Precise,
            DecimalArg::String => DecimalMode::String,
            DecimalArg::Double => DecimalMode::Double,
        },
        binary_handling_mode: match args.binary_handling_mode {
            BinaryArg::Bytes => BinaryMode::Bytes,
            BinaryArg::Base64 => BinaryMode::Base64,
            BinaryArg::Base64UrlSafe => BinaryMode::Base64UrlSafe,
            BinaryArg::Hex => BinaryMode::Hex,
        },
        unavailable_value_placeholder: args.unavailable_value_placeholder.clone(),
    };
    let input: Box<dyn BufRead> = match &args.file {
        Some(path) if path.as_os_str() != "-" => Box::new(BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        )),
        _ => Box::new(std::io::stdin().lock()),
    };
    let origin = args.file.as_ref().map_or_else(|| "<stdin>".to_string(), |p| p.display().to_string());
    let mut decoder = Decoder::new(settings, TypeHints::default());
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    for (n, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("{origin}: cannot read line {}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let (key, value) = split_record(&line);
        match decoder.decode(key.as_deref(), value.as_deref()) {
            Ok(decoded) => writeln!(out, "{}", describe(&decoded))?,
            Err(e) => {
                failed += 1;
                eprintln!("{origin}:{}: {e}", n + 1);
            }
        }
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// A line is `{"key": …, "value": …}` when its only fields are `key` and `value` (with `value`
/// present); otherwise it is a bare record value.
fn split_record(line: &str) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    if let Ok(Json::Object(map)) = serde_json::from_str::<Json>(line)
        && map.contains_key("value")
        && map.keys().all(|k| k == "key" || k == "value")
    {
        let part = |name: &str| match map.get(name) {
            None | Some(Json::Null) => None,
            Some(v) => Some(v.to_string().into_bytes()),
        };
        return (part("key"), part("value"));
    }
    (None, Some(line.as_bytes().to_vec()))
}

/// The decoded record as JSON: every value tagged with its kind, exact numbers as strings.
fn describe(decoded: &Decoded) -> Json {
    match decoded {
        Decoded::Change(event) => describe_event(event),
        Decoded::Tombstone { key } => json!({"kind": "tombstone", "key": key.as_ref().map(row)}),
        Decoded::Transaction(marker) => json!({
            "kind": "transaction",
            "status": if marker.begin { "BEGIN" } else { "END" },
            "id": marker.id,
            "event_count": marker.event_count,
            "data_collections": marker.data_collections.iter().map(|(t, n)| json!({"data_collection": t, "event_count": n})).collect::<Vec<_>>(),
            "ts_ms": marker.ts_ms,
        }),
        Decoded::Heartbeat { ts_ms } => json!({"kind": "heartbeat", "ts_ms": ts_ms}),
        Decoded::SchemaChange { database, schema, ddl } => {
            json!({"kind": "schema-change", "database": database, "schema": schema, "ddl": ddl})
        }
    }
}

fn describe_event(event: &ChangeEvent) -> Json {
    let mut out = Map::new();
    out.insert("kind".into(), json!("change"));
    out.insert("op".into(), json!(event.op.code()));
    out.insert("key".into(), event.key.as_ref().map_or(Json::Null, row));
    out.insert("before".into(), event.before.as_ref().map_or(Json::Null, row));
    out.insert("after".into(), event.after.as_ref().map_or(Json::Null, row));
    out.insert("source".into(), source(&event.source));
    if let Some(t) = &event.transaction {
        out.insert(
            "transaction".into(),
            json!({"id": t.id, "total_order": t.total_order, "data_collection_order": t.data_collection_order}),
        );
    }
    if let Some(m) = &event.message {
        out.insert("message".into(), json!({"prefix": m.prefix, "content": tagged(&Value::Bytes(m.content.clone()))}));
    }
    out.insert("ts_ms".into(), json!(event.ts_ms));
    if event.ts_us.is_some() || event.ts_ns.is_some() {
        out.insert("ts_us".into(), json!(event.ts_us));
        out.insert("ts_ns".into(), json!(event.ts_ns));
    }
    if !event.added.is_empty() {
        out.insert("added".into(), row(&Row(event.added.clone())));
    }
    Json::Object(out)
}

fn source(s: &Source) -> Json {
    let mut out = Map::new();
    let mut put = |k: &str, v: Json| {
        if !v.is_null() {
            out.insert(k.to_string(), v);
        }
    };
    put("version", json!(s.version));
    put("connector", json!(s.connector));
    put("name", json!(s.name));
    put("ts_ms", json!(s.ts_ms));
    put("ts_us", json!(s.ts_us));
    put("ts_ns", json!(s.ts_ns));
    put("snapshot", json!(s.snapshot));
    put("db", json!(s.db));
    put("schema", json!(s.schema));
    put("table", json!(s.table));
    put("server_id", json!(s.server_id));
    put("gtid", json!(s.gtid));
    put("file", json!(s.file));
    put("pos", json!(s.pos));
    put("row", json!(s.row));
    put("thread", json!(s.thread));
    put("query", json!(s.query));
    put("lsn", json!(s.lsn));
    put("txId", json!(s.tx_id));
    put("xmin", json!(s.xmin));
    put("sequence", json!(s.sequence));
    for (k, v) in &s.other {
        put(k, json!(v));
    }
    Json::Object(out)
}

fn row(r: &Row) -> Json {
    Json::Object(r.iter().map(|(k, v)| (k.to_string(), tagged(v))).collect())
}

/// `{"kind": …, "value": …}`; numbers that JSON would round (decimals, unsigned, floats) are
/// given as strings.
fn tagged(value: &Value) -> Json {
    let inner = match value {
        Value::Null | Value::Unavailable => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Text(s) | Value::Json(s) | Value::Enum(s) => json!(s),
        Value::Bytes(b) => json!(hex::encode(b)),
        Value::Geometry { wkb, srid } => json!({"wkb": hex::encode(wkb), "srid": srid}),
        Value::Set(members) => json!(members),
        Value::Array(items) => Json::Array(items.iter().map(tagged).collect()),
        Value::Map(entries) | Value::Struct(entries) => {
            Json::Object(entries.iter().map(|(k, v)| (k.clone(), tagged(v))).collect())
        }
        Value::Interval(i) => json!({"months": i.months, "days": i.days, "micros": i.micros}),
        other => json!(other.to_string()),
    };
    json!({"kind": value.kind(), "value": inner})
}
