//! Every endpoint of the HTTP API, in-process (tower `oneshot`) over the in-memory backend.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine as _;
use common::http::{app, app_with, expect_error, get, post, send, HOST};
use common::MemoryBackend;
use serde_json::json;
use vault_rag_core::DocumentText;
use vault_rag_server::{ApiSettings, Backend, Limits};

#[tokio::test]
async fn health_reports_model_index_and_memory() {
    let app = app(MemoryBackend::new());
    let (status, _, body) = send(&app, get("/health")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["model_loaded"], true);
    assert_eq!(body["model_name"], "hash-test");
    assert_eq!(body["embedding_dim"], 64);
    assert_eq!(body["cache_size_mb"], 3.0);
    assert_eq!(body["cached_notes"], 4);
    assert_eq!(
        body["index"],
        json!({"state": "idle", "notes_done": 4, "notes_total": 4, "complete": true, "live_updates": "on", "vectors_missing": 0})
    );
    assert!(body["rss_mb"].as_f64().unwrap() > 1.0, "{body}");
}

#[tokio::test]
async fn search_finds_ranks_filters_and_marks_terms() {
    let app = app(MemoryBackend::new());
    let (status, _, body) =
        send(&app, post("/search", r#"{"query": "water tomato plants"}"#)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["mode"], "hybrid");
    assert_eq!(body["index_complete"], true);
    assert!(body["took_ms"].is_number());
    let hits = body["hits"].as_array().unwrap();
    assert_eq!(hits[0]["path"], "Garden/Tomatoes.md");
    assert_eq!(hits[0]["retrievers"], json!(["dense", "lexical"]));
    assert!(
        hits[0]["snippet"].as_str().unwrap().contains("**tomato**"),
        "{}",
        hits[0]
    );
    for field in ["title", "heading_path", "line", "end_line", "score"] {
        assert!(!hits[0][field].is_null(), "{field} missing: {}", hits[0]);
    }

    let body = send(
        &app,
        post("/search", r#"{"query": "tomato", "folder": "Code/"}"#),
    )
    .await
    .2;
    let paths: Vec<&str> = body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["Code/Rust.md"]);

    let body = send(
        &app,
        post(
            "/search",
            r##"{"query": "plants", "tag": "#garden", "mode": "lexical"}"##,
        ),
    )
    .await
    .2;
    assert_eq!(body["mode"], "lexical");
    let paths: Vec<&str> = body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["Garden/Tomatoes.md"]);

    let body = send(
        &app,
        post(
            "/search",
            r#"{"query": "borrow", "mode": "dense", "top_k": 2}"#,
        ),
    )
    .await
    .2;
    assert_eq!(body["hits"].as_array().unwrap().len(), 2);
    assert_eq!(body["hits"][0]["path"], "Code/Rust.md");
}

#[tokio::test]
async fn similar_returns_other_notes() {
    let app = app(MemoryBackend::new());
    let (status, _, body) = send(
        &app,
        get("/similar?path=Garden/Roses.md&top_k=2&exclude_linked=true"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["path"], "Garden/Roses.md");
    assert_eq!(body["index_complete"], true);
    let hits = body["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|h| h["path"] != "Garden/Roses.md"));
    // Percent-encoded and backslash paths are normalised like any note path.
    let body = send(&app, get("/similar?path=Garden%5CRoses.md")).await.2;
    assert_eq!(body["path"], "Garden/Roses.md");
    assert_eq!(body["hits"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn embed_uses_query_and_document_prompts() {
    let backend = MemoryBackend::new();
    let app = app(backend.clone());
    let (status, _, body) = send(
        &app,
        post(
            "/embed",
            r#"{"texts": ["alpha beta", "gamma"], "kind": "query"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["model"], "hash-test");
    assert_eq!(body["dim"], 64);
    let vectors: Vec<Vec<f32>> = serde_json::from_value(body["vectors"].clone()).unwrap();
    let expected = backend
        .embedder()
        .embed_queries(&["alpha beta", "gamma"])
        .unwrap();
    assert_eq!(vectors, expected);

    let body = send(&app, post("/embed", r#"{"texts": ["alpha beta"]}"#))
        .await
        .2;
    let vectors: Vec<Vec<f32>> = serde_json::from_value(body["vectors"].clone()).unwrap();
    let docs = backend
        .embedder()
        .embed_documents(&[DocumentText {
            title: None,
            text: "alpha beta",
        }])
        .unwrap();
    assert_eq!(vectors, docs);
}

#[tokio::test]
async fn openai_embeddings_shape_and_encodings() {
    let backend = MemoryBackend::new();
    let app = app(backend.clone());
    let (status, _, body) = send(
        &app,
        post("/v1/embeddings", r#"{"input": ["alpha beta", "gamma"], "model": "anything", "encoding_format": "float"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "hash-test");
    assert_eq!(body["data"][1]["object"], "embedding");
    assert_eq!(body["data"][1]["index"], 1);
    let expected = backend
        .embedder()
        .embed_documents(&[
            DocumentText {
                title: None,
                text: "alpha beta",
            },
            DocumentText {
                title: None,
                text: "gamma",
            },
        ])
        .unwrap();
    let first: Vec<f32> = serde_json::from_value(body["data"][0]["embedding"].clone()).unwrap();
    assert_eq!(first, expected[0]);
    let tokens =
        backend.embedder().count_tokens("alpha beta") + backend.embedder().count_tokens("gamma");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": tokens, "total_tokens": tokens})
    );

    let body = send(
        &app,
        post(
            "/v1/embeddings",
            r#"{"input": "gamma", "encoding_format": "base64", "kind": "query", "dimensions": 64}"#,
        ),
    )
    .await
    .2;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(decoded, backend.embedder().embed_query("gamma").unwrap());

    for (bad, field) in [
        (r#"{"input": [1, 2, 3]}"#, "input"),
        (r#"{"input": 5}"#, "input"),
        (
            r#"{"input": "x", "encoding_format": "int8"}"#,
            "encoding_format",
        ),
        (r#"{"input": "x", "dimensions": 32}"#, "dimensions"),
        (r#"{"input": []}"#, "input"),
    ] {
        let message = expect_error(
            &app,
            post("/v1/embeddings", bad),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
        assert!(message.contains(field), "{bad}: {message}");
    }
}

#[tokio::test]
async fn index_status_and_controls() {
    let app = app(MemoryBackend::new());
    let (status, _, body) = send(&app, get("/index/status")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "idle");
    assert_eq!(body["notes_indexed"], 4);
    assert_eq!(body["chunks"], 8);
    assert_eq!(body["index_size_bytes"], 3 * 1024 * 1024);
    assert_eq!(
        body["failures"],
        json!([{"path": "Broken.md", "reason": "not valid UTF-8"}])
    );
    assert_eq!(body["complete"], true);
    assert_eq!(body["fingerprint"].as_str().unwrap().len(), 16);

    assert_eq!(
        send(&app, post("/index/rebuild", "")).await.2,
        json!({"state": "indexing"})
    );
    assert_eq!(send(&app, get("/health")).await.2["status"], "indexing");
    assert_eq!(send(&app, get("/index/status")).await.2["complete"], false);
    assert_eq!(
        send(&app, post("/index/pause", "")).await.2,
        json!({"state": "paused"})
    );
    assert_eq!(send(&app, get("/index/status")).await.2["state"], "paused");
    assert_eq!(
        send(&app, post("/index/resume", "")).await.2,
        json!({"state": "idle"})
    );
    // A hold while the user types: seconds in (0, 60], named when wrong.
    assert_eq!(
        send(&app, post("/index/yield", r#"{"seconds": 2.5}"#))
            .await
            .2,
        json!({"state": "idle"})
    );
    for bad in [
        r#"{"seconds": 0}"#,
        r#"{"seconds": 61}"#,
        r#"{"seconds": -1}"#,
    ] {
        let (status, _, body) = send(&app, post("/index/yield", bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"]["code"], "invalid_request", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("seconds"),
            "{body}"
        );
    }
    let (status, _, _) = send(&app, post("/index/yield", "{}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The notes the user has open go first: 1 to 64 vault-relative paths.
    assert_eq!(
        send(
            &app,
            post("/index/focus", r#"{"paths": ["a.md", "b/c.md"]}"#)
        )
        .await
        .2,
        json!({"state": "idle"})
    );
    let too_many = json!({ "paths": (0..65).map(|i| format!("{i}.md")).collect::<Vec<_>>() });
    for (bad, code) in [
        (r#"{"paths": []}"#.to_string(), "invalid_request"),
        (too_many.to_string(), "invalid_request"),
        (
            r#"{"paths": ["../x.md"]}"#.to_string(),
            "path_outside_vault",
        ),
        (r#"{"paths": "a.md"}"#.to_string(), "invalid_request"),
    ] {
        let (status, _, body) = send(&app, post("/index/focus", &bad)).await;
        assert!(status.is_client_error(), "{bad}: {status}");
        assert_eq!(body["error"]["code"], code, "{bad}: {body}");
    }
}

#[tokio::test]
async fn openapi_lists_exactly_the_routes_served() {
    let app = app(MemoryBackend::new());
    let (status, _, doc) = send(&app, get("/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (path.clone(), m.clone()))
        })
        .collect();
    documented.sort();
    let mut served: Vec<(String, String)> = vault_rag_server::ROUTES
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    served.sort();
    assert_eq!(documented, served);
    // Every documented route is really routed (a wrong method gives 405, never 404). `/mcp`
    // speaks the MCP transport's own errors; it is checked below.
    for (path, method) in served.iter().filter(|(path, _)| path != "/mcp") {
        let other = if method == "get" { "PUT" } else { "GET" };
        let request = Request::builder()
            .method(other)
            .uri(path.as_str())
            .header(header::HOST, HOST)
            .body(Body::empty())
            .unwrap();
        expect_error(
            &app,
            request,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }
    let put_mcp = Request::builder()
        .method("PUT")
        .uri("/mcp")
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.clone(), put_mcp)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    // Every error code the server can produce is documented with its status.
    let codes: Vec<&str> = doc["components"]["schemas"]["Error"]["properties"]["error"]
        ["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for code in [
        "unauthorized",
        "forbidden_host",
        "forbidden_origin",
        "invalid_json",
        "invalid_request",
        "payload_too_large",
        "not_found",
        "note_not_found",
        "path_outside_vault",
        "method_not_allowed",
        "unsupported_media_type",
        "timeout",
        "index_unavailable",
        "internal",
    ] {
        assert!(codes.contains(&code), "{code}");
    }
}

#[test]
fn committed_openapi_matches_the_served_document() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let served =
        serde_json::to_string_pretty(&vault_rag_server::openapi::document()).unwrap() + "\n";
    if std::env::var_os("VAULT_RAG_UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &served).unwrap();
    }
    let committed = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}; regenerate with VAULT_RAG_UPDATE_OPENAPI=1 cargo test -p vault-rag-server"));
    assert!(
        committed == served,
        "docs/openapi.json differs from /openapi.json; regenerate with VAULT_RAG_UPDATE_OPENAPI=1 cargo test -p vault-rag-server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedding_requests_beyond_the_concurrency_limit_wait() {
    let backend = MemoryBackend::new();
    *backend.embedder.delay.lock() = Some(Duration::from_millis(150));
    let settings = ApiSettings {
        limits: Limits {
            embed_concurrency: 2,
            ..Limits::default()
        },
        ..ApiSettings::default()
    };
    let app = app_with(backend.clone(), settings);
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                send(
                    &app,
                    post(
                        "/embed",
                        json!({"texts": [format!("text {i}")]}).to_string(),
                    ),
                )
                .await
                .0
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(
        backend
            .embedder
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst),
        2
    );
}
