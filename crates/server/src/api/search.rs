//! `POST /search` and `GET /similar`.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use vault_rag_core::{
    count_or, Fusion, Hit, NotePath, PathError, SearchMode, SearchRequest, SimilarRequest,
    DEFAULT_TOP_K,
};

use super::{blocking, AppState};
use crate::extract::{ApiJson, ApiQuery};
use crate::ServerError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchBody {
    query: String,
    top_k: Option<u64>,
    mode: Option<SearchMode>,
    folder: Option<String>,
    tag: Option<String>,
    fusion: Option<Fusion>,
}

#[derive(Debug, Serialize)]
pub(crate) struct SearchReply {
    hits: Vec<Hit>,
    mode: SearchMode,
    took_ms: f64,
    index_complete: bool,
    dense_coverage: f64,
}

pub(crate) async fn search(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SearchBody>,
) -> Result<Json<SearchReply>, ServerError> {
    let query = search_request(SearchRequest {
        query: body.query,
        top_k: count_or(body.top_k, DEFAULT_TOP_K),
        mode: body.mode.unwrap_or_default(),
        folder: body.folder,
        tag: body.tag,
        fusion: body.fusion.unwrap_or_default(),
    })?;
    let mode = query.mode;
    let backend = state.backend.clone();
    let results = blocking(move || backend.search(&query)).await?;
    Ok(Json(SearchReply {
        hits: results.hits,
        mode,
        took_ms: results.took_ms,
        index_complete: results.index_complete,
        dense_coverage: results.dense_coverage,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SimilarParams {
    path: String,
    top_k: Option<u64>,
    exclude_linked: Option<bool>,
}

#[derive(Debug, Serialize)]
pub(crate) struct SimilarReply {
    path: String,
    hits: Vec<Hit>,
    index_complete: bool,
}

pub(crate) async fn similar(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SimilarParams>,
) -> Result<Json<SimilarReply>, ServerError> {
    let query = SimilarRequest {
        path: note_path(&params.path)?,
        top_k: count_or(params.top_k, DEFAULT_TOP_K),
        exclude_linked: params.exclude_linked.unwrap_or(false),
    };
    query.validate()?;
    let path = query.path.to_string();
    let backend = state.backend.clone();
    let results = blocking(move || backend.similar(&query)).await?;
    Ok(Json(SimilarReply {
        path,
        hits: results.hits,
        index_complete: results.index_complete,
    }))
}

/// A vault-relative note path from a client; escapes are `path_outside_vault`.
pub(crate) fn note_path(raw: &str) -> Result<NotePath, ServerError> {
    NotePath::new(raw).map_err(|err| match err {
        PathError::Absolute(_) | PathError::Escapes(_) => ServerError::PathOutsideVault {
            path: raw.to_string(),
            reason: err.to_string(),
        },
        PathError::Empty | PathError::Nul(_) => ServerError::invalid("path", err.to_string()),
    })
}

/// Validates a search (HTTP or MCP) against the limits every entry point shares, with its
/// query trimmed and its filters in normalised form.
pub(crate) fn search_request(mut req: SearchRequest) -> Result<SearchRequest, ServerError> {
    req.query = req.query.trim().to_string();
    let filters = req.validate()?;
    req.folder = filters.folder;
    req.tag = filters.tag;
    Ok(req)
}
