//! The HTTP API: routes, limits and the middleware around them.

mod agents;
pub(crate) mod ask;
mod embed;
mod index;
mod search;

pub(crate) use ask::vault_of;
pub(crate) use search::{note_path, search_request};

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Semaphore;

use crate::agent_token::AgentToken;
use crate::security::{self, AccessPolicy, AccessSettings};
use crate::{Backend, ServerError};

/// Request limits. Defaults keep one request from monopolising the machine.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Most texts in one embedding request.
    pub max_texts: usize,
    /// Longest text (in characters) in an embedding request.
    pub max_text_chars: usize,
    /// Time after which a request is answered with `timeout`.
    pub request_timeout: Duration,
    /// Embedding requests running at once; more wait for a slot.
    pub embed_concurrency: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            max_texts: 256,
            max_text_chars: 32_768,
            request_timeout: Duration::from_secs(120),
            embed_concurrency: 2,
        }
    }
}

/// Everything the router needs besides the backend.
#[derive(Debug, Clone, Default)]
pub struct ApiSettings {
    pub limits: Limits,
    pub access: AccessSettings,
    /// The chat endpoint `POST /ask` answers with, unless a request names its own.
    pub llm: Option<vault_rag_ask::LlmSettings>,
}

/// Shared state of the handlers.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) limits: Arc<Limits>,
    pub(crate) embed_slots: Arc<Semaphore>,
    pub(crate) agent_token: Option<Arc<AgentToken>>,
    pub(crate) llm: Option<Arc<vault_rag_ask::LlmSettings>>,
}

/// The paths and methods the API serves (the OpenAPI document must list exactly these).
pub const ROUTES: &[(&str, &str)] = &[
    ("/health", "get"),
    ("/search", "post"),
    ("/ask", "post"),
    ("/similar", "get"),
    ("/embed", "post"),
    ("/v1/embeddings", "post"),
    ("/index/status", "get"),
    ("/index/rebuild", "post"),
    ("/index/pause", "post"),
    ("/index/resume", "post"),
    ("/index/yield", "post"),
    ("/index/focus", "post"),
    ("/openapi.json", "get"),
    ("/agents/token", "get"),
    ("/agents/token/rotate", "post"),
    ("/mcp", "post"),
    ("/mcp", "get"),
    ("/mcp", "delete"),
];

/// Builds the API for `backend`, served on `port` (the `Host` header must name it).
pub fn router(backend: Arc<dyn Backend>, settings: &ApiSettings, port: u16) -> Router {
    let limits = Arc::new(settings.limits.clone());
    let state = AppState {
        backend,
        embed_slots: Arc::new(Semaphore::new(limits.embed_concurrency.max(1))),
        limits: limits.clone(),
        agent_token: settings.access.agent_token.clone(),
        llm: settings.llm.clone().map(Arc::new),
    };
    let policy = Arc::new(AccessPolicy::new(&settings.access, port));
    let mcp = crate::mcp::http_service(state.backend.clone(), limits.clone());
    Router::new()
        .route("/health", get(index::health))
        .route("/search", post(search::search))
        .route("/ask", post(ask::ask))
        .route("/similar", get(search::similar))
        .route("/embed", post(embed::embed))
        .route("/v1/embeddings", post(embed::openai_embeddings))
        .route("/index/status", get(index::status))
        .route("/index/rebuild", post(index::rebuild))
        .route("/index/pause", post(index::pause))
        .route("/index/resume", post(index::resume))
        .route("/index/yield", post(index::hold))
        .route("/index/focus", post(index::focus))
        .route("/openapi.json", get(openapi))
        .route("/agents/token", get(agents::token))
        .route("/agents/token/rotate", post(agents::rotate))
        .route_service(
            "/mcp",
            tower::ServiceBuilder::new()
                .layer(middleware::map_response(crate::mcp::error_body))
                .map_response(|r: axum::http::Response<_>| r.map(axum::body::Body::new))
                .service(mcp),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(limits, limit_and_time))
        .layer(middleware::from_fn_with_state(policy, security::guard))
}

/// Refuses declared oversized bodies before reading them, and bounds the time of a request.
async fn limit_and_time(
    State(limits): State<Arc<Limits>>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.max_body_bytes as u64) {
        return ServerError::PayloadTooLarge {
            limit: limits.max_body_bytes,
        }
        .into_response();
    }
    // An MCP client's event stream (GET /mcp) stays open for the whole session.
    if request.method() == Method::GET && request.uri().path() == "/mcp" {
        return next.run(request).await;
    }
    match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ServerError::Timeout {
            seconds: limits.request_timeout.as_secs(),
        }
        .into_response(),
    }
}

async fn not_found(uri: Uri) -> ServerError {
    ServerError::NotFound {
        path: uri.path().to_string(),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> ServerError {
    ServerError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}

async fn openapi() -> Response {
    axum::Json(crate::openapi::document()).into_response()
}

/// Runs blocking backend work off the async runtime.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, ServerError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ServerError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ServerError::Internal {
            message: format!("request worker failed: {err}"),
        })?
}
