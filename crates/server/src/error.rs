//! The one error type of the server and its single mapping to HTTP status + stable `error.code`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use vault_rag_core::EmbedError;

/// Everything that can go wrong while serving a request or starting the server. Each variant names
/// what it concerns (request, field, path) so that the message alone tells the client what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("host `{host}` is not allowed; connect through 127.0.0.1, localhost or [::1] on port {port}")]
    ForbiddenHost { host: String, port: u16 },
    #[error("origin `{origin}` is not allowed (allowed: {allowed})")]
    ForbiddenOrigin { origin: String, allowed: String },
    #[error("the agent token opens only /mcp and /health, not `{path}`")]
    AgentForbidden { path: String },
    #[error("request body is not valid JSON: {message}")]
    InvalidJson { message: String },
    #[error("invalid request: field `{field}`: {message}")]
    InvalidRequest { field: String, message: String },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("no route for `{path}`")]
    NotFound { path: String },
    #[error("note `{path}` was not found in the vault")]
    NoteNotFound { path: String },
    #[error("path `{path}` is outside the vault: {reason}")]
    PathOutsideVault { path: String, reason: String },
    #[error("method {method} is not allowed on `{path}`")]
    MethodNotAllowed { method: String, path: String },
    #[error("expected `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error("the request took longer than {seconds} s")]
    Timeout { seconds: u64 },
    #[error("the index is not available: {message}")]
    IndexUnavailable { message: String },
    #[error("embedding failed")]
    Embed {
        #[source]
        source: EmbedError,
    },
    #[error("index operation failed")]
    Index {
        #[source]
        source: vault_rag_index::IndexError,
    },
    #[error("internal error: {message}")]
    Internal { message: String },
    #[error(transparent)]
    Ask(#[from] vault_rag_ask::AskError),
    #[error("refusing to listen on non-loopback address {host} without a token (set VAULT_RAG_TOKEN or write a `token` file in the data dir)")]
    InsecureBind { host: String },
    #[error("cannot listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("server I/O failed")]
    Io {
        #[source]
        source: std::io::Error,
    },
}

impl ServerError {
    /// Shorthand for a request field that failed validation.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The HTTP status and the stable machine-readable code of this error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::ForbiddenHost { .. } => (StatusCode::FORBIDDEN, "forbidden_host"),
            Self::ForbiddenOrigin { .. } => (StatusCode::FORBIDDEN, "forbidden_origin"),
            Self::AgentForbidden { .. } => (StatusCode::FORBIDDEN, "forbidden_for_agents"),
            Self::InvalidJson { .. } => (StatusCode::BAD_REQUEST, "invalid_json"),
            Self::InvalidRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            Self::NoteNotFound { .. } => (StatusCode::NOT_FOUND, "note_not_found"),
            Self::PathOutsideVault { .. } => (StatusCode::BAD_REQUEST, "path_outside_vault"),
            Self::MethodNotAllowed { .. } => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Timeout { .. } => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            Self::IndexUnavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "index_unavailable"),
            Self::Ask(e) => (ask_status(e), e.code()),
            Self::Embed { .. }
            | Self::Index { .. }
            | Self::Internal { .. }
            | Self::InsecureBind { .. }
            | Self::Bind { .. }
            | Self::Io { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The message with its causes, for clients and logs.
    pub fn full_message(&self) -> String {
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(err) = source {
            message.push_str(": ");
            message.push_str(&err.to_string());
            source = err.source();
        }
        message
    }
}

/// Answering: a model endpoint that fails is a bad gateway; one that is not set up is the
/// request's to fix.
fn ask_status(e: &vault_rag_ask::AskError) -> StatusCode {
    use vault_rag_ask::AskError;
    match e {
        AskError::Invalid { .. } | AskError::NoEndpoint => StatusCode::BAD_REQUEST,
        AskError::Search(_) => StatusCode::INTERNAL_SERVER_ERROR,
        AskError::Llm(vault_rag_ask::LlmError::BadUrl { .. }) => StatusCode::BAD_REQUEST,
        AskError::Llm(_) => StatusCode::BAD_GATEWAY,
    }
}

impl From<vault_rag_core::RequestError> for ServerError {
    fn from(e: vault_rag_core::RequestError) -> Self {
        Self::invalid(e.field, e.message)
    }
}

impl From<EmbedError> for ServerError {
    fn from(source: EmbedError) -> Self {
        Self::Embed { source }
    }
}

/// The JSON body of every error response: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    pub code: &'static str,
    pub message: String,
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = self.full_message();
        if status.is_server_error() {
            tracing::error!(code, "{message}");
        } else {
            tracing::debug!(code, "{message}");
        }
        let mut response = (
            status,
            Json(ErrorBody {
                error: ErrorDetail { code, message },
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
