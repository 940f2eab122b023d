//! What a hostile note, agent or local user could do, met by the real binary: read-only commands
//! beside a running service, the service's token and file permissions.

use crate::support;

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::{fixture_vault, model_args, start};

const INDEX_TIMEOUT: Duration = Duration::from_secs(240);

/// `vault-rag CMD VAULT ARGS --data-dir DATA`, with the model flags when `model` (status takes
/// none it needs), logging warnings only.
fn cli(
    cmd: &str,
    vault: &std::path::Path,
    args: &[&str],
    data: &std::path::Path,
    model: bool,
) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vault-rag"));
    c.arg(cmd).arg(vault).args(args).arg("--data-dir").arg(data);
    if model {
        c.args(model_args());
    }
    c.env("VAULT_RAG_LOG", "warn").output().unwrap()
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
    let search = cli(
        "search",
        &vault,
        &["wild yeast culture", "--json"],
        &data,
        true,
    );
    let stderr = String::from_utf8_lossy(&search.stderr);
    assert!(search.status.success(), "{stderr}");
    assert!(stderr.contains("keeps this index up to date"), "{stderr}");
    let hits: Value = serde_json::from_slice(&search.stdout).unwrap();
    assert_eq!(hits["hits"][0]["path"], "Cooking/Sourdough.md", "{hits}");

    let similar = cli(
        "similar",
        &vault,
        &["Cooking/Sourdough.md", "--json"],
        &data,
        true,
    );
    assert!(
        similar.status.success(),
        "{}",
        String::from_utf8_lossy(&similar.stderr)
    );

    // Without the service file (a service of an older version) `mcp` cannot forward to the
    // service: it reads the index itself. With the file it forwards (`agents_cli.rs`).
    std::fs::remove_file(data.join("service.json")).unwrap();
    let mcp = support::mcp_check(&vault, &data, &[]).output().unwrap();
    assert!(
        mcp.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&mcp.stdout),
        String::from_utf8_lossy(&mcp.stderr)
    );
    assert!(
        String::from_utf8_lossy(&mcp.stderr).contains("keeps this index up to date"),
        "{}",
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
    let out = cli("index", &vault, &[], &data, true);
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
    let out = cli("index", &vault, &["--json"], &data, true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = cli("status", &vault, &["--json"], &data, false);
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

/// The index files' bytes contain `word` (the database, its log, its shared memory).
fn index_bytes_contain(data: &std::path::Path, word: &str) -> bool {
    ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"]
        .iter()
        .filter_map(|f| std::fs::read(data.join(f)).ok())
        .any(|bytes| {
            bytes
                .windows(word.len())
                .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
        })
}

fn index_cmd(vault: &std::path::Path, data: &std::path::Path) -> std::process::Output {
    cli("index", vault, &[], data, true)
}

/// Obsidian's excluded files, newly set: the excluded notes leave the index with their text
/// (full-text segments, free pages, log). A half-written `app.json` never lets them back in: a
/// new process indexes nothing new until it reads, a running service keeps the last good rules.
#[test]
fn excluded_notes_leave_no_text_and_a_half_written_app_json_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let data = dir.path().join("data");
    let write = |rel: &str, text: &str| {
        let p = vault.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "Private/Diary.md",
        "# Diary\n\nquixotriumph is my secret word\n",
    );
    assert!(index_cmd(&vault, &data).status.success());
    assert!(index_bytes_contain(&data, "quixotriumph"));

    write(
        ".obsidian/app.json",
        r#"{"userIgnoreFilters":["Private/"]}"#,
    );
    let out = index_cmd(&vault, &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !index_bytes_contain(&data, "quixotriumph"),
        "the excluded note's text is still in the index files"
    );

    // Half written: a new process has no good rules to keep, so it indexes nothing.
    write(".obsidian/app.json", r#"{"userIgnoreFilters":["Priv"#);
    write("Private/Plans.md", "# Plans\n\nzephyrglyph stays private\n");
    write("Public.md", "# Public\n\nmarzipanic is public\n");
    let out = index_cmd(&vault, &data);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("app.json") && stderr.contains("nothing new is indexed"),
        "{stderr}"
    );
    assert!(!index_bytes_contain(&data, "zephyrglyph"));

    // A running service started with good rules keeps them when the file breaks.
    write(
        ".obsidian/app.json",
        r#"{"userIgnoreFilters":["Private/"]}"#,
    );
    let server = start(&vault, &data, Some("t0ken"), &[]);
    server.wait_indexed(INDEX_TIMEOUT);
    write(".obsidian/app.json", r#"{"userIgnoreFilters":["Pri"#);
    write(
        "Private/Later.md",
        "# Later\n\nvelocirapture is private too\n",
    );
    write("Later.md", "# Later\n\ncloudberryish is public\n");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let found = |q: &str| {
        server
            .post("/search", &json!({"query": q, "mode": "lexical"}))
            .json()["hits"]
            .as_array()
            .map_or(0, Vec::len)
    };
    while found("cloudberryish") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the public note was never indexed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(found("velocirapture"), 0);
    assert_eq!(found("zephyrglyph"), 0);
    let read = server.post("/search", &json!({"query": "velocirapture"}));
    assert_eq!(read.status, 200);
}

/// One kept-alive HTTP connection: made before the service runs out of file descriptors, it
/// still answers while new connections could not be accepted.
#[cfg(target_os = "linux")]
struct KeptConnection {
    stream: std::net::TcpStream,
    host: String,
    token: String,
}

#[cfg(target_os = "linux")]
impl KeptConnection {
    fn get(&mut self, path: &str) -> Value {
        use std::io::{BufRead, BufReader, Read, Write};
        write!(
            self.stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\r\n",
            self.host, self.token
        )
        .unwrap();
        let mut reader = BufReader::new(&self.stream);
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }
}

/// A burst of "too many open files" while notes change: the notes that could not be read are
/// listed with the reason, the index does not claim to be complete, and once descriptors are
/// free again they are indexed by themselves, with no further file event.
#[cfg(target_os = "linux")]
#[test]
fn notes_that_could_not_be_read_are_retried_until_they_read() {
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let data = dir.path().join("data");
    let server = start(&vault, &data, Some("t0ken"), &[]);
    server.wait_indexed(INDEX_TIMEOUT);
    let mut kept = KeptConnection {
        stream: std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap(),
        host: server.host(),
        token: "t0ken".into(),
    };
    assert_eq!(kept.get("/index/status")["complete"], true);
    let pid = server.child.id() as libc::pid_t;
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit on our own child process with valid pointers (read only).
    assert_eq!(
        unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) },
        0
    );
    // No new descriptor at all (what it has open keeps working): every note read fails.
    let tight = libc::rlimit {
        rlim_cur: 0,
        rlim_max: old.rlim_max,
    };
    // SAFETY: as above; a lower soft limit only.
    assert_eq!(
        unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &tight, std::ptr::null_mut()) },
        0
    );
    for name in ["Burst/One.md", "Burst/Two.md"] {
        let p = vault.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, format!("# {name}\n\nlanternfish {name}\n")).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status = kept.get("/index/status");
        let retrying = status["failures"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["reason"].as_str().unwrap_or("").contains("retrying"))
            .count();
        if retrying > 0 {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no read failure seen: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status["complete"], false, "{status}");
    // SAFETY: as above; the old limit back.
    assert_eq!(
        unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &old, std::ptr::null_mut()) },
        0
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let status = kept.get("/index/status");
        if status["complete"] == true && status["failures"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never retried: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let hits = server.post(
        "/search",
        &json!({"query": "lanternfish", "mode": "lexical"}),
    );
    assert_eq!(
        hits.json()["hits"].as_array().unwrap().len(),
        2,
        "{}",
        hits.text()
    );
}
