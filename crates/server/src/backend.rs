//! What the server needs from an index: a small trait, so that the HTTP and MCP layers can be
//! tested in-process with any implementation, and the request/response types of the API.

use serde::Serialize;
use vault_rag_core::{Embedder, Hit, NotePath, SearchRequest, SimilarRequest};
use vault_rag_index::{ListRequest, NoteList};

use crate::ServerError;

/// Hits of a search or similar-notes request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    pub hits: Vec<Hit>,
    /// False while the first full indexing pass has not finished: results may be missing notes.
    pub index_complete: bool,
    /// Share of the indexed chunks that dense search sees (below 1 while embedding catches up).
    pub dense_coverage: f64,
    pub took_ms: f64,
}

/// What the indexer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexState {
    Idle,
    Scanning,
    Indexing,
    Paused,
    Error,
}

/// Whether file changes reach the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveUpdates {
    On,
    Off,
    /// The vault folder is gone; updates resume when it is back.
    VaultMissing,
}

/// A note that could not be indexed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexFailure {
    pub path: String,
    pub reason: String,
}

/// Progress and size of the index (`GET /index/status`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexProgress {
    pub state: IndexState,
    pub notes_done: usize,
    pub notes_total: usize,
    pub notes_indexed: usize,
    pub chunks: usize,
    pub failures: Vec<IndexFailure>,
    pub index_size_bytes: u64,
    /// True once every note seen has been indexed (or has failed) at least once.
    pub complete: bool,
    /// Id of the embedder fingerprint the index holds vectors for.
    pub fingerprint: String,
    pub live_updates: LiveUpdates,
    /// Section texts still waiting for a vector (a first pass embeds after writing every note
    /// for keyword search, newest notes first).
    pub vectors_missing: usize,
    /// Share of the indexed sections that dense search sees (0–1).
    pub dense_coverage: f64,
    /// Indexing gives way to the user's programs while a full pass has work (background mode).
    pub background: bool,
    /// Sections embedded by the current (or last) pass, counted as each group returns.
    pub sections_embedded: u64,
}

/// The index behind the server. Methods block (inference, SQLite); the HTTP layer calls them on
/// blocking threads. Implementations answer searches while indexing runs.
pub trait Backend: Send + Sync + 'static {
    /// The embedder used for queries, documents and `/embed`.
    fn embedder(&self) -> &dyn Embedder;

    /// Searches the index.
    fn search(&self, query: &SearchRequest) -> Result<SearchResults, ServerError>;

    /// Notes similar to a note of the vault.
    fn similar(&self, query: &SimilarRequest) -> Result<SearchResults, ServerError>;

    /// Current indexing progress.
    fn status(&self) -> IndexProgress;

    /// Drops all vectors and indexes the vault again, in the background.
    fn rebuild(&self) -> Result<IndexState, ServerError>;

    /// Pauses background indexing (searches keep working).
    fn pause(&self) -> Result<IndexState, ServerError>;

    /// Resumes background indexing.
    fn resume(&self) -> Result<IndexState, ServerError>;

    /// Holds indexing for `duration` (the user is typing); it resumes by itself.
    fn hold(&self, duration: std::time::Duration) -> Result<IndexState, ServerError>;

    /// The user has these notes open (most recent first): their sections are embedded next.
    fn focus(&self, paths: Vec<NotePath>) -> Result<IndexState, ServerError>;

    /// The text of a note. Only ever reads inside the vault: paths that resolve outside it
    /// (through symlinks) are refused with [`ServerError::PathOutsideVault`].
    fn read_note(&self, path: &NotePath) -> Result<String, ServerError>;

    /// A page of the indexed notes (by folder, tag and modification time).
    fn list_notes(&self, request: &ListRequest) -> Result<NoteList, ServerError>;
}
