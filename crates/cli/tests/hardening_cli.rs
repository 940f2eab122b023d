//! What a hostile note, agent or local user could do, met by the real binary: read-only commands
//! beside a running service, the service's token and file permissions.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::{fixture_vault, model_args, start, venv_python};

const INDEX_TIMEOUT: Duration = Duration::from_secs(240);

fn path_str(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// With the service running on a vault, `search`, `similar` and `mcp` on the same vault work:
/// they read the index read-only instead of failing on its lock.
#[test]
fn read_only_commands_work_beside_a_running_service() {
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let data = dir.path().join("data");
    let server = start(&vault, &data, Some("t0ken"), &[]);
    server.wait_indexed(INDEX_TIMEOUT);
    let search = Command::new(env!("CARGO_BIN_EXE_vault-rag"))
        .arg("search")
        .arg(&vault)
        .arg("wild yeast culture")
        .arg("--json")
        .arg("--data-dir")
        .arg(&data)
        .args(model_args())
        .env("VAULT_RAG_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&search.stderr);
    assert!(search.status.success(), "{stderr}");
    assert!(stderr.contains("keeps this index up to date"), "{stderr}");
    let hits: Value = serde_json::from_slice(&search.stdout).unwrap();
    assert_eq!(hits["hits"][0]["path"], "Cooking/Sourdough.md", "{hits}");

    let similar = Command::new(env!("CARGO_BIN_EXE_vault-rag"))
        .arg("similar")
        .arg(&vault)
        .arg("Cooking/Sourdough.md")
        .arg("--json")
        .arg("--data-dir")
        .arg(&data)
        .args(model_args())
        .env("VAULT_RAG_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        similar.status.success(),
        "{}",
        String::from_utf8_lossy(&similar.stderr)
    );

    let mcp = Command::new(venv_python())
        .arg(support::repo_root().join("scripts/mcp_check.py"))
        .args(["--binary", env!("CARGO_BIN_EXE_vault-rag")])
        .args(["--vault", &path_str(&vault)])
        .args(["--data-dir", &path_str(&data)])
        .args(["--query", "how do I keep the wild yeast culture alive"])
        .args(["--expect", "Cooking/Sourdough.md"])
        .args(["--note", "Projects/Plan.md"])
        .args(["--heading", "Risks"])
        .args(["--expect-section", "## Risks\n\nThe budget is tight and the designer leaves in March.\n\n### Mitigation\n\nHire a freelancer early."])
        .arg("--")
        .args(model_args())
        .env("VAULT_RAG_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        mcp.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&mcp.stdout),
        String::from_utf8_lossy(&mcp.stderr)
    );

    // The service was never disturbed: it still searches and still holds its lock.
    let hits = server.post("/search", &json!({"query": "tomato seedlings"}));
    assert_eq!(hits.status, 200, "{}", hits.text());
}

/// A new service makes its own token and keeps it, the data directory and the index files to
/// the user alone; `--no-token` is the explicit way out.
#[cfg(unix)]
#[test]
fn the_service_needs_a_token_by_default_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let data = dir.path().join("data");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut server = start(&vault, &data, None, &[]);
    server.wait_indexed(INDEX_TIMEOUT);
    let token = server
        .token
        .clone()
        .expect("a token file in the data directory");
    assert_eq!(token.len(), 64, "{token}");
    assert_eq!(mode(&data), 0o700);
    for file in ["token", "index.sqlite", "index.lock"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    assert_eq!(server.get("/health").status, 200);
    server.token = None;
    assert_eq!(server.get("/health").status, 401);
    assert_eq!(
        server.post("/search", &json!({"query": "bread"})).status,
        401
    );
    drop(server);

    // The next start keeps the same token.
    let again = start(&vault, &data, None, &[]);
    assert_eq!(again.token.as_deref(), Some(token.as_str()));
    drop(again);

    let mut open = start(&vault, &data, None, &["--no-token"]);
    open.token = None;
    assert_eq!(open.get("/health").status, 200);
}

/// A lock file whose number names some other process (anyone who could write the file could
/// put any number there) is reported with the process that really holds the lock.
#[cfg(target_os = "linux")]
#[test]
fn a_lock_error_names_the_real_holder_not_the_number_in_the_file() {
    use std::io::Write;
    use std::os::unix::io::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut lock = std::fs::File::create(data.join("index.lock")).unwrap();
    write!(lock, "1").unwrap();
    // SAFETY: flock on a file descriptor this test owns.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    let out = Command::new(env!("CARGO_BIN_EXE_vault-rag"))
        .arg("index")
        .arg(&vault)
        .arg("--data-dir")
        .arg(&data)
        .args(model_args())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let me = format!("(pid {})", std::process::id());
    assert!(stderr.contains(&me), "{stderr}");
    assert!(!stderr.contains("(pid 1)"), "{stderr}");
}

/// `Café notes.md` twice, composed and decomposed: one is indexed, the other is listed as a
/// failure under its own name with the reason, never silently dropped.
#[test]
fn a_unicode_name_collision_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    std::fs::create_dir_all(&vault).unwrap();
    std::fs::write(vault.join("Caf\u{e9} notes.md"), "# Composed\n\nfirst\n").unwrap();
    std::fs::write(
        vault.join("Cafe\u{301} notes.md"),
        "# Decomposed\n\nsecond\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_vault-rag"))
        .arg("index")
        .arg(&vault)
        .arg("--data-dir")
        .arg(&data)
        .arg("--json")
        .args(model_args())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = Command::new(env!("CARGO_BIN_EXE_vault-rag"))
        .arg("status")
        .arg(&vault)
        .arg("--data-dir")
        .arg(&data)
        .arg("--json")
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["notes_indexed"], 1, "{status}");
    let failures = status["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{status}");
    assert!(
        failures[0]["reason"]
            .as_str()
            .unwrap()
            .contains("another Unicode form"),
        "{status}"
    );
}
