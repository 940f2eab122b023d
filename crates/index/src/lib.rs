//! The vault index: scan the vault, chunk notes, embed chunks, store everything in SQLite
//! (WAL, FTS5), keep it current as files change, and search it (dense + BM25 + reciprocal-rank
//! fusion).
//!
//! [`Engine`] is the entry point: [`Engine::open`] takes the index's lock (one process per
//! index), opens or creates the SQLite file in a data directory outside the vault and loads the
//! active embedder's vectors into memory; [`Engine::reconcile`] brings the index up to date on
//! the caller's thread; [`Engine::start_background`] does the same on an indexing thread and
//! then follows file events; [`Engine::search`] and [`Engine::similar`] never wait for indexing.
//! [`stored_status`] reads an index on disk without a model or the lock.
//!
//! # How indexing stays cheap and safe
//!
//! - **Sections, not notes.** Notes are cut into heading sections under a token budget that fits
//!   the model (`settings::clamp_chunk_config`); nothing is truncated silently.
//! - **Never embed twice.** Vectors are keyed by the blake3 hash of a chunk's embedded text
//!   (`Chunk::embed_text`: heading context + text) and the embedder fingerprint. The title is
//!   *not* in the key, although the document prompt includes it: a renamed or moved note reuses
//!   its vectors, at the price of vectors that keep the old title until the section changes.
//!   Unchanged files are recognised by (mtime, size) without being read, then by content hash.
//! - **Never mix models.** Vectors are looked up by the active fingerprint only; after a model
//!   change everything is re-embedded, and the old vectors are dropped once the new set is
//!   complete (switching back before that reuses them).
//! - **Never lose the index.** Work is committed in batches ([`CommitSettings`]); embedding
//!   happens before the write transaction, so a crash (even SIGKILL) loses at most the batch in
//!   flight and the next run resumes. A vault that is missing or a folder that cannot be read
//!   is never taken for deleted notes. An index of a newer schema version is refused, not
//!   rewritten. A damaged file (cut short, garbage, failing `quick_check`, an older format) is
//!   moved aside to `index.sqlite.corrupt-<unix time>` with its log, never deleted, and a new
//!   index is built (`store::damage`). A clean close folds the log into the file.
//! - **Bad notes are reported, never fatal.** Binary files named `.md`, invalid UTF-8, notes
//!   over [`IndexSettings::max_note_bytes`], FIFOs, symlink loops and files vanishing mid-scan
//!   go to the `failures` table with a reason; the rest of the vault is indexed.
//!
//! # Modules (private; this file re-exports the API)
//!
//! - the vault: `scan` (Obsidian's rules: config folder, dot-files, excluded files, globs,
//!   symlinks), `note_file` (caps, binary detection, lossy UTF-8), `note_read` and `vault_path`
//!   (safe opening, [`resolve_in_vault`]), `watcher` (debounced file events);
//! - writing: `indexer` (passes and batches), `jobs` (the indexing thread), `store` (SQLite and
//!   all of its SQL: typed reader queries, write transactions), `lock` (one process per index);
//! - reading: `search` (the pipeline, the compact `VectorMatrix`, BM25, fusion, filters, related
//!   notes, snippets), `fts` (FTS5 documents and query terms), `list` (notes by folder, tag and
//!   time, paged);
//! - reporting: `progress`, `status`, `error`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod background;
mod control;
mod engine;
mod error;
mod fts;
mod indexer;
mod jobs;
mod list;
mod lock;
mod note_file;
mod note_read;
mod prepare;
pub mod private;
mod progress;
mod scan;
mod search;
mod settings;
mod status;
mod store;
mod vault_path;
mod watcher;

pub use background::IndexPriority;
pub use control::MAX_FOCUS;
pub use engine::{Engine, IndexStatus, MAX_HOLD};
pub use error::IndexError;
pub use list::{ListOrder, ListRequest, NoteList};
pub use progress::{IndexState, IndexSummary, Progress};
pub use search::{SearchResponse, VectorCodes, VectorMatrix};
pub use settings::{CommitSettings, IndexSettings, DEFAULT_MAX_NOTE_BYTES};
pub use status::{recorded_embedder, stored_status, PendingChanges, StoredStatus};
pub use store::{ListedNote, NoteFailure, SqliteError, SCHEMA_VERSION};
pub use vault_path::resolve_in_vault;
pub use vault_rag_core::{SearchRequest, SimilarRequest};
pub use watcher::LiveState;
