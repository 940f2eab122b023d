//! `GET /health`, `GET /index/status` and the indexing controls.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use vault_rag_core::ModelState;

use super::{blocking, AppState};
use crate::extract::ApiJson;
use crate::{IndexProgress, IndexState, LiveUpdates, ServerError};

#[derive(Debug, Serialize)]
pub(crate) struct HealthReply {
    /// `ok`, `indexing` (searches work, results may be incomplete) or `error`.
    status: &'static str,
    version: &'static str,
    /// False while the model loads in the background (searches wait for it; lexical ones do not).
    model_loaded: bool,
    /// `loading`, `ready` or `failed` (with `message`).
    model: ModelState,
    model_name: String,
    embedding_dim: usize,
    /// Size of the index on disk, in MiB.
    cache_size_mb: f64,
    /// Notes with vectors in the index.
    cached_notes: usize,
    index: HealthIndex,
    /// Resident memory of the process, in MiB (`None` where `/proc` is unavailable).
    rss_mb: Option<f64>,
    /// Highest resident memory since the process started, in MiB.
    rss_peak_mb: Option<f64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct HealthIndex {
    state: IndexState,
    notes_done: usize,
    notes_total: usize,
    complete: bool,
    live_updates: LiveUpdates,
    /// Sections still waiting for a vector: after a first pass has written every note for
    /// keyword search, embedding follows (newest notes first).
    vectors_missing: usize,
}

pub(crate) async fn health(
    State(state): State<AppState>,
) -> Result<Json<HealthReply>, ServerError> {
    let backend = state.backend.clone();
    let progress = blocking(move || Ok(backend.status())).await?;
    let embedder = state.backend.embedder();
    let model = embedder.state();
    Ok(Json(HealthReply {
        status: match progress.state {
            IndexState::Idle | IndexState::Paused => "ok",
            IndexState::Scanning | IndexState::Indexing => "indexing",
            IndexState::Error => "error",
        },
        version: env!("CARGO_PKG_VERSION"),
        model_loaded: model == ModelState::Ready,
        model,
        model_name: embedder.fingerprint().model.clone(),
        embedding_dim: embedder.dim(),
        cache_size_mb: round2(progress.index_size_bytes as f64 / (1024.0 * 1024.0)),
        cached_notes: progress.notes_indexed,
        index: HealthIndex {
            state: progress.state,
            notes_done: progress.notes_done,
            notes_total: progress.notes_total,
            complete: progress.complete,
            live_updates: progress.live_updates,
            vectors_missing: progress.vectors_missing,
        },
        rss_mb: rss_mb(),
        rss_peak_mb: proc_status_mb("VmHWM:"),
    }))
}

pub(crate) async fn status(
    State(state): State<AppState>,
) -> Result<Json<IndexProgress>, ServerError> {
    let backend = state.backend.clone();
    Ok(Json(blocking(move || Ok(backend.status())).await?))
}

#[derive(Debug, Serialize)]
pub(crate) struct StateReply {
    state: IndexState,
}

pub(crate) async fn rebuild(
    State(state): State<AppState>,
) -> Result<Json<StateReply>, ServerError> {
    let backend = state.backend.clone();
    let state = blocking(move || backend.rebuild()).await?;
    Ok(Json(StateReply { state }))
}

pub(crate) async fn pause(State(state): State<AppState>) -> Result<Json<StateReply>, ServerError> {
    let backend = state.backend.clone();
    let state = blocking(move || backend.pause()).await?;
    Ok(Json(StateReply { state }))
}

pub(crate) async fn resume(State(state): State<AppState>) -> Result<Json<StateReply>, ServerError> {
    let backend = state.backend.clone();
    let state = blocking(move || backend.resume()).await?;
    Ok(Json(StateReply { state }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct YieldBody {
    seconds: f64,
}

/// The user is busy (typing): indexing holds for `seconds`, then resumes by itself; a call
/// during a hold extends it. Searches are not held.
pub(crate) async fn hold(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<YieldBody>,
) -> Result<Json<StateReply>, ServerError> {
    let max = vault_rag_index::MAX_HOLD.as_secs_f64();
    if !(body.seconds > 0.0 && body.seconds <= max) {
        return Err(ServerError::InvalidRequest {
            field: "seconds".into(),
            message: format!("must be more than 0 and at most {max}"),
        });
    }
    let duration = std::time::Duration::from_secs_f64(body.seconds);
    let backend = state.backend.clone();
    let state = blocking(move || backend.hold(duration)).await?;
    Ok(Json(StateReply { state }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FocusBody {
    paths: Vec<String>,
}

/// The user has these notes open (most recent first): while sections wait for vectors, theirs
/// are embedded next. Paths not in the index are ignored.
pub(crate) async fn focus(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<FocusBody>,
) -> Result<Json<StateReply>, ServerError> {
    let max = vault_rag_index::MAX_FOCUS;
    if body.paths.is_empty() || body.paths.len() > max {
        return Err(ServerError::invalid(
            "paths",
            format!("must name 1 to {max} notes"),
        ));
    }
    let paths = body
        .paths
        .iter()
        .map(|p| super::search::note_path(p))
        .collect::<Result<Vec<_>, _>>()?;
    let backend = state.backend.clone();
    let state = blocking(move || backend.focus(paths)).await?;
    Ok(Json(StateReply { state }))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Resident set size from `/proc/self/status` (`VmRSS: N kB`).
pub(crate) fn rss_mb() -> Option<f64> {
    proc_status_mb("VmRSS:")
}

/// A memory line of `/proc/self/status` (`VmRSS:`, `VmHWM:`) in MiB.
fn proc_status_mb(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix(key))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(round2(kb / 1024.0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_rss_on_linux() {
        let rss = super::rss_mb().expect("/proc/self/status has VmRSS on Linux");
        assert!(rss > 1.0 && rss < 100_000.0, "{rss}");
        let peak = super::proc_status_mb("VmHWM:").expect("VmHWM on Linux");
        assert!(peak >= rss, "peak {peak} < rss {rss}");
        assert_eq!(super::proc_status_mb("NoSuchKey:"), None);
    }
}
