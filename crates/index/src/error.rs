//! The one error type of the index crate. Every variant names what it concerns (a file, a note,
//! a setting) so that a message alone tells the user what to fix.

use crate::store::SqliteError;
use std::path::PathBuf;

use vault_rag_core::{EmbedError, PathError, RequestError};

/// Errors of opening, indexing, watching and reading a vault index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("vault `{path}` is not accessible: {source}")]
    Vault {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("vault `{path}` is not a directory")]
    VaultNotDir { path: PathBuf },
    #[error("data directory `{path}`: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no per-user data directory is known on this system; pass --data-dir")]
    NoDataDir,
    #[error("lock file `{path}`: {source}")]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("index `{path}` is in use by another vault-rag process{}", pid_suffix(*.pid))]
    Locked { path: PathBuf, pid: Option<u32> },
    #[error(
        "the index is open read-only: the vault-rag process that holds it keeps it up to date"
    )]
    ReadOnly,
    #[error(
        "Obsidian's excluded-files setting `{path}` {message}; nothing new is indexed until it can \
         be read (searches keep working)"
    )]
    RulesUnreadable { path: PathBuf, message: String },
    #[error(
        "the index holds vectors of {held}, not {wanted}: read it with the model it was built with \
         (leave out --model), or stop the process that holds it to re-embed"
    )]
    ModelMismatch { held: String, wanted: String },
    #[error(
        "index `{path}`: {context}: could not write (is the disk full, or the file over a size \
         limit?): {source}"
    )]
    NoSpace {
        path: PathBuf,
        context: &'static str,
        #[source]
        source: SqliteError,
    },
    #[error("index `{path}`: {context}: {source}")]
    Sqlite {
        path: PathBuf,
        context: &'static str,
        #[source]
        source: SqliteError,
    },
    #[error("{}", schema_message(path, found, *supported))]
    SchemaVersion {
        path: PathBuf,
        found: String,
        supported: u32,
    },
    #[error("`{path}` is not a vault-rag index: {reason}")]
    NotAnIndex { path: PathBuf, reason: String },
    #[error("index `{path}` does not exist yet; run `vault-rag index` first")]
    NoIndex { path: PathBuf },
    /// The file is not a usable index (see `store::damage`); opening for writing moves it aside.
    #[error("index `{path}` is damaged: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("could not move the damaged index `{from}` aside to `{to}`: {source}")]
    MoveAside {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{field}: invalid glob `{pattern}`: {source}")]
    Glob {
        field: &'static str,
        pattern: String,
        #[source]
        source: globset::Error,
    },
    #[error("{field}: {message}")]
    Setting {
        field: &'static str,
        message: String,
    },
    #[error("embedding failed: {source}")]
    Embed {
        #[from]
        source: EmbedError,
    },
    #[error("invalid note path `{raw}`: {source}")]
    InvalidPath {
        raw: String,
        #[source]
        source: PathError,
    },
    #[error("note `{path}` not found in the vault")]
    NoteNotFound { path: String },
    #[error("path `{path}` lies outside the vault")]
    OutsideVault { path: String },
    #[error("note `{path}` could not be read: {source}")]
    ReadNote {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("file watcher on `{path}`: {source}")]
    Watcher {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },
    #[error("could not start the {name} thread: {source}")]
    Thread {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the index has been shut down")]
    ShutDown,
    #[error("vector of chunk {chunk_id} has {actual} dimensions, the index holds {expected}")]
    VectorDims {
        chunk_id: i64,
        expected: usize,
        actual: usize,
    },
    #[error("note id {note_id} is out of the range the vector index can hold")]
    NoteIdRange { note_id: i64 },
    #[error("invalid request: {field}: {message}")]
    InvalidRequest {
        field: &'static str,
        message: String,
    },
}

fn schema_message(path: &std::path::Path, found: &str, supported: u32) -> String {
    let path = path.display();
    match found.trim().parse::<u32>() {
        Ok(v) if v > supported => format!(
            "index `{path}` has schema version {found}, but this build of vault-rag reads version \
             {supported}; upgrade vault-rag, or move the index away (or pick another --data-dir) \
             to build a new one"
        ),
        _ => format!(
            "index `{path}` has schema version {found}, which this build of vault-rag (version \
             {supported}) cannot read; `vault-rag index` moves it aside and builds a new one"
        ),
    }
}

fn pid_suffix(pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!(" (pid {pid}); stop it or use another --data-dir"),
        None => " (which one is unknown); stop it or use another --data-dir".to_string(),
    }
}

impl From<RequestError> for IndexError {
    fn from(e: RequestError) -> Self {
        IndexError::InvalidRequest {
            field: e.field,
            message: e.message,
        }
    }
}
