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
    let lexical = search(&server, "mk3q", "lexical");
    assert_eq!(lexical["hits"][0]["path"], "note-003.md", "{lexical}");
    let hybrid = search(&server, "mk250q", "hybrid");
    assert_eq!(hybrid["hits"][0]["path"], "note-250.md", "{hybrid}");
    let coverage = hybrid["dense_coverage"].as_f64().unwrap();
    assert!(coverage < 1.0, "{hybrid}");
    assert_eq!(hybrid["index_complete"], false);

    // Paused: nothing more is embedded.
    std::thread::sleep(Duration::from_millis(500));
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
}
