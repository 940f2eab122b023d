//! `vault-rag index` and `vault-rag status` as a user runs them: the real binary, ONNX Runtime
//! with the MiniLM test model, SQLite files on disk, and processes killed with SIGKILL.

use crate::support;

use support::model_dir;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use rusqlite::Connection;
use serde_json::Value;

/// `vault-rag <cmd> VAULT --data-dir DATA` with the MiniLM model flags when `cmd` embeds.
fn command(cmd: &str, vault: &Path, data: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vault-rag"));
    c.arg(cmd)
        .arg(vault)
        .arg("--data-dir")
        .arg(data)
        .args(extra);
    if cmd == "index" {
        c.args([
            "--model",
            "all-minilm-l6-v2",
            "--precision",
            "int8",
            "--threads",
            "2",
            "--model-dir",
        ])
        .arg(model_dir());
    }
    c.env_remove("VAULT_RAG_DATA_DIR")
        .env("VAULT_RAG_LOG", "warn");
    c
}

fn run_json(cmd: &str, vault: &Path, data: &Path, extra: &[&str]) -> Value {
    let out: Output = command(cmd, vault, data, &[extra, &["--json"]].concat())
        .output()
        .expect("run vault-rag");
    assert!(
        out.status.success(),
        "vault-rag {cmd} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn write(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// Everything that defines an index's content, without ids; vectors are compared separately.
fn rows(db: &Connection) -> Vec<String> {
    let mut out = support::index_rows(db);
    out.extend(support::vector_key_rows(db));
    out
}

fn integrity(db: &Path) -> String {
    Connection::open(db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Runs `index` and kills it with SIGKILL right after its `k`-th commit is reported.
fn index_killed_after(vault: &Path, data: &Path, k: u64) {
    let mut child = command("index", vault, data, &["--commit-notes", "10"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vault-rag index");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let marker = format!("progress: batch {k} committed");
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let hit = line.starts_with(&marker);
        seen.push(line);
        if hit {
            child.kill().unwrap(); // SIGKILL on Unix: no cleanup code runs
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the run ended before commit {k} (so it was not killed): {seen:?}"
    );
}

#[test]
fn sigkill_at_any_commit_loses_nothing_committed_and_resumes_to_the_same_index() {
    let vault = tempfile::tempdir().unwrap();
    let topics = [
        "rivers",
        "mountains",
        "compilers",
        "bread",
        "violins",
        "comets",
        "orchards",
        "trains",
    ];
    for i in 0..200 {
        let topic = topics[i % topics.len()];
        write(
            vault.path(),
            &format!("{}/note-{i:03}.md", topic),
            format!(
                "# Note {i} on {topic}\n\nThis note number {i} describes {topic} in a few plain words.\n\n\
                 ## Details\n\nDetail {} for {topic}: measured {} times.\n",
                i * 31 % 97,
                i * 7
            ),
        );
    }
    let clean = tempfile::tempdir().unwrap();
    let reference = run_json(
        "index",
        vault.path(),
        clean.path(),
        &["--commit-notes", "10"],
    );
    assert_eq!(reference["notes_indexed"], 200);
    let clean_db = Connection::open(clean.path().join("index.sqlite")).unwrap();

    let crashed = tempfile::tempdir().unwrap();
    let db_path = crashed.path().join("index.sqlite");
    let mut committed = 0;
    // Three crashes at different points; each later run resumes from the previous one's commits.
    for k in [2, 7, 4] {
        index_killed_after(vault.path(), crashed.path(), k);
        assert_eq!(integrity(&db_path), "ok");
        let notes: i64 = Connection::open(&db_path)
            .unwrap()
            .query_row("SELECT count(*) FROM notes", [], |r| r.get(0))
            .unwrap();
        assert!(
            notes >= committed + 10 * k as i64,
            "{notes} notes after a kill at commit {k}"
        );
        assert!(notes < 200, "the kill came before the end");
        committed = notes;
    }
    let resumed = run_json(
        "index",
        vault.path(),
        crashed.path(),
        &["--commit-notes", "10"],
    );
    assert_eq!(
        resumed["notes_unchanged"].as_i64().unwrap(),
        committed,
        "{resumed}"
    );
    assert_eq!(resumed["notes_indexed"].as_i64().unwrap(), 200 - committed);
    assert_eq!(integrity(&db_path), "ok");

    let crashed_db = Connection::open(&db_path).unwrap();
    assert_eq!(rows(&crashed_db), rows(&clean_db));
    let (a, b) = (
        support::stored_vectors(&crashed_db),
        support::stored_vectors(&clean_db),
    );
    assert_eq!(a.len(), b.len());
    for ((ha, va), (hb, vb)) in a.iter().zip(&b) {
        assert_eq!(ha, hb);
        let cos: f32 = va.iter().zip(vb).map(|(x, y)| x * y).sum();
        assert!(
            cos > 0.98,
            "vector {ha} differs beyond batching noise: cosine {cos}"
        );
    }
    let again = run_json("index", vault.path(), crashed.path(), &[]);
    assert_eq!(again["chunks_embedded"], 0);
}

#[cfg(unix)]
#[test]
fn bad_input_is_reported_and_the_rest_is_indexed() {
    use std::os::unix::fs::symlink;
    let vault = tempfile::tempdir().unwrap();
    let v = vault.path();
    write(
        v,
        "good.md",
        "# Good\n\nWhales sing long songs in the deep ocean.\n",
    );
    write(
        v,
        "latin1.md",
        b"# Caf\xe9\n\nCr\xe8me br\xfbl\xe9e recipe with caramel.\n",
    );
    write(v, "binary.md", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10");
    // 50 MB: read and hashed in full, indexed up to --max-note-bytes, the rest reported.
    let paragraph = "The same paragraph repeats to make a very large note about lighthouses.\n\n";
    write(
        v,
        "huge.md",
        paragraph.repeat(50 * 1024 * 1024 / paragraph.len() + 1),
    );
    let headings: String = (0..10_000).map(|_| "## Heading\n\nline\n\n").collect();
    write(v, "headings.md", format!("# Many headings\n\n{headings}"));
    assert!(Command::new("mkfifo")
        .arg(v.join("pipe.md"))
        .status()
        .unwrap()
        .success());
    // A directory named like a note is a folder, not a broken note.
    write(
        v,
        "folder.md/inside.md",
        "# Inside\n\nA note inside a folder named folder.md.\n",
    );
    symlink(v, v.join("loop")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    write(
        outside.path(),
        "secret.md",
        "# Secret\n\nmust not be indexed\n",
    );
    symlink(outside.path(), v.join("elsewhere")).unwrap();
    // Unreadable files: tests run as root, for whom permissions never make a read fail; the FIFO
    // above and the unit tests of the reader cover notes that cannot be read.

    let data = tempfile::tempdir().unwrap();
    let s = run_json("index", v, data.path(), &["--max-note-bytes", "200000"]);
    let failures: Vec<(String, String)> = s["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reason = |p: &str| {
        failures
            .iter()
            .find(|(path, _)| path == p)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("no failure for {p}: {failures:?}"))
    };
    assert!(reason("binary.md").contains("binary"));
    assert!(reason("pipe.md").contains("not a regular file"));
    assert!(reason("latin1.md").contains("not valid UTF-8"));
    assert!(
        reason("huge.md").contains("only the first"),
        "{}",
        reason("huge.md")
    );
    assert!(reason("loop").contains("loop"), "{}", reason("loop"));
    assert!(reason("elsewhere").contains("outside the vault"));
    assert_eq!(s["notes_indexed"], 5, "{s}");
    assert_eq!(
        s["notes_failed"], 4,
        "binary, FIFO, loop, outside link: {s}"
    );

    let db = Connection::open(data.path().join("index.sqlite")).unwrap();
    let indexed: Vec<String> = db
        .prepare("SELECT path FROM notes ORDER BY path")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        indexed,
        [
            "folder.md/inside.md",
            "good.md",
            "headings.md",
            "huge.md",
            "latin1.md"
        ]
    );
    let latin: String = db
        .query_row("SELECT text FROM chunks c JOIN notes n ON n.id = c.note_id WHERE n.path = 'latin1.md' AND c.ord = 0", [], |r| r.get(0))
        .unwrap();
    assert!(latin.contains("br\u{FFFD}l\u{FFFD}e"), "{latin}");
    let huge_end: i64 = db
        .query_row("SELECT max(end_line) FROM chunks c JOIN notes n ON n.id = c.note_id WHERE n.path = 'huge.md'", [], |r| r.get(0))
        .unwrap();
    assert!(
        huge_end > 1000 && huge_end < 10_000,
        "indexed up to the cap: {huge_end} lines"
    );
    let heading_chunks: i64 = db
        .query_row("SELECT count(*) FROM chunks c JOIN notes n ON n.id = c.note_id WHERE n.path = 'headings.md'", [], |r| r.get(0))
        .unwrap();
    assert!(heading_chunks >= 10, "{heading_chunks}");

    // A second run: nothing to embed, the same problems reported, by `status` too.
    let again = run_json("index", v, data.path(), &["--max-note-bytes", "200000"]);
    assert_eq!(again["chunks_embedded"], 0, "{again}");
    assert_eq!(again["failures"], s["failures"]);
    let status = run_json("status", v, data.path(), &["--max-note-bytes", "200000"]);
    assert_eq!(status["notes_indexed"], 5);
    assert_eq!(status["complete"], true, "{status}");
    assert_eq!(status["failures"], s["failures"]);
    assert_eq!(status["model"]["model"], "all-minilm-l6-v2");
    assert!(status["index_size_bytes"].as_u64().unwrap() > 0);
    assert!(status["index_path"]
        .as_str()
        .unwrap()
        .ends_with("index.sqlite"));
}

#[test]
fn status_without_an_index_says_what_to_do() {
    let vault = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = command("status", vault.path(), data.path(), &[])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("vault-rag index"), "{err}");
}

#[test]
fn second_indexer_on_the_same_index_is_refused_with_the_holder_pid() {
    let vault = tempfile::tempdir().unwrap();
    write(vault.path(), "a.md", "# A\n\ntext\n");
    let data = tempfile::tempdir().unwrap();
    // Hold the lock the way a running process does.
    let lock_path = data.path().join("index.lock");
    let holder = Command::new("flock")
        .arg(&lock_path)
        .args(["sleep", "30"])
        .spawn()
        .expect("flock(1)");
    // Wait until the lock is held.
    let start = std::time::Instant::now();
    loop {
        let probe = Command::new("flock")
            .args(["-n"])
            .arg(&lock_path)
            .arg("true")
            .status()
            .unwrap();
        if !probe.success() {
            break;
        }
        assert!(
            start.elapsed().as_secs() < 10,
            "flock did not take the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::write(&lock_path, holder.id().to_string()).unwrap();
    let out = command("index", vault.path(), data.path(), &[])
        .output()
        .unwrap();
    let mut holder = holder;
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("pid {}", holder.id())), "{err}");
}
