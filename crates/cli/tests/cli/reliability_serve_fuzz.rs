//! A seeded fuzz of the HTTP API against its own OpenAPI document, over a real socket, with the
//! real model: for every operation of `/openapi.json`, requests are generated from the documented
//! schemas, then mutated (fields dropped, wrong types, extreme numbers, random unicode, unknown
//! fields, deep nesting, corrupted bytes). Checked for every request:
//!
//! - no 5xx, and the server process stays up;
//! - the status is one the operation documents;
//! - an error body matches the documented `Error` schema (a known `error.code`);
//! - a success body matches the operation's documented response schema;
//! - a request the schema rejects is never accepted (2xx).
//!
//! `VAULT_RAG_FUZZ_SEED` and `VAULT_RAG_FUZZ_CASES` replay or lengthen a run.

use crate::schema_fuzz;
use crate::support;

use std::time::{Duration, Instant};

use schema_fuzz::{
    extreme_number, generate, random_text, random_value, resolve, validate, Rng, EXTREME_NUMBERS,
};
use serde_json::{json, Value};
use support::{fixture_vault, raw, start, Response};

const TOKEN: &str = "fuzz-token-0b7e";
const DEFAULT_SEED: u64 = 0x5eed_cafe;
const DEFAULT_CASES: usize = 3000;

/// Changes `body` in one random way; the result may or may not still match the schema.
fn mutate(body: &mut Value, rng: &mut Rng) {
    let Some(object) = body.as_object_mut() else {
        *body = random_value(rng, 0);
        return;
    };
    let keys: Vec<String> = object.keys().cloned().collect();
    let key = (!keys.is_empty()).then(|| rng.pick(&keys).clone());
    match (rng.below(10), key) {
        (0, Some(key)) => {
            object.remove(&key);
        }
        (1, Some(key)) => {
            object.insert(key, random_value(rng, 0));
        }
        (2, Some(key)) => {
            object.insert(key, extreme_number(rng));
        }
        (3, Some(key)) => {
            object.insert(key, Value::String(random_text(rng, 12)));
        }
        (4, Some(key)) => {
            // Too many or too long: past the limits the document states.
            let value = if rng.chance(50) {
                json!(vec!["x"; 257])
            } else {
                json!("é".repeat(32_769))
            };
            object.insert(key, value);
        }
        (5, Some(key)) => {
            let mut nested = object.remove(&key).unwrap_or(Value::Null);
            for _ in 0..rng.below(200) {
                nested = json!([nested]);
            }
            object.insert(key, nested);
        }
        (6, Some(key)) => {
            let items: Vec<Value> = (0..rng.below(4)).map(|_| random_value(rng, 1)).collect();
            object.insert(key, Value::Array(items));
        }
        (7, _) => {
            object.insert(random_text(rng, 2), random_value(rng, 0));
        }
        (8, _) => *body = json!([body.clone()]),
        _ => *body = random_value(rng, 0),
    }
}

/// Corrupts serialized JSON at the byte level (never valid afterwards, or at least never trusted).
fn corrupt(bytes: &mut Vec<u8>, rng: &mut Rng) {
    match rng.below(4) {
        0 => bytes.truncate(rng.below(bytes.len())),
        1 => {
            let at = rng.below(bytes.len() + 1);
            bytes.insert(at, *rng.pick(&[0u8, 0xff, b'{', b'"', b',', b'\\']));
        }
        2 => {
            let at = rng.below(bytes.len() + 1);
            bytes.splice(at..at, b"\"\\ud800\"".iter().copied());
        }
        _ => bytes.extend_from_slice(b" trailing"),
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A query string for an operation with `parameters`, usually mostly valid.
fn query_string(doc: &Value, op: &Value, rng: &mut Rng, notes: &[&str]) -> (String, bool) {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut valid = true;
    for param in op["parameters"].as_array().into_iter().flatten() {
        let name = param["name"].as_str().unwrap_or_default().to_string();
        let required = param["required"] == true;
        let schema = &param["schema"];
        let value = match rng.below(8) {
            0 if !required || rng.chance(50) => {
                valid &= !required;
                continue;
            }
            1 => {
                // A random text: valid for strings only.
                let text = random_text(rng, 5);
                valid &= schema["type"] == "string";
                text
            }
            2 => {
                // Only what the schema surely rejects counts as invalid: a fraction or an
                // exponent is no integer in a query string.
                let number = rng.pick(EXTREME_NUMBERS).to_string();
                let parsed = serde_json::from_str(&number).unwrap_or(Value::Null);
                let fits = validate(doc, schema, &parsed, &name).is_ok();
                valid &= schema["type"] == "string" || (fits && !number.contains(['.', 'e']));
                number
            }
            _ if schema["type"] == "string" => rng.pick(notes).to_string(),
            _ => match generate(doc, schema, rng) {
                Value::String(s) => s,
                other => other.to_string(),
            },
        };
        pairs.push((name, value));
    }
    if rng.chance(10) {
        pairs.push((format!("x{}", random_text(rng, 2)), random_text(rng, 2)));
        valid = false;
    }
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    (query, valid)
}

struct Operation {
    path: String,
    method: String,
    op: Value,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        // The MCP transport's endpoint speaks JSON-RPC with its own headers; the official MCP
        // client drives it (`agents_cli.rs`) and `api_endpoints.rs` checks its refusals.
        if path == "/mcp" {
            continue;
        }
        for (method, op) in item.as_object().expect("path item") {
            ops.push(Operation {
                path: path.clone(),
                method: method.to_uppercase(),
                op: op.clone(),
            });
        }
    }
    ops
}

/// Checks one answer against the document; `schema_valid` says whether the request matched it.
fn check(
    doc: &Value,
    operation: &Operation,
    schema_valid: bool,
    response: &Response,
) -> Result<(), String> {
    let status = response.status;
    if status >= 500 {
        return Err(format!("server error {status}"));
    }
    let documented = operation.op["responses"]
        .get(status.to_string())
        .ok_or_else(|| format!("status {status} is not documented"))?;
    let streamed = response
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/event-stream"));
    if streamed {
        if resolve(doc, documented)["content"]
            .get("text/event-stream")
            .is_none()
        {
            return Err(format!(
                "status {status}: an event stream is not documented"
            ));
        }
        check_events(doc, &response.text())?;
        if !schema_valid {
            return Err("accepted a request the document rejects".into());
        }
        return Ok(());
    }
    let body: Value = serde_json::from_slice(&response.body)
        .map_err(|e| format!("status {status}: body is not JSON ({e})"))?;
    let schema = &resolve(doc, documented)["content"]["application/json"]["schema"];
    validate(doc, schema, &body, "body").map_err(|e| format!("status {status}: {e}"))?;
    if (200..300).contains(&status) && !schema_valid {
        return Err("accepted a request the document rejects".into());
    }
    if schema_valid && status != 200 && status != 400 && status != 404 {
        return Err(format!("a documented request got {status}"));
    }
    Ok(())
}

/// An `/ask` event stream: `retrieval`, `token`s, then `done` or `error`, each event's data
/// matching its schema.
fn check_events(doc: &Value, text: &str) -> Result<(), String> {
    let mut names = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let name = block
            .lines()
            .find_map(|l| l.strip_prefix("event: "))
            .unwrap_or("message");
        let data: String = block
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect();
        let data: Value = serde_json::from_str(&data)
            .map_err(|e| format!("event `{name}`: data is not JSON ({e})"))?;
        let schema = match name {
            "retrieval" => json!({ "$ref": "#/components/schemas/AskRetrieval" }),
            "done" => json!({ "$ref": "#/components/schemas/AskAnswer" }),
            "error" => json!({ "$ref": "#/components/schemas/Error" }),
            "token" => {
                json!({ "type": "object", "required": ["text"], "properties": { "text": { "type": "string" } } })
            }
            other => return Err(format!("unknown event `{other}`")),
        };
        validate(doc, &schema, &data, name)?;
        names.push(name);
    }
    let ends = matches!(names.last(), Some(&"done") | Some(&"error"));
    if names.first() != Some(&"retrieval") || !ends {
        return Err(format!("events out of order: {names:?}"));
    }
    Ok(())
}

#[test]
fn api_requests_mutated_from_the_openapi_document_never_break_the_server() {
    let seed = std::env::var("VAULT_RAG_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let cases = std::env::var("VAULT_RAG_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let outer = tempfile::tempdir().unwrap();
    let vault = fixture_vault(outer.path());
    let mut server = start(&vault, &outer.path().join("data"), Some(TOKEN), &[]);
    server.wait_indexed(Duration::from_secs(240));
    let doc = server.get("/openapi.json").json();
    let ops = operations(&doc);
    assert!(ops.len() >= 10, "{} operations", ops.len());
    let notes = [
        "Garden/Tomatoes.md",
        "Cooking/Sourdough.md",
        "Inbox.md",
        "../secret.md",
        "Missing.md",
        "Garden",
        "/etc/passwd",
    ];

    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    let mut failures = Vec::new();
    for case in 0..cases {
        let operation = rng.pick(&ops);
        // Rebuilding on every hit would only measure indexing; once in a while is enough.
        if operation.path == "/index/rebuild" && !rng.chance(10) {
            continue;
        }
        let mut target = operation.path.clone();
        let mut body = Vec::new();
        let mut schema_valid = true;
        if let Some(content) = operation.op.get("requestBody") {
            let schema = &content["content"]["application/json"]["schema"];
            let mut value = generate(&doc, schema, &mut rng);
            for _ in 0..rng.below(3) {
                mutate(&mut value, &mut rng);
            }
            schema_valid = validate(&doc, schema, &value, "body").is_ok();
            body = value.to_string().into_bytes();
            if rng.chance(10) {
                corrupt(&mut body, &mut rng);
                schema_valid = serde_json::from_slice::<Value>(&body)
                    .is_ok_and(|v| validate(&doc, schema, &v, "body").is_ok());
            }
        } else if operation.op.get("parameters").is_some() {
            let (query, valid) = query_string(&doc, &operation.op, &mut rng, &notes);
            target = format!("{target}?{query}");
            schema_valid = valid;
        } else if rng.chance(50) {
            // Operations without a body ignore one.
            body = random_value(&mut rng, 0).to_string().into_bytes();
        }
        let mut headers = vec![
            ("Host".to_string(), server.host()),
            ("Authorization".to_string(), format!("Bearer {TOKEN}")),
        ];
        let has_body = operation.op.get("requestBody").is_some();
        if has_body && rng.chance(5) {
            // A body the document does not describe: another media type, or none named.
            if let Some(kind) = [Some("text/plain"), Some("application/xml"), None][rng.below(3)] {
                headers.push(("Content-Type".into(), kind.into()));
            }
            schema_valid = false;
        } else if has_body || !body.is_empty() {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        let response = raw(server.port, &operation.method, &target, &headers, &body);
        *seen
            .entry(format!("{} {}", operation.method, response.status))
            .or_default() += 1;
        if let Err(problem) = check(&doc, operation, schema_valid, &response) {
            failures.push(format!(
                "case {case} (seed {seed}): {} {target} {}\n  -> {}: {}",
                operation.method,
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(300)
                    .collect::<String>(),
                problem,
                response.text().chars().take(300).collect::<String>()
            ));
        }
        if case % 50 == 0 {
            assert!(server.child_alive(), "the server died at case {case}");
        }
    }
    eprintln!(
        "fuzz: {cases} cases (seed {seed}) in {:.1} s; method and status: {seen:?}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} requests broke the contract:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(server.child_alive(), "the server exited");
    assert_eq!(server.get("/health").status, 200);
    // Every kind of answer was reached: accepted requests and refusals alike.
    for status in [
        "POST 200", "POST 400", "POST 415", "GET 200", "GET 400", "GET 404",
    ] {
        assert!(seen.contains_key(status), "no `{status}` in {seen:?}");
    }
}
