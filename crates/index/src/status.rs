//! What an index on disk holds, read without opening it for writing, taking its lock or loading
//! a model: for `vault-rag status` while a server or an indexing run uses the index.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;
use vault_rag_core::EmbedderFingerprint;

use crate::error::IndexError;
use crate::lock::IndexLock;
use crate::scan::{scan, VaultFilter};
use crate::settings::{IndexSettings, INDEX_FILE, LOCK_FILE};
use crate::store::{embeddings, notes, NoteFailure, Store};
use crate::SCHEMA_VERSION;

/// Notes whose file differs from the index (what the next pass will do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PendingChanges {
    pub new: u64,
    pub changed: u64,
    pub deleted: u64,
}

/// The state of an index file.
#[derive(Debug, Clone, Serialize)]
pub struct StoredStatus {
    pub vault: PathBuf,
    pub index_path: PathBuf,
    /// Database plus write-ahead log.
    pub index_size_bytes: u64,
    pub schema_version: u32,
    /// The embedder recorded in the index (the last one that opened it).
    pub model: Option<EmbedderFingerprint>,
    pub fingerprint: Option<String>,
    pub notes_indexed: u64,
    pub chunks: u64,
    /// Stored vectors of the recorded embedder.
    pub vectors: u64,
    /// Chunk texts without a vector of the recorded embedder.
    pub vectors_missing: u64,
    pub pending: PendingChanges,
    /// Nothing pending and nothing missing.
    pub complete: bool,
    pub failures: Vec<NoteFailure>,
    /// Process id of the vault-rag process using the index, when one does (`Some(None)` when
    /// its id is unknown).
    pub in_use_by: Option<Option<u32>>,
}

/// The embedder recorded in the index of `settings.vault`, without scanning the vault; `None`
/// when there is no index yet (or it records none).
pub fn recorded_embedder(
    settings: &IndexSettings,
) -> Result<Option<EmbedderFingerprint>, IndexError> {
    let index_path = settings.resolve_data_dir()?.join(INDEX_FILE);
    if !index_path.exists() {
        return Ok(None);
    }
    Store::open_read_only(&index_path)?.fingerprint()
}

/// Reads the status of the index of `settings.vault` and compares it with the files on disk.
pub fn stored_status(settings: &IndexSettings) -> Result<StoredStatus, IndexError> {
    let vault = settings.canonical_vault()?;
    let data_dir = settings.resolve_data_dir()?;
    let index_path = data_dir.join(INDEX_FILE);
    let store = Store::open_read_only(&index_path)?;
    let model = store.fingerprint()?;
    let fingerprint = model.as_ref().map(EmbedderFingerprint::id);
    let reader = store.reader()?;
    let (notes_indexed, chunks) = notes::counts(&reader)?;
    let (vectors, vectors_missing) = match &fingerprint {
        Some(fp) => (
            reader.count_vectors(fp)?,
            embeddings::count_missing(&reader, fp)?,
        ),
        None => (0, chunks),
    };
    let known = notes::note_states(&reader)?;
    let skipped = notes::skipped_files(&reader)?;
    let failures = notes::failures(&reader)?;
    drop(reader);
    let pending = pending_changes(settings, &vault, &known, &skipped)?;
    let complete = pending == PendingChanges::default() && vectors_missing == 0;
    Ok(StoredStatus {
        vault,
        index_size_bytes: store.size_bytes(),
        index_path,
        schema_version: SCHEMA_VERSION,
        model,
        fingerprint,
        notes_indexed,
        chunks,
        vectors,
        vectors_missing,
        pending,
        complete,
        failures,
        in_use_by: IndexLock::holder(&data_dir.join(LOCK_FILE)),
    })
}

/// Compares a scan (metadata only, no file is read) with the index.
fn pending_changes(
    settings: &IndexSettings,
    vault: &std::path::Path,
    known: &HashMap<String, notes::NoteState>,
    skipped: &HashMap<String, (i64, u64)>,
) -> Result<PendingChanges, IndexError> {
    let scanned = scan(vault, &VaultFilter::load(settings, vault)?);
    let mut pending = PendingChanges::default();
    for note in &scanned.notes {
        let file = (note.mtime_ns, note.size);
        match known.get(note.path.as_str()) {
            Some(k) if (k.mtime_ns, k.size) == file => {}
            Some(_) => pending.changed += 1,
            None if skipped.get(note.path.as_str()) == Some(&file) => {}
            None => pending.new += 1,
        }
    }
    let present: std::collections::HashSet<&str> =
        scanned.notes.iter().map(|n| n.path.as_str()).collect();
    pending.deleted = known
        .keys()
        .filter(|p| !present.contains(p.as_str()) && !scanned.is_uncertain(p))
        .count() as u64;
    Ok(pending)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use vault_rag_core::fake::HashEmbedder;

    use super::*;
    use crate::engine::Engine;
    use crate::indexer::tests::Fixture;

    #[test]
    fn status_reads_while_an_engine_holds_the_index() {
        let f = Fixture::new();
        f.write("a.md", "# A\n\nsome text\n");
        f.write("b.md", "\0\0binary");
        let err = stored_status(&f.settings()).unwrap_err();
        assert!(matches!(err, IndexError::NoIndex { .. }), "{err:?}");
        let engine = Engine::open(f.settings(), Arc::new(HashEmbedder::new(16))).unwrap();
        engine.reconcile(&|_| {}).unwrap();
        f.write("c.md", "new");
        let s = stored_status(&f.settings()).unwrap();
        assert_eq!((s.notes_indexed, s.vectors_missing), (1, 0));
        assert!(s.chunks >= 1 && s.vectors >= 1);
        assert_eq!(
            s.pending,
            PendingChanges {
                new: 1,
                changed: 0,
                deleted: 0
            }
        );
        assert!(!s.complete);
        assert_eq!(s.failures.len(), 1, "the binary note");
        assert_eq!(s.in_use_by, Some(Some(std::process::id())));
        assert_eq!(s.model.unwrap().dims, 16);
        drop(engine);
        assert_eq!(stored_status(&f.settings()).unwrap().in_use_by, None);
    }
}
