//! The SQLite index file: opening (WAL, schema version, embedder fingerprint), a pool of read
//! connections for searches, and the single writer used by the indexer.
//!
//! Searches never wait for indexing: WAL lets readers see the last committed state while the
//! writer works, and the writer is a separate connection behind its own mutex.

mod codec;
pub mod damage;
pub(crate) mod embeddings;
pub(crate) mod fts_rank;
mod match_counts;
mod migrate;
pub(crate) mod notes;
mod queries;
mod seal;
mod sql_error;

use std::path::{Path, PathBuf};

use parking_lot::{Mutex, MutexGuard};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use vault_rag_core::EmbedderFingerprint;

use crate::error::IndexError;

pub(crate) use codec::{decode_f16_into, encode_f16};
pub(crate) use notes::{ChunkRecord, NoteRecord, NoteState};
pub use notes::{ListedNote, NoteFailure};
pub(crate) use queries::{Bm25Weights, MatchTexts};
use sql_error::sql_err;
pub use sql_error::SqliteError;

/// The SQL that creates an index of the current version.
pub(crate) const SCHEMA_SQL: &str = include_str!("schema.sql");
/// The schema version this build writes; older versions are upgraded when opened for writing.
pub const SCHEMA_VERSION: u32 = 3;
/// The oldest version this build reads (read-only opens use it as it is: version 1 differs only
/// in its full-text table's tokenizer, which queries go through unchanged, and versions 1 and 2
/// in the vectors table's layout, which queries do not see).
const OLDEST_READABLE: u32 = 1;

/// Read connections kept open for reuse; more are opened on demand and closed after use.
const READER_POOL: usize = 4;

/// Page cache of each reader connection (negative: KiB), against SQLite's default 2 MiB.
const READER_CACHE: &str = "PRAGMA cache_size = -512";

/// An open index file.
pub struct Store {
    path: PathBuf,
    writer: Option<Mutex<Connection>>,
    readers: Mutex<Vec<Connection>>,
    /// Rows matching query terms, shared by the readers (see `match_counts.rs`).
    match_counts: Mutex<match_counts::MatchCounts>,
    /// Readers open the file as immutable: a read-only index in a directory where SQLite
    /// cannot create the shared-memory file its log needs.
    immutable: bool,
    /// Writable opens: when the file last passed a full `quick_check` (Unix seconds), to seal
    /// it with at a clean close (see [`seal`]).
    checked_at: Option<u64>,
    /// The open trusted a clean-close seal instead of running `quick_check`.
    check_skipped: bool,
}

/// A pooled read connection; returns to the pool when dropped. Its queries are typed methods
/// (`queries.rs`) and functions of `notes` and `embeddings`: SQL never leaves this module.
pub struct Reader<'a> {
    conn: Option<Connection>,
    pool: &'a Mutex<Vec<Connection>>,
    match_counts: &'a Mutex<match_counts::MatchCounts>,
    file: &'a Path,
}

impl Reader<'_> {
    fn conn(&self) -> &Connection {
        // Present from construction until drop.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }

    /// The `sqlite` error helper bound to this file.
    fn err(&self, context: &'static str) -> impl FnOnce(rusqlite::Error) -> IndexError + '_ {
        sql_err(self.file, context)
    }
}

/// One write transaction of the indexer: committed by [`Store::write`] when its closure
/// succeeds, rolled back otherwise.
pub struct WriteTx<'a> {
    tx: rusqlite::Transaction<'a>,
    file: &'a Path,
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut pool = self.pool.lock();
            // One left inside a read (a search that panicked) would keep an old snapshot.
            if pool.len() < READER_POOL && conn.is_autocommit() {
                pool.push(conn);
            }
        }
    }
}

impl Store {
    /// Opens (creating when needed) the index at `path` for reading and writing, and records
    /// `fingerprint` as the active embedder. Returns the store and the previously recorded
    /// fingerprint when it differs (its vectors are kept until the new set is complete).
    /// A damaged file gives [`IndexError::Corrupt`] (see [`damage::is_damage`]) and is left
    /// as it is: moving it aside is the caller's decision.
    pub fn open(
        path: &Path,
        fingerprint: &EmbedderFingerprint,
    ) -> Result<(Self, Option<EmbedderFingerprint>), IndexError> {
        if let Some(dir) = path.parent() {
            crate::private::private_dir(dir)?;
        }
        // Taken before anything touches the file; a crash from here on leaves no seal.
        let sealed = seal::take(path);
        // Created 0600 before SQLite opens it: its log and shared-memory files take the same mode.
        let private = |source| IndexError::DataDir {
            path: path.to_path_buf(),
            source,
        };
        if !path.exists() {
            crate::private::private_options()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(private)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            crate::private::private_file(&file).map_err(private)?;
        }
        damage::check_header(path)?;
        let mut conn = Connection::open(path).map_err(sql_err(path, "opening"))?;
        configure(&conn, path)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .map_err(|e| damage::classify(path, "opening", e))?;
        init_schema(&mut conn, path)?;
        let checked_at = match sealed {
            Some(at) => {
                tracing::debug!(file = %path.display(), "closed cleanly and unchanged since: the full check is skipped");
                at
            }
            None => {
                damage::quick_check(&conn, path)?;
                seal::now_secs()
            }
        };
        let previous = read_fingerprint(&conn, path)?;
        // Written only when it changed: opening an index as it is writes nothing, so that a
        // server on a full disk still starts and answers from what it has.
        let stored_id: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'fingerprint_id'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err(path, "reading the embedder fingerprint"))?;
        if previous.as_ref() != Some(fingerprint) || stored_id != Some(fingerprint.id()) {
            record_fingerprint(&mut conn, path, fingerprint)?;
        }
        let changed = previous.filter(|p| p != fingerprint);
        Ok((
            Self {
                path: path.to_path_buf(),
                writer: Some(Mutex::new(conn)),
                readers: Mutex::new(Vec::new()),
                match_counts: Mutex::default(),
                immutable: false,
                checked_at: Some(checked_at),
                check_skipped: sealed.is_some(),
            },
            changed,
        ))
    }

    /// Opens an existing index for reading only (no lock, no writes): for `status` while
    /// another process indexes. In a directory this process cannot write, the file is read as
    /// immutable (nobody can be writing it through this directory either).
    pub fn open_read_only(path: &Path) -> Result<Self, IndexError> {
        if !path.exists() {
            return Err(IndexError::NoIndex {
                path: path.to_path_buf(),
            });
        }
        damage::check_header(path)?;
        let mut store = Self {
            path: path.to_path_buf(),
            writer: None,
            readers: Mutex::new(Vec::new()),
            match_counts: Mutex::default(),
            immutable: false,
            checked_at: None,
            check_skipped: false,
        };
        let first = store
            .reader()
            .and_then(|c| check_version(c.conn(), path).map(drop));
        if let Err(e) = first {
            let cannot_share = matches!(&e, IndexError::Sqlite { source, .. }
                if matches!(source.0.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)));
            if !cannot_share {
                return Err(e);
            }
            store.readers.lock().clear();
            store.immutable = true;
            check_version(store.reader()?.conn(), path)?;
        }
        Ok(store)
    }

    /// A read connection (sees the last committed state; never blocks on the writer).
    pub fn reader(&self) -> Result<Reader<'_>, IndexError> {
        let pooled = self.readers.lock().pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI;
                let opened = if self.immutable {
                    Connection::open_with_flags(immutable_uri(&self.path), flags)
                } else {
                    Connection::open_with_flags(&self.path, flags)
                };
                let c = opened.map_err(sql_err(&self.path, "opening a reader"))?;
                configure(&c, &self.path)?;
                // Pooled readers each keep a page cache; the OS caches the file anyway, so a
                // small one per reader saves resident memory at no measurable search cost.
                c.execute_batch(READER_CACHE)
                    .map_err(sql_err(&self.path, "opening a reader"))?;
                fts_rank::register(&c).map_err(sql_err(&self.path, "opening a reader"))?;
                c
            }
        };
        Ok(Reader {
            conn: Some(conn),
            pool: &self.readers,
            match_counts: &self.match_counts,
            file: &self.path,
        })
    }

    /// Runs `work` in one write transaction and commits it when `work` succeeds (an error rolls
    /// everything back). `context` names the work in errors.
    pub(crate) fn write<T>(
        &self,
        context: &'static str,
        work: impl FnOnce(&WriteTx<'_>) -> Result<T, IndexError>,
    ) -> Result<T, IndexError> {
        let mut conn = self.writer()?;
        let tx = conn.transaction().map_err(sql_err(&self.path, context))?;
        let tx = WriteTx {
            tx,
            file: &self.path,
        };
        let out = work(&tx)?;
        tx.tx.commit().map_err(sql_err(&self.path, context))?;
        Ok(out)
    }

    /// Marks every note as changed, so that the next pass re-reads, re-parses and re-chunks the
    /// whole vault. Vectors are kept: they depend only on the chunk text and the embedder.
    pub(crate) fn invalidate_all(&self) -> Result<(), IndexError> {
        self.write("invalidating notes", |tx| mark_all_changed(&tx.tx, tx.file))
    }

    /// The writer connection. Only the indexer writes, one batch at a time.
    fn writer(&self) -> Result<MutexGuard<'_, Connection>, IndexError> {
        self.writer
            .as_ref()
            .map(|w| w.lock())
            .ok_or_else(|| IndexError::NotAnIndex {
                path: self.path.clone(),
                reason: "opened read-only".into(),
            })
    }

    /// Records how notes are turned into chunks (`recipe`: settings and code version). When it
    /// differs from the recorded one, every note is marked changed in the same transaction, so
    /// that the next pass re-chunks them all, even across a crash. Returns whether it differed.
    pub(crate) fn sync_chunking(&self, recipe: &str) -> Result<bool, IndexError> {
        let path = self.path.as_path();
        let e = || sql_err(path, "recording the chunking settings");
        let mut conn = self.writer()?;
        let tx = conn.transaction().map_err(e())?;
        let stored: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'chunking'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(e())?;
        let changed = stored.as_deref() != Some(recipe);
        if changed {
            mark_all_changed(&tx, path)?;
            tx.execute(
                "INSERT INTO meta(key, value) VALUES ('chunking', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [recipe],
            )
            .map_err(e())?;
        }
        tx.commit().map_err(e())?;
        Ok(changed && stored.is_some())
    }

    /// After notes were deleted: merges the full-text index so that their terms leave its
    /// segments, and folds the write-ahead log into the file and empties it, so that no earlier
    /// copy of their pages stays in the log. Readers in the middle of a search may keep the log
    /// from emptying: that is logged, and the next purge tries again.
    pub(crate) fn purge_deleted(&self) -> Result<(), IndexError> {
        let path = self.path.as_path();
        let conn = self.writer()?;
        conn.execute_batch("INSERT INTO chunks_fts(chunks_fts) VALUES('optimize');")
            .map_err(sql_err(path, "merging the full-text index"))?;
        let busy: i64 = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(sql_err(path, "checkpointing the log"))?;
        if busy != 0 {
            tracing::warn!(file = %path.display(), "the log could not be emptied while searches read it; retried after the next deletion");
        }
        Ok(())
    }

    /// Bytes on disk: the database plus its write-ahead log.
    pub fn size_bytes(&self) -> u64 {
        let wal = PathBuf::from(format!("{}-wal", self.path.display()));
        [self.path.as_path(), wal.as_path()]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Whether this open skipped the full `quick_check` because the file was closed cleanly
    /// and has not changed since (see `seal.rs`).
    pub fn full_check_skipped(&self) -> bool {
        self.check_skipped
    }

    /// The embedder fingerprint recorded in the index.
    pub fn fingerprint(&self) -> Result<Option<EmbedderFingerprint>, IndexError> {
        read_fingerprint(self.reader()?.conn(), &self.path)
    }
}

impl Drop for Store {
    /// Readers close first, so that the writer is the last connection: unless another process
    /// has the file open, SQLite then copies the write-ahead log into the file and removes it,
    /// and a cleanly closed index is one file. (A read-only connection closing last cannot, and
    /// the data of a small index would stay in the log for good.) A clean close is sealed, so
    /// that the next open can skip the full check.
    fn drop(&mut self) {
        self.readers.lock().clear();
        if let Some(writer) = self.writer.take() {
            let conn = writer.into_inner();
            match conn.close() {
                Ok(()) => {
                    if let Some(at) = self.checked_at {
                        seal::write(&self.path, at);
                    }
                }
                Err((_, e)) => {
                    tracing::warn!(file = %self.path.display(), error = %e, "closing the index")
                }
            }
        }
    }
}

/// The file behind `conn`, for error messages (the one place that asks a connection for it).
fn conn_file(conn: &Connection) -> &Path {
    Path::new(conn.path().unwrap_or(":memory:"))
}

/// Makes every note and skipped file look changed to the next pass.
fn mark_all_changed(conn: &Connection, path: &Path) -> Result<(), IndexError> {
    conn.execute_batch(
        "UPDATE notes SET mtime_ns = -1, content_hash = x'';
         UPDATE failures SET mtime_ns = NULL, size = NULL;",
    )
    .map_err(sql_err(path, "marking notes changed"))
}

fn record_fingerprint(
    conn: &mut Connection,
    path: &Path,
    fingerprint: &EmbedderFingerprint,
) -> Result<(), IndexError> {
    let e = || sql_err(path, "recording the embedder");
    let json = serde_json::to_string(fingerprint).unwrap_or_default();
    let tx = conn.transaction().map_err(e())?;
    for (key, value) in [
        ("fingerprint", json.as_str()),
        ("fingerprint_id", fingerprint.id().as_str()),
    ] {
        tx.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
        .map_err(e())?;
    }
    tx.commit().map_err(e())
}

/// `file:` URI of `path` with `immutable=1`; bytes outside a safe set are percent-encoded.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// Settings every connection needs. `busy_timeout` covers the short moments when a checkpoint
/// or another process holds a lock.
fn configure(conn: &Connection, path: &Path) -> Result<(), IndexError> {
    // secure_delete: deleted rows are overwritten, so an excluded note's text does not linger
    // in free pages of the file.
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA secure_delete = ON;",
    )
    .map_err(|e| damage::classify(path, "opening", e))
}

fn init_schema(conn: &mut Connection, path: &Path) -> Result<(), IndexError> {
    let has_meta: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| damage::classify(path, "opening", e))?;
    if has_meta {
        let version = check_version(conn, path)?;
        if version < SCHEMA_VERSION {
            migrate::upgrade(conn, path, version)?;
        }
    } else {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| damage::classify(path, "opening", e))?;
        if tables > 0 {
            return Err(IndexError::NotAnIndex {
                path: path.to_path_buf(),
                reason: "it holds other tables and no vault-rag metadata".into(),
            });
        }
    }
    // Idempotent (IF NOT EXISTS): also adds objects a newer build of this version defines.
    let tx = conn
        .transaction()
        .map_err(sql_err(path, "creating the schema"))?;
    tx.execute_batch(SCHEMA_SQL)
        .map_err(sql_err(path, "creating the schema"))?;
    tx.execute(
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION.to_string()],
    )
    .map_err(sql_err(path, "creating the schema"))?;
    tx.commit().map_err(sql_err(path, "creating the schema"))
}

/// The index's schema version; an error for one this build does not know.
fn check_version(conn: &Connection, path: &Path) -> Result<u32, IndexError> {
    let version: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| damage::classify(path, "reading the schema version", e))?;
    match version {
        Some(v)
            if v.parse::<u32>()
                .is_ok_and(|n| (OLDEST_READABLE..=SCHEMA_VERSION).contains(&n)) =>
        {
            Ok(v.parse().unwrap_or(SCHEMA_VERSION))
        }
        Some(v) => Err(IndexError::SchemaVersion {
            path: path.to_path_buf(),
            found: v,
            supported: SCHEMA_VERSION,
        }),
        // Our own tables without the version written with them: not a state we ever commit.
        None => Err(IndexError::Corrupt {
            path: path.to_path_buf(),
            reason: "it has no schema version".into(),
        }),
    }
}

fn read_fingerprint(
    conn: &Connection,
    path: &Path,
) -> Result<Option<EmbedderFingerprint>, IndexError> {
    let json: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'fingerprint'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql_err(path, "reading the embedder fingerprint"))?;
    Ok(json.and_then(|j| match serde_json::from_str(&j) {
        Ok(fp) => Some(fp),
        Err(e) => {
            // An unreadable fingerprint only means its vectors cannot be reused.
            tracing::warn!(file = %path.display(), error = %e, "stored embedder fingerprint is unreadable");
            None
        }
    }))
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
