//! Lexical-first passes: keyword search covers the vault before anything is embedded, hybrid
//! search says how much of it the dense side sees, and embedding goes newest note first.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Condvar, Mutex};
use vault_rag_core::fake::HashEmbedder;
use vault_rag_core::{
    DocumentText, EmbedError, Embedder, EmbedderFingerprint, SearchMode, SearchRequest,
};

use super::tests::Fixture;
use crate::engine::Engine;

/// HashEmbedder that records the documents it is given and holds them until opened.
struct GatedEmbedder {
    inner: HashEmbedder,
    open: Mutex<bool>,
    wake: Condvar,
    seen: Mutex<Vec<String>>,
    /// Calls that reached the gate.
    entered: AtomicUsize,
}

impl GatedEmbedder {
    fn new(open: bool) -> Arc<Self> {
        Arc::new(Self {
            inner: HashEmbedder::new(32),
            open: Mutex::new(open),
            wake: Condvar::new(),
            seen: Mutex::new(Vec::new()),
            entered: AtomicUsize::new(0),
        })
    }

    fn open(&self) {
        *self.open.lock() = true;
        self.wake.notify_all();
    }
}

impl Embedder for GatedEmbedder {
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
        self.entered.fetch_add(1, SeqCst);
        let mut open = self.open.lock();
        while !*open {
            self.wake.wait(&mut open);
        }
        drop(open);
        self.seen
            .lock()
            .extend(docs.iter().map(|d| d.title.unwrap_or_default().to_string()));
        self.inner.embed_documents(docs)
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn set_mtime(f: &Fixture, rel: &str, secs_ago: u64) {
    let file = std::fs::File::options()
        .write(true)
        .open(f.vault.path().join(rel))
        .unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(secs_ago))
        .unwrap();
}

#[test]
fn keyword_search_covers_the_vault_before_any_chunk_is_embedded() {
    let f = Fixture::new();
    for i in 0..20 {
        f.write(
            &format!("n{i:02}.md"),
            &format!("# Note {i}\n\nShared words about gardening. Unique marker zq{i}x.\n"),
        );
    }
    let embedder = GatedEmbedder::new(false);
    let engine = Engine::open(f.settings(), embedder.clone()).unwrap();
    let indexing = {
        let engine = engine.clone();
        std::thread::spawn(move || engine.reconcile(&|_| {}).unwrap())
    };
    // Every note is in the index while the embedder has not returned a single vector.
    wait_for("notes written", || engine.status().notes_indexed == 20);
    assert!(embedder.seen.lock().is_empty());
    assert_eq!(engine.status().vectors_loaded, 0);
    // The work waiting behind the keyword pass is shown while it waits.
    wait_for("embedding counted", || {
        engine.status().vectors_missing == 20
    });
    let lexical = engine
        .search(&SearchRequest {
            mode: SearchMode::Lexical,
            ..SearchRequest::new("zq17x")
        })
        .unwrap();
    assert_eq!(lexical.hits.len(), 1);
    assert_eq!(lexical.hits[0].path, "n17.md");
    // Hybrid works too, on the keyword side, and says the dense side sees nothing yet.
    let hybrid = engine
        .search(&SearchRequest::new("zq3x gardening"))
        .unwrap();
    assert_eq!(hybrid.hits[0].path, "n03.md");
    assert_eq!(hybrid.dense_coverage, 0.0);
    assert!(!hybrid.index_complete);

    embedder.open();
    let summary = indexing.join().unwrap();
    assert_eq!(summary.notes_indexed, 20);
    assert_eq!(summary.chunks_embedded, 20);
    assert!(engine.is_complete());
    let done = engine
        .search(&SearchRequest::new("zq3x gardening"))
        .unwrap();
    assert_eq!(done.dense_coverage, 1.0);
    assert_eq!(engine.status().vectors_missing, 0);
    engine.shutdown();
}

#[test]
fn embedding_goes_newest_note_first() {
    let f = Fixture::new();
    // Written in one order, modified (by mtime) in another.
    let ages = [
        ("old.md", 3000),
        ("newest.md", 10),
        ("middle.md", 500),
        ("older.md", 2000),
    ];
    for (name, _) in ages {
        let title = name.trim_end_matches(".md");
        f.write(
            name,
            &format!(
                "# {title}\n\nFirst section of {title}.\n\n## More\n\nSecond section of {title}.\n"
            ),
        );
    }
    for (name, age) in ages {
        set_mtime(&f, name, age);
    }
    let embedder = GatedEmbedder::new(true);
    let mut settings = f.settings();
    // Small chunks, so that every note has several.
    settings.chunk.max_tokens = 8;
    settings.chunk.min_tokens = 1;
    settings.chunk.overlap_tokens = 0;
    let engine = Engine::open(settings, embedder.clone()).unwrap();
    engine.reconcile(&|_| {}).unwrap();
    let mut seen = embedder.seen.lock().clone();
    assert!(seen.len() >= 8, "{seen:?}");
    // A note's chunks go together (one run per note), newest note first.
    seen.dedup();
    assert_eq!(seen, ["newest", "middle", "older", "old"]);
    engine.shutdown();
}

/// Notes the user opens while sections wait are embedded next, ahead of newer notes; a path
/// that is not indexed is ignored.
#[test]
fn open_notes_are_embedded_next() {
    let f = Fixture::new();
    for i in 0..40 {
        f.write(
            &format!("n{i:02}.md"),
            &format!("# n{i:02}\n\nText number {i}.\n"),
        );
        set_mtime(&f, &format!("n{i:02}.md"), 10 + i * 10);
    }
    let embedder = GatedEmbedder::new(false);
    let engine = Engine::open(f.settings(), embedder.clone()).unwrap();
    let indexing = {
        let engine = engine.clone();
        std::thread::spawn(move || engine.reconcile(&|_| {}).unwrap())
    };
    // The first group (the 32 newest notes) is at the embedder when the user opens two of
    // the oldest notes, and one that is not in the index.
    wait_for("first group sent", || embedder.entered.load(SeqCst) == 1);
    engine.focus(vec!["n38.md".into(), "nowhere.md".into(), "n35.md".into()]);
    embedder.open();
    let summary = indexing.join().unwrap();
    assert_eq!(summary.chunks_embedded, 40);
    let seen = embedder.seen.lock().clone();
    let newest: Vec<String> = (0..32).map(|i| format!("n{i:02}")).collect();
    assert_eq!(seen[..32], newest[..]);
    assert_eq!(seen[32..34], ["n38", "n35"], "{seen:?}");
    assert_eq!(seen[34..], ["n32", "n33", "n34", "n36", "n37", "n39"]);
    engine.shutdown();
}

/// A hold (the user is typing) stops indexing between groups of work and ends by itself; a
/// second hold while one runs extends it. No resume call is made.
#[test]
fn a_hold_while_typing_resumes_by_itself() {
    let f = Fixture::new();
    for i in 0..8 {
        f.write(&format!("n{i}.md"), &format!("# Note {i}\n\nText {i}.\n"));
    }
    let engine = Engine::open(f.settings(), GatedEmbedder::new(true)).unwrap();
    let started = Instant::now();
    engine.hold(Duration::from_millis(400));
    let indexing = {
        let engine = engine.clone();
        std::thread::spawn(move || engine.reconcile(&|_| {}).unwrap())
    };
    wait_for("held", || {
        engine.status().state == crate::IndexState::Paused
    });
    assert_eq!(engine.status().notes_indexed, 0);
    std::thread::sleep(Duration::from_millis(200));
    // Typing goes on: the hold now ends 400 ms from here.
    let extended = Instant::now();
    engine.hold(Duration::from_millis(400));
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(engine.status().state, crate::IndexState::Paused);
    assert_eq!(engine.status().notes_indexed, 0);
    let summary = indexing.join().unwrap();
    assert!(extended.elapsed() >= Duration::from_millis(400));
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(summary.notes_indexed, 8);
    assert_eq!(engine.status().state, crate::IndexState::Idle);
    // A hold is capped, and a resume ends one at once.
    engine.hold(Duration::from_secs(3600));
    engine.resume();
    assert_ne!(engine.status().state, crate::IndexState::Paused);
    engine.shutdown();
}
