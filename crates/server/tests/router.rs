//! Every endpoint and every error code of the HTTP API, in-process (tower `oneshot`).

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use common::{Failure, MemoryBackend};
use serde_json::{json, Value};
use tower::ServiceExt;
use vault_rag_core::DocumentText;
use vault_rag_server::{router, ApiSettings, Backend, Limits};

const PORT: u16 = 4123;
const HOST: &str = "127.0.0.1:4123";

fn app_with(backend: Arc<MemoryBackend>, settings: ApiSettings) -> Router {
    router(backend, &settings, PORT)
}

fn app(backend: Arc<MemoryBackend>) -> Router {
    app_with(backend, ApiSettings::default())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, body: impl Into<String>) -> Request<Body> {
    Request::post(path)
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.into()))
        .unwrap()
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    (status, headers, value)
}

/// Asserts the API's error shape, status and code; returns the message.
async fn expect_error(
    app: &Router,
    request: Request<Body>,
    status: StatusCode,
    code: &str,
) -> String {
    let (got, _, body) = send(app, request).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap().to_string();
    assert!(!message.is_empty());
    message
}

async fn still_serving(app: &Router) {
    let (status, _, body) = send(app, get("/health")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

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
        json!({"state": "idle", "notes_done": 4, "notes_total": 4, "complete": true})
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
}

#[tokio::test]
async fn token_is_required_when_configured() {
    let mut settings = ApiSettings::default();
    settings.access.token = Some("correct horse".into());
    let app = app_with(MemoryBackend::new(), settings);
    let (status, headers, body) = send(&app, get("/health")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    for bad in [
        "Bearer wrong",
        "Bearer correct horsE",
        "Bearer ",
        "Basic correct horse",
        "correct horse",
    ] {
        let mut request = get("/search");
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, bad.parse().unwrap());
        expect_error(&app, request, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let mut request = get("/health");
    request.headers_mut().insert(
        header::AUTHORIZATION,
        "Bearer correct horse".parse().unwrap(),
    );
    assert_eq!(send(&app, request).await.0, StatusCode::OK);
}

#[tokio::test]
async fn foreign_hosts_are_refused() {
    let app = app(MemoryBackend::new());
    for host in [
        "evil.example:4123",
        "127.0.0.1:80",
        "localhost",
        "127.0.0.2:4123",
        "[::2]:4123",
        "localhost:4123.evil",
    ] {
        let request = Request::get("/health")
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap();
        expect_error(&app, request, StatusCode::FORBIDDEN, "forbidden_host").await;
    }
    let no_host = Request::get("/health").body(Body::empty()).unwrap();
    expect_error(&app, no_host, StatusCode::FORBIDDEN, "forbidden_host").await;
    for host in ["localhost:4123", "[::1]:4123", "127.0.0.1:4123"] {
        let request = Request::get("/health")
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, request).await.0, StatusCode::OK, "{host}");
    }
}

#[tokio::test]
async fn origins_are_allow_listed_and_cors_is_never_a_wildcard() {
    let mut settings = ApiSettings::default();
    settings.access.token = Some("t".into());
    settings
        .access
        .allowed_origins
        .push("http://localhost:5173".into());
    let app = app_with(MemoryBackend::new(), settings);

    let mut request = get("/health");
    request
        .headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    let (status, headers, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden_origin");
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    let mut request = get("/health");
    request
        .headers_mut()
        .insert(header::ORIGIN, "null".parse().unwrap());
    expect_error(&app, request, StatusCode::FORBIDDEN, "forbidden_origin").await;

    // Preflight: answered without credentials, only for allowed origins.
    let preflight = |origin: &str| {
        Request::options("/search")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization, content-type",
            )
            .body(Body::empty())
            .unwrap()
    };
    let (status, headers, _) = send(&app, preflight("app://obsidian.md")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "app://obsidian.md"
    );
    assert!(headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .contains("authorization"));
    assert!(headers[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap()
        .contains("POST"));
    let (status, headers, _) = send(&app, preflight("http://localhost:5173")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:5173"
    );
    expect_error(
        &app,
        preflight("https://evil.example"),
        StatusCode::FORBIDDEN,
        "forbidden_origin",
    )
    .await;

    // An allowed origin with the token gets its answer and the CORS header, errors included.
    let mut request = post("/search", r#"{"query": "roses"}"#);
    request
        .headers_mut()
        .insert(header::ORIGIN, "app://obsidian.md".parse().unwrap());
    request
        .headers_mut()
        .insert(header::AUTHORIZATION, "Bearer t".parse().unwrap());
    let (status, headers, _) = send(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "app://obsidian.md"
    );
    assert_eq!(headers[header::VARY], "Origin");
    let mut request = get("/health");
    request
        .headers_mut()
        .insert(header::ORIGIN, "app://obsidian.md".parse().unwrap());
    let (status, headers, _) = send(&app, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "app://obsidian.md"
    );
}

#[tokio::test]
async fn malformed_bodies_get_json_errors() {
    let app = app(MemoryBackend::new());
    expect_error(
        &app,
        post("/search", "{not json"),
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    expect_error(
        &app,
        post("/search", ""),
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    for (bad, field) in [
        (r#"{"query": 5}"#, "query"),
        (r#"{"top_k": 3}"#, "query"),
        (r#"{"query": "x", "top_k": "ten"}"#, "top_k"),
        (r#"{"query": "x", "top_k": -1}"#, "top_k"),
        (r#"{"query": "x", "top_k": 0}"#, "top_k"),
        (r#"{"query": "x", "top_k": 101}"#, "top_k"),
        (r#"{"query": "x", "top_k": 1000000000}"#, "top_k"),
        (r#"{"query": "x", "top_k": 1e30}"#, "top_k"),
        (r#"{"query": "x", "mode": "fuzzy"}"#, "mode"),
        (r#"{"query": "x", "topk": 3}"#, "topk"),
        (r#"{"query": "   "}"#, "query"),
        (r#"{"query": "x", "folder": "../up"}"#, "folder"),
        (r#"[1, 2]"#, "body"),
    ] {
        let message = expect_error(
            &app,
            post("/search", bad),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
        assert!(message.contains(field), "{bad}: {message}");
    }
    let long_query = json!({"query": "a".repeat(32_769)}).to_string();
    expect_error(
        &app,
        post("/search", long_query),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;

    let too_many = json!({"texts": vec!["x"; 257]}).to_string();
    let message = expect_error(
        &app,
        post("/embed", too_many),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert!(message.contains("257"), "{message}");
    let too_long = json!({"texts": ["ok", "b".repeat(32_769)]}).to_string();
    let message = expect_error(
        &app,
        post("/embed", too_long),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert!(message.contains("texts[1]"), "{message}");
    expect_error(
        &app,
        post("/embed", r#"{"texts": []}"#),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    expect_error(
        &app,
        post("/embed", r#"{"texts": ["a"], "kind": "poem"}"#),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;

    for bad in [
        "/similar",
        "/similar?path=",
        "/similar?path=a.md&top_k=0",
        "/similar?path=a.md&top_k=x",
        "/similar?path=a.md&exclude_linked=maybe",
    ] {
        expect_error(&app, get(bad), StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    still_serving(&app).await;
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = app(MemoryBackend::new());
    let request = Request::post("/search")
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(r#"{"query": "x"}"#))
        .unwrap();
    expect_error(
        &app,
        request,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let request = Request::post("/embed")
        .header(header::HOST, HOST)
        .body(Body::from(r#"{"texts": ["x"]}"#))
        .unwrap();
    expect_error(
        &app,
        request,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn huge_bodies_are_413() {
    let app = app(MemoryBackend::new());
    let huge = json!({"texts": ["x".repeat(2 << 20)]}).to_string();
    // Declared length: refused before the body is read.
    let mut request = post("/embed", huge.clone());
    request
        .headers_mut()
        .insert(header::CONTENT_LENGTH, huge.len().into());
    let message = expect_error(
        &app,
        request,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    assert!(message.contains("1048576"), "{message}");
    // No declared length: the body reader stops at the limit.
    expect_error(
        &app,
        post("/search", huge),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    still_serving(&app).await;
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = app(MemoryBackend::new());
    expect_error(&app, get("/nope"), StatusCode::NOT_FOUND, "not_found").await;
    expect_error(&app, get("/"), StatusCode::NOT_FOUND, "not_found").await;
    expect_error(
        &app,
        get("/search"),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    expect_error(
        &app,
        post("/health", "{}"),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let delete = Request::delete("/index/status")
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap();
    expect_error(
        &app,
        delete,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn note_paths_stay_inside_the_vault() {
    let app = app(MemoryBackend::new());
    expect_error(
        &app,
        get("/similar?path=Missing.md"),
        StatusCode::NOT_FOUND,
        "note_not_found",
    )
    .await;
    for bad in [
        "/similar?path=../outside.md",
        "/similar?path=Garden/../../outside.md",
        "/similar?path=..%2F..%2Fetc%2Fpasswd",
        "/similar?path=/etc/passwd",
        "/similar?path=%2Fetc%2Fpasswd",
        "/similar?path=C:/Windows/win.ini",
        "/similar?path=Escape.md",
    ] {
        expect_error(
            &app,
            get(bad),
            StatusCode::BAD_REQUEST,
            "path_outside_vault",
        )
        .await;
    }
    still_serving(&app).await;
}

#[tokio::test]
async fn backend_failures_map_to_5xx() {
    let backend = MemoryBackend::new();
    let app = app(backend.clone());
    *backend.fail.lock() = Failure::Unavailable;
    expect_error(
        &app,
        post("/search", r#"{"query": "x"}"#),
        StatusCode::SERVICE_UNAVAILABLE,
        "index_unavailable",
    )
    .await;
    *backend.fail.lock() = Failure::Internal;
    let message = expect_error(
        &app,
        post("/index/rebuild", ""),
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
    )
    .await;
    assert!(message.contains("disk on fire"), "{message}");
    *backend.fail.lock() = Failure::Panic;
    expect_error(
        &app,
        get("/similar?path=Inbox.md"),
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
    )
    .await;
    *backend.fail.lock() = Failure::None;
    still_serving(&app).await;
    assert_eq!(
        send(&app, post("/search", r#"{"query": "x"}"#)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn slow_requests_time_out() {
    let backend = MemoryBackend::new();
    let settings = ApiSettings {
        limits: Limits {
            request_timeout: Duration::from_millis(100),
            ..Limits::default()
        },
        ..ApiSettings::default()
    };
    let app = app_with(backend.clone(), settings);
    *backend.delay.lock() = Some(Duration::from_millis(600));
    expect_error(
        &app,
        post("/search", r#"{"query": "x"}"#),
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
    )
    .await;
    *backend.delay.lock() = None;
    still_serving(&app).await;
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
    // Every documented route is really routed (a wrong method gives 405, never 404).
    for (path, method) in &served {
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
