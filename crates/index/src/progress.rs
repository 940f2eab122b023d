//! What an indexing pass reports: live progress (atomics, readable without locks) and the
//! summary at its end.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

use serde::Serialize;

use crate::store::NoteFailure;

/// What the index is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexState {
    /// Up to date, waiting for changes.
    Idle,
    /// Listing the vault.
    Scanning,
    /// Reading, chunking, embedding and committing notes.
    Indexing,
    /// Paused by request; searches still answer from what is committed.
    Paused,
    /// The last pass failed (see the log); searches still answer.
    Error,
}

impl IndexState {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Scanning,
            2 => Self::Indexing,
            3 => Self::Paused,
            4 => Self::Error,
            _ => Self::Idle,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Self::Idle => 0,
            Self::Scanning => 1,
            Self::Indexing => 2,
            Self::Paused => 3,
            Self::Error => 4,
        }
    }
}

/// A snapshot of a running pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub state: IndexState,
    /// Notes looked at so far in this pass (unchanged ones included).
    pub notes_done: u64,
    /// Notes this pass looks at.
    pub notes_total: u64,
    pub chunks_embedded: u64,
    pub chunks_reused: u64,
    pub tokens_embedded: u64,
    /// Write transactions committed in this pass.
    pub batches_committed: u64,
    /// Chunk texts still without a vector of the active embedder (after a model change).
    pub vectors_missing: u64,
    /// Bytes of the new and changed notes this pass (re)indexes: a measure of the tokens to
    /// embed, for estimates of the time left.
    pub bytes_todo: u64,
    /// Bytes of those notes committed so far.
    pub bytes_done: u64,
}

/// The live counters behind [`Progress`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    state: AtomicU8,
    pub notes_done: AtomicU64,
    pub notes_total: AtomicU64,
    pub chunks_embedded: AtomicU64,
    pub chunks_reused: AtomicU64,
    pub tokens_embedded: AtomicU64,
    pub batches_committed: AtomicU64,
    pub vectors_missing: AtomicU64,
    pub bytes_todo: AtomicU64,
    pub bytes_done: AtomicU64,
    /// Notes and chunks in the index (kept current after every commit).
    pub notes_indexed: AtomicU64,
    pub chunks: AtomicU64,
}

impl Counters {
    pub fn state(&self) -> IndexState {
        IndexState::from_u8(self.state.load(Relaxed))
    }

    pub fn set_state(&self, state: IndexState) {
        self.state.store(state.to_u8(), Relaxed);
    }

    /// Zeroes the per-pass counters (`vectors_missing` is a state of the index, not of a pass).
    pub fn start_pass(&self, notes_total: u64) {
        for c in [
            &self.notes_done,
            &self.chunks_embedded,
            &self.chunks_reused,
            &self.tokens_embedded,
            &self.batches_committed,
            &self.bytes_todo,
            &self.bytes_done,
        ] {
            c.store(0, Relaxed);
        }
        self.notes_total.store(notes_total, Relaxed);
    }

    pub fn snapshot(&self) -> Progress {
        Progress {
            state: self.state(),
            notes_done: self.notes_done.load(Relaxed),
            notes_total: self.notes_total.load(Relaxed),
            chunks_embedded: self.chunks_embedded.load(Relaxed),
            chunks_reused: self.chunks_reused.load(Relaxed),
            tokens_embedded: self.tokens_embedded.load(Relaxed),
            batches_committed: self.batches_committed.load(Relaxed),
            vectors_missing: self.vectors_missing.load(Relaxed),
            bytes_todo: self.bytes_todo.load(Relaxed),
            bytes_done: self.bytes_done.load(Relaxed),
        }
    }
}

/// The outcome of a pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IndexSummary {
    /// Notes found in the vault (or among the changed paths, for a watcher pass).
    pub notes_seen: u64,
    /// Notes (re)written: new or changed content.
    pub notes_indexed: u64,
    /// Notes whose file was unchanged (by mtime and size, or by content hash).
    pub notes_unchanged: u64,
    /// Notes removed from the index because their file is gone.
    pub notes_deleted: u64,
    /// Notes that are not indexed because of a problem (see `failures`).
    pub notes_failed: u64,
    /// Chunk texts sent to the embedder.
    pub chunks_embedded: u64,
    /// Chunks written with a vector that was already stored (unchanged sections, moves).
    pub chunks_reused: u64,
    /// Tokens of the embedded chunk texts.
    pub tokens_embedded: u64,
    /// Every problem known after the pass: notes skipped, and notes indexed with a warning.
    pub failures: Vec<NoteFailure>,
    /// The pass stopped early (shutdown); committed work is kept, the rest is done next time.
    pub interrupted: bool,
    /// Notes whose file could not be read this time (too many open files, an I/O error): they
    /// are tried again, with growing pauses, until they read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retrying: Vec<String>,
    /// Wall time of the pass.
    pub elapsed_ms: u64,
}
