//! `POST /search` and `GET /similar`.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use vault_rag_core::{Hit, NotePath, PathError, SearchMode};

use super::{blocking, AppState, Limits};
use crate::extract::{ApiJson, ApiQuery};
use crate::{SearchQuery, ServerError, SimilarQuery};

/// Results when the client gives no `top_k`.
pub const DEFAULT_TOP_K: usize = 10;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchBody {
    query: String,
    top_k: Option<u64>,
    mode: Option<SearchMode>,
    folder: Option<String>,
    tag: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct SearchReply {
    hits: Vec<Hit>,
    mode: SearchMode,
    took_ms: f64,
    index_complete: bool,
}

pub(crate) async fn search(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SearchBody>,
) -> Result<Json<SearchReply>, ServerError> {
    let query = SearchQuery {
        query: check_query(&body.query, &state.limits)?,
        top_k: check_top_k(body.top_k, &state.limits)?,
        mode: body.mode.unwrap_or_default(),
        folder: check_folder(body.folder)?,
        tag: body
            .tag
            .map(|t| t.trim().trim_start_matches('#').to_string())
            .filter(|t| !t.is_empty()),
    };
    let mode = query.mode;
    let backend = state.backend.clone();
    let results = blocking(move || backend.search(&query)).await?;
    Ok(Json(SearchReply {
        hits: results.hits,
        mode,
        took_ms: results.took_ms,
        index_complete: results.index_complete,
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
    let query = SimilarQuery {
        path: note_path(&params.path)?,
        top_k: check_top_k(params.top_k, &state.limits)?,
        exclude_linked: params.exclude_linked.unwrap_or(false),
    };
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

pub(crate) fn check_top_k(top_k: Option<u64>, limits: &Limits) -> Result<usize, ServerError> {
    let Some(k) = top_k else {
        return Ok(DEFAULT_TOP_K.min(limits.max_top_k));
    };
    match usize::try_from(k) {
        Ok(k) if (1..=limits.max_top_k).contains(&k) => Ok(k),
        _ => Err(ServerError::invalid(
            "top_k",
            format!("must be between 1 and {}, got {k}", limits.max_top_k),
        )),
    }
}

pub(crate) fn check_query(query: &str, limits: &Limits) -> Result<String, ServerError> {
    let trimmed = query.trim();
    if trimmed.is_empty() {
        return Err(ServerError::invalid("query", "must not be empty"));
    }
    let chars = trimmed.chars().count();
    if chars > limits.max_text_chars {
        return Err(ServerError::invalid(
            "query",
            format!(
                "is {chars} characters long; the limit is {}",
                limits.max_text_chars
            ),
        ));
    }
    Ok(trimmed.to_string())
}

/// A folder filter: vault-relative like a note path; empty means the whole vault.
pub(crate) fn check_folder(folder: Option<String>) -> Result<Option<String>, ServerError> {
    let Some(raw) = folder else {
        return Ok(None);
    };
    if raw.trim_matches(['/', ' ']).is_empty() {
        return Ok(None);
    }
    let path =
        NotePath::new(&raw).map_err(|err| ServerError::invalid("folder", err.to_string()))?;
    Ok(Some(path.to_string()))
}
