//! The backend served while the model's files are still downloading: `/health` reports the
//! download (so a supervisor sees progress and keeps the process), every other request gets a
//! 503 `index_unavailable` that says why. The real backend replaces it once the model is here.

use vault_rag_core::{
    DocumentText, EmbedError, Embedder, EmbedderFingerprint, ModelState, NotePath,
};

use crate::{Backend, IndexProgress, IndexState, LiveUpdates, SearchResults, ServerError};

type StateFn = Box<dyn Fn() -> ModelState + Send + Sync>;

/// A backend with no index yet: it only reports the model's state.
pub struct PendingBackend {
    embedder: PendingEmbedder,
}

impl PendingBackend {
    /// `fingerprint` names the model to come (its file part may be empty); `state` is asked on
    /// every `/health`.
    pub fn new(
        fingerprint: EmbedderFingerprint,
        state: impl Fn() -> ModelState + Send + Sync + 'static,
    ) -> Self {
        Self {
            embedder: PendingEmbedder {
                fingerprint,
                state: Box::new(state),
            },
        }
    }

    fn unavailable(&self) -> ServerError {
        let why = match self.embedder.state() {
            ModelState::Downloading {
                bytes_done,
                bytes_total,
                ..
            } if bytes_total > 0 => format!(
                "the model is downloading ({} %); searches start once it is loaded",
                bytes_done * 100 / bytes_total
            ),
            ModelState::Failed { message } => format!("the model could not be fetched: {message}"),
            _ => "the model is downloading; searches start once it is loaded".to_string(),
        };
        ServerError::IndexUnavailable { message: why }
    }
}

struct PendingEmbedder {
    fingerprint: EmbedderFingerprint,
    state: StateFn,
}

impl Embedder for PendingEmbedder {
    fn fingerprint(&self) -> &EmbedderFingerprint {
        &self.fingerprint
    }

    fn state(&self) -> ModelState {
        (self.state)()
    }

    fn count_tokens(&self, text: &str) -> usize {
        text.len()
    }

    fn embed_queries(&self, _: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Err(EmbedError::NotLoaded {
            message: "the model is still downloading".into(),
        })
    }

    fn embed_documents(&self, _: &[DocumentText<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed_queries(&[])
    }
}

impl Backend for PendingBackend {
    fn embedder(&self) -> &dyn Embedder {
        &self.embedder
    }

    fn search(&self, _: &vault_rag_core::SearchRequest) -> Result<SearchResults, ServerError> {
        Err(self.unavailable())
    }

    fn similar(&self, _: &vault_rag_core::SimilarRequest) -> Result<SearchResults, ServerError> {
        Err(self.unavailable())
    }

    fn status(&self) -> IndexProgress {
        IndexProgress {
            state: IndexState::Idle,
            notes_done: 0,
            notes_total: 0,
            notes_indexed: 0,
            chunks: 0,
            failures: Vec::new(),
            index_size_bytes: 0,
            complete: false,
            fingerprint: String::new(),
            live_updates: LiveUpdates::Off,
            vectors_missing: 0,
            background: false,
            sections_embedded: 0,
            dense_coverage: 0.0,
        }
    }

    fn rebuild(&self) -> Result<IndexState, ServerError> {
        Err(self.unavailable())
    }

    fn pause(&self) -> Result<IndexState, ServerError> {
        Err(self.unavailable())
    }

    fn resume(&self) -> Result<IndexState, ServerError> {
        Err(self.unavailable())
    }

    fn hold(&self, _: std::time::Duration) -> Result<IndexState, ServerError> {
        Err(self.unavailable())
    }

    fn focus(&self, _: Vec<NotePath>) -> Result<IndexState, ServerError> {
        Err(self.unavailable())
    }

    fn read_note(&self, _: &NotePath) -> Result<String, ServerError> {
        Err(self.unavailable())
    }

    fn list_notes(
        &self,
        _: &vault_rag_index::ListRequest,
    ) -> Result<vault_rag_index::NoteList, ServerError> {
        Err(self.unavailable())
    }
}
