//! A first index with the real binary and MiniLM: keyword search covers every note before the
//! embedding is done, hybrid search says how much the dense side sees, a pause holds embedding,
//! and a hold while the user types ends by itself.

use crate::support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::start;

const NOTES: usize = 400;
const WORDS: [&str; 24] = [
    "river", "garden", "ledger", "violin", "harbour", "compiler", "meadow", "lantern", "orbit",
    "pottery", "glacier", "recipe", "sparrow", "theorem", "canyon", "festival", "quartz",
    "journal", "tundra", "mosaic", "beacon", "saffron", "archive", "tide",
];

/// A vault of `NOTES` notes of a few sentences each, note `i` holding the marker `mk<i>q`.
fn write_vault(dir: &std::path::Path) {
    for i in 0..NOTES {
        let mut text = format!("# Note {i}\n\n");
        for s in 0..6 {
            let w = |k: usize| WORDS[(i * 7 + s * 5 + k) % WORDS.len()];
            text.push_str(&format!(
                "The {} near the {} kept a {} for the {} season. ",
                w(0),
                w(1),
                w(2),
                w(3)
            ));
        }
        text.push_str(&format!("\n\nMarker mk{i}q.\n"));
        std::fs::write(dir.join(format!("note-{i:03}.md")), text).unwrap();
    }
}

fn status(server: &support::Server) -> Value {
    let r = server.get("/index/status");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn search(server: &support::Server, query: &str, mode: &str) -> Value {
    let r = server.post(
        "/search",
        &json!({ "query": query, "mode": mode, "top_k": 5 }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[test]
fn keyword_search_works_before_embedding_and_embedding_resumes_after_a_pause() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    std::fs::create_dir_all(&vault).unwrap();
    write_vault(&vault);
    let data = dir.path().join("data");
    let server = start(&vault, &data, None, &[]);

    // Every note is written (keyword search) long before all of them are embedded.
    let started = Instant::now();
    let first = loop {
        let s = status(&server);
        if s["notes_indexed"] == NOTES {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "notes not written: {s}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let paused = server.post("/index/pause", &json!({}));
    assert_eq!(paused.status, 200, "{}", paused.text());
    assert!(
        first["vectors_missing"].as_u64().unwrap() > 0,
        "all embedded already: {first}"
    );
    // A service's first index runs in the background: the whole process, ONNX Runtime's
    // threads included, below the user's applications where the priority can be raised again
    // for searches; on Linux without privileges it is left alone (the indexer yields instead).
    assert_eq!(status(&server)["background"], true);
    #[cfg(target_os = "linux")]
    {
        let nice = thread_nice(server.child.id());
        assert!(nice.len() > 3, "{nice:?}");
        let lowered = nice.iter().all(|&n| n >= 10);
        assert_eq!(
            lowered,
            can_raise_priority() || started_low(),
            "threads' nice values: {nice:?}"
        );
    }
    let lexical = search(&server, "mk3q", "lexical");
    assert_eq!(lexical["hits"][0]["path"], "note-003.md", "{lexical}");
    let hybrid = search(&server, "mk250q", "hybrid");
    assert_eq!(hybrid["hits"][0]["path"], "note-250.md", "{hybrid}");
    let coverage = hybrid["dense_coverage"].as_f64().unwrap();
    assert!(coverage < 1.0, "{hybrid}");
    assert_eq!(hybrid["index_complete"], false);

    // Paused: nothing more is embedded once the group in flight is done (the state reads
    // paused while the indexer waits).
    let waited = Instant::now();
    while status(&server)["state"] != "paused" {
        assert!(waited.elapsed() < Duration::from_secs(60), "never paused");
        std::thread::sleep(Duration::from_millis(50));
    }
    let held = status(&server);
    std::thread::sleep(Duration::from_millis(1000));
    let still = status(&server);
    assert_eq!(still["state"], "paused", "{still}");
    assert_eq!(held["vectors_missing"], still["vectors_missing"]);
    assert!(still["vectors_missing"].as_u64().unwrap() > 0);

    let resumed = server.post("/index/resume", &json!({}));
    assert_eq!(resumed.status, 200, "{}", resumed.text());

    // The user types: a hold stops embedding at the next group of sections (the group being
    // embedded when it comes, at most 32, still finishes), and it goes on by itself afterwards.
    let held = server.post("/index/yield", &json!({ "seconds": 4.0 }));
    assert_eq!(held.status, 200, "{}", held.text());
    let since = Instant::now();
    std::thread::sleep(Duration::from_millis(200));
    let a = status(&server);
    std::thread::sleep(Duration::from_millis(3000));
    let b = status(&server);
    if since.elapsed() < Duration::from_millis(3900) {
        assert_eq!(b["state"], "paused", "{b}");
        let (before, after) = (a["vectors_missing"].as_u64(), b["vectors_missing"].as_u64());
        let embedded = before.unwrap().saturating_sub(after.unwrap());
        assert!(embedded <= 32, "{embedded} sections embedded during a hold");
    }
    let bad = server.post("/index/yield", &json!({ "seconds": 600 }));
    assert_eq!(bad.status, 400, "{}", bad.text());
    let done = server.wait_indexed(Duration::from_secs(300));
    assert_eq!(done["vectors_missing"], 0, "{done}");
    assert_eq!(done["dense_coverage"], 1.0, "{done}");
    let after = search(&server, "mk250q", "hybrid");
    assert_eq!(after["dense_coverage"], 1.0);
    assert_eq!(after["index_complete"], true);
    // Done: the priority is back to normal, and the status says so (unless the tests run
    // under `nice`, which the service inherits and leaves alone).
    #[cfg(target_os = "linux")]
    if !started_low() {
        let lowered = status(&server)["background"] == true;
        let nice = thread_nice(server.child.id());
        assert!(
            nice.iter().all(|&n| (n >= 10) == lowered),
            "{lowered}: {nice:?}"
        );
    }
}

/// Whether the tests run at a low priority already (under `nice`); the service inherits it.
#[cfg(target_os = "linux")]
fn started_low() -> bool {
    // SAFETY: no pointers.
    let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    nice >= 10
}

/// Whether this user may raise a process's priority again (root, or `RLIMIT_NICE` ≥ 20).
#[cfg(target_os = "linux")]
fn can_raise_priority() -> bool {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid out-parameter.
    let nice_limit =
        unsafe { libc::getrlimit(libc::RLIMIT_NICE, &mut limit) } == 0 && limit.rlim_cur >= 20;
    // SAFETY: no arguments.
    let root = unsafe { libc::geteuid() } == 0;
    root || nice_limit
}

/// The nice value of each thread of a process (field 19 of `/proc/PID/task/TID/stat`).
#[cfg(target_os = "linux")]
fn thread_nice(pid: u32) -> Vec<i64> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let Ok(stat) = std::fs::read_to_string(task.unwrap().path().join("stat")) else {
            continue; // the thread ended meanwhile
        };
        // The command name (field 2) may hold spaces: count from after its closing parenthesis.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        out.push(rest.split(' ').nth(16).unwrap().parse().unwrap());
    }
    out
}

/// `vault-rag index` keeps normal priority unless asked: the user waits for it.
#[cfg(target_os = "linux")]
#[test]
fn the_index_command_runs_at_normal_priority_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    std::fs::create_dir_all(&vault).unwrap();
    std::fs::write(vault.join("a.md"), "# A\n\nSome text.\n").unwrap();
    for (extra, lowered) in [(None, false), (Some("background"), true)] {
        let data = dir.path().join(format!("data-{lowered}"));
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vault-rag"));
        cmd.arg("index").arg(&vault).arg("--data-dir").arg(&data);
        cmd.args(support::model_args());
        if let Some(p) = extra {
            cmd.args(["--index-priority", p]);
        }
        cmd.env("VAULT_RAG_LOG", "info");
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = String::from_utf8_lossy(&out.stderr);
        assert_eq!(log.contains("indexing in the background"), lowered, "{log}");
    }
}
