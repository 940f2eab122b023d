//! Every error code of the HTTP API and the access rules, in-process (tower `oneshot`): each
//! refusal has the documented status and code, and the server keeps serving afterwards.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::http::{app, app_with, expect_error, get, post, send, still_serving, HOST};
use common::{Failure, MemoryBackend};
use serde_json::json;
use vault_rag_server::{ApiSettings, Limits};

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
        // serde_json calls a number where an enum belongs a syntax error; it is a shape error.
        (r#"{"query": "x", "mode": 1}"#, "mode"),
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
