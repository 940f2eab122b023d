//! [`Engine`]: one open vault index, its background indexing thread and file watcher, and the
//! searches that run against it.
//!
//! Threads: the caller's (searches, status), one indexing thread (full passes, watcher jobs,
//! rebuilds, strictly one at a time) and the watcher's. Searches read through their own SQLite
//! connections (WAL readers see the last commit and never wait for the writer) and hold the
//! in-memory matrix's read lock only while scanning it; the indexer takes the write lock only
//! to apply a committed batch. Status counters are atomics.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use parking_lot::Mutex;
use serde::Serialize;
use vault_rag_core::{Embedder, EmbedderFingerprint, NotePath};

use crate::error::IndexError;
use crate::indexer::{Indexer, ProgressFn};
use crate::jobs::run_jobs;
use crate::list::{ListRequest, NoteList};
use crate::lock::IndexLock;
use crate::progress::{IndexState, IndexSummary, Progress};
use crate::scan::VaultFilter;
use crate::search::{SearchResponse, Searcher};
use crate::search::{VectorCodes, VectorMatrix};
use crate::settings::{clamp_chunk_config, IndexSettings, INDEX_FILE, LOCK_FILE};
use crate::store::{damage, notes, NoteFailure, Store};
use crate::watcher::{Job, LiveState, LiveUpdates};
use vault_rag_core::{SearchRequest, SimilarRequest};

/// Tokens kept free for a note title in the document prompt when fitting chunks to the model.
const TITLE_TOKENS: usize = 24;
/// How often the vault folder itself is checked (deleted, re-created, renamed away and back).
const VAULT_CHECK: Duration = Duration::from_secs(1);

/// Longest hold one call of [`Engine::hold`] asks for.
pub const MAX_HOLD: Duration = Duration::from_secs(60);

/// The state of an open index.
#[derive(Debug, Clone, Serialize)]
pub struct IndexStatus {
    pub state: IndexState,
    pub notes_done: u64,
    pub notes_total: u64,
    pub notes_indexed: u64,
    pub chunks: u64,
    pub index_size_bytes: u64,
    pub failures: Vec<NoteFailure>,
    /// Id of the active embedder's fingerprint (the key of its vectors).
    pub fingerprint: String,
    pub model: EmbedderFingerprint,
    /// The first full pass since opening has finished: every note is searchable.
    pub complete: bool,
    /// Chunk texts still waiting for a vector of the active embedder.
    pub vectors_missing: u64,
    /// Vectors held in memory for dense search.
    pub vectors_loaded: usize,
    /// Indexing gives way to the user's programs now (background mode during a full pass).
    pub background: bool,
    /// Sections embedded by the current (or last) pass, counted as each group returns (before
    /// its commit): the embedding rate.
    pub chunks_embedded: u64,
    /// Live updates are on.
    pub watching: bool,
    /// Whether file events reach the index, and why not.
    pub live_updates: LiveState,
    pub index_path: PathBuf,
}

impl IndexStatus {
    /// Share of the indexed chunks that dense search sees (1 when every chunk has a vector).
    pub fn dense_coverage(&self) -> f64 {
        coverage(self.vectors_loaded as u64, self.chunks)
    }
}

/// An open vault index. Create with [`Engine::open`]; stop with [`Engine::shutdown`] (also run
/// on drop).
pub struct Engine {
    /// The write side: passes, the indexing thread, file events.
    core: Arc<Indexer>,
    /// The read side: searches, similar notes, listings.
    searcher: Arc<Searcher>,
    complete: Arc<AtomicBool>,
    jobs: Mutex<Option<Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    watcher: Mutex<Option<LiveUpdates>>,
    index_path: PathBuf,
    /// `None` for a read-only engine ([`Engine::open_read_only`]): another process writes.
    _lock: Option<IndexLock>,
}

impl Engine {
    /// Opens (or creates) the index of `settings.vault` and loads its vectors into memory.
    /// Fails when another process holds the index, or the index file is of a newer version or
    /// another program's database. A damaged file (see `store::damage::is_damage`) is moved aside
    /// with its log, never deleted, a warning names both paths, and a new index is started.
    pub fn open(
        mut settings: IndexSettings,
        embedder: Arc<dyn Embedder>,
    ) -> Result<Arc<Engine>, IndexError> {
        settings.validate()?;
        let vault = settings.canonical_vault()?;
        let data_dir = settings.resolve_data_dir()?;
        let lock = IndexLock::acquire(&data_dir.join(LOCK_FILE))?;
        let index_path = data_dir.join(INDEX_FILE);
        let fingerprint = embedder.fingerprint().clone();
        fit_chunks(&mut settings, embedder.as_ref());
        let recipe = chunking_recipe(&settings);
        let codes = settings.vector_codes;
        let (store, matrix) = match open_store(&index_path, &fingerprint, &recipe, codes) {
            Err(problem) if damage::is_damage(&problem) => {
                let moved = damage::move_aside(&index_path)?;
                tracing::warn!(
                    file = %index_path.display(), moved_to = %moved.display(), %problem,
                    "the index file could not be used: it was moved aside (not deleted) and a new index is built"
                );
                open_store(&index_path, &fingerprint, &recipe, codes)?
            }
            other => other?,
        };
        assemble(
            vault,
            settings,
            embedder,
            store,
            matrix,
            index_path,
            Some(lock),
        )
    }

    /// Opens the index of `settings.vault` for searching only, without its lock: for commands
    /// run while another process (a running service) holds it. Nothing is written and nothing
    /// is indexed; the vectors are those committed when it opens. The embedder must be the one
    /// the index holds vectors of.
    pub fn open_read_only(
        mut settings: IndexSettings,
        embedder: Arc<dyn Embedder>,
    ) -> Result<Arc<Engine>, IndexError> {
        settings.validate()?;
        let vault = settings.canonical_vault()?;
        let index_path = settings.resolve_data_dir()?.join(INDEX_FILE);
        let store = Store::open_read_only(&index_path)?;
        let fingerprint = embedder.fingerprint().clone();
        match store.fingerprint()? {
            Some(held) if held.id() == fingerprint.id() => {}
            held => {
                return Err(IndexError::ModelMismatch {
                    held: held.map_or_else(|| "no model".into(), |h| h.model),
                    wanted: fingerprint.model,
                })
            }
        }
        fit_chunks(&mut settings, embedder.as_ref());
        let matrix = VectorMatrix::load(
            &store.reader()?,
            &fingerprint.id(),
            fingerprint.dims,
            settings.vector_codes,
        )?;
        assemble(vault, settings, embedder, store, matrix, index_path, None)
    }

    /// Whether this engine only reads (see [`Engine::open_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self._lock.is_none()
    }

    fn writable(&self) -> Result<(), IndexError> {
        if self.is_read_only() {
            Err(IndexError::ReadOnly)
        } else {
            Ok(())
        }
    }

    /// A full incremental pass on the caller's thread. `report` sees progress after every
    /// embedded group and every commit.
    pub fn reconcile(&self, report: ProgressFn<'_>) -> Result<IndexSummary, IndexError> {
        self.writable()?;
        let summary = self.core.reconcile(report)?;
        if !summary.interrupted {
            self.complete.store(true, Relaxed);
        }
        Ok(summary)
    }

    /// Starts the indexing thread (a full pass first, then file events) and the watcher.
    /// A watcher that cannot start is logged; the index then updates on the next start only.
    pub fn start_background(&self) -> Result<(), IndexError> {
        self.writable()?;
        let mut jobs = self.jobs.lock();
        if jobs.is_some() {
            return Ok(());
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        let core = Arc::clone(&self.core);
        let complete = Arc::clone(&self.complete);
        let handle = std::thread::Builder::new()
            .name("vault-rag-index".into())
            .spawn(move || run_jobs(&core, &complete, &rx))
            .map_err(|source| IndexError::Thread {
                name: "indexing",
                source,
            })?;
        self.threads.lock().push(handle);
        // The send cannot fail: the receiver lives in the thread just started.
        let _ = tx.send(Job::Reconcile);
        *self.watcher.lock() = Some(LiveUpdates::start(
            self.core.vault().to_path_buf(),
            self.core.rules_file(),
            self.core.settings().debounce,
            tx.clone(),
            VAULT_CHECK,
        ));
        *jobs = Some(tx);
        Ok(())
    }

    /// Searches the index. The query is embedded before any index lock is taken.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResponse, IndexError> {
        let started = Instant::now();
        let hits = self.searcher.search(req)?;
        Ok(self.response(hits, started))
    }

    /// Notes related to a note.
    pub fn similar(&self, req: &SimilarRequest) -> Result<SearchResponse, IndexError> {
        let started = Instant::now();
        // The index only knows notes inside the vault, but a symlink that leads out must be
        // refused as such, not reported as a missing note.
        if let Err(err @ IndexError::OutsideVault { .. }) =
            crate::vault_path::resolve_in_vault(self.core.vault(), &req.path)
        {
            return Err(err);
        }
        let hits = self.searcher.similar(req)?;
        Ok(self.response(hits, started))
    }

    fn response(&self, hits: Vec<vault_rag_core::Hit>, started: Instant) -> SearchResponse {
        SearchResponse {
            hits,
            index_complete: self.is_complete(),
            dense_coverage: self.dense_coverage(),
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
        }
    }

    /// Share of the indexed chunks that have a vector in memory (1 for an empty index).
    pub fn dense_coverage(&self) -> f64 {
        let chunks = self.core.counters().chunks.load(Relaxed);
        coverage(self.searcher.matrix().read().len() as u64, chunks)
    }

    /// A page of the indexed notes (by folder, tag and modification time).
    pub fn list_notes(&self, req: &ListRequest) -> Result<NoteList, IndexError> {
        self.searcher.list(req)
    }

    /// Whether a full pass has finished since the index was opened (or rebuilt): until then,
    /// notes may be missing from results. Chunks that could not be embedded are counted in
    /// [`IndexStatus::vectors_missing`] and listed as failures.
    pub fn is_complete(&self) -> bool {
        self.complete.load(Relaxed)
    }

    /// Counters, failures and sizes; never waits for indexing.
    pub fn status(&self) -> IndexStatus {
        let live = self
            .watcher
            .lock()
            .as_ref()
            .map_or(LiveState::Off, LiveUpdates::state);
        let c = &self.core.counters();
        let mut state = c.state();
        if self.core.control().is_paused() {
            state = IndexState::Paused;
        }
        let failures = self
            .searcher
            .store()
            .reader()
            .and_then(|r| notes::failures(&r))
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read failures");
                Vec::new()
            });
        IndexStatus {
            state,
            notes_done: c.notes_done.load(Relaxed),
            notes_total: c.notes_total.load(Relaxed),
            notes_indexed: c.notes_indexed.load(Relaxed),
            chunks: c.chunks.load(Relaxed),
            index_size_bytes: self.searcher.store().size_bytes(),
            failures,
            fingerprint: self.searcher.fingerprint_id().to_string(),
            model: self.searcher.embedder().fingerprint().clone(),
            complete: self.is_complete(),
            vectors_missing: c.vectors_missing.load(Relaxed),
            vectors_loaded: self.searcher.matrix().read().len(),
            background: self.core.in_background(),
            chunks_embedded: c.chunks_embedded.load(Relaxed),
            watching: live == LiveState::On,
            live_updates: live,
            index_path: self.index_path.clone(),
        }
    }

    /// Live progress of the current (or last) pass.
    pub fn progress(&self) -> Progress {
        self.core.counters().snapshot()
    }

    /// Holds indexing at the next check (between embedded groups); searches keep working.
    pub fn pause(&self) {
        self.core.control().pause();
    }

    pub fn resume(&self) {
        self.core.control().resume();
    }

    /// Holds indexing for `duration` (at most [`MAX_HOLD`]) while the user is busy, e.g.
    /// typing: it resumes by itself, and a later call extends the hold. Searches are not held.
    pub fn hold(&self, duration: Duration) {
        self.core.control().hold_for(duration.min(MAX_HOLD));
    }

    /// The user has these notes open (vault-relative paths, most recent first): while sections
    /// wait for vectors, theirs are embedded next. At most [`MAX_FOCUS`](crate::MAX_FOCUS) are kept.
    pub fn focus(&self, paths: Vec<String>) {
        self.core.control().focus(paths);
    }

    /// Re-reads, re-parses and re-chunks every note (vectors are reused where the text is
    /// unchanged). Queued on the indexing thread when it runs, else done now.
    pub fn rebuild(&self) -> Result<(), IndexError> {
        self.writable()?;
        self.complete.store(false, Relaxed);
        if let Some(tx) = self.jobs.lock().as_ref() {
            let _ = tx.send(Job::Rebuild);
            return Ok(());
        }
        self.core.invalidate_all()?;
        self.reconcile(&|_| {}).map(drop)
    }

    /// Re-checks some absolute paths now, on the caller's thread (what the watcher queues).
    pub fn apply_paths(&self, paths: &[PathBuf]) -> Result<IndexSummary, IndexError> {
        self.writable()?;
        self.core.apply_paths(paths, &|_| {})
    }

    #[cfg(test)]
    pub(crate) fn core_for_tests(&self) -> &Indexer {
        &self.core
    }

    /// The embedder the index was opened with.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        self.searcher.embedder()
    }

    /// The canonical vault root.
    pub fn vault(&self) -> &Path {
        self.core.vault()
    }

    /// The index file.
    pub fn index_path(&self) -> &Path {
        &self.index_path
    }

    /// The settings in effect (chunk budget fitted to the model).
    pub fn settings(&self) -> &IndexSettings {
        self.core.settings()
    }

    /// A note's text, exactly as the indexer may read it: only a file the indexer would index
    /// (a `.md` note outside the config folder, dot-folders, `.trash`, Obsidian's excluded files
    /// and `--exclude`), by its path and by where it really is, never a file outside the vault
    /// (`..` is refused by [`NotePath`], symlinks that lead out are refused here); anything else
    /// is [`IndexError::NoteNotFound`]. At most `max_note_bytes` are read and returned, as the
    /// indexer reads at most that much; a longer note ends with a line that says so.
    pub fn read_note(&self, path: &NotePath) -> Result<String, IndexError> {
        let vault = &self.core.vault();
        let not_found = || IndexError::NoteNotFound {
            path: path.to_string(),
        };
        let filter = self.core.filter().read().clone();
        if !filter.admits(path.as_str()) {
            return Err(not_found());
        }
        let canon = crate::vault_path::resolve_in_vault(vault, path)?;
        // A link inside the vault must lead to a note too (not to `.env` or a plugin's data).
        let real = crate::scan::relative(vault, &canon).ok_or_else(not_found)?;
        if !filter.admits(&real) {
            return Err(not_found());
        }
        let read_err = |source| IndexError::ReadNote {
            path: path.to_string(),
            source,
        };
        let file = crate::note_read::open_verified(&canon)
            .map_err(read_err)?
            .ok_or_else(|| IndexError::OutsideVault {
                path: path.to_string(),
            })?;
        let total = file.metadata().map_err(read_err)?.len();
        let cap = self.core.settings().max_note_bytes;
        let mut bytes = Vec::with_capacity(total.min(cap) as usize);
        file.take(cap).read_to_end(&mut bytes).map_err(read_err)?;
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if total > cap {
            // Cut at a character boundary: a lossy decode may end in half a character.
            while text.ends_with('\u{fffd}') {
                text.pop();
            }
            text.push_str(&format!(
                "\n\n[vault-rag: this note has {total} bytes; only the first {cap} are indexed and shown]\n"
            ));
        }
        Ok(text)
    }

    /// Asks a running pass to stop after the batch in flight (safe from any thread, e.g. a
    /// Ctrl-C handler); [`Engine::reconcile`] then returns with `interrupted` set.
    pub fn request_stop(&self) {
        self.core.control().stop();
    }

    /// Stops the watcher and the indexing thread. The batch in flight is committed with the
    /// notes whose chunks are already embedded; the rest is picked up by the next pass.
    pub fn shutdown(&self) {
        self.core.control().stop();
        drop(self.watcher.lock().take());
        drop(self.jobs.lock().take());
        let threads: Vec<_> = self.threads.lock().drain(..).collect();
        for t in threads {
            if t.join().is_err() {
                tracing::error!("the indexing thread panicked");
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Chunks fitted to the model's input, with room for its prompt.
fn fit_chunks(settings: &mut IndexSettings, embedder: &dyn Embedder) {
    settings.chunk = clamp_chunk_config(
        &settings.chunk,
        embedder.fingerprint().max_tokens,
        prompt_tokens(embedder),
    );
}

/// The engine around an opened store: the vault's rules and the counts, no thread yet. A
/// read-only one (no lock) is as complete as what was committed; a writer is complete after its
/// first full pass.
fn assemble(
    vault: PathBuf,
    settings: IndexSettings,
    embedder: Arc<dyn Embedder>,
    store: Store,
    matrix: VectorMatrix,
    index_path: PathBuf,
    lock: Option<IndexLock>,
) -> Result<Arc<Engine>, IndexError> {
    let filter = VaultFilter::load(&settings, &vault)?;
    let searcher = Arc::new(Searcher::new(store, matrix, embedder));
    let core = Indexer::new(vault, settings, searcher.clone(), filter);
    core.refresh_counts()?;
    core.refresh_missing()?;
    let complete = lock.is_none() && core.counters().snapshot().vectors_missing == 0;
    Ok(Arc::new(Engine {
        core: Arc::new(core),
        searcher,
        complete: Arc::new(AtomicBool::new(complete)),
        jobs: Mutex::new(None),
        threads: Mutex::new(Vec::new()),
        watcher: Mutex::new(None),
        index_path,
        _lock: lock,
    }))
}

/// `loaded` of `chunks` as a share in 0–1 (1 when there is nothing to embed).
fn coverage(loaded: u64, chunks: u64) -> f64 {
    if chunks == 0 {
        return 1.0;
    }
    (loaded as f64 / chunks as f64).min(1.0)
}

/// Opens the index file and loads the active embedder's vectors: everything at open that reads
/// enough of the file to find it damaged.
fn open_store(
    index_path: &Path,
    fingerprint: &EmbedderFingerprint,
    recipe: &str,
    codes: VectorCodes,
) -> Result<(Store, VectorMatrix), IndexError> {
    let opened = Instant::now();
    let (store, previous) = Store::open(index_path, fingerprint)?;
    tracing::info!(
        ms = opened.elapsed().as_millis() as u64,
        full_check = if store.full_check_skipped() {
            "skipped (closed cleanly, unchanged)"
        } else {
            "passed"
        },
        "index opened"
    );
    if let Some(prev) = previous {
        // Vectors are keyed by fingerprint: the old ones stay (and are used again if the old
        // embedder comes back) until the new set is complete, then they are dropped.
        tracing::info!(
            from = %prev.model, to = %fingerprint.model,
            "the embedder changed: chunks are embedded again; old vectors are dropped once done"
        );
    }
    if store.sync_chunking(recipe)? {
        tracing::info!("chunking settings changed: every note is chunked again (unchanged text keeps its vectors)");
    }
    let started = Instant::now();
    let matrix = VectorMatrix::load(&store.reader()?, &fingerprint.id(), fingerprint.dims, codes)?;
    tracing::info!(
        vectors = matrix.len(),
        codes = %codes,
        bytes = matrix.memory_bytes(),
        ms = started.elapsed().as_millis() as u64,
        "vectors loaded"
    );
    Ok((store, matrix))
}

/// Everything that decides which chunks an unchanged file gives: the chunk budget, the note
/// size cap and the code that parses and chunks (its version).
fn chunking_recipe(settings: &IndexSettings) -> String {
    serde_json::json!({
        "chunk": settings.chunk,
        "max_note_bytes": settings.max_note_bytes,
        "version": env!("CARGO_PKG_VERSION"),
    })
    .to_string()
}

/// Tokens of the document prompt around a chunk, plus room for a title.
fn prompt_tokens(embedder: &dyn Embedder) -> usize {
    let prompt = &embedder.fingerprint().document_prompt;
    let bare = prompt.replace("{title}", "").replace("{text}", "");
    let title = if prompt.contains("{title}") {
        TITLE_TOKENS
    } else {
        0
    };
    embedder.count_tokens(&bare) + title
}

#[cfg(test)]
#[path = "recovery_tests.rs"]
mod recovery_tests;
