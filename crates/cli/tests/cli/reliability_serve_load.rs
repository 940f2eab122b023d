//! Load on `vault-rag serve` with the real model: 50 clients × 100 searches while the first full
//! index runs with a rebuild queued on top and a burst of 500 file changes (edits, new notes,
//! deletions) hits the vault. Every search must succeed; once the burst is over the watcher must
//! catch up within a bound; and after a graceful stop the served index must hold exactly what a
//! clean `vault-rag index` of the final vault holds (notes, chunks, full-text terms, a vector
//! for every chunk). Prints latency percentiles (`-- --nocapture`; `--release` for numbers worth
//! quoting).

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::json;
use support::{start, Server};

const CLIENTS: usize = 50;
const SEARCHES_PER_CLIENT: usize = 100;
const NOTES: usize = 80;
/// File changes in the burst: edits of existing notes, plus the new and deleted notes below.
const CHANGES: usize = 500;
const NEW_NOTES: usize = 20;
const DELETED_NOTES: usize = 10;
/// How long the index may lag behind the vault once the burst is over.
const CATCH_UP: Duration = Duration::from_secs(90);

const TOPICS: &[(&str, &str)] = &[
    ("sourdough", "Feed the starter with flour and water; bake the loaf in a hot oven until the crust crackles."),
    ("tomatoes", "Water the tomato plants at dawn and pinch off the side shoots so the fruit ripens."),
    ("kyoto", "Temples, shrines and a bamboo grove; the shinkansen brings you from Tokyo in two hours."),
    ("rust", "The borrow checker rejects references that outlive their data, at compile time."),
    ("marathon", "Long slow runs build endurance; intervals on the track build speed."),
    ("taxes", "Keep receipts for deductions and file the return before the end of April."),
    ("guitar", "Practice chord changes slowly with a metronome, then raise the tempo."),
    ("sleep", "A dark cool bedroom and a fixed wake-up time improve the quality of sleep."),
];

const QUERIES: &[&str] = &[
    "how to bake bread at home",
    "growing vegetables in summer",
    "travel plans for Japan",
    "memory safety in programming languages",
    "training for a long race",
    "paying income tax",
    "learning a musical instrument",
    "how to sleep better",
];

fn note_path(i: usize) -> String {
    format!("Folder {}/Note {i}.md", i % 6)
}

/// A note's text; `version` > 0 marks an edit with a word found nowhere else.
fn note_text(i: usize, version: usize) -> String {
    let (a, ta) = TOPICS[i % TOPICS.len()];
    let (b, tb) = TOPICS[(i * 7 + 3) % TOPICS.len()];
    let marker = marker(i, version);
    format!(
        "# Note {i} on {a}\n\n{ta} Entry {i} adds its own detail, {marker}.\n\n## About {b}\n\n{tb} Written down as item {i}.\n\n## Log\n\nDay {i}, revision {version}: more about {a} and {b}.\n"
    )
}

/// A word that appears only in version `version` of note `i`.
fn marker(i: usize, version: usize) -> String {
    format!("zq{i}x{version}w")
}

fn write_note(vault: &Path, i: usize, version: usize) {
    let file = vault.join(note_path(i));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, note_text(i, version)).unwrap();
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// The burst: every change is a whole-file write (an edit), a new note, or a deletion. Returns
/// the final version of each note (`None`: deleted).
fn burst(vault: &Path) -> BTreeMap<usize, Option<usize>> {
    let mut versions: BTreeMap<usize, Option<usize>> = (0..NOTES).map(|i| (i, Some(0))).collect();
    let edits = CHANGES - NEW_NOTES - DELETED_NOTES;
    for n in 0..CHANGES {
        if n % (CHANGES / NEW_NOTES) == 0 && n / (CHANGES / NEW_NOTES) < NEW_NOTES {
            let i = NOTES + n / (CHANGES / NEW_NOTES);
            write_note(vault, i, 1);
            versions.insert(i, Some(1));
        } else if n % (CHANGES / DELETED_NOTES) == 7
            && n / (CHANGES / DELETED_NOTES) < DELETED_NOTES
        {
            let i = NOTES - 1 - n / (CHANGES / DELETED_NOTES);
            std::fs::remove_file(vault.join(note_path(i))).unwrap();
            versions.insert(i, None);
        } else {
            // Edits spread over the live notes, several per note.
            let i = (n * 37) % (NOTES - DELETED_NOTES);
            let version = versions[&i].unwrap_or(0) + 1;
            write_note(vault, i, version);
            versions.insert(i, Some(version));
        }
        // Spread over ~10 s, so that changes keep arriving while the searches run.
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(edits > 0);
    versions
}

fn chunks_without_vectors(db: &Connection) -> i64 {
    db.query_row(
        "SELECT count(*) FROM chunks c WHERE NOT EXISTS
         (SELECT 1 FROM vectors v WHERE v.content_hash = c.content_hash)",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// `vault-rag index` of `vault` into a fresh data dir, as the reference.
fn clean_index(vault: &Path, data: &Path) -> PathBuf {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vault-rag"))
        .arg("index")
        .arg(vault)
        .arg("--data-dir")
        .arg(data)
        .args(support::model_args())
        .env("VAULT_RAG_LOG", "warn")
        .output()
        .expect("run vault-rag index");
    assert!(
        out.status.success(),
        "vault-rag index failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    data.join("index.sqlite")
}

/// Waits until a lexical search for every live note's last marker finds that note first, and
/// deleted notes are gone. Returns how long it took.
fn wait_caught_up(server: &Server, versions: &BTreeMap<usize, Option<usize>>) -> Duration {
    let started = Instant::now();
    loop {
        let mut behind = Vec::new();
        for (&i, version) in versions {
            let probe = marker(i, version.unwrap_or(0));
            let found = server.post(
                "/search",
                &json!({"query": probe, "mode": "lexical", "top_k": 3}),
            );
            assert_eq!(found.status, 200, "{}", found.text());
            let hits = found.json()["hits"].clone();
            let top = hits[0]["path"].as_str().map(str::to_string);
            let ok = match version {
                Some(_) => top.as_deref() == Some(note_path(i).as_str()),
                None => top.is_none(),
            };
            if !ok {
                behind.push(format!("{} ({probe}): {hits}", note_path(i)));
            }
        }
        let status = server.get("/index/status").json();
        if behind.is_empty() && status["state"] == "idle" && status["complete"] == true {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < CATCH_UP,
            "the index is still behind {CATCH_UP:?} after the burst ({} notes): {}\nstatus: {status}",
            behind.len(),
            behind.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn fifty_clients_search_during_a_reindex_and_an_edit_burst() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    for i in 0..NOTES {
        write_note(&vault, i, 0);
    }
    let data = dir.path().join("data");
    let started = Instant::now();
    let mut server = start(&vault, &data, Some("load-token"), &[]);
    let server_ref = &server;
    // The first full pass runs from the start; a full rebuild is queued on top of it.
    let rebuilt = server_ref.post("/index/rebuild", &json!({}));
    assert_eq!(rebuilt.status, 200, "{}", rebuilt.text());

    let searches_done = AtomicBool::new(false);
    let saw_indexing = AtomicBool::new(false);
    let incomplete = AtomicUsize::new(0);
    let latencies = Mutex::new(Vec::<(&str, f64)>::with_capacity(
        CLIENTS * SEARCHES_PER_CLIENT,
    ));
    let errors = Mutex::new(Vec::<String>::new());
    let (versions, burst_took) = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !searches_done.load(Ordering::SeqCst) {
                let status = server_ref.get("/index/status").json();
                if status["state"] == "indexing" || status["state"] == "scanning" {
                    saw_indexing.store(true, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let editor = scope.spawn(|| {
            let started = Instant::now();
            (burst(&vault), started.elapsed())
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (latencies, errors, incomplete) = (&latencies, &errors, &incomplete);
                scope.spawn(move || {
                    for n in 0..SEARCHES_PER_CLIENT {
                        let query = QUERIES[(c + n) % QUERIES.len()];
                        let mode = ["hybrid", "dense", "lexical", "hybrid"][(c * 3 + n) % 4];
                        let t = Instant::now();
                        let response = server_ref.post(
                            "/search",
                            &json!({"query": query, "top_k": 10, "mode": mode}),
                        );
                        let ms = t.elapsed().as_secs_f64() * 1000.0;
                        if response.status != 200 {
                            errors.lock().unwrap().push(format!(
                                "client {c} search {n}: {} {}",
                                response.status,
                                response.text()
                            ));
                            continue;
                        }
                        if response.json()["index_complete"] == false {
                            incomplete.fetch_add(1, Ordering::SeqCst);
                        }
                        latencies.lock().unwrap().push((mode, ms));
                    }
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
        searches_done.store(true, Ordering::SeqCst);
        editor.join().unwrap()
    });
    let searching_took = started.elapsed();
    let errors = errors.into_inner().unwrap();
    assert!(
        errors.is_empty(),
        "{} of {} searches failed:\n{}",
        errors.len(),
        CLIENTS * SEARCHES_PER_CLIENT,
        errors
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        saw_indexing.load(Ordering::SeqCst),
        "indexing was never observed running during the searches"
    );
    assert!(
        incomplete.load(Ordering::SeqCst) > 0,
        "no search was answered before the index was complete"
    );

    let caught_up = wait_caught_up(&server, &versions);
    let latencies = latencies.into_inner().unwrap();
    let sorted = |mode: Option<&str>| {
        let mut ms: Vec<f64> = latencies
            .iter()
            .filter(|(m, _)| mode.is_none_or(|mode| mode == *m))
            .map(|(_, ms)| *ms)
            .collect();
        ms.sort_by(f64::total_cmp);
        ms
    };
    let all = sorted(None);
    let per_mode: Vec<String> = ["hybrid", "dense", "lexical"]
        .iter()
        .map(|mode| {
            let ms = sorted(Some(mode));
            format!(
                "{mode} p50 {:.1} ms, p99 {:.1} ms",
                percentile(&ms, 0.5),
                percentile(&ms, 0.99)
            )
        })
        .collect();
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    eprintln!(
        "[{profile}] {CLIENTS} clients x {SEARCHES_PER_CLIENT} searches during indexing of {NOTES} notes \
         and {CHANGES} file changes (burst took {:.1} s): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         searches done after {:.1} s; index caught up {:.1} s after that; {}",
        burst_took.as_secs_f64(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all[all.len() - 1],
        searching_took.as_secs_f64(),
        caught_up.as_secs_f64(),
        per_mode.join("; "),
    );
    assert!(server.extra_stdout.lock().unwrap().is_empty());

    // A graceful stop commits everything; then the index must equal a clean one of the same files.
    server.signal("TERM");
    let exit = server.wait_exit(Duration::from_secs(60));
    assert!(exit.success(), "{exit:?}\n{}", server.stderr_text());
    let served = Connection::open(data.join("index.sqlite")).unwrap();
    assert_eq!(
        served
            .query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
            .unwrap(),
        "ok"
    );
    let reference = Connection::open(clean_index(&vault, &dir.path().join("clean"))).unwrap();
    let (served_rows, reference_rows) = (
        support::index_rows(&served),
        support::index_rows(&reference),
    );
    let live = versions.values().filter(|v| v.is_some()).count();
    let notes: i64 = served
        .query_row("SELECT count(*) FROM notes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(notes as usize, live);
    if served_rows != reference_rows {
        let first = served_rows
            .iter()
            .zip(&reference_rows)
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("served:    {a}\nreference: {b}"))
            .unwrap_or_else(|| {
                format!(
                    "{} rows served, {} in the reference",
                    served_rows.len(),
                    reference_rows.len()
                )
            });
        panic!("the served index differs from a clean index of the final vault:\n{first}");
    }
    assert_eq!(chunks_without_vectors(&served), 0, "chunks without vectors");
}
