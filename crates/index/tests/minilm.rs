//! The index with real parts: ONNX Runtime with the MiniLM test model, SQLite files on disk, the
//! `fixtures/vaults/garden` vault, and the operating system's file events.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use vault_rag_core::{Embedder, SearchMode};
use vault_rag_embed::{ModelSpec, OnnxEmbedder, Precision};
use vault_rag_index::Engine;
use vault_rag_index::IndexSummary;
use vault_rag_index::{IndexSettings, LiveState, SearchRequest};

/// The MiniLM test model, loaded once per test binary. Fails (never skips) without it.
fn minilm() -> Arc<dyn Embedder> {
    static MODEL: OnceLock<Arc<dyn Embedder>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let dir = vault_rag_embed::test_model_dir().unwrap_or_else(|e| panic!("{e}"));
            let spec = ModelSpec {
                model: "all-minilm-l6-v2".into(),
                model_dir: Some(dir),
                precision: Precision::Int8,
                threads: Some(2),
                ..ModelSpec::default()
            };
            Arc::new(OnnxEmbedder::load(&spec).expect("load MiniLM"))
        })
        .clone()
}

struct Vault {
    dir: tempfile::TempDir,
    data: tempfile::TempDir,
}

impl Vault {
    /// A copy of `fixtures/vaults/garden`.
    fn garden() -> Self {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/vaults/garden");
        let v = Self {
            dir: tempfile::tempdir().unwrap(),
            data: tempfile::tempdir().unwrap(),
        };
        copy_dir(&src, v.dir.path());
        v
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn settings(&self) -> IndexSettings {
        let mut s = IndexSettings::new(self.dir.path());
        s.data_dir = Some(self.data.path().to_path_buf());
        s.commit.notes = 3;
        s.debounce = Duration::from_millis(200);
        s
    }

    fn db(&self) -> Connection {
        Connection::open(self.data.path().join("index.sqlite")).unwrap()
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            fs::copy(entry.path(), to).unwrap();
        }
    }
}

fn count(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn pass(engine: &Engine) -> IndexSummary {
    engine.reconcile(&|_| {}).unwrap()
}

fn top_path(engine: &Engine, query: &str, mode: SearchMode) -> Option<String> {
    let mut req = SearchRequest::new(query);
    req.mode = mode;
    engine
        .search(&req)
        .unwrap()
        .hits
        .into_iter()
        .next()
        .map(|h| h.path)
}

fn paths(db: &Connection) -> Vec<String> {
    db.prepare("SELECT path FROM notes ORDER BY path")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn incremental_indexing_with_the_real_model() {
    let v = Vault::garden();
    let engine = Engine::open(v.settings(), minilm()).unwrap();
    let first = pass(&engine);
    // Templates/ (prefix filter), Journal/draft-* (regex filter) and .trash are not notes.
    assert_eq!(first.notes_seen, 7, "{first:?}");
    assert_eq!(first.notes_indexed, 7);
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    assert!(
        first.chunks_embedded >= 7 && first.tokens_embedded > 100,
        "{first:?}"
    );
    let db = v.db();
    assert_eq!(
        paths(&db),
        [
            "Journal/2024-03-02.md",
            "Projects/Rust ownership.md",
            "Projects/Sourdough.md",
            "Reference/Cats.md",
            "Reference/Volcanoes.md",
            "Reference/学习.md",
            "Welcome.md"
        ]
    );
    // Semantics come from the model: no query word occurs in the note.
    assert_eq!(
        top_path(&engine, "felines napping", SearchMode::Dense).as_deref(),
        Some("Reference/Cats.md")
    );

    let again = pass(&engine);
    assert_eq!(
        (again.chunks_embedded, again.notes_unchanged),
        (0, 7),
        "{again:?}"
    );

    fs::rename(v.path("Reference/Cats.md"), v.path("Projects/Pets.md")).unwrap();
    let moved = pass(&engine);
    assert_eq!(moved.chunks_embedded, 0, "a move embeds nothing: {moved:?}");
    assert_eq!((moved.notes_indexed, moved.notes_deleted), (1, 1));
    assert_eq!(
        top_path(&engine, "felines napping", SearchMode::Dense).as_deref(),
        Some("Projects/Pets.md")
    );

    let chunks_before = count(&db, "SELECT count(*) FROM chunks WHERE note_id = (SELECT id FROM notes WHERE path = 'Projects/Sourdough.md')");
    let text = fs::read_to_string(v.path("Projects/Sourdough.md")).unwrap();
    let edited = text.replace(
        "The crust turns dark and crackly",
        "Score the loaf with a razor first. The crust turns dark and crackly",
    );
    assert_ne!(text, edited);
    fs::write(v.path("Projects/Sourdough.md"), edited).unwrap();
    let edit = pass(&engine);
    assert_eq!(edit.notes_indexed, 1);
    assert_eq!(edit.chunks_embedded, 1, "only the edited section: {edit:?}");
    assert_eq!(edit.chunks_reused as i64, chunks_before - 1);
    assert_eq!(
        top_path(&engine, "razor loaf scoring", SearchMode::Lexical).as_deref(),
        Some("Projects/Sourdough.md")
    );

    let vectors_before = count(&db, "SELECT count(*) FROM vectors");
    fs::remove_file(v.path("Reference/Volcanoes.md")).unwrap();
    let del = pass(&engine);
    assert_eq!(del.notes_deleted, 1);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM notes WHERE path LIKE '%Volcanoes%'"
        ),
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'magma'"
        ),
        0
    );
    assert!(count(&db, "SELECT count(*) FROM vectors") < vectors_before);
    assert_eq!(
        count(&db, "SELECT count(*) FROM vectors WHERE content_hash NOT IN (SELECT content_hash FROM chunks)"),
        0
    );
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let status = engine.status();
    assert_eq!(status.notes_indexed, 6);
    assert_eq!(status.vectors_loaded as u64, status.chunks);
    assert!(status.complete);
}

#[test]
fn switching_embedders_reembeds_everything_without_mixing() {
    let v = Vault::garden();
    let hash: Arc<dyn Embedder> = Arc::new(vault_rag_core::fake::HashEmbedder::new(384));
    {
        let engine = Engine::open(v.settings(), hash.clone()).unwrap();
        pass(&engine);
    }
    let db = v.db();
    let chunks = count(&db, "SELECT count(DISTINCT content_hash) FROM chunks");
    let engine = Engine::open(v.settings(), minilm()).unwrap();
    assert_eq!(
        engine.status().vectors_loaded,
        0,
        "no vector of another model is ever loaded"
    );
    let s = pass(&engine);
    assert!(s.chunks_embedded as i64 >= chunks, "{s:?}");
    let minilm_fp = minilm().fingerprint().id();
    let fps: Vec<String> = db
        .prepare("SELECT DISTINCT fingerprint FROM vectors")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(fps, [minilm_fp]);
    assert_eq!(
        top_path(&engine, "felines napping", SearchMode::Dense).as_deref(),
        Some("Reference/Cats.md")
    );
}

/// Polls `check` until it holds or `timeout` passes; no fixed sleeps.
fn eventually(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn watcher_applies_create_modify_delete_and_rename() {
    let v = Vault::garden();
    let engine = Engine::open(v.settings(), minilm()).unwrap();
    engine.start_background().unwrap();
    eventually(Duration::from_secs(60), "initial pass", || {
        engine.is_complete()
    });
    assert!(engine.status().watching);
    let db = v.db();
    let has = |path: &str| {
        count(
            &db,
            &format!("SELECT count(*) FROM notes WHERE path = '{path}'"),
        ) == 1
    };
    let limit = Duration::from_secs(10);

    fs::write(
        v.path("Reference/Glaciers.md"),
        "# Glaciers\n\nIce sheets carve valleys into U shapes.\n",
    )
    .unwrap();
    let t = Instant::now();
    eventually(limit, "created note indexed", || {
        has("Reference/Glaciers.md")
    });
    eventually(limit, "created note searchable", || {
        top_path(&engine, "glaciers ice valleys", SearchMode::Lexical).as_deref()
            == Some("Reference/Glaciers.md")
    });
    let created_after = t.elapsed();

    fs::write(
        v.path("Reference/Glaciers.md"),
        "# Glaciers\n\nMoraines are ridges of rock left behind by melting ice.\n",
    )
    .unwrap();
    eventually(limit, "modified note re-indexed", || {
        count(
            &db,
            "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'moraines'",
        ) == 1
    });

    fs::rename(v.path("Reference/Glaciers.md"), v.path("Projects/Ice.md")).unwrap();
    eventually(limit, "renamed note moved", || {
        has("Projects/Ice.md") && !has("Reference/Glaciers.md")
    });

    fs::create_dir(v.path("Archive")).unwrap();
    fs::rename(v.path("Reference"), v.path("Archive/Reference")).unwrap();
    eventually(limit, "renamed folder moved", || {
        has("Archive/Reference/Cats.md") && !has("Reference/Cats.md")
    });

    fs::remove_file(v.path("Projects/Ice.md")).unwrap();
    eventually(limit, "deleted note removed", || !has("Projects/Ice.md"));
    eventually(limit, "search forgets the deleted note", || {
        top_path(&engine, "moraines", SearchMode::Lexical).is_none()
    });

    // Obsidian's own files are not notes, and writing them triggers nothing that fails.
    fs::write(v.path(".obsidian/workspace.json"), "{}").unwrap();
    engine.shutdown();
    assert!(created_after < limit);
    assert_eq!(engine.status().failures.len(), 0);
}

/// The vault folder renamed away and back, then deleted and re-created: while it is gone the
/// status says so and nothing is removed from the index; once it is back, what changed meanwhile
/// is caught up and new edits are indexed again as they happen.
#[test]
fn live_updates_follow_the_vault_folder_away_and_back() {
    let v = Vault::garden();
    let engine = Engine::open(v.settings(), minilm()).unwrap();
    engine.start_background().unwrap();
    eventually(Duration::from_secs(60), "initial pass", || {
        engine.is_complete()
    });
    assert_eq!(engine.status().live_updates, LiveState::On);
    let db = v.db();
    let has = |path: &str| {
        count(
            &db,
            &format!("SELECT count(*) FROM notes WHERE path = '{path}'"),
        ) == 1
    };
    let notes = || count(&db, "SELECT count(*) FROM notes");
    let before = notes();
    let limit = Duration::from_secs(15);
    let root = v.dir.path().to_path_buf();
    let away = root.with_extension("away");
    let live = || engine.status().live_updates;

    fs::rename(&root, &away).unwrap();
    eventually(limit, "the vault reported missing", || {
        live() == LiveState::VaultMissing
    });
    assert!(!engine.status().watching);
    // Edited while away: the old watch still reports it, under the old path.
    fs::write(
        away.join("Reference/Fjords.md"),
        "# Fjords\n\nGlaciers cut fjords below sea level.\n",
    )
    .unwrap();
    fs::remove_file(away.join("Reference/Cats.md")).unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(
        notes(),
        before,
        "nothing is removed while the vault is away"
    );

    fs::rename(&away, &root).unwrap();
    eventually(limit, "live updates back", || live() == LiveState::On);
    eventually(limit, "what changed while away is caught up", || {
        has("Reference/Fjords.md") && !has("Reference/Cats.md")
    });
    fs::write(
        root.join("Reference/Geysers.md"),
        "# Geysers\n\nHot water.\n",
    )
    .unwrap();
    eventually(limit, "a new note indexed by the re-armed watcher", || {
        has("Reference/Geysers.md")
    });

    let copy = tempfile::tempdir().unwrap();
    copy_dir(&root, copy.path());
    fs::remove_dir_all(&root).unwrap();
    eventually(limit, "the deleted vault reported missing", || {
        live() == LiveState::VaultMissing
    });
    fs::create_dir(&root).unwrap();
    copy_dir(copy.path(), &root);
    eventually(limit, "the re-created vault watched", || {
        live() == LiveState::On
    });
    eventually(limit, "the re-created vault indexed", || {
        has("Reference/Geysers.md") && has("Reference/Fjords.md")
    });
    fs::write(
        root.join("Reference/Tides.md"),
        "# Tides\n\nThe moon pulls.\n",
    )
    .unwrap();
    eventually(limit, "a new note in the re-created vault indexed", || {
        has("Reference/Tides.md")
    });
    engine.shutdown();
    assert_eq!(engine.status().live_updates, LiveState::Off);
}
