//! The real backend: `vault_rag_index::Engine`.

use vault_rag_core::{Embedder, NotePath, PathError};
use vault_rag_index::IndexState as EngineState;
use vault_rag_index::LiveState;
use vault_rag_index::{Engine, IndexStatus};
use vault_rag_index::{IndexError, ListRequest, NoteList, SearchResponse};

use crate::{
    Backend, IndexFailure, IndexProgress, IndexState, LiveUpdates, SearchResults, ServerError,
};

impl From<IndexError> for ServerError {
    fn from(err: IndexError) -> Self {
        match err {
            IndexError::NoteNotFound { path } => Self::NoteNotFound { path },
            IndexError::OutsideVault { path } => Self::PathOutsideVault {
                path,
                reason: "it resolves outside the vault".into(),
            },
            IndexError::InvalidPath { raw, source } => match source {
                PathError::Absolute(_) | PathError::Escapes(_) => Self::PathOutsideVault {
                    path: raw,
                    reason: source.to_string(),
                },
                PathError::Empty | PathError::Nul(_) => Self::invalid("path", source.to_string()),
            },
            IndexError::InvalidRequest { field, message } => Self::invalid(field, message),
            IndexError::Embed { source } => Self::Embed { source },
            err @ (IndexError::ShutDown
            | IndexError::ReadOnly
            | IndexError::Locked { .. }
            | IndexError::NoIndex { .. }) => Self::IndexUnavailable {
                message: err.to_string(),
            },
            other => Self::Index { source: other },
        }
    }
}

fn results(response: SearchResponse) -> SearchResults {
    SearchResults {
        hits: response.hits,
        index_complete: response.index_complete,
        dense_coverage: response.dense_coverage,
        took_ms: response.took_ms,
    }
}

fn state(state: EngineState) -> IndexState {
    match state {
        EngineState::Idle => IndexState::Idle,
        EngineState::Scanning => IndexState::Scanning,
        EngineState::Indexing => IndexState::Indexing,
        EngineState::Paused => IndexState::Paused,
        EngineState::Error => IndexState::Error,
    }
}

fn progress(status: IndexStatus) -> IndexProgress {
    let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let dense_coverage = status.dense_coverage();
    IndexProgress {
        state: state(status.state),
        notes_done: count(status.notes_done),
        notes_total: count(status.notes_total),
        notes_indexed: count(status.notes_indexed),
        chunks: count(status.chunks),
        failures: status
            .failures
            .into_iter()
            .map(|f| IndexFailure {
                path: f.path,
                reason: f.reason,
            })
            .collect(),
        index_size_bytes: status.index_size_bytes,
        dense_coverage,
        vectors_missing: count(status.vectors_missing),
        complete: status.complete,
        background: status.background,
        sections_embedded: status.chunks_embedded,
        fingerprint: status.fingerprint,
        live_updates: match status.live_updates {
            LiveState::On => LiveUpdates::On,
            LiveState::Off => LiveUpdates::Off,
            LiveState::VaultMissing => LiveUpdates::VaultMissing,
        },
    }
}

impl Backend for Engine {
    fn embedder(&self) -> &dyn Embedder {
        Engine::embedder(self).as_ref()
    }

    fn search(&self, query: &vault_rag_core::SearchRequest) -> Result<SearchResults, ServerError> {
        Ok(results(Engine::search(self, query)?))
    }

    fn similar(
        &self,
        query: &vault_rag_core::SimilarRequest,
    ) -> Result<SearchResults, ServerError> {
        Ok(results(Engine::similar(self, query)?))
    }

    fn status(&self) -> IndexProgress {
        progress(Engine::status(self))
    }

    fn rebuild(&self) -> Result<IndexState, ServerError> {
        Engine::rebuild(self)?;
        Ok(state(Engine::status(self).state))
    }

    fn pause(&self) -> Result<IndexState, ServerError> {
        Engine::pause(self);
        Ok(state(Engine::status(self).state))
    }

    fn resume(&self) -> Result<IndexState, ServerError> {
        Engine::resume(self);
        Ok(state(Engine::status(self).state))
    }

    fn hold(&self, duration: std::time::Duration) -> Result<IndexState, ServerError> {
        Engine::hold(self, duration);
        Ok(state(Engine::status(self).state))
    }

    fn focus(&self, paths: Vec<NotePath>) -> Result<IndexState, ServerError> {
        Engine::focus(self, paths.iter().map(|p| p.as_str().to_string()).collect());
        Ok(state(Engine::status(self).state))
    }

    fn read_note(&self, path: &NotePath) -> Result<String, ServerError> {
        Ok(Engine::read_note(self, path)?)
    }

    fn list_notes(&self, request: &ListRequest) -> Result<NoteList, ServerError> {
        Ok(Engine::list_notes(self, request)?)
    }
}
