//! One batch: embed what is missing (no lock held), write it all in one transaction, then
//! update the in-memory vector matrix.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;

use vault_rag_core::{DocumentText, EmbedError};
use vault_rag_markdown::Chunk;

use super::{is_persistent, Indexer, ProgressFn};
use crate::error::IndexError;
use crate::prepare::{texts_to_embed, Prepared, PreparedNote};
use crate::progress::IndexSummary;
use crate::scan::{ProblemKind, ScanProblem};
use crate::settings::CommitSettings;
use crate::store::embeddings::{self, ContentHash, MissingChunk};
use crate::store::{decode_f16_into, encode_f16, WriteTx};
use crate::store::{notes, ChunkRecord, NoteFailure, NoteRecord};

/// Documents per embedder call: small enough for frequent progress and pause checks.
const EMBED_GROUP: usize = 32;

/// Work collected for one transaction.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub items: Vec<Prepared>,
    pub deletes: Vec<String>,
    pub problems: Vec<ScanProblem>,
    chunks: usize,
}

impl Batch {
    pub fn push(&mut self, item: Prepared) {
        if let Prepared::Index(note) = &item {
            self.chunks += note.chunks.len();
        }
        self.items.push(item);
    }

    pub fn is_full(&self, commit: &CommitSettings) -> bool {
        self.items.len() + self.deletes.len() >= commit.notes || self.chunks >= commit.chunks
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty() && self.deletes.is_empty() && self.problems.is_empty()
    }
}

/// Vectors produced for a batch, and texts the embedder refused (with its message).
#[derive(Default)]
struct Embedded {
    vectors: HashMap<ContentHash, Vec<f32>>,
    failed: HashMap<ContentHash, String>,
    /// A stop was requested before every text was embedded.
    stopped: bool,
}

/// A change to the in-memory matrix, applied after the commit in commit order.
enum MatrixOp {
    RemoveChunks(Vec<i64>),
    Replace {
        removed: Vec<i64>,
        note_id: i64,
        chunks: Vec<(i64, ContentHash)>,
    },
}

impl Indexer {
    /// Embeds, commits and applies `batch`, leaving it empty.
    /// With `defer_embedding`, notes are written without the vectors they lack (the pass
    /// embeds them afterwards, see `Indexer::fill_missing`).
    pub(super) fn flush(
        &self,
        batch: &mut Batch,
        defer_embedding: bool,
        summary: &mut IndexSummary,
        report: ProgressFn<'_>,
    ) -> Result<(), IndexError> {
        if batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(batch);
        let prepared: Vec<&PreparedNote> = batch
            .items
            .iter()
            .filter_map(|p| match p {
                Prepared::Index(n) => Some(n.as_ref()),
                _ => None,
            })
            .collect();
        let stored = embeddings::existing(
            &self.searcher.store().reader()?,
            self.searcher.fingerprint_id(),
            prepared
                .iter()
                .flat_map(|n| n.chunks.iter().map(|c| &c.hash)),
        )?;
        let todo = texts_to_embed(prepared.iter().copied(), &stored);
        let embedded = if defer_embedding {
            // Counted now, so that status shows the work waiting behind the keyword pass.
            self.counters
                .vectors_missing
                .fetch_add(todo.len() as u64, Relaxed);
            Embedded::default()
        } else {
            self.embed_texts(&todo, summary, report)?
        };
        if embedded.stopped {
            summary.interrupted = true;
        }
        let (ops, done) = self.commit(&batch, &stored, &embedded, defer_embedding, summary)?;
        self.apply(ops, &embedded.vectors, !defer_embedding)?;
        self.counters.notes_done.fetch_add(done, Relaxed);
        let bytes: u64 = batch.items.iter().map(Prepared::file_size).sum();
        self.counters.bytes_done.fetch_add(bytes, Relaxed);
        self.counters.batches_committed.fetch_add(1, Relaxed);
        self.refresh_counts()?;
        report(&self.counters.snapshot());
        Ok(())
    }

    /// Writes the batch in one transaction; returns the matrix changes and the number of notes
    /// dealt with.
    fn commit(
        &self,
        batch: &Batch,
        stored: &HashSet<ContentHash>,
        embedded: &Embedded,
        deferred: bool,
        summary: &mut IndexSummary,
    ) -> Result<(Vec<MatrixOp>, u64), IndexError> {
        self.searcher.store().write("committing a batch", |tx| {
            self.commit_in(tx, batch, stored, embedded, deferred, summary)
        })
    }

    fn commit_in(
        &self,
        tx: &WriteTx<'_>,
        batch: &Batch,
        stored: &HashSet<ContentHash>,
        embedded: &Embedded,
        deferred: bool,
        summary: &mut IndexSummary,
    ) -> Result<(Vec<MatrixOp>, u64), IndexError> {
        let mut ops = Vec::new();
        let mut done = 0u64;
        for p in &batch.deletes {
            if let Some((_, chunk_ids)) = notes::delete_note(tx, p)? {
                ops.push(MatrixOp::RemoveChunks(chunk_ids));
                summary.notes_deleted += 1;
            }
            notes::clear_failure(tx, p)?;
        }
        for problem in &batch.problems {
            if problem.kind == ProblemKind::Unreadable {
                summary.retrying.push(problem.path.clone());
            }
            if is_persistent(problem) {
                notes::set_failure(tx, &problem.path, &problem.reason, None)?;
            } else {
                summary
                    .failures
                    .push(failure(&problem.path, &problem.reason));
            }
        }
        // Hashes embedded in this batch that no written chunk has used yet: the first chunk
        // using one counts as embedded, later ones as reused.
        let mut fresh: HashSet<ContentHash> = embedded.vectors.keys().copied().collect();
        for item in &batch.items {
            match item {
                Prepared::Touch { note_id, file } => {
                    notes::touch_note(tx, *note_id, file.mtime_ns, file.size)?;
                    summary.notes_unchanged += 1;
                    done += 1;
                }
                Prepared::Index(note) => {
                    let refused = note
                        .chunks
                        .iter()
                        .find_map(|c| embedded.failed.get(&c.hash));
                    if let Some(message) = refused {
                        let reason = format!("embedding failed: {message}");
                        notes::set_failure(tx, note.file.path.as_str(), &reason, None)?;
                        done += 1;
                        continue;
                    }
                    let complete = note.chunks.iter().all(|c| {
                        stored.contains(&c.hash) || embedded.vectors.contains_key(&c.hash)
                    });
                    if !complete && !deferred {
                        continue; // stopped before its chunks were embedded: next pass
                    }
                    ops.push(self.write_note(tx, note, stored, embedded, &mut fresh, summary)?);
                    done += 1;
                }
                Prepared::Skip {
                    file,
                    reason,
                    drop_indexed,
                    remember,
                } => {
                    if *drop_indexed {
                        if let Some((_, chunk_ids)) = notes::delete_note(tx, file.path.as_str())? {
                            ops.push(MatrixOp::RemoveChunks(chunk_ids));
                        }
                    }
                    let state = remember.then_some((file.mtime_ns, file.size));
                    notes::set_failure(tx, file.path.as_str(), reason, state)?;
                    if !remember {
                        summary.retrying.push(file.path.as_str().to_string());
                    }
                    done += 1;
                }
                Prepared::Vanished { file } => {
                    if let Some((_, chunk_ids)) = notes::delete_note(tx, file.path.as_str())? {
                        ops.push(MatrixOp::RemoveChunks(chunk_ids));
                        summary.notes_deleted += 1;
                    }
                    notes::clear_failure(tx, file.path.as_str())?;
                    summary
                        .failures
                        .push(failure(file.path.as_str(), "vanished while indexing"));
                    done += 1;
                }
            }
        }
        Ok((ops, done))
    }

    fn write_note(
        &self,
        tx: &WriteTx<'_>,
        note: &PreparedNote,
        stored: &HashSet<ContentHash>,
        embedded: &Embedded,
        fresh: &mut HashSet<ContentHash>,
        summary: &mut IndexSummary,
    ) -> Result<MatrixOp, IndexError> {
        for c in &note.chunks {
            let vector = embedded.vectors.get(&c.hash);
            if let Some(v) = vector {
                embeddings::insert(tx, self.searcher.fingerprint_id(), &c.hash, v)?;
            }
            // A text not embedded yet (a lexical-first pass) is neither new nor reused here.
            let has_vector = vector.is_some() || stored.contains(&c.hash);
            if !fresh.remove(&c.hash) && has_vector {
                summary.chunks_reused += 1;
            }
        }
        let path = note.file.path.as_str();
        let record = NoteRecord {
            path,
            mtime_ns: note.file.mtime_ns,
            size: note.file.size,
            content_hash: &note.file_hash,
            title: &note.title,
            tags: &note.tags,
            aliases: &note.aliases,
            links: note.links.iter().map(String::as_str).collect(),
        };
        let chunks: Vec<ChunkRecord<'_>> = note
            .chunks
            .iter()
            .map(|c| ChunkRecord {
                heading_path: &c.chunk.heading_path,
                start_line: c.chunk.start_line,
                end_line: c.chunk.end_line,
                block_id: c.chunk.block_id.as_deref(),
                text: &c.chunk.text,
                content_hash: &c.hash,
            })
            .collect();
        let written = notes::write_note(tx, &record, &chunks)?;
        if note.warnings.is_empty() {
            notes::clear_failure(tx, path)?;
        } else {
            notes::set_failure(tx, path, &note.warnings.join("; "), None)?;
        }
        summary.notes_indexed += 1;
        Ok(MatrixOp::Replace {
            removed: written.removed_chunks,
            note_id: written.note_id,
            chunks: written
                .chunk_ids
                .into_iter()
                .zip(note.chunks.iter().map(|c| c.hash))
                .collect(),
        })
    }

    /// Applies committed changes to the in-memory matrix. Vectors embedded in this batch are
    /// rounded through f16 like stored ones, so memory matches what a restart loads.
    /// With `expect_vectors` off (a lexical-first batch), chunks without a vector are the ones
    /// embedded later in the pass, not a problem to report.
    fn apply(
        &self,
        ops: Vec<MatrixOp>,
        fresh: &HashMap<ContentHash, Vec<f32>>,
        expect_vectors: bool,
    ) -> Result<(), IndexError> {
        let wanted: HashSet<ContentHash> = ops
            .iter()
            .flat_map(|op| match op {
                MatrixOp::Replace { chunks, .. } => chunks.iter().map(|c| c.1).collect(),
                MatrixOp::RemoveChunks(_) => Vec::new(),
            })
            .filter(|h| !fresh.contains_key(h))
            .collect();
        let dims = self.searcher.embedder().dim();
        let mut vectors = embeddings::load(
            &self.searcher.store().reader()?,
            self.searcher.fingerprint_id(),
            dims,
            wanted.iter(),
        )?;
        for (h, v) in fresh {
            vectors.insert(*h, f16_round_trip(v));
        }
        let mut matrix = self.searcher.matrix().write();
        for op in ops {
            match op {
                MatrixOp::RemoveChunks(ids) => {
                    for id in ids {
                        matrix.remove(id);
                    }
                }
                MatrixOp::Replace {
                    removed,
                    note_id,
                    chunks,
                } => {
                    for id in removed {
                        matrix.remove(id);
                    }
                    for (id, hash) in chunks {
                        match vectors.get(&hash) {
                            Some(v) => matrix.upsert(id, note_id, v)?,
                            None if expect_vectors => {
                                tracing::warn!(chunk = id, "chunk has no usable vector")
                            }
                            None => {}
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Embeds `todo` in groups, checking for pause and stop between groups. A group the
    /// embedder rejects is retried one text at a time, so one bad text fails only its note.
    fn embed_texts(
        &self,
        todo: &[(ContentHash, &str, &str)],
        summary: &mut IndexSummary,
        report: ProgressFn<'_>,
    ) -> Result<Embedded, IndexError> {
        let mut out = Embedded::default();
        let dims = self.searcher.embedder().dim();
        for group in todo.chunks(EMBED_GROUP) {
            if !self.control.proceed(&self.counters) {
                out.stopped = true;
                break;
            }
            let docs: Vec<DocumentText<'_>> = group
                .iter()
                .map(|(_, title, text)| DocumentText {
                    title: Some(title),
                    text,
                })
                .collect();
            let started = std::time::Instant::now();
            let results: Vec<Result<Vec<f32>, String>> =
                match self.searcher.embedder().embed_documents(&docs) {
                    Ok(vs) if vs.len() == docs.len() => vs.into_iter().map(Ok).collect(),
                    Ok(vs) => {
                        return Err(IndexError::Embed {
                            source: EmbedError::Inference {
                                message: format!(
                                    "{} vectors returned for {} texts",
                                    vs.len(),
                                    docs.len()
                                ),
                            },
                        })
                    }
                    Err(e) if is_fatal(&e) => return Err(e.into()),
                    Err(_) => {
                        let mut one_by_one = Vec::with_capacity(docs.len());
                        for d in &docs {
                            one_by_one.push(
                                match self
                                    .searcher
                                    .embedder()
                                    .embed_documents(std::slice::from_ref(d))
                                {
                                    Ok(mut v) if v.len() == 1 => Ok(v.remove(0)),
                                    Ok(_) => Err("no vector returned".to_string()),
                                    Err(e) if is_fatal(&e) => return Err(e.into()),
                                    Err(e) => Err(e.to_string()),
                                },
                            );
                        }
                        one_by_one
                    }
                };
            let mut tokens = 0u64;
            let mut count = 0u64;
            for ((hash, _, text), result) in group.iter().zip(results) {
                match result {
                    Ok(v) if v.len() == dims && v.iter().all(|x| x.is_finite()) => {
                        tokens += self.searcher.embedder().count_tokens(text) as u64;
                        count += 1;
                        out.vectors.insert(*hash, v);
                    }
                    Ok(v) => {
                        out.failed.insert(
                            *hash,
                            format!("the embedder returned {} values (expected {dims}) or non-finite values", v.len()),
                        );
                    }
                    Err(message) => {
                        out.failed.insert(*hash, message);
                    }
                }
            }
            summary.chunks_embedded += count;
            summary.tokens_embedded += tokens;
            self.counters.chunks_embedded.fetch_add(count, Relaxed);
            self.counters.tokens_embedded.fetch_add(tokens, Relaxed);
            report(&self.counters.snapshot());
            // Background indexing where the priority cannot be lowered and raised again: other
            // programs that kept the CPU busy get it back for as long as this group took.
            if let Some(rest) = vault_rag_priority::yield_after(started.elapsed()) {
                self.control.rest(rest);
            }
        }
        Ok(out)
    }

    /// Embeds and stores one group of chunk texts that lack a vector, and makes their chunks
    /// searchable. Returns false when a stop interrupted it.
    pub(super) fn fill_group(
        &self,
        rows: &[MissingChunk],
        summary: &mut IndexSummary,
        report: ProgressFn<'_>,
    ) -> Result<bool, IndexError> {
        let texts: Vec<String> = rows
            .iter()
            .map(|r| {
                Chunk {
                    heading_path: r.heading_path.clone(),
                    start_line: 0,
                    end_line: 0,
                    block_id: None,
                    text: r.text.clone(),
                }
                .embed_text()
            })
            .collect();
        let todo: Vec<(ContentHash, &str, &str)> = rows
            .iter()
            .zip(&texts)
            .map(|(r, t)| (r.hash, r.title.as_str(), t.as_str()))
            .collect();
        let embedded = self.embed_texts(&todo, summary, report)?;
        let mut ops = Vec::new();
        self.searcher.store().write("storing vectors", |tx| {
            for (hash, message) in &embedded.failed {
                tracing::warn!(hash = %hex(hash), %message, "a chunk could not be embedded");
                let reason = format!("embedding failed: {message}; found by keyword search only");
                for note in notes::paths_with_hash(tx, hash)? {
                    notes::set_failure(tx, &note, &reason, None)?;
                }
            }
            for (hash, v) in &embedded.vectors {
                embeddings::insert(tx, self.searcher.fingerprint_id(), hash, v)?;
                for (chunk_id, note_id) in notes::chunks_with_hash(tx, hash)? {
                    ops.push(MatrixOp::Replace {
                        removed: Vec::new(),
                        note_id,
                        chunks: vec![(chunk_id, *hash)],
                    });
                }
            }
            Ok(())
        })?;
        self.apply(ops, &embedded.vectors, true)?;
        let done = embedded.vectors.len() as u64;
        let _ = self
            .counters
            .vectors_missing
            .fetch_update(Relaxed, Relaxed, |m| Some(m.saturating_sub(done)));
        self.counters.batches_committed.fetch_add(1, Relaxed);
        report(&self.counters.snapshot());
        Ok(!embedded.stopped)
    }
}

/// Errors that no retry of a single text can fix: the model or runtime is unusable.
fn is_fatal(e: &EmbedError) -> bool {
    !matches!(e, EmbedError::Inference { .. })
}

fn f16_round_trip(v: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; v.len()];
    decode_f16_into(&encode_f16(v), &mut out);
    out
}

fn hex(hash: &ContentHash) -> String {
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn failure(path: &str, reason: &str) -> NoteFailure {
    NoteFailure {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}
