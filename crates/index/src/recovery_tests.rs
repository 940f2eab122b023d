//! A damaged index file is found at open, moved aside (never deleted) with its log, and a new
//! index is built; a newer schema is refused and a foreign database left alone; another
//! embedder is not damage.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::*;
use crate::indexer::tests::{count, open, pass, Fixture, TestEmbedder};

/// Runs `f` with the log captured; returns its result and the log text.
fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).write(b)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
    (out, text)
}

/// Files in the data dir whose name starts with `index.sqlite.corrupt-`.
fn moved_aside(f: &Fixture) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(f.data.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("index.sqlite.corrupt-")
                    && !n.ends_with("-wal")
                    && !n.ends_with("-shm")
            })
        })
        .collect();
    out.sort();
    out
}

/// A vault of three notes, indexed and closed (the log checkpointed into the file).
fn indexed_fixture() -> Fixture {
    let f = Fixture::new();
    for (name, text) in [
        ("a.md", "# Alpha\n\nRivers carry water to the sea.\n"),
        ("b.md", "# Beta\n\nBread rises with a sourdough starter.\n"),
        ("c.md", "# Gamma\n\nComets have long bright tails.\n"),
    ] {
        f.write(name, text);
    }
    let engine = open(&f, TestEmbedder::new(16));
    assert_eq!(pass(&engine).notes_indexed, 3);
    drop(engine);
    f
}

fn index_path(f: &Fixture) -> PathBuf {
    f.data.path().join("index.sqlite")
}

/// Opens the damaged index: it must be moved aside byte for byte, the log must say so, and a
/// pass must build a complete new index.
fn assert_recovers(f: &Fixture, damaged: &[u8], what: &str) {
    let (engine, log) = logged(|| Engine::open(f.settings(), TestEmbedder::new(16)));
    let engine = engine.unwrap_or_else(|e| panic!("{what}: {e}"));
    let moved = moved_aside(f);
    assert_eq!(moved.len(), 1, "{what}: {moved:?}");
    assert_eq!(fs::read(&moved[0]).unwrap(), damaged, "{what}: bytes kept");
    assert!(
        log.contains("moved aside") && log.contains(&*moved[0].to_string_lossy()),
        "{what}: {log}"
    );
    assert!(log.contains("WARN"), "{what}: {log}");
    let s = pass(&engine);
    assert_eq!((s.notes_indexed, s.notes_failed), (3, 0), "{what}: {s:?}");
    let db = f.db();
    assert_eq!(count(&db, "SELECT count(*) FROM notes"), 3);
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

fn rewrite(path: &Path, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = fs::read(path).unwrap();
    edit(&mut bytes);
    fs::write(path, &bytes).unwrap();
    bytes
}

#[test]
fn truncated_index_is_moved_aside_and_rebuilt() {
    let f = indexed_fixture();
    let bytes = rewrite(&index_path(&f), |b| b.truncate(b.len() / 2));
    assert_recovers(&f, &bytes, "truncated");
    // Cut inside the 100-byte header too.
    let f = indexed_fixture();
    let bytes = rewrite(&index_path(&f), |b| b.truncate(40));
    assert_recovers(&f, &bytes, "truncated header");
}

#[test]
fn garbage_is_moved_aside_and_rebuilt() {
    let f = indexed_fixture();
    let garbage: Vec<u8> = (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    fs::write(index_path(&f), &garbage).unwrap();
    assert_recovers(&f, &garbage, "garbage file");

    // Garbage over pages in the middle: the header is fine; quick_check finds it.
    let f = indexed_fixture();
    let bytes = rewrite(&index_path(&f), |b| {
        let page = 4096;
        assert!(b.len() >= 4 * page, "{} bytes", b.len());
        for (i, x) in b[page..3 * page].iter_mut().enumerate() {
            *x = (i * 31 % 256) as u8;
        }
    });
    assert_recovers(&f, &bytes, "garbage pages");
}

#[test]
fn moving_aside_takes_the_log_and_shared_memory_along() {
    // When SQLite itself opened the damaged file first, closing it folds a valid log into the
    // file; a log found next to a file that fails before SQLite sees it moves with it.
    let f = indexed_fixture();
    let path = index_path(&f);
    let bytes = rewrite(&path, |b| b.truncate(b.len() / 2));
    for suffix in ["-wal", "-shm"] {
        fs::write(damage::with_suffix(&path, suffix), suffix).unwrap();
    }
    let moved = damage::move_aside(&path).unwrap();
    assert_eq!(fs::read(&moved).unwrap(), bytes);
    for suffix in ["-wal", "-shm"] {
        assert!(!damage::with_suffix(&path, suffix).exists());
        let kept = fs::read(damage::with_suffix(&moved, suffix)).unwrap();
        assert_eq!(kept, suffix.as_bytes());
    }
}

#[test]
fn older_or_unreadable_schema_version_is_moved_aside_and_rebuilt() {
    for version in ["0", "banana"] {
        let f = indexed_fixture();
        f.db()
            .execute(
                "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                [version],
            )
            .unwrap();
        let bytes = fs::read(index_path(&f)).unwrap();
        assert_recovers(&f, &bytes, version);
    }
    let f = indexed_fixture();
    f.db()
        .execute("DELETE FROM meta WHERE key = 'schema_version'", [])
        .unwrap();
    let bytes = fs::read(index_path(&f)).unwrap();
    assert_recovers(&f, &bytes, "no version");
}

#[test]
fn newer_schema_and_foreign_database_are_refused_and_left_in_place() {
    let f = indexed_fixture();
    f.db()
        .execute(
            "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    let before = fs::read(index_path(&f)).unwrap();
    let err = Engine::open(f.settings(), TestEmbedder::new(16))
        .err()
        .unwrap();
    assert!(matches!(err, IndexError::SchemaVersion { .. }), "{err:?}");
    assert!(err.to_string().contains("upgrade vault-rag"), "{err}");
    assert!(moved_aside(&f).is_empty());
    assert_eq!(fs::read(index_path(&f)).unwrap(), before);

    let f = Fixture::new();
    let c = rusqlite::Connection::open(index_path(&f)).unwrap();
    c.execute_batch("CREATE TABLE mine(x); INSERT INTO mine VALUES (1);")
        .unwrap();
    drop(c);
    let err = Engine::open(f.settings(), TestEmbedder::new(16))
        .err()
        .unwrap();
    assert!(matches!(err, IndexError::NotAnIndex { .. }), "{err:?}");
    assert!(moved_aside(&f).is_empty());
}

#[test]
fn another_embedder_is_not_damage() {
    // Vectors are keyed by embedder fingerprint: a new embedder adds its own and the old ones
    // go once the new set is complete; notes, chunks and failures are kept, files not re-read.
    let f = indexed_fixture();
    let (engine, log) = logged(|| Engine::open(f.settings(), TestEmbedder::new(24)));
    let engine = engine.unwrap();
    assert!(moved_aside(&f).is_empty());
    assert!(!log.contains("moved aside"), "{log}");
    let s = pass(&engine);
    assert_eq!((s.notes_unchanged, s.notes_indexed), (3, 0), "{s:?}");
    assert!(s.chunks_embedded >= 3, "{s:?}");
}

#[test]
fn two_damaged_files_in_the_same_second_get_distinct_names() {
    let f = indexed_fixture();
    let path = index_path(&f);
    fs::write(&path, b"garbage one").unwrap();
    let first = damage::move_aside(&path).unwrap();
    fs::write(&path, b"garbage two").unwrap();
    let second = damage::move_aside(&path).unwrap();
    assert_ne!(first, second);
    assert_eq!(fs::read(first).unwrap(), b"garbage one");
    assert_eq!(fs::read(second).unwrap(), b"garbage two");
    assert!(!path.exists());
}
