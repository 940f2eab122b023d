//! A damaged index file met by the real binary: `vault-rag index` moves it aside (with its
//! log), says so on stderr, and builds a new index; a newer schema is refused without touching
//! the file; an index of another embedder is re-embedded in place, not thrown away.

use crate::reliability_support;

use std::path::{Path, PathBuf};

use reliability_support::{command, count, generate_vault, index_file, index_json, integrity, Rng};
use rusqlite::Connection;

const NOTES: usize = 8;

fn indexed(seed: u64) -> (tempfile::TempDir, tempfile::TempDir) {
    let vault = tempfile::tempdir().unwrap();
    generate_vault(vault.path(), &mut Rng::new(seed), NOTES);
    let data = tempfile::tempdir().unwrap();
    let s = index_json(vault.path(), data.path(), &[]);
    assert_eq!(s["notes_indexed"], NOTES, "{s}");
    (vault, data)
}

fn moved_aside(data: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("index.sqlite.corrupt-")
                && !name.ends_with("-wal")
                && !name.ends_with("-shm")
        })
        .collect();
    out.sort();
    out
}

/// Runs `index` on a damaged file: success, a warning naming both files, the old bytes kept,
/// a complete new index.
fn assert_recovers(vault: &Path, data: &Path, damaged: &[u8], what: &str) {
    let out = command("index", vault, data, &["--json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: {stderr}");
    let moved = moved_aside(data);
    assert_eq!(moved.len(), 1, "{what}: {moved:?}");
    assert_eq!(std::fs::read(&moved[0]).unwrap(), damaged, "{what}");
    let file = index_file(data);
    for needle in [
        "WARN",
        "moved aside",
        &*file.to_string_lossy(),
        &*moved[0].to_string_lossy(),
    ] {
        assert!(stderr.contains(needle), "{what}: no {needle:?} in {stderr}");
    }
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["notes_indexed"], NOTES, "{what}: {summary}");
    assert_eq!(integrity(&file), "ok");
    // The next run uses the new index as it is.
    let again = index_json(vault, data, &[]);
    assert_eq!(again["notes_unchanged"], NOTES, "{what}: {again}");
    assert_eq!(moved_aside(data).len(), 1);
}

#[test]
fn truncated_index_is_moved_aside_and_rebuilt() {
    let (vault, data) = indexed(1);
    let file = index_file(data.path());
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.truncate(bytes.len() / 3);
    std::fs::write(&file, &bytes).unwrap();
    assert_recovers(vault.path(), data.path(), &bytes, "truncated");
}

#[test]
fn garbage_index_is_moved_aside_and_rebuilt() {
    let (vault, data) = indexed(2);
    let file = index_file(data.path());
    // Pages overwritten in the middle of the file: only a check of the whole file finds them.
    let mut bytes = std::fs::read(&file).unwrap();
    let page = 4096;
    assert!(bytes.len() > 4 * page, "{} bytes", bytes.len());
    for (i, b) in bytes[2 * page..4 * page].iter_mut().enumerate() {
        *b = (i * 131 % 256) as u8;
    }
    std::fs::write(&file, &bytes).unwrap();
    assert_recovers(vault.path(), data.path(), &bytes, "garbage pages");

    let (vault, data) = indexed(3);
    let garbage: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(index_file(data.path()), &garbage).unwrap();
    assert_recovers(vault.path(), data.path(), &garbage, "garbage file");
}

#[test]
fn older_schema_version_is_moved_aside_and_rebuilt() {
    let (vault, data) = indexed(4);
    let file = index_file(data.path());
    Connection::open(&file)
        .unwrap()
        .execute(
            "UPDATE meta SET value = '0' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    let bytes = std::fs::read(&file).unwrap();
    assert_recovers(vault.path(), data.path(), &bytes, "schema version 0");
}

#[test]
fn newer_schema_version_is_refused_and_left_untouched() {
    let (vault, data) = indexed(5);
    let file = index_file(data.path());
    Connection::open(&file)
        .unwrap()
        .execute(
            "UPDATE meta SET value = '7' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    let before = std::fs::read(&file).unwrap();
    let out = command("index", vault.path(), data.path(), &[])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&*file.to_string_lossy())
            && stderr.contains("schema version 7")
            && stderr.contains("upgrade vault-rag"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
    assert!(moved_aside(data.path()).is_empty());
}

#[test]
fn index_of_another_embedder_is_re_embedded_in_place() {
    let (vault, data) = indexed(6);
    let file = index_file(data.path());
    // Make the stored index look written by another embedder: its fingerprint and vectors.
    let db = Connection::open(&file).unwrap();
    let chunks = count(&db, "SELECT count(DISTINCT content_hash) FROM chunks");
    let ours: String = db
        .query_row(
            "SELECT value FROM meta WHERE key = 'fingerprint_id'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    db.execute_batch(
        "UPDATE vectors SET fingerprint = 'other-model';
         UPDATE meta SET value = 'other-model' WHERE key = 'fingerprint_id';
         UPDATE meta SET value = json_set(value, '$.model', 'other-model') WHERE key = 'fingerprint';",
    )
    .unwrap();
    drop(db);
    let s = index_json(vault.path(), data.path(), &[]);
    assert!(moved_aside(data.path()).is_empty());
    assert_eq!(s["notes_unchanged"], NOTES, "files are not read again: {s}");
    assert_eq!(s["chunks_embedded"].as_i64().unwrap(), chunks, "{s}");
    let db = Connection::open(&file).unwrap();
    let fingerprints: Vec<String> = db
        .prepare("SELECT DISTINCT fingerprint FROM vectors")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        fingerprints,
        [ours],
        "the other embedder's vectors go once ours are complete"
    );
}
