//! A full disk and a read-only data directory, met by the real binary.
//!
//! A full disk is simulated with a file-size limit (`RLIMIT_FSIZE`, SIGXFSZ ignored) set in the
//! child before it runs: writes past the limit fail with EFBIG, as they fail with ENOSPC on a
//! full disk, and SQLite reports both as "database or disk is full". A read-only data dir is
//! `chmod`; when the tests run as root (whom permission bits do not bind), the child also drops
//! CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its capability bounding set before `exec`.

#![cfg(target_os = "linux")]

use crate::reliability_support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use reliability_support::server::{self, limit_file_size, Server};
use reliability_support::{
    command, count, generate_vault, index_file, index_json, integrity, note_text, rows, Rng,
};
use rusqlite::Connection;
use serde_json::json;

/// Makes the child subject to file permissions even when it runs as root.
fn bound_by_permissions(cmd: &mut Command) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::geteuid() == 0 {
                // CAP_DAC_OVERRIDE = 1, CAP_DAC_READ_SEARCH = 2.
                for cap in [1, 2] {
                    if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
            }
            Ok(())
        });
    }
}

/// A vault of 10 notes, indexed; then 40 more notes that the next run must add.
fn indexed_then_grown(seed: u64) -> (tempfile::TempDir, tempfile::TempDir, Vec<String>) {
    let vault = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(seed);
    generate_vault(vault.path(), &mut rng, 10);
    let data = tempfile::tempdir().unwrap();
    let s = index_json(vault.path(), data.path(), &[]);
    assert_eq!(s["notes_indexed"], 10, "{s}");
    let before = rows(&Connection::open(index_file(data.path())).unwrap());
    for i in 0..40 {
        let text = note_text(&mut rng, 100 + i);
        reliability_support::write(vault.path(), &format!("more/note-{i:03}.md"), text);
    }
    (vault, data, before)
}

/// A limit that leaves no room at all: the index file as it is. Opening an unchanged index
/// writes nothing (its write-ahead log starts empty), so only the new notes hit the limit.
fn tight_limit(data: &Path) -> u64 {
    std::fs::metadata(index_file(data)).unwrap().len()
}

/// The file is sound and everything committed before is still there. (A first pass commits
/// notes for keyword search before their vectors: that commit may land before the disk fills.)
fn assert_intact(data: &Path, before: &[String]) {
    let file = index_file(data);
    assert_eq!(integrity(&file), "ok");
    let after = rows(&Connection::open(&file).unwrap());
    let missing: Vec<&String> = before.iter().filter(|r| !after.contains(r)).collect();
    assert!(missing.is_empty(), "rows lost: {missing:?}");
}

#[test]
fn disk_full_during_index_fails_clearly_and_keeps_the_index() {
    let (vault, data, before) = indexed_then_grown(11);
    let mut cmd = command(
        "index",
        vault.path(),
        data.path(),
        &["--commit-notes", "100"],
    );
    limit_file_size(&mut cmd, tight_limit(data.path()));
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the limit did not bite: {stderr}");
    let file = index_file(data.path());
    assert!(
        stderr.contains(&*file.to_string_lossy()) && stderr.contains("full"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_intact(data.path(), &before);

    // With room again, the next run adds what was missing: the 40 notes (or only their
    // vectors, when their keyword commit landed), each with a vector.
    let s = index_json(vault.path(), data.path(), &[]);
    let (indexed, unchanged) = (
        s["notes_indexed"].as_u64().unwrap(),
        s["notes_unchanged"].as_u64().unwrap(),
    );
    assert_eq!(indexed + unchanged, 50, "{s}");
    assert!(unchanged >= 10, "{s}");
    assert_eq!(integrity(&file), "ok");
    let db = Connection::open(&file).unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM notes"), 50);
    let without_vector = count(
        &db,
        "SELECT count(*) FROM chunks c WHERE NOT EXISTS
           (SELECT 1 FROM vectors v WHERE v.content_hash = c.content_hash)",
    );
    assert_eq!(without_vector, 0, "{s}");
}

/// Starts `serve` from a prepared command and waits for its listening line.
fn start_server(mut cmd: Command) -> Server {
    cmd.env("VAULT_RAG_LOG", "warn")
        .env("VAULT_RAG_TOKEN", "limits-token");
    server::start_command(cmd, Some("limits-token"))
}

#[test]
fn server_keeps_answering_when_the_disk_fills_during_reindex() {
    let (vault, data, before) = indexed_then_grown(12);
    let mut cmd = command(
        "serve",
        vault.path(),
        data.path(),
        &["--commit-notes", "100"],
    );
    limit_file_size(&mut cmd, tight_limit(data.path()));
    let mut server = start_server(cmd);
    // The start-up pass fails at its commit; the server stays up.
    let started = Instant::now();
    loop {
        let status = server.get("/index/status");
        assert_eq!(status.status, 200, "{}", status.text());
        if status.json()["state"] == "error" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the pass did not fail: {}\n{}",
            status.text(),
            server.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // It does not go round again by itself: its own reads of the notes are no file changes.
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        let state = server.get("/index/status").json()["state"].clone();
        assert_eq!(state, "error", "a failed pass started again on its own");
    }
    let log = server.stderr_text();
    assert!(
        log.contains(&*index_file(data.path()).to_string_lossy()) && log.contains("full"),
        "{log}"
    );
    for query in ["rivers", "sourdough", "comets"] {
        let found = server.post("/search", &json!({"query": query}));
        assert_eq!(found.status, 200, "{}", found.text());
        let hits = found.json()["hits"].as_array().unwrap().clone();
        assert!(!hits.is_empty(), "no hits for {query}");
        let db = Connection::open(index_file(data.path())).unwrap();
        for hit in &hits {
            let path = hit["path"].as_str().unwrap();
            let committed = count(
                &db,
                &format!(
                    "SELECT count(*) FROM notes WHERE path = '{}'",
                    path.replace('\'', "''")
                ),
            );
            assert_eq!(committed, 1, "{path} was never committed");
        }
    }
    assert_eq!(server.get("/health").status, 200);
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server exited"
    );
    server.signal("TERM");
    server.wait_exit(Duration::from_secs(60));
    assert_intact(data.path(), &before);
}

/// Sets the mode of the data dir and of every file in it.
fn set_modes(data: &Path, dir: u32, file: u32) {
    for entry in std::fs::read_dir(data).unwrap() {
        let p = entry.unwrap().path();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(file)).unwrap();
    }
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(dir)).unwrap();
}

#[test]
fn read_only_data_dir_is_a_clear_error_and_the_index_stays_readable() {
    let (vault, data, before) = indexed_then_grown(13);
    set_modes(data.path(), 0o555, 0o444);
    let mut cmd = command("index", vault.path(), data.path(), &[]);
    bound_by_permissions(&mut cmd);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a read-only data dir was written: {stderr}"
    );
    assert!(
        stderr.contains(&*data.path().to_string_lossy()) && stderr.contains("ermission denied"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // What is there can still be read.
    let mut cmd = command("status", vault.path(), data.path(), &["--json"]);
    bound_by_permissions(&mut cmd);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "status on a read-only index: {stderr}"
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["notes_indexed"], 10, "{status}");

    set_modes(data.path(), 0o755, 0o644);
    assert_intact(data.path(), &before);
    let db = Connection::open(index_file(data.path())).unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM notes"), 10);
}

/// A folder that cannot be read is reported with its vault-relative path and a reason that
/// holds no absolute path (failure reasons are shown to agents and in the plugin).
#[test]
fn failure_reasons_hold_no_absolute_paths() {
    let vault = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(11);
    generate_vault(vault.path(), &mut rng, 4);
    let locked = vault.path().join("Locked");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::write(locked.join("inside.md"), "# Inside\n").unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut cmd = command("index", vault.path(), data.path(), &["--json"]);
    bound_by_permissions(&mut cmd);
    let out = cmd.output().unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failures = summary["failures"].as_array().unwrap();
    let root = vault.path().to_string_lossy().to_string();
    assert!(failures.iter().any(|f| f["path"] == "Locked"), "{summary}");
    for f in failures {
        let reason = f["reason"].as_str().unwrap();
        assert!(!reason.contains(&root) && !reason.contains("/tmp"), "{f}");
    }
}
