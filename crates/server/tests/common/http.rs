//! In-process HTTP helpers: requests with the right `Host`, responses as JSON.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;
use vault_rag_server::{router, ApiSettings};

use super::MemoryBackend;

pub const PORT: u16 = 4123;
pub const HOST: &str = "127.0.0.1:4123";

pub fn app_with(backend: Arc<MemoryBackend>, settings: ApiSettings) -> Router {
    router(backend, &settings, PORT)
}

pub fn app(backend: Arc<MemoryBackend>) -> Router {
    app_with(backend, ApiSettings::default())
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap()
}

pub fn post(path: &str, body: impl Into<String>) -> Request<Body> {
    Request::post(path)
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.into()))
        .unwrap()
}

pub async fn send(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
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
pub async fn expect_error(
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

pub async fn still_serving(app: &Router) {
    let (status, _, body) = send(app, get("/health")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
