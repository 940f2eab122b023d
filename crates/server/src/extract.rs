//! Extractors whose rejections come out in the API's error shape with its codes, instead of
//! axum's plain-text bodies.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::api::AppState;
use crate::ServerError;

/// `axum::Json` with API errors: bad syntax → `invalid_json`, wrong shape → `invalid_request`,
/// missing content type → `unsupported_media_type`, too large → `payload_too_large`.
pub struct ApiJson<T>(pub T);

impl<T> FromRequest<AppState> for ApiJson<T>
where
    T: DeserializeOwned,
{
    type Rejection = ServerError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection, state.limits.max_body_bytes)),
        }
    }
}

fn json_rejection(rejection: JsonRejection, limit: usize) -> ServerError {
    let message = rejection.body_text();
    match rejection {
        JsonRejection::JsonSyntaxError(_) => ServerError::InvalidJson { message },
        JsonRejection::JsonDataError(_) => ServerError::InvalidRequest {
            field: "body".into(),
            message: strip_axum_prefix(&message),
        },
        JsonRejection::MissingJsonContentType(_) => ServerError::UnsupportedMediaType,
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ServerError::PayloadTooLarge { limit }
        }
        other => ServerError::InvalidJson {
            message: other.body_text(),
        },
    }
}

/// `axum::extract::Query` with API errors (`invalid_request`).
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ServerError {
    ServerError::InvalidRequest {
        field: "query string".into(),
        message: strip_axum_prefix(&rejection.body_text()),
    }
}

/// axum prefixes serde's message (which names the field) with a generic sentence.
fn strip_axum_prefix(message: &str) -> String {
    message
        .split_once(": ")
        .map(|(_, rest)| rest.to_string())
        .unwrap_or_else(|| message.to_string())
}
