//! 20 clients search at once while the server re-indexes a few hundred notes with the real
//! model: no request may fail, and searches must not wait for indexing. Prints latency
//! percentiles (run with `--release -- --nocapture` for the numbers worth reporting).

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{start, Server};

const CLIENTS: usize = 20;
const MIN_SEARCHES_PER_CLIENT: usize = 10;
const NOTES: usize = 120;
/// Longest the indexing may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(600);

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

fn write_vault(root: &std::path::Path) {
    for i in 0..NOTES {
        let (a, ta) = TOPICS[i % TOPICS.len()];
        let (b, tb) = TOPICS[(i * 7 + 3) % TOPICS.len()];
        let folder = root.join(format!("Folder {}", i % 6));
        std::fs::create_dir_all(&folder).unwrap();
        let text = format!(
            "# Note {i} on {a}\n\n{ta} Entry {i} adds its own detail number {i}.\n\n## About {b}\n\n{tb} Written down as item {i}.\n\n## Log\n\nDay {i}: more about {a} and {b}.\n"
        );
        std::fs::write(folder.join(format!("Note {i}.md")), text).unwrap();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

#[test]
fn twenty_clients_search_during_a_full_reindex() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    write_vault(&vault);
    let server = Arc::new(start(
        &vault,
        &dir.path().join("data"),
        Some("load-token"),
        &[],
    ));

    // The first full pass embeds every chunk; a rebuild is queued on top of it.
    let rebuilt = server.post("/index/rebuild", &json!({}));
    assert_eq!(rebuilt.status, 200, "{}", rebuilt.text());

    let indexing_done = Arc::new(AtomicBool::new(false));
    let saw_indexing = Arc::new(AtomicBool::new(false));
    let monitor = {
        let server = server.clone();
        let done = indexing_done.clone();
        let saw = saw_indexing.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            loop {
                let status = server.get("/index/status").json();
                if status["state"] == "indexing" || status["state"] == "scanning" {
                    saw.store(true, Ordering::SeqCst);
                }
                if status["complete"] == true && status["state"] == "idle" {
                    done.store(true, Ordering::SeqCst);
                    return status;
                }
                assert!(
                    started.elapsed() < DEADLINE,
                    "indexing did not finish: {status}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    let during = Arc::new(Mutex::new(Vec::<f64>::new()));
    let after = Arc::new(Mutex::new(Vec::<f64>::new()));
    let incomplete_answers = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let server: Arc<Server> = server.clone();
            let done = indexing_done.clone();
            let (during, after, incomplete) =
                (during.clone(), after.clone(), incomplete_answers.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut n = 0;
                while n < MIN_SEARCHES_PER_CLIENT
                    || (!done.load(Ordering::SeqCst) && started.elapsed() < DEADLINE)
                {
                    let query = QUERIES[(c + n) % QUERIES.len()];
                    let while_indexing = !done.load(Ordering::SeqCst);
                    let started = Instant::now();
                    let response = server.post("/search", &json!({"query": query, "top_k": 10}));
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    assert_eq!(
                        response.status,
                        200,
                        "client {c} search {n}: {}",
                        response.text()
                    );
                    let body = response.json();
                    if body["index_complete"] == false {
                        incomplete.fetch_add(1, Ordering::SeqCst);
                    }
                    if while_indexing { &during } else { &after }
                        .lock()
                        .unwrap()
                        .push(ms);
                    n += 1;
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let final_status = monitor.join().unwrap();
    assert_eq!(final_status["notes_indexed"], NOTES, "{final_status}");
    assert!(
        saw_indexing.load(Ordering::SeqCst),
        "indexing was never observed running during the searches"
    );

    let mut during = during.lock().unwrap().clone();
    let mut after = after.lock().unwrap().clone();
    assert!(
        during.len() >= CLIENTS,
        "only {} searches ran while indexing",
        during.len()
    );
    assert!(
        incomplete_answers.load(Ordering::SeqCst) > 0,
        "no search was answered before the index was complete"
    );
    during.sort_by(f64::total_cmp);
    after.sort_by(f64::total_cmp);
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    eprintln!(
        "[{profile}] {CLIENTS} clients, {NOTES} notes: {} searches while indexing: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        during.len(),
        percentile(&during, 0.5),
        percentile(&during, 0.99),
        during[during.len() - 1],
    );
    if !after.is_empty() {
        eprintln!(
            "[{profile}] {} searches after indexing: p50 {:.1} ms, p99 {:.1} ms",
            after.len(),
            percentile(&after, 0.5),
            percentile(&after, 0.99),
        );
    }

    // The index answers correctly once done.
    let found = server
        .post(
            "/search",
            &json!({"query": "memory safety in programming languages", "top_k": 5}),
        )
        .json();
    let top = found["hits"][0]["path"].as_str().unwrap();
    let text = std::fs::read_to_string(vault.join(top)).unwrap();
    assert!(
        text.contains("borrow checker"),
        "top hit {top} is not about rust: {text}"
    );
    assert!(server.extra_stdout.lock().unwrap().is_empty());
}
