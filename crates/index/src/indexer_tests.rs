//! Incremental indexing with the deterministic test embedder: what gets embedded, what is kept,
//! what is removed. The same behaviours are checked with the real model in `tests/`.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rusqlite::Connection;
use vault_rag_core::fake::HashEmbedder;
use vault_rag_core::{DocumentText, EmbedError, Embedder, EmbedderFingerprint};

use crate::engine::Engine;
use crate::progress::IndexSummary;
use crate::settings::IndexSettings;

/// HashEmbedder that counts documents and refuses texts containing `POISON`.
pub(crate) struct TestEmbedder {
    inner: HashEmbedder,
    docs: AtomicUsize,
}

impl TestEmbedder {
    pub fn new(dims: usize) -> Arc<Self> {
        Arc::new(Self {
            inner: HashEmbedder::new(dims),
            docs: AtomicUsize::new(0),
        })
    }
}

impl Embedder for TestEmbedder {
    fn fingerprint(&self) -> &EmbedderFingerprint {
        self.inner.fingerprint()
    }
    fn count_tokens(&self, text: &str) -> usize {
        self.inner.count_tokens(text)
    }
    fn embed_queries(&self, q: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed_queries(q)
    }
    fn embed_documents(&self, docs: &[DocumentText<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if docs.iter().any(|d| d.text.contains("POISON")) {
            return Err(EmbedError::Inference {
                message: "refused".into(),
            });
        }
        self.docs.fetch_add(docs.len(), Ordering::SeqCst);
        self.inner.embed_documents(docs)
    }
}

pub(crate) struct Fixture {
    pub vault: tempfile::TempDir,
    pub data: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        Self {
            vault: tempfile::tempdir().unwrap(),
            data: tempfile::tempdir().unwrap(),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.vault.path().canonicalize().unwrap()
    }

    pub fn settings(&self) -> IndexSettings {
        let mut s = IndexSettings::new(self.vault.path());
        s.data_dir = Some(self.data.path().to_path_buf());
        s.commit.notes = 4;
        s
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.vault.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    pub fn db(&self) -> Connection {
        Connection::open(self.data.path().join("index.sqlite")).unwrap()
    }
}

pub(crate) fn open(f: &Fixture, e: Arc<dyn Embedder>) -> Arc<Engine> {
    Engine::open(f.settings(), e).unwrap()
}

pub(crate) fn pass(engine: &Engine) -> IndexSummary {
    engine.reconcile(&|_| {}).unwrap()
}

pub(crate) fn count(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Every row that defines the index content, ids left out (they depend on history).
pub(crate) fn content_rows(db: &Connection) -> Vec<String> {
    // The full-text table is contentless: compare its terms (with positions) instead.
    db.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms USING fts5vocab(main, chunks_fts, instance)",
    )
    .unwrap();
    let mut out = Vec::new();
    let mut q = |sql: &str| {
        let mut stmt = db.prepare(sql).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                let mut s = String::new();
                for i in 0..n {
                    s.push_str(&format!("{:?}|", r.get_ref(i).unwrap()));
                }
                Ok(s)
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    };
    q("SELECT path, mtime_ns, size, hex(content_hash), title, tags, aliases, links FROM notes ORDER BY path");
    q("SELECT n.path, c.ord, c.heading_path, c.start_line, c.end_line, c.block_id, c.text, hex(c.content_hash)
       FROM chunks c JOIN notes n ON n.id = c.note_id ORDER BY n.path, c.ord");
    q(
        "SELECT n.path, c.ord, v.col, v.offset, v.term FROM temp.fts_terms v
       JOIN chunks c ON c.id = v.doc JOIN notes n ON n.id = c.note_id
       ORDER BY n.path, c.ord, v.col, v.offset",
    );
    q("SELECT hex(content_hash), fingerprint, hex(vec) FROM vectors ORDER BY 1, 2");
    q("SELECT path, reason FROM failures ORDER BY path");
    out
}

const NOTE_A: &str = "# Alpha\n\nThe first section talks about rust ownership.\n\n## Second\n\nBorrowing rules and lifetimes.\n";

#[test]
fn unchanged_vault_embeds_nothing_and_rename_reuses_vectors() {
    let f = Fixture::new();
    f.write("a.md", NOTE_A);
    f.write(
        "dir/b.md",
        "# Beta\n\nBread baking with sourdough starter.\n",
    );
    let e = TestEmbedder::new(64);
    let engine = open(&f, e.clone());
    let first = pass(&engine);
    assert_eq!(first.notes_seen, 2);
    assert_eq!(first.notes_indexed, 2);
    assert!(first.chunks_embedded >= 2, "{first:?}");
    assert_eq!(
        first.chunks_embedded as usize,
        e.docs.load(Ordering::SeqCst)
    );

    let again = pass(&engine);
    assert_eq!(
        (
            again.chunks_embedded,
            again.notes_indexed,
            again.notes_unchanged
        ),
        (0, 0, 2)
    );

    // Touching without changing content: re-read once, not re-embedded.
    let before = e.docs.load(Ordering::SeqCst);
    f.write("a.md", NOTE_A);
    let touched = pass(&engine);
    assert_eq!(touched.chunks_embedded, 0);
    assert_eq!(e.docs.load(Ordering::SeqCst), before);

    fs::create_dir_all(f.vault.path().join("moved")).unwrap();
    fs::rename(
        f.vault.path().join("a.md"),
        f.vault.path().join("moved/renamed.md"),
    )
    .unwrap();
    let moved = pass(&engine);
    assert_eq!(moved.chunks_embedded, 0, "{moved:?}");
    assert_eq!((moved.notes_indexed, moved.notes_deleted), (1, 1));
    assert!(moved.chunks_reused >= 1);
    let db = f.db();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM notes WHERE path = 'moved/renamed.md'"
        ),
        1
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM notes WHERE path = 'a.md'"),
        0
    );
    let hits = engine
        .search(&crate::SearchRequest::new("borrowing lifetimes"))
        .unwrap();
    assert_eq!(hits.hits[0].path, "moved/renamed.md");
}

#[test]
fn editing_one_section_embeds_only_its_chunks() {
    let f = Fixture::new();
    let sections: String = (1..=6)
        .map(|i| {
            format!(
                "## Section {i}\n\nParagraph number {i} about topic {i} with several words.\n\n"
            )
        })
        .collect();
    f.write("long.md", &format!("# Long\n\n{sections}"));
    let mut s = f.settings();
    s.chunk.max_tokens = 24;
    s.chunk.min_tokens = 1;
    s.chunk.overlap_tokens = 0;
    let engine = Engine::open(s, TestEmbedder::new(64)).unwrap();
    let first = pass(&engine);
    assert!(first.chunks_embedded >= 6, "{first:?}");
    let edited = sections.replace("topic 4 with", "an entirely new subject with");
    f.write("long.md", &format!("# Long\n\n{edited}"));
    let second = pass(&engine);
    assert_eq!(second.notes_indexed, 1);
    assert_eq!(second.chunks_embedded, 1, "{second:?}");
    assert_eq!(second.chunks_reused, first.chunks_embedded - 1);
}

#[test]
fn deleting_a_note_removes_chunks_fts_and_orphan_vectors() {
    let f = Fixture::new();
    f.write("keep.md", "# Keep\n\nShared sentence about gardens.\n");
    f.write(
        "gone.md",
        "# Gone\n\nUnique text about volcanoes and lava.\n",
    );
    let engine = open(&f, TestEmbedder::new(32));
    pass(&engine);
    let db = f.db();
    let vectors_before = count(&db, "SELECT count(*) FROM vectors");
    fs::remove_file(f.vault.path().join("gone.md")).unwrap();
    let s = pass(&engine);
    assert_eq!(s.notes_deleted, 1);
    assert_eq!(count(&db, "SELECT count(*) FROM notes"), 1);
    assert_eq!(
        count(&db, "SELECT count(*) FROM chunks_fts"),
        count(&db, "SELECT count(*) FROM chunks")
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'volcanoes'"
        ),
        0
    );
    assert!(count(&db, "SELECT count(*) FROM vectors") < vectors_before);
    assert_eq!(
        count(&db, "SELECT count(*) FROM vectors WHERE content_hash NOT IN (SELECT content_hash FROM chunks)"),
        0
    );
    assert_eq!(
        engine.status().vectors_loaded as i64,
        count(&db, "SELECT count(*) FROM chunks")
    );
}

#[test]
fn fingerprint_change_reembeds_and_never_mixes() {
    let f = Fixture::new();
    f.write("a.md", NOTE_A);
    f.write("b.md", "# B\n\nAnother note entirely.\n");
    let e64 = TestEmbedder::new(64);
    {
        let engine = open(&f, e64.clone());
        pass(&engine);
    }
    let db = f.db();
    let fp64 = e64.fingerprint().id();
    let chunks = count(&db, "SELECT count(*) FROM chunks");
    let e32 = TestEmbedder::new(32);
    let fp32 = e32.fingerprint().id();
    assert_ne!(fp64, fp32);
    let engine = open(&f, e32.clone());
    // Until the pass runs, the new embedder has no vectors: nothing of the old one is loaded.
    assert_eq!(engine.status().vectors_loaded, 0);
    let s = pass(&engine);
    assert_eq!(s.chunks_embedded as i64, chunks, "{s:?}");
    assert_eq!(s.notes_unchanged, 2, "files did not change");
    let fps: Vec<String> = db
        .prepare("SELECT DISTINCT fingerprint FROM vectors")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        fps,
        std::slice::from_ref(&fp32),
        "old vectors dropped once the new set is complete"
    );
    let stored: String = db
        .query_row(
            "SELECT value FROM meta WHERE key = 'fingerprint_id'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, fp32);
    assert_eq!(engine.status().vectors_loaded as i64, chunks);
    assert!(engine.is_complete());
}

#[test]
fn old_vectors_stay_while_the_new_set_is_incomplete() {
    let f = Fixture::new();
    f.write("a.md", NOTE_A);
    f.write("p.md", "# P\n\nThis one has POISON inside.\n");
    // First embedder: the plain one, so both notes index.
    let plain: Arc<dyn Embedder> = Arc::new(HashEmbedder::new(64));
    {
        let engine = open(&f, plain.clone());
        pass(&engine);
    }
    let poison = TestEmbedder::new(48);
    let engine = open(&f, poison);
    let s = pass(&engine);
    assert!(
        s.failures
            .iter()
            .any(|f| f.path == "p.md" && f.reason.contains("embedding failed")),
        "{s:?}"
    );
    let db = f.db();
    let old = count(
        &db,
        &format!(
            "SELECT count(*) FROM vectors WHERE fingerprint = '{}'",
            plain.fingerprint().id()
        ),
    );
    assert!(
        old > 0,
        "the old set is kept while a chunk has no new vector"
    );
    assert_eq!(engine.status().vectors_missing, 1);
}

#[test]
fn stop_mid_pass_keeps_commits_and_resumes_to_the_same_rows() {
    let f = Fixture::new();
    for i in 0..40 {
        f.write(
            &format!("n{i:02}.md"),
            &format!("# Note {i}\n\nBody of note {i} about thing {}.\n", i * 7),
        );
    }
    let clean = Fixture::new();
    for i in 0..40 {
        clean.write(
            &format!("n{i:02}.md"),
            &fs::read_to_string(f.vault.path().join(format!("n{i:02}.md"))).unwrap(),
        );
        let t = fs::metadata(f.vault.path().join(format!("n{i:02}.md")))
            .unwrap()
            .modified()
            .unwrap();
        fs::File::options()
            .write(true)
            .open(clean.vault.path().join(format!("n{i:02}.md")))
            .unwrap()
            .set_modified(t)
            .unwrap();
    }
    {
        let engine = open(&f, TestEmbedder::new(32));
        let e2 = Arc::clone(&engine);
        // Stop from the progress callback after the third commit.
        let s = engine
            .reconcile(&move |p| {
                if p.batches_committed == 3 {
                    e2.shutdown();
                }
            })
            .unwrap();
        assert!(s.interrupted);
        let n = count(&f.db(), "SELECT count(*) FROM notes");
        assert!((12..40).contains(&n), "{n} notes committed");
    }
    let engine = open(&f, TestEmbedder::new(32));
    let resumed = pass(&engine);
    assert!(resumed.notes_unchanged >= 12, "{resumed:?}");
    assert_eq!(resumed.notes_indexed + resumed.notes_unchanged, 40);
    let reference = open(&clean, TestEmbedder::new(32));
    pass(&reference);
    assert_eq!(content_rows(&f.db()), content_rows(&clean.db()));
}

#[test]
fn apply_paths_handles_notes_folders_and_deletions() {
    let f = Fixture::new();
    f.write("a.md", "# A\n\nalpha text\n");
    f.write("dir/b.md", "# B\n\nbeta text\n");
    let engine = open(&f, TestEmbedder::new(32));
    pass(&engine);
    let root = f.root();
    f.write("new.md", "# New\n\ngamma text\n");
    let s = engine.apply_paths(&[root.join("new.md")]).unwrap();
    assert_eq!(s.notes_indexed, 1);
    fs::rename(root.join("dir"), root.join("moved")).unwrap();
    let s = engine
        .apply_paths(&[root.join("dir"), root.join("moved")])
        .unwrap();
    assert_eq!(
        (s.notes_indexed, s.notes_deleted, s.chunks_embedded),
        (1, 1, 0)
    );
    fs::remove_file(root.join("a.md")).unwrap();
    let s = engine
        .apply_paths(&[root.join("a.md"), root.join(".obsidian/workspace.json")])
        .unwrap();
    assert_eq!(s.notes_deleted, 1);
    let paths: Vec<String> = f
        .db()
        .prepare("SELECT path FROM notes ORDER BY path")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(paths, ["moved/b.md", "new.md"]);
}

#[test]
fn changed_chunk_settings_rechunk_every_note() {
    let f = Fixture::new();
    let body: String = (0..40)
        .map(|i| format!("Sentence number {i} of a longer paragraph.\n"))
        .collect();
    f.write("a.md", &format!("# A\n\n{body}"));
    {
        let engine = open(&f, TestEmbedder::new(16));
        pass(&engine);
    }
    let before = count(&f.db(), "SELECT count(*) FROM chunks");
    let mut s = f.settings();
    s.chunk.max_tokens = 40;
    s.chunk.overlap_tokens = 0;
    let engine = Engine::open(s.clone(), TestEmbedder::new(16)).unwrap();
    let r = pass(&engine);
    assert_eq!(r.notes_indexed, 1, "{r:?}");
    assert!(count(&f.db(), "SELECT count(*) FROM chunks") > before);
    drop(engine);
    // Same settings again: nothing to do.
    let engine = Engine::open(s, TestEmbedder::new(16)).unwrap();
    assert_eq!(pass(&engine).notes_indexed, 0);
}
