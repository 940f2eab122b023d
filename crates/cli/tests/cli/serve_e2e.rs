//! `vault-rag serve` and `vault-rag mcp` end to end: the built binary, the real MiniLM model,
//! real SQLite files, real sockets, and the official `openai` and `mcp` Python clients.

use crate::support;

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::{fixture_vault, raw, start, venv_python};

const TOKEN: &str = "e2e-token-7f3a";
const INDEX_TIMEOUT: Duration = Duration::from_secs(240);

fn paths(hits: &Value) -> Vec<String> {
    hits.as_array()
        .unwrap()
        .iter()
        .map(|h| h["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn serves_the_http_api_with_the_real_model() {
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let server = start(&vault, &dir.path().join("data"), Some(TOKEN), &[]);

    // Answered at once, even before indexing finished (and maybe before the model is loaded).
    let health = server.get("/health");
    assert_eq!(health.status, 200, "{}", health.text());
    let health = health.json();
    let model_state = health["model"]["state"].as_str().unwrap();
    assert!(["loading", "ready"].contains(&model_state), "{health}");
    assert_eq!(health["model_loaded"], model_state == "ready", "{health}");
    assert_eq!(health["embedding_dim"], 384);
    assert!(
        health["model_name"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("minilm"),
        "{health}"
    );
    assert!(health["rss_mb"].as_f64().unwrap() > 10.0, "{health}");
    for field in [
        "status",
        "version",
        "cache_size_mb",
        "cached_notes",
        "index",
    ] {
        assert!(!health[field].is_null(), "{field}: {health}");
    }

    let status = server.wait_indexed(INDEX_TIMEOUT);
    assert_eq!(status["notes_indexed"], 7, "{status}");
    assert!(status["chunks"].as_u64().unwrap() >= 7, "{status}");
    assert_eq!(status["failures"], json!([]));
    assert!(status["index_size_bytes"].as_u64().unwrap() > 0);
    assert_eq!(status["fingerprint"].as_str().unwrap().len(), 16);
    let health = server.get("/health").json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["model_loaded"], true, "{health}");
    assert_eq!(health["model"], json!({"state": "ready"}));
    assert_eq!(health["cached_notes"], 7);
    assert_eq!(health["index"]["complete"], true);

    // Meaning, not words: nothing in the query appears in the note but "alive".
    let found = server.post(
        "/search",
        &json!({"query": "how do I keep the wild yeast culture alive"}),
    );
    assert_eq!(found.status, 200, "{}", found.text());
    let found = found.json();
    assert_eq!(found["index_complete"], true);
    assert_eq!(found["mode"], "hybrid");
    assert_eq!(paths(&found["hits"])[0], "Cooking/Sourdough.md", "{found}");
    let top = &found["hits"][0];
    assert!(top["line"].as_u64().unwrap() >= 1 && top["end_line"].as_u64() >= top["line"].as_u64());
    // A meaning match: the dense list leads, with the model's usual weight.
    let why = &top["explain"];
    assert_eq!(why["dense_rank"], 1, "{why}");
    assert!(why["dense_similarity"].as_f64().unwrap() > 0.0, "{why}");
    assert!(
        (why["dense_weight"].as_f64().unwrap() - 0.65).abs() < 1e-6,
        "{why}"
    );

    // A pasted passage is a query: 5,000 characters pass the HTTP checks and the engine's alike
    // (one limit, 32,768 characters, everywhere); one character more than that is refused.
    let passage = "how do I keep the wild yeast culture alive ".repeat(117);
    assert!(passage.chars().count() > 5_000);
    let long = server.post("/search", &json!({ "query": passage }));
    assert_eq!(long.status, 200, "{}", long.text());
    assert_eq!(paths(&long.json()["hits"])[0], "Cooking/Sourdough.md");
    let too_long = server.post("/search", &json!({ "query": "x".repeat(32_769) }));
    assert_eq!(too_long.status, 400, "{}", too_long.text());
    assert_eq!(too_long.json()["error"]["code"], "invalid_request");
    assert!(top["snippet"].as_str().unwrap().contains("**"), "{top}");

    let dense = server
        .post(
            "/search",
            &json!({"query": "temples and shrines in Japan", "mode": "dense", "top_k": 2}),
        )
        .json();
    assert!(paths(&dense["hits"]).len() <= 2, "{dense}");
    assert_eq!(paths(&dense["hits"])[0], "Travel/Kyoto.md", "{dense}");
    let lexical = server
        .post(
            "/search",
            &json!({"query": "aphids", "mode": "lexical", "tag": "garden"}),
        )
        .json();
    assert_eq!(paths(&lexical["hits"]), ["Garden/Tomatoes.md"], "{lexical}");
    let folder = server
        .post("/search", &json!({"query": "bread", "folder": "Health"}))
        .json();
    assert!(
        paths(&folder["hits"])
            .iter()
            .all(|p| p.starts_with("Health/")),
        "{folder}"
    );

    let similar = server.get("/similar?path=Cooking/Sourdough.md&top_k=3");
    assert_eq!(similar.status, 200, "{}", similar.text());
    let similar = similar.json();
    assert_eq!(similar["path"], "Cooking/Sourdough.md");
    let similar_paths = paths(&similar["hits"]);
    assert!(
        !similar_paths.is_empty() && similar_paths.len() <= 3,
        "{similar}"
    );
    assert!(!similar_paths.contains(&"Cooking/Sourdough.md".to_string()));
    let spaced = server.get("/similar?path=Tech/Rust%20Ownership.md");
    assert_eq!(spaced.status, 200, "{}", spaced.text());

    let embedded = server
        .post(
            "/embed",
            &json!({"texts": ["sourdough starter", "Kyoto"], "kind": "query"}),
        )
        .json();
    assert_eq!(embedded["dim"], 384);
    let vectors = embedded["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    let norm: f64 = vectors[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap().powi(2))
        .sum();
    assert!((norm.sqrt() - 1.0).abs() < 1e-3, "{norm}");

    // Indexing controls.
    assert_eq!(
        server.post("/index/pause", &json!({})).json()["state"],
        "paused"
    );
    assert_eq!(server.get("/index/status").json()["state"], "paused");
    let during_pause = server.post("/search", &json!({"query": "marathon"}));
    assert_eq!(during_pause.status, 200);
    assert_ne!(
        server.post("/index/resume", &json!({})).json()["state"],
        "paused"
    );
    let rebuilt = server.post("/index/rebuild", &json!({}));
    assert_eq!(rebuilt.status, 200, "{}", rebuilt.text());
    assert!(rebuilt.json()["state"].is_string());
    let status = server.wait_indexed(INDEX_TIMEOUT);
    assert_eq!(status["notes_indexed"], 7, "{status}");

    // The served OpenAPI document is the committed one.
    let served = server.get("/openapi.json").json();
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo_root().join("docs/openapi.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(served, committed);

    // The official OpenAI client gets the vectors `/embed` gives.
    let out = Command::new(venv_python())
        .arg(support::repo_root().join("scripts/openai_embeddings_check.py"))
        .args(["--port", &server.port.to_string(), "--token", TOKEN])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("openai check: {report}");
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(report.trim()).unwrap();
    assert_eq!(report["checks"].as_array().unwrap().len(), 4);

    assert!(
        server.extra_stdout.lock().unwrap().is_empty(),
        "stdout must hold only the listening line"
    );
}

// It plants a symbolic link, which Windows creates only with extra privileges.
#[cfg(unix)]
#[test]
fn refuses_bad_requests_and_keeps_serving() {
    let outer = tempfile::tempdir().unwrap();
    let vault = fixture_vault(outer.path());
    std::fs::write(outer.path().join("secret.md"), "# Secret\n").unwrap();
    std::os::unix::fs::symlink(outer.path().join("secret.md"), vault.join("Escape.md")).unwrap();
    let server = start(
        &vault,
        &outer.path().join("data"),
        Some(TOKEN),
        &["--allow-origin", "http://localhost:5173"],
    );
    let host = server.host();
    let auth = format!("Bearer {TOKEN}");
    let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };

    #[allow(clippy::type_complexity)] // a table of (method, path, headers, body, status, code)
    let cases: Vec<(&str, &str, Vec<(String, String)>, String, u16, &str)> = vec![
        (
            "GET",
            "/health",
            h(&[("Host", &host)]),
            String::new(),
            401,
            "unauthorized",
        ),
        (
            "GET",
            "/health",
            h(&[("Host", &host), ("Authorization", "Bearer nope")]),
            String::new(),
            401,
            "unauthorized",
        ),
        (
            "GET",
            "/health",
            h(&[("Host", "evil.example"), ("Authorization", &auth)]),
            String::new(),
            403,
            "forbidden_host",
        ),
        (
            "GET",
            "/health",
            h(&[
                ("Host", &format!("attacker.test:{}", server.port)),
                ("Authorization", &auth),
            ]),
            String::new(),
            403,
            "forbidden_host",
        ),
        (
            "GET",
            "/health",
            h(&[
                ("Host", &host),
                ("Authorization", &auth),
                ("Origin", "https://evil.example"),
            ]),
            String::new(),
            403,
            "forbidden_origin",
        ),
        (
            "POST",
            "/search",
            h(&[
                ("Host", &host),
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ]),
            "{\"query\": ".into(),
            400,
            "invalid_json",
        ),
        (
            "POST",
            "/search",
            h(&[
                ("Host", &host),
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ]),
            r#"{"query": ["a"]}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/search",
            h(&[
                ("Host", &host),
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ]),
            r#"{"query": "a", "top_k": 0}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/search",
            h(&[
                ("Host", &host),
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ]),
            r#"{"query": "a", "top_k": 1000000000}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/search",
            h(&[
                ("Host", &host),
                ("Authorization", &auth),
                ("Content-Type", "text/plain"),
            ]),
            r#"{"query": "a"}"#.into(),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/embed",
            h(&[
                ("Host", &host),
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ]),
            json!({"texts": ["x".repeat(3 << 20)]}).to_string(),
            413,
            "payload_too_large",
        ),
        (
            "GET",
            "/similar?path=../secret.md",
            h(&[("Host", &host), ("Authorization", &auth)]),
            String::new(),
            400,
            "path_outside_vault",
        ),
        (
            "GET",
            "/similar?path=%2Fetc%2Fpasswd",
            h(&[("Host", &host), ("Authorization", &auth)]),
            String::new(),
            400,
            "path_outside_vault",
        ),
        (
            "GET",
            "/similar?path=Escape.md",
            h(&[("Host", &host), ("Authorization", &auth)]),
            String::new(),
            400,
            "path_outside_vault",
        ),
        (
            "GET",
            "/similar?path=Nope.md",
            h(&[("Host", &host), ("Authorization", &auth)]),
            String::new(),
            404,
            "note_not_found",
        ),
        (
            "GET",
            "/nothing-here",
            h(&[("Host", &host), ("Authorization", &auth)]),
            String::new(),
            404,
            "not_found",
        ),
        (
            "DELETE",
            "/search",
            h(&[("Host", &host), ("Authorization", &auth)]),
            String::new(),
            405,
            "method_not_allowed",
        ),
    ];
    for (method, path, headers, body, status, code) in &cases {
        let response = raw(server.port, method, path, headers, body.as_bytes());
        assert_eq!(
            response.status,
            *status,
            "{method} {path}: {}",
            response.text()
        );
        assert_eq!(
            response.code(),
            *code,
            "{method} {path}: {}",
            response.text()
        );
    }

    // A browser preflight from an allowed origin passes without credentials; CORS is never `*`.
    let preflight = raw(
        server.port,
        "OPTIONS",
        "/search",
        &h(&[
            ("Host", &host),
            ("Origin", "http://localhost:5173"),
            ("Access-Control-Request-Method", "POST"),
        ]),
        b"",
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    let allowed = raw(
        server.port,
        "GET",
        "/health",
        &h(&[
            ("Host", &host),
            ("Authorization", &auth),
            ("Origin", "app://obsidian.md"),
        ]),
        b"",
    );
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("app://obsidian.md")
    );

    assert_eq!(
        server.get("/health").status,
        200,
        "the server must keep serving"
    );
    server.wait_indexed(INDEX_TIMEOUT);
    let found = server
        .post("/search", &json!({"query": "password secret"}))
        .json();
    assert!(
        !paths(&found["hits"]).contains(&"Escape.md".to_string()),
        "a symlink out of the vault was indexed: {found}"
    );
}

#[test]
fn sigterm_finishes_requests_then_exits_and_releases_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let data = dir.path().join("data");
    // The token comes from the data dir's `token` file when VAULT_RAG_TOKEN is unset.
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("token"), format!("{TOKEN}\n")).unwrap();
    let mut server = start(&vault, &data, None, &[]);
    assert_eq!(
        server.token.as_deref(),
        Some(TOKEN),
        "the token file's token"
    );
    server.token = None;
    assert_eq!(server.get("/health").status, 401);
    server.token = Some(TOKEN.into());
    assert_eq!(server.get("/health").status, 200);

    // A second server on the same index is refused, with a clear message.
    let second = Command::new(env!("CARGO_BIN_EXE_vault-rag"))
        .args(["serve", "--vault"])
        .arg(&vault)
        .arg("--data-dir")
        .arg(&data)
        .args(support::model_args())
        .env("VAULT_RAG_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(
        second.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&second.stdout)
    );
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(
        message.contains("in use by another vault-rag process"),
        "{message}"
    );

    // A slow request in flight when SIGTERM arrives still gets its answer.
    let texts: Vec<String> = (0..128)
        .map(|i| format!("text number {i} about sourdough, temples and marathons ").repeat(8))
        .collect();
    let port = server.port;
    let headers = vec![
        ("Host".to_string(), server.host()),
        ("Authorization".to_string(), format!("Bearer {TOKEN}")),
        ("Content-Type".to_string(), "application/json".to_string()),
    ];
    let body = json!({"texts": texts}).to_string();
    let in_flight =
        std::thread::spawn(move || raw(port, "POST", "/embed", &headers, body.as_bytes()));
    std::thread::sleep(Duration::from_millis(500));
    server.signal("TERM");
    let response = in_flight.join().unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["vectors"].as_array().unwrap().len(), 128);
    let exit = server.wait_exit(Duration::from_secs(60));
    assert!(exit.success(), "{exit:?}\n{}", server.stderr_text());
    let seal = data.join("index.sqlite.sealed");
    assert!(seal.exists(), "a clean stop seals the index");

    // The lock went with the process: a new server opens the same index, and takes the seal.
    let again = start(&vault, &data, Some(TOKEN), &[]);
    assert_eq!(again.get("/health").status, 200);
    assert!(!seal.exists(), "the seal is taken at open");
}

#[test]
fn exits_when_stdin_closes() {
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let data = dir.path().join("data");
    let mut server = start(&vault, &data, None, &["--exit-on-stdin-close"]);
    // No token configured: loopback requests pass, Host rules still apply.
    assert_eq!(server.get("/health").status, 200);
    let foreign = raw(
        server.port,
        "GET",
        "/health",
        &[("Host".into(), "rebind.example".into())],
        b"",
    );
    assert_eq!(foreign.code(), "forbidden_host");
    drop(server.stdin.take());
    let exit = server.wait_exit(Duration::from_secs(60));
    assert!(exit.success(), "{exit:?}\n{}", server.stderr_text());
    // How the plugin stops the service: a clean close, sealed for a quick next start.
    assert!(data.join("index.sqlite.sealed").exists());
}

#[test]
fn refuses_a_public_address_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_vault-rag"))
        .args(["serve", "--host", "0.0.0.0", "--no-token", "--vault"])
        .arg(&vault)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(support::model_args())
        .env_remove("VAULT_RAG_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("without a token"), "{message}");
}

#[test]
fn a_taken_port_fails_at_once_without_loading_the_model_or_opening_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let data = dir.path().join("data");
    // Settings are checked first (without loading anything); then binding fails, before the
    // model loads or the index opens.
    let out = Command::new(env!("CARGO_BIN_EXE_vault-rag"))
        .args(["serve", "--port", &port, "--vault"])
        .arg(&vault)
        .arg("--data-dir")
        .arg(&data)
        .args(support::model_args())
        .env_remove("VAULT_RAG_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no listening line on a failed bind");
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(
        message.contains(&format!("cannot listen on 127.0.0.1:{port}"))
            && message.contains("in use"),
        "{message}"
    );
    assert!(!message.contains("model loaded"), "{message}");
    assert!(!data.join("index.sqlite").exists());
}

#[test]
fn mcp_tools_work_with_the_official_python_client() {
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let out = support::mcp_check(&vault, &dir.path().join("data"), &[])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!(
        "mcp check: {report}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    let report: Value = serde_json::from_str(report.trim()).unwrap();
    assert_eq!(
        report["tools"],
        json!([
            "gather_context",
            "list_notes",
            "read_note",
            "search_notes",
            "similar_notes"
        ])
    );
    assert_eq!(report["search_top"][0], "Cooking/Sourdough.md");
}

#[test]
fn a_restarted_server_answers_while_its_model_loads() {
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let data = dir.path().join("data");
    let mut first = start(&vault, &data, None, &["--exit-on-stdin-close"]);
    first.wait_indexed(INDEX_TIMEOUT);
    drop(first.stdin.take());
    assert!(first.wait_exit(Duration::from_secs(60)).success());

    // The port opens before the model session is loaded: the first requests are answered, and
    // a search that needs the model waits for it instead of failing.
    let server = start(&vault, &data, None, &[]);
    let health = server.get("/health");
    assert_eq!(health.status, 200, "{}", health.text());
    let health = health.json();
    assert_eq!(health["cached_notes"], 7, "{health}");
    let lexical = server.post("/search", &json!({"query": "aphids", "mode": "lexical"}));
    assert_eq!(lexical.status, 200, "{}", lexical.text());
    assert_eq!(paths(&lexical.json()["hits"])[0], "Garden/Tomatoes.md");
    let dense = server.post(
        "/search",
        &json!({"query": "temples and shrines in Japan", "mode": "dense"}),
    );
    assert_eq!(dense.status, 200, "{}", dense.text());
    assert_eq!(paths(&dense.json()["hits"])[0], "Travel/Kyoto.md");
    let health = server.get("/health").json();
    assert_eq!(health["model"], json!({"state": "ready"}), "{health}");
    let status = server.wait_indexed(INDEX_TIMEOUT);
    assert_eq!(status["notes_indexed"], 7, "{status}");
}

#[test]
fn a_model_that_fails_to_load_stops_the_server_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    // The real tokenizer (it loads before the port opens) next to a model file that is not ONNX.
    let model = dir.path().join("broken-model");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::copy(
        support::model_dir().join("tokenizer.json"),
        model.join("tokenizer.json"),
    )
    .unwrap();
    std::fs::write(model.join("model.onnx"), b"not an onnx graph").unwrap();
    let mut server = support::start_with_model(&vault, &dir.path().join("data"), &model);
    let status = server.wait_exit(Duration::from_secs(60));
    assert!(!status.success());
    // The stderr reader thread may still be copying the last lines.
    let started = std::time::Instant::now();
    let stderr = loop {
        let text = server.stderr.lock().unwrap().clone();
        if text.contains("loading the embedding model") || started.elapsed().as_secs() > 5 {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        stderr.contains("loading the embedding model `all-minilm-l6-v2`")
            && stderr.contains("model.onnx"),
        "{stderr}"
    );
}
