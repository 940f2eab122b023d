//! The command line as a newcomer meets it: the index remembers its model, notes are named as
//! people name them, output into a closed pipe ends quietly, and Ctrl-C says what was kept.
//! The real binary with the MiniLM test model.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
#[cfg(unix)]
use std::time::{Duration, Instant};

use serde_json::Value;

fn vault_rag(args: &[&str], data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vault-rag"));
    c.args(args)
        .arg("--data-dir")
        .arg(data)
        .env("VAULT_RAG_LOG", "warn")
        .stdin(Stdio::null());
    for var in [
        "VAULT_RAG_MODEL",
        "VAULT_RAG_PRECISION",
        "VAULT_RAG_DIM",
        "VAULT_RAG_DATA_DIR",
    ] {
        c.env_remove(var);
    }
    c
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn index_with_minilm(vault: &Path, data: &Path) {
    let model = support::model_dir();
    let out = vault_rag(
        &[
            "index",
            vault.to_str().unwrap(),
            "--model",
            "all-minilm-l6-v2",
            "--model-dir",
            model.to_str().unwrap(),
        ],
        data,
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
}

/// The fixture vault indexed with MiniLM: (temp dir, vault, data dir).
fn indexed() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let vault = support::fixture_vault(dir.path());
    let data = dir.path().join("data");
    index_with_minilm(&vault, &data);
    (dir, vault, data)
}

#[test]
fn commands_on_an_index_use_the_model_it_records() {
    let (dir, vault, data) = indexed();
    let model = support::model_dir();
    let v = vault.to_str().unwrap();
    let m = model.to_str().unwrap();

    // No --model: the index's model, no re-embedding, no download question.
    let out = vault_rag(
        &["search", v, "sourdough starter", "--json", "--model-dir", m],
        &data,
    )
    .output()
    .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("embedded again"), "{stderr}");
    let hits: Value = serde_json::from_str(&stdout).unwrap();
    assert!(hits["hits"][0]["path"]
        .as_str()
        .unwrap()
        .contains("Sourdough"));

    // Another model is a choice to re-embed, said before anything happens.
    let out = vault_rag(
        &["search", v, "bread", "--model", "embeddinggemma-300m"],
        &data,
    )
    .env("HF_HOME", dir.path().join("empty-hf"))
    .env("VAULT_RAG_CACHE", dir.path().join("empty-cache"))
    .output()
    .unwrap();
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("holds vectors of all-minilm-l6-v2") && stderr.contains("embedded again"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(77), "{stderr}");

    // `status` takes the model flags too, and says which model the index holds.
    let out = vault_rag(&["status", v, "--model", "embeddinggemma-300m"], &data)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("all-minilm-l6-v2"), "{stdout}");
    assert!(
        stderr.contains("holds vectors of all-minilm-l6-v2"),
        "{stderr}"
    );
}

#[test]
fn similar_takes_a_title_or_a_path_and_suggests_close_names() {
    let (_dir, vault, data) = indexed();
    let model = support::model_dir();
    let v = vault.to_str().unwrap();
    let m = model.to_str().unwrap();
    let similar = |note: &str| {
        vault_rag(&["similar", v, note, "--json", "--model-dir", m], &data)
            .output()
            .unwrap()
    };
    let abs = vault.join("Cooking/Sourdough.md");
    for note in [
        "Cooking/Sourdough.md",
        "Cooking/Sourdough",
        "sourdough",
        abs.to_str().unwrap(),
    ] {
        let out = similar(note);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{note}: {stderr}");
        let reply: Value = serde_json::from_str(&stdout).unwrap();
        assert!(
            !reply["hits"].as_array().unwrap().is_empty(),
            "{note}: {stdout}"
        );
    }
    let out = similar("Sourdogh");
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("did you mean: Cooking/Sourdough.md"),
        "{stderr}"
    );
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let (_dir, vault, data) = indexed();
    for _ in 0..3 {
        // The reading end is closed before `status` writes: as `vault-rag status | head -0`.
        let mut child = vault_rag(&["status", vault.to_str().unwrap()], &data)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(101), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_indexing_and_says_what_was_kept() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let paragraph = "Notes on gardening, soil, compost and the weather of the season. ".repeat(40);
    for i in 0..400 {
        let path = vault.join(format!("Notes/Note {i:03}.md"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            path,
            format!("# Note {i}\n\n{paragraph}\n\n## More\n\n{paragraph}\n"),
        )
        .unwrap();
    }
    let data = dir.path().join("data");
    let model = support::model_dir();
    let child = vault_rag(
        &[
            "index",
            vault.to_str().unwrap(),
            "--model",
            "all-minilm-l6-v2",
            "--model-dir",
            model.to_str().unwrap(),
            "--commit-notes",
            "8",
        ],
        &data,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Once the first batch is committed, interrupt as Ctrl-C does.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !data.join("index.sqlite-wal").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("interrupted:") && stderr.contains("continues on the next run"),
        "{stderr}"
    );
    assert!(stdout.contains("stopped early"), "{stdout}");
    let status = vault_rag(&["status", vault.to_str().unwrap(), "--json"], &data)
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    let indexed = status["notes_indexed"].as_u64().unwrap();
    assert!(indexed > 0 && indexed < 400, "{status}");
}
