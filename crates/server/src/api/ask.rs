//! `POST /ask`: a grounded answer, streamed as server-sent events (`retrieval`, then `token`s,
//! then `done`, or `error`), or one JSON object with `"stream": false`. Closing the connection
//! stops the model: the next token finds nobody listening and the model request is dropped.

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tokio::sync::mpsc;
use vault_rag_ask::{
    AskError, AskRequest, ChatClient, LlmSettings, Turn, VaultAccess, DEFAULT_BUDGET_TOKENS,
    DEFAULT_TOP_K,
};
use vault_rag_core::{count_or, Hit, NotePath, SearchMode, SearchRequest};

use super::{blocking, search_request, AppState};
use crate::extract::ApiJson;
use crate::{Backend, ServerError};

/// Most earlier turns a request may carry, and most exclusions.
pub(crate) const MAX_HISTORY: usize = 40;
pub(crate) const MAX_EXCLUDE: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AskBody {
    question: String,
    history: Option<Vec<Turn>>,
    top_k: Option<u64>,
    budget_tokens: Option<u64>,
    folder: Option<String>,
    tag: Option<String>,
    exclude: Option<Vec<String>>,
    llm: Option<LlmOverride>,
    stream: Option<bool>,
}

/// The model settings a client sends (the plugin's); each field replaces the service's own.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LlmOverride {
    base_url: Option<String>,
    model: Option<String>,
    api_key: Option<String>,
    temperature: Option<f32>,
    max_tokens: Option<u64>,
}

pub(crate) async fn ask(
    State(state): State<AppState>,
    ApiJson(mut body): ApiJson<AskBody>,
) -> Result<Response, ServerError> {
    let stream = body.stream.unwrap_or(true);
    let llm = llm_settings(state.llm.as_deref(), body.llm.take().unwrap_or_default())?;
    let request = ask_request(body)?;
    let client = llm
        .map(ChatClient::new)
        .transpose()
        .map_err(AskError::from)?;
    let backend = state.backend.clone();
    if !stream {
        let answer = blocking(move || {
            let vault = BackendVault(backend.as_ref());
            let retrieval = vault_rag_ask::retrieve(&vault, &request)?;
            Ok(vault_rag_ask::answer(
                &retrieval,
                &request,
                client.as_ref(),
                &mut |_| ControlFlow::Continue(()),
            )?)
        })
        .await?;
        return Ok(Json(answer).into_response());
    }
    // Retrieval runs before the stream starts, so that its errors are plain HTTP errors.
    let retrieval = {
        let backend = backend.clone();
        let request = request.clone();
        blocking(move || {
            Ok(vault_rag_ask::retrieve(
                &BackendVault(backend.as_ref()),
                &request,
            )?)
        })
        .await?
    };
    if retrieval.found && client.is_none() {
        return Err(AskError::NoEndpoint.into());
    }
    let (tx, rx) = mpsc::channel::<Event>(64);
    tokio::task::spawn_blocking(move || {
        let send = |event: Event| tx.blocking_send(event).is_ok();
        if !send(json_event("retrieval", &retrieval)) {
            return;
        }
        let mut on_token = |text: &str| {
            if send(json_event("token", &serde_json::json!({ "text": text }))) {
                ControlFlow::Continue(())
            } else {
                tracing::debug!("the client left: stopping the answer");
                ControlFlow::Break(())
            }
        };
        match vault_rag_ask::answer(&retrieval, &request, client.as_ref(), &mut on_token) {
            Ok(answer) if answer.cancelled => {}
            Ok(answer) => {
                send(json_event("done", &answer));
            }
            Err(err) => {
                tracing::warn!(code = err.code(), "answer failed: {err}");
                let body = serde_json::json!({
                    "error": { "code": err.code(), "message": err.to_string() }
                });
                send(json_event("error", &body));
            }
        }
    });
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(data).unwrap_or_else(|_| "{}".into()))
}

/// The service's settings with the request's replacements; `None` when no endpoint and model
/// are known.
fn llm_settings(
    base: Option<&LlmSettings>,
    over: LlmOverride,
) -> Result<Option<LlmSettings>, ServerError> {
    let url = over
        .base_url
        .filter(|u| !u.trim().is_empty())
        .or_else(|| base.map(|b| b.base_url.clone()));
    let model = over
        .model
        .filter(|m| !m.trim().is_empty())
        .or_else(|| base.map(|b| b.model.clone()));
    let (Some(url), Some(model)) = (url, model) else {
        return Ok(None);
    };
    let mut settings = base.cloned().unwrap_or_else(|| LlmSettings::new("", ""));
    settings.base_url = url;
    settings.model = model;
    if let Some(key) = over.api_key.filter(|k| !k.is_empty()) {
        settings.api_key = Some(key);
    }
    if let Some(t) = over.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err(ServerError::invalid(
                "llm.temperature",
                "must be between 0 and 2",
            ));
        }
        settings.temperature = t;
    }
    if let Some(m) = over.max_tokens {
        if !(1..=32_768).contains(&m) {
            return Err(ServerError::invalid(
                "llm.max_tokens",
                "must be between 1 and 32768",
            ));
        }
        settings.max_tokens = m as usize;
    }
    settings.endpoint().map_err(AskError::from)?;
    Ok(Some(settings))
}

fn ask_request(body: AskBody) -> Result<AskRequest, ServerError> {
    let AskBody {
        question,
        history,
        top_k,
        budget_tokens,
        folder,
        tag,
        exclude,
        ..
    } = body;
    let history = history.unwrap_or_default();
    if history.len() > MAX_HISTORY {
        return Err(ServerError::invalid(
            "history",
            format!("has {} turns; the limit is {MAX_HISTORY}", history.len()),
        ));
    }
    let exclude = exclude.unwrap_or_default();
    if exclude.len() > MAX_EXCLUDE {
        return Err(ServerError::invalid(
            "exclude",
            format!("has {} entries; the limit is {MAX_EXCLUDE}", exclude.len()),
        ));
    }
    vault_rag_core::check_query(&question)
        .map_err(|e| ServerError::invalid("question", e.message))?;
    // The filters are checked and normalised as a search's are.
    let search = search_request(SearchRequest {
        query: question,
        top_k: count_or(top_k, DEFAULT_TOP_K),
        mode: SearchMode::Hybrid,
        folder,
        tag,
        fusion: Default::default(),
    })?;
    let request = AskRequest {
        question: search.query,
        history,
        top_k: search.top_k,
        budget_tokens: budget_tokens.map_or(DEFAULT_BUDGET_TOKENS, |b| {
            usize::try_from(b).unwrap_or(usize::MAX)
        }),
        folder: search.folder,
        tag: search.tag,
        exclude,
    };
    request.validate().map_err(|e| match e {
        AskError::Invalid { field, message } => ServerError::invalid(field, message),
        other => other.into(),
    })?;
    Ok(request)
}

/// The index as answering sees it: searches and notes through the backend, so that an answer
/// quotes only what the index would show.
pub(crate) struct BackendVault<'a>(pub(crate) &'a dyn Backend);

impl VaultAccess for BackendVault<'_> {
    fn search(&self, request: &SearchRequest) -> Result<Vec<Hit>, String> {
        self.0
            .search(request)
            .map(|r| r.hits)
            .map_err(|e| e.full_message())
    }

    fn read_note(&self, path: &str) -> Option<String> {
        let path = NotePath::new(path).ok()?;
        self.0.read_note(&path).ok()
    }

    fn similarity_floor(&self) -> f32 {
        self.0.embedder().fusion_weights().evidence_similarity
    }
}

/// Lets [`BackendVault`] be built from a shared backend.
pub(crate) fn vault_of(backend: &Arc<dyn Backend>) -> BackendVault<'_> {
    BackendVault(backend.as_ref())
}
