//! Hostile HTTP requests against `vault-rag serve` (real model, real socket): malformed JSON,
//! wrong types, missing fields, oversized bodies, extreme numbers, path traversal in every
//! spelling, symlinks out of the vault, wrong content types and methods, foreign Host/Origin
//! headers and unknown routes. Every one must get its documented 4xx with a stable error code in
//! the JSON body, no response may show anything from outside the vault, and a good request must
//! succeed after each one. The OpenAPI-driven fuzz of request bodies is in
//! `reliability_serve_fuzz.rs`.

// The escapes are symbolic links, which Windows creates only with extra privileges.
#![cfg(unix)]

use crate::hostile_cases;
use crate::support;

use std::path::Path;
use std::time::Duration;

use hostile_cases::cases;
use serde_json::json;
use support::{fixture_vault, send_raw, start, Response, Server};

pub(crate) const TOKEN: &str = "hostile-token-51c2";
/// Written outside the vault; no response may ever contain it.
pub(crate) const SECRET: &str = "hunter2-outside-the-vault";

/// Everything under `outer` except the vault: a secret file, a private folder, and links to both
/// from inside the vault.
fn plant_escapes(outer: &Path, vault: &Path) {
    std::fs::write(outer.join("secret.md"), format!("# Secret\n{SECRET}\n")).unwrap();
    std::fs::create_dir_all(outer.join("private")).unwrap();
    std::fs::write(
        outer.join("private/diary.md"),
        format!("# Diary\n{SECRET}\n"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outer.join("secret.md"), vault.join("Escape.md")).unwrap();
    std::os::unix::fs::symlink(outer.join("private"), vault.join("Out")).unwrap();
    std::os::unix::fs::symlink("../gone.md", vault.join("Dangling.md")).unwrap();
}

/// Asserts that nothing from outside the vault shows in a response: neither the secret text nor
/// any absolute path under the test's temporary folder.
fn assert_no_leak(response: &Response, outer: &Path, what: &str) {
    let text = response.text();
    assert!(!text.contains(SECRET), "{what} leaked the secret: {text}");
    let outer = outer.canonicalize().unwrap();
    assert!(
        !text.contains(&*outer.to_string_lossy()),
        "{what} leaked an absolute path: {text}"
    );
}

fn still_serving(server: &Server, after: &str) {
    let health = server.get("/health");
    assert_eq!(
        health.status,
        200,
        "the server stopped serving after {after}: {}\nstderr:\n{}",
        health.text(),
        server.stderr_text()
    );
}

#[test]
fn every_hostile_request_gets_its_4xx_and_the_server_keeps_serving() {
    let outer = tempfile::tempdir().unwrap();
    let vault = fixture_vault(outer.path());
    plant_escapes(outer.path(), &vault);
    let mut server = start(&vault, &outer.path().join("data"), Some(TOKEN), &[]);
    // Index first, so that a leak through search results would show.
    server.wait_indexed(Duration::from_secs(240));

    let cases = cases(&server);
    let mut failures = Vec::new();
    for case in &cases {
        let what = format!("{} ({} {})", case.name, case.method, case.target);
        let Some(response) = send_raw(server.port, &case.bytes()) else {
            failures.push(format!("{what}: connection closed without an answer"));
            still_serving(&server, &what);
            continue;
        };
        assert_no_leak(&response, outer.path(), &what);
        let code = if response.status >= 400 {
            match serde_json::from_slice::<serde_json::Value>(&response.body) {
                Ok(body) => body["error"]["code"].as_str().unwrap_or("").to_string(),
                Err(_) => format!("<not JSON: {}>", response.text()),
            }
        } else {
            String::new()
        };
        if response.status != case.status || code != case.code {
            failures.push(format!(
                "{what}: expected {} {}, got {} {}",
                case.status,
                case.code,
                response.status,
                response.text().chars().take(300).collect::<String>()
            ));
        }
        if response.status >= 400 {
            assert!(
                response.header("access-control-allow-origin").is_none()
                    || case.code != "forbidden_origin",
                "{what}: CORS header on a refused origin"
            );
        }
        still_serving(&server, &what);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases answered wrongly:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing from outside the vault made it into the index either.
    for mode in ["lexical", "hybrid"] {
        let found = server
            .post(
                "/search",
                &json!({"query": SECRET, "mode": mode, "top_k": 100}),
            )
            .json();
        for hit in found["hits"].as_array().unwrap() {
            let path = hit["path"].as_str().unwrap();
            assert!(
                !path.starts_with("Out/") && path != "Escape.md",
                "a file outside the vault was indexed: {hit}"
            );
        }
        assert!(!found.to_string().contains(SECRET), "{found}");
    }
    let status = server.get("/index/status").json();
    assert_eq!(status["notes_indexed"], 7, "{status}");
    assert!(server.child_alive(), "the server exited");
}

/// Requests that break HTTP itself never reach the API (hyper answers them): they must still be
/// refused with a 4xx, and the server must keep serving.
#[test]
fn broken_http_is_refused_and_the_server_keeps_serving() {
    let outer = tempfile::tempdir().unwrap();
    let vault = fixture_vault(outer.path());
    let mut server = start(&vault, &outer.path().join("data"), Some(TOKEN), &[]);
    let host = server.host();
    let big_header = "a".repeat(256 * 1024);
    let requests: Vec<(&str, Vec<u8>)> = vec![
        ("garbage request line", b"GARBAGE\r\n\r\n".to_vec()),
        ("NUL in the request line", b"GET /he\0alth HTTP/1.1\r\n\r\n".to_vec()),
        (
            "header of 256 KiB",
            format!("GET /health HTTP/1.1\r\nHost: {host}\r\nX-Big: {big_header}\r\nConnection: close\r\n\r\n")
                .into_bytes(),
        ),
        (
            "two Content-Length headers",
            format!("POST /search HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 14\r\nConnection: close\r\n\r\n{{\"query\": \"a\"}}").into_bytes(),
        ),
        (
            "bad chunk size",
            format!("POST /search HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n").into_bytes(),
        ),
        (
            "HTTP/9",
            format!("GET /health HTTP/9.9\r\nHost: {host}\r\n\r\n").into_bytes(),
        ),
    ];
    for (name, bytes) in &requests {
        if let Some(response) = send_raw(server.port, bytes) {
            assert!(
                (400..500).contains(&response.status),
                "{name}: {} {}",
                response.status,
                response.text()
            );
        }
        still_serving(&server, name);
    }
    assert!(server.child_alive(), "the server exited");
}
