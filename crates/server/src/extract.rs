//! Extractors whose rejections come out in the API's error shape with its codes, instead of
//! axum's plain-text bodies.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
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
        if !json_content_type(req.headers()) {
            return Err(ServerError::UnsupportedMediaType);
        }
        let limit = state.limits.max_body_bytes;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ServerError::PayloadTooLarge { limit }
            } else {
                ServerError::InvalidJson {
                    message: rejection.body_text(),
                }
            }
        })?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection::<T>(rejection, &bytes)),
        }
    }
}

/// `application/json` or `application/<anything>+json`, parameters allowed (axum's rule).
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

fn json_rejection<T: DeserializeOwned>(rejection: JsonRejection, bytes: &[u8]) -> ServerError {
    let message = strip_axum_prefix(&rejection.body_text());
    match rejection {
        // serde_json reports some type errors (a number where an enum is expected) as syntax
        // errors; a body that parses as JSON is well-formed, so the client sent the wrong shape.
        JsonRejection::JsonSyntaxError(_)
            if serde_json::from_slice::<serde_json::Value>(bytes).is_ok() =>
        {
            ServerError::InvalidRequest {
                field: "body".into(),
                message: shape_error::<T>(bytes, &message),
            }
        }
        JsonRejection::JsonSyntaxError(_) => ServerError::InvalidJson { message },
        _ => ServerError::InvalidRequest {
            field: "body".into(),
            message,
        },
    }
}

/// The field path from axum's message with serde's description of the value, which names the
/// type it got instead of "expected value".
fn shape_error<T: DeserializeOwned>(bytes: &[u8], axum_message: &str) -> String {
    let path = axum_message
        .split_once(": ")
        .map(|(path, _)| path)
        .filter(|path| !path.contains(' '));
    let detail = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|value| serde_json::from_value::<T>(value).err())
        .map(|err| err.to_string());
    match (path, detail) {
        (Some(path), Some(detail)) => format!("{path}: {detail}"),
        (None, Some(detail)) => detail,
        (_, None) => axum_message.to_string(),
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
