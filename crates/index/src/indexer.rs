//! The incremental indexer: decides what changed, and commits work in batches.
//!
//! A pass turns a list of [`Work`] (notes to check, paths to delete, scan problems) into
//! batches. A note whose (mtime, size) matches the index is skipped without being read; one whose
//! bytes hash the same is only touched; anything else is parsed, chunked and hashed. Each batch
//! embeds the chunk texts that have no stored vector *before* taking the write lock, then writes
//! notes, chunks, full-text rows, vectors and failures in one transaction, then updates the
//! in-memory matrix. A crash therefore loses at most the batch in flight, and the next pass
//! resumes where the last commit left off (committed notes are unchanged by mtime and size).
//!
//! Vectors are garbage-collected only at the end of a pass, so a note moved within a pass (or
//! across a crash) finds its vectors still there.

mod batch;
mod fill;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::background::IndexPriority;
use crate::control::Control;
use crate::error::IndexError;
use crate::prepare::Chunker;
use crate::progress::{Counters, IndexState, IndexSummary, Progress};
use crate::scan::{
    classify, scan, scan_dir, PathState, ProblemKind, ScanProblem, ScannedNote, VaultFilter,
};
use crate::search::Searcher;
use crate::settings::IndexSettings;
use crate::store::{embeddings, notes, NoteFailure, NoteState};

/// Callback for progress, called after every embedded group and every commit.
pub type ProgressFn<'a> = &'a dyn Fn(&Progress);

/// One unit of work of a pass.
#[derive(Debug)]
pub(crate) enum Work {
    /// A note file to index if it changed.
    Check(ScannedNote),
    /// An indexed note whose file is gone.
    Delete(String),
    /// Something named like a note that cannot be used.
    Problem(ScanProblem),
}

/// The write side of an open index: passes over the vault that keep the searcher's store and
/// matrix current. Shared by the engine's threads.
pub(crate) struct Indexer {
    vault: PathBuf,
    settings: IndexSettings,
    searcher: Arc<Searcher>,
    filter: RwLock<VaultFilter>,
    counters: Counters,
    control: Control,
    /// One pass at a time (the CLI, the background thread and the watcher share the writer).
    pass: Mutex<()>,
    special_tokens: usize,
    /// This pass asked for background priority.
    bulk: AtomicBool,
}

impl Indexer {
    pub fn new(
        vault: PathBuf,
        settings: IndexSettings,
        searcher: Arc<Searcher>,
        filter: VaultFilter,
    ) -> Self {
        let special_tokens = searcher.embedder().count_tokens("");
        Self {
            vault,
            settings,
            searcher,
            filter: RwLock::new(filter),
            counters: Counters::default(),
            control: Control::default(),
            pass: Mutex::new(()),
            special_tokens,
            bulk: AtomicBool::new(false),
        }
    }

    pub fn vault(&self) -> &Path {
        &self.vault
    }

    pub fn settings(&self) -> &IndexSettings {
        &self.settings
    }

    /// The vault's rules (Obsidian's excluded files, globs), reloaded when they change.
    pub fn filter(&self) -> &RwLock<VaultFilter> {
        &self.filter
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn control(&self) -> &Control {
        &self.control
    }

    /// A full pass has a vault's worth of work: in background mode, the process yields the CPU
    /// to the user's applications until the pass ends.
    pub(crate) fn bulk_work(&self) {
        if self.settings.priority == IndexPriority::Background && !self.bulk.swap(true, Relaxed) {
            tracing::info!(
                "indexing in the background: the process priority is lowered while this pass runs"
            );
            vault_rag_priority::set_bulk(true);
        }
    }

    /// Whether the process runs at a lowered priority now.
    pub fn in_background(&self) -> bool {
        vault_rag_priority::in_background()
    }

    fn chunker(&self) -> Chunker<'_> {
        Chunker {
            embedder: self.searcher.embedder().as_ref(),
            config: &self.settings.chunk,
            max_note_bytes: self.settings.max_note_bytes,
            special_tokens: self.special_tokens,
        }
    }

    /// A full pass: scan the vault, index what changed, remove what is gone, embed chunks that
    /// lack a vector of the active embedder, collect garbage.
    pub fn reconcile(&self, report: ProgressFn<'_>) -> Result<IndexSummary, IndexError> {
        let _pass = self.pass.lock();
        let started = Instant::now();
        let result = self.reconcile_locked(report);
        if self.bulk.swap(false, Relaxed) {
            vault_rag_priority::set_bulk(false);
        }
        self.end_pass(result, started)
    }

    fn reconcile_locked(&self, report: ProgressFn<'_>) -> Result<IndexSummary, IndexError> {
        self.counters.start_pass(0);
        self.counters.set_state(IndexState::Scanning);
        report(&self.counters.snapshot());
        // An unmounted or deleted vault must not read as "every note was deleted".
        self.settings.canonical_vault()?;
        let filter = self.current_rules()?;
        let scanned = scan(&self.vault, &filter);
        let (known, skipped) = {
            let reader = self.searcher.store().reader()?;
            (notes::note_states(&reader)?, notes::skipped_files(&reader)?)
        };
        let mut keep_failures: HashSet<String> = HashSet::new();
        let mut work = Vec::with_capacity(scanned.notes.len());
        let mut seen = HashSet::with_capacity(scanned.notes.len());
        for note in &scanned.notes {
            seen.insert(note.path.as_str().to_string());
        }
        let mut deletes: Vec<&String> = known
            .keys()
            .filter(|p| !seen.contains(*p) && !scanned.is_uncertain(p))
            .collect();
        deletes.sort();
        for path in deletes {
            work.push(Work::Delete(path.clone()));
        }
        for problem in &scanned.problems {
            keep_failures.insert(problem.path.clone());
            work.push(Work::Problem(problem.clone()));
        }
        let mut summary = IndexSummary {
            notes_seen: scanned.notes.len() as u64,
            ..IndexSummary::default()
        };
        keep_failures.extend(seen);
        work.extend(scanned.notes.into_iter().map(Work::Check));
        self.counters.start_pass(summary.notes_seen);
        self.counters.set_state(IndexState::Indexing);
        // Lexical first: notes, chunks and full text go in without vectors (fast), so that
        // keyword and title search cover the vault early; `fill_missing` embeds them next.
        let defer = self.settings.lexical_first;
        self.execute(work, &known, &skipped, defer, &mut summary, report)?;
        if !summary.interrupted {
            self.fill_missing(&mut summary, report)?;
        }
        if !summary.interrupted {
            self.finish(Some(&keep_failures))?;
        }
        if summary.notes_deleted > 0 {
            // Notes newly excluded (or deleted) leave no text behind: not in the full-text
            // index's segments, not in free pages, not in the write-ahead log.
            self.searcher.store().purge_deleted()?;
        }
        Ok(summary)
    }

    /// The vault's rules for this pass. Obsidian's `app.json` that cannot be read (half
    /// written) never lets excluded notes in: the last good rules stay in force, and without
    /// any (a first start) the pass stops before indexing or deleting anything.
    fn current_rules(&self) -> Result<VaultFilter, IndexError> {
        let loaded = VaultFilter::load(&self.settings, &self.vault)?;
        let Some(why) = loaded.rules_unreadable() else {
            *self.filter.write() = loaded.clone();
            return Ok(loaded);
        };
        let path = self.rules_file();
        let previous = self.filter.read().clone();
        if previous.rules_unreadable().is_none() {
            tracing::warn!(file = %path.display(), problem = why, "Obsidian's excluded files cannot be read; keeping the last good ones");
            return Ok(previous);
        }
        let message = why.to_string();
        *self.filter.write() = loaded;
        Err(IndexError::RulesUnreadable { path, message })
    }

    /// `<vault>/<config dir>/app.json`, where Obsidian keeps the excluded files.
    pub fn rules_file(&self) -> PathBuf {
        self.vault
            .join(self.settings.config_dir.trim_matches('/'))
            .join("app.json")
    }

    /// Applies file events: each path is re-checked (a note), re-scanned (a folder) or removed
    /// (gone), through the same batches as a full pass.
    pub fn apply_paths(
        &self,
        paths: &[PathBuf],
        report: ProgressFn<'_>,
    ) -> Result<IndexSummary, IndexError> {
        let _pass = self.pass.lock();
        let started = Instant::now();
        let result = self.apply_paths_locked(paths, report);
        self.end_pass(result, started)
    }

    fn apply_paths_locked(
        &self,
        paths: &[PathBuf],
        report: ProgressFn<'_>,
    ) -> Result<IndexSummary, IndexError> {
        let filter = self.filter.read().clone();
        if let Some(why) = filter.rules_unreadable() {
            // Without readable rules nothing is added, and nothing is taken for excluded.
            return Err(IndexError::RulesUnreadable {
                path: self.rules_file(),
                message: why.to_string(),
            });
        }
        let reader = self.searcher.store().reader()?;
        let mut work = Vec::new();
        let mut known = HashMap::new();
        let mut summary = IndexSummary::default();
        let mut unique: Vec<&PathBuf> = paths.iter().collect();
        unique.sort();
        unique.dedup();
        for abs in unique {
            match classify(&self.vault, &filter, abs) {
                PathState::Note(note) => {
                    if let Some(state) = notes::note_state(&reader, note.path.as_str())? {
                        known.insert(note.path.as_str().to_string(), state);
                    }
                    summary.notes_seen += 1;
                    work.push(Work::Check(note));
                }
                PathState::Dir(dir) => {
                    let found = scan_dir(&self.vault, abs, &filter);
                    // Listed this time: a note of the same name (replaced by this folder) is
                    // gone, and a failure to read the folder before is over.
                    if !found.is_uncertain(dir.as_str()) {
                        work.push(Work::Delete(dir.as_str().to_string()));
                    }
                    let present: HashSet<&str> =
                        found.notes.iter().map(|n| n.path.as_str()).collect();
                    for path in notes::notes_under(&reader, dir.as_str())? {
                        if !present.contains(path.as_str()) && !found.is_uncertain(&path) {
                            work.push(Work::Delete(path));
                        }
                    }
                    for note in &found.notes {
                        if let Some(state) = notes::note_state(&reader, note.path.as_str())? {
                            known.insert(note.path.as_str().to_string(), state);
                        }
                    }
                    summary.notes_seen += found.notes.len() as u64;
                    work.extend(found.problems.into_iter().map(Work::Problem));
                    work.extend(found.notes.into_iter().map(Work::Check));
                }
                PathState::Absent(Some(path)) => {
                    if notes::note_state(&reader, path.as_str())?.is_some() {
                        work.push(Work::Delete(path.as_str().to_string()));
                    }
                    for below in notes::notes_under(&reader, path.as_str())? {
                        work.push(Work::Delete(below));
                    }
                }
                PathState::Absent(None) => {}
                PathState::Problem(problem) => work.push(Work::Problem(problem)),
            }
        }
        let skipped = notes::skipped_files(&reader)?;
        drop(reader);
        if work.is_empty() {
            return Ok(summary);
        }
        self.counters.start_pass(summary.notes_seen);
        self.counters.set_state(IndexState::Indexing);
        // Live changes are few: embedded at once, so a saved note is found by meaning at once.
        self.execute(work, &known, &skipped, false, &mut summary, report)?;
        if !summary.interrupted {
            self.finish(None)?;
        }
        Ok(summary)
    }

    /// Marks every note as changed, so that the next pass re-reads, re-parses and re-chunks
    /// the whole vault. Vectors are kept: they depend only on the chunk text and the embedder.
    pub fn invalidate_all(&self) -> Result<(), IndexError> {
        let _pass = self.pass.lock();
        self.searcher.store().invalidate_all()
    }

    fn end_pass(
        &self,
        result: Result<IndexSummary, IndexError>,
        started: Instant,
    ) -> Result<IndexSummary, IndexError> {
        match result {
            Ok(mut summary) => {
                self.counters.set_state(IndexState::Idle);
                summary.elapsed_ms = started.elapsed().as_millis() as u64;
                let reader = self.searcher.store().reader()?;
                let stored = notes::failures(&reader)?;
                let indexed: HashSet<String> = notes::note_states(&reader)?.into_keys().collect();
                summary.notes_failed =
                    stored.iter().filter(|f| !indexed.contains(&f.path)).count() as u64;
                let transient = std::mem::take(&mut summary.failures);
                summary.failures = merge_failures(stored, transient);
                self.refresh_counts()?;
                self.refresh_missing()?;
                Ok(summary)
            }
            Err(e) => {
                self.counters.set_state(IndexState::Error);
                tracing::error!(error = %e, "indexing pass failed");
                Err(e)
            }
        }
    }

    /// Re-reads the note and chunk totals after commits.
    pub fn refresh_counts(&self) -> Result<(), IndexError> {
        let (notes, chunks) = notes::counts(&self.searcher.store().reader()?)?;
        self.counters.notes_indexed.store(notes, Relaxed);
        self.counters.chunks.store(chunks, Relaxed);
        Ok(())
    }

    /// Re-counts the chunk texts that have no vector of the active embedder.
    pub fn refresh_missing(&self) -> Result<(), IndexError> {
        let missing = embeddings::count_missing(
            &self.searcher.store().reader()?,
            self.searcher.fingerprint_id(),
        )?;
        self.counters.vectors_missing.store(missing, Relaxed);
        Ok(())
    }

    fn execute(
        &self,
        work: Vec<Work>,
        known: &HashMap<String, NoteState>,
        skipped: &HashMap<String, (i64, u64)>,
        defer_embedding: bool,
        summary: &mut IndexSummary,
        report: ProgressFn<'_>,
    ) -> Result<(), IndexError> {
        let chunker = self.chunker();
        let commit = self.settings.commit;
        let mut batch = batch::Batch::default();
        let changed = |file: &ScannedNote| {
            let same_file = |s: (i64, u64)| s == (file.mtime_ns, file.size);
            let state = known.get(file.path.as_str());
            let unchanged = state.is_some_and(|k| same_file((k.mtime_ns, k.size)));
            let still_failed = state.is_none()
                && skipped
                    .get(file.path.as_str())
                    .is_some_and(|s| same_file(*s));
            !(unchanged || still_failed)
        };
        let todo: u64 = work
            .iter()
            .filter_map(|w| match w {
                Work::Check(file) if changed(file) => Some(file.size),
                _ => None,
            })
            .sum();
        self.counters.bytes_todo.store(todo, Relaxed);
        if defer_embedding && todo > 0 {
            self.bulk_work();
        }
        for item in work {
            if !self.control.proceed(&self.counters) {
                summary.interrupted = true;
                break;
            }
            match item {
                Work::Check(file) => {
                    let state = known.get(file.path.as_str());
                    if !changed(&file) {
                        // Either unchanged, or a failure that has not changed since.
                        summary.notes_unchanged += u64::from(state.is_some());
                        self.counters.notes_done.fetch_add(1, Relaxed);
                        continue;
                    }
                    batch.push(chunker.prepare(file, state));
                }
                Work::Delete(path) => batch.deletes.push(path),
                Work::Problem(problem) => batch.problems.push(problem),
            }
            if batch.is_full(&commit) {
                self.flush(&mut batch, defer_embedding, summary, report)?;
            }
        }
        // Also after a stop request: commits the notes whose chunks are all embedded.
        self.flush(&mut batch, defer_embedding, summary, report)
    }

    /// Garbage-collects vectors and, after a full pass, forgets failures of paths that no longer
    /// exist.
    fn finish(&self, keep_failures: Option<&HashSet<String>>) -> Result<(), IndexError> {
        let missing = embeddings::count_missing(
            &self.searcher.store().reader()?,
            self.searcher.fingerprint_id(),
        )?;
        let stale: Vec<String> = match keep_failures {
            Some(keep) => notes::failures(&self.searcher.store().reader()?)?
                .into_iter()
                .map(|f| f.path)
                .filter(|p| !keep.contains(p))
                .collect(),
            None => Vec::new(),
        };
        let removed = self.searcher.store().write("finishing a pass", |tx| {
            for p in &stale {
                notes::clear_failure(tx, p)?;
            }
            embeddings::collect_garbage(tx, self.searcher.fingerprint_id(), missing == 0)
        })?;
        if removed > 0 {
            tracing::debug!(removed, "unused vectors removed");
        }
        Ok(())
    }
}

/// Stored failures plus this pass's passing problems (vanished files), one per path.
fn merge_failures(stored: Vec<NoteFailure>, transient: Vec<NoteFailure>) -> Vec<NoteFailure> {
    let mut out = stored;
    for f in transient {
        if !out.iter().any(|o| o.path == f.path) {
            out.push(f);
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Whether a scan problem is worth remembering in the index (vanished files are not).
pub(crate) fn is_persistent(problem: &ScanProblem) -> bool {
    problem.kind != ProblemKind::Vanished
}

/// `vault/rel` for a vault-relative path.
pub(crate) fn absolute(vault: &Path, rel: &str) -> PathBuf {
    rel.split('/')
        .fold(vault.to_path_buf(), |p, seg| p.join(seg))
}

#[cfg(test)]
#[path = "lexical_first_tests.rs"]
mod lexical_first_tests;
#[cfg(test)]
#[path = "indexer_robust_tests.rs"]
mod robust_tests;
#[cfg(test)]
#[path = "indexer_tests.rs"]
pub(crate) mod tests;
