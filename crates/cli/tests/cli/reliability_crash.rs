//! Crash consistency: `vault-rag index` (and sometimes `vault-rag serve`, which indexes at
//! start) is killed with SIGKILL at 20 seeded random moments of indexing a generated vault
//! whose notes are moved and rewritten between runs. After every kill the file passes
//! `PRAGMA integrity_check` and holds no half-written note; once the vault is restored, the
//! next run finishes, and its index equals the index a clean run builds from the same vault.

use crate::reliability_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use reliability_support::{
    assert_same_index, command, count, generate_vault, index_file, index_json, integrity,
    note_text, Rng,
};
use rusqlite::Connection;

const SEED: u64 = 0x5EED_0009;
const NOTES: usize = 60;
const KILLS: usize = 20;

/// What any committed state must satisfy, wherever the kill landed.
fn check_after_kill(data: &Path, what: &str) {
    let db = index_file(data);
    if !db.exists() {
        return; // killed before the index was created
    }
    assert_eq!(integrity(&db), "ok", "{what}");
    let conn = Connection::open(&db).unwrap();
    let tables = count(
        &conn,
        "SELECT count(*) FROM sqlite_master WHERE name IN ('meta', 'notes', 'chunks', 'vectors', 'chunks_fts')",
    );
    if tables == 0 {
        return; // killed while the schema was being created: nothing committed yet
    }
    assert_eq!(
        tables, 5,
        "the schema is created in one transaction: {what}"
    );
    // A note is committed with its chunks and their full-text rows, or not at all; vectors
    // follow in later commits (a first pass writes every note for keyword search first), and
    // each one committed belongs to a chunk text of the index or to the pass's garbage.
    let orphan_vectors_of_this_model = count(
        &conn,
        "SELECT count(*) FROM vectors v WHERE v.fingerprint = (SELECT value FROM meta WHERE key = 'fingerprint_id')
           AND length(v.vec) = 0",
    );
    assert_eq!(orphan_vectors_of_this_model, 0, "an empty vector: {what}");
    let chunks = count(&conn, "SELECT count(*) FROM chunks");
    let fts = count(&conn, "SELECT count(*) FROM chunks_fts");
    assert_eq!(
        fts, chunks,
        "full-text rows out of step with chunks: {what}"
    );
    let empty_notes = count(
        &conn,
        "SELECT count(*) FROM notes n WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.note_id = n.id)",
    );
    assert_eq!(empty_notes, 0, "a note without its chunks: {what}");
}

/// The generated vault and the changes made to it between runs: notes moved into `moved/` and
/// back (deletes and adds that reuse vectors), and notes rewritten with other text (new
/// chunks to embed). [`Churn::restore`] puts back every file's bytes and mtime, so that the
/// final vault is the one the reference index was built from.
struct Churn<'a> {
    vault: &'a Path,
    notes: Vec<String>,
    originals: Vec<(Vec<u8>, std::time::SystemTime)>,
    moved: Vec<bool>,
}

impl<'a> Churn<'a> {
    fn new(vault: &'a Path) -> Self {
        let notes = list_notes(vault);
        let originals = notes
            .iter()
            .map(|n| {
                let p = vault.join(n);
                let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
                (std::fs::read(&p).unwrap(), mtime)
            })
            .collect();
        let moved = vec![false; notes.len()];
        Self {
            vault,
            notes,
            originals,
            moved,
        }
    }

    fn away(&self, i: usize) -> PathBuf {
        self.vault
            .join("moved")
            .join(self.notes[i].replace('/', "-"))
    }

    fn current(&self, i: usize) -> PathBuf {
        if self.moved[i] {
            self.away(i)
        } else {
            self.vault.join(&self.notes[i])
        }
    }

    fn toggle(&mut self, i: usize) {
        std::fs::create_dir_all(self.vault.join("moved")).unwrap();
        let from = self.current(i);
        self.moved[i] = !self.moved[i];
        std::fs::rename(from, self.current(i)).unwrap();
    }

    /// Moves `moves` notes and rewrites `rewrites` notes.
    fn change(&mut self, rng: &mut Rng, moves: usize, rewrites: usize) {
        for _ in 0..moves {
            self.toggle(rng.below(self.notes.len() as u64) as usize);
        }
        for _ in 0..rewrites {
            let i = rng.below(self.notes.len() as u64) as usize;
            let id = 1000 + rng.below(1000) as usize;
            let text = note_text(rng, id);
            std::fs::write(self.current(i), text).unwrap();
        }
    }

    fn restore(&mut self) {
        for i in 0..self.notes.len() {
            if self.moved[i] {
                self.toggle(i);
            }
            let (bytes, mtime) = &self.originals[i];
            let path = self.vault.join(&self.notes[i]);
            std::fs::write(&path, bytes).unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(*mtime).unwrap();
        }
        assert_eq!(list_notes(self.vault), self.notes);
    }
}

/// A clean `index --json` run, timed: (summary, time to the first commit, time in all).
fn timed_index(
    vault: &Path,
    data: &Path,
    extra: &[&str],
) -> (serde_json::Value, Duration, Duration) {
    let started = Instant::now();
    let mut child = command("index", vault, data, &[extra, &["--json"]].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vault-rag index");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first_commit = None;
    let mut log = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.starts_with("progress: batch") && first_commit.is_none() {
            first_commit = Some(started.elapsed());
        }
        log.push(line);
    }
    let out = child.wait_with_output().unwrap();
    let total = started.elapsed();
    assert!(out.status.success(), "index failed: {log:?}");
    let summary = serde_json::from_slice(&out.stdout).unwrap();
    (summary, first_commit.expect("no commit reported"), total)
}

fn list_notes(vault: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(vault).unwrap() {
        let dir = dir.unwrap().path();
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            out.push(
                f.strip_prefix(vault)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
        }
    }
    out.sort();
    out
}

#[test]
fn sigkill_at_twenty_random_points_never_corrupts_and_resumes_to_a_clean_index() {
    let started = Instant::now();
    let mut rng = Rng::new(SEED);
    let vault_dir = tempfile::tempdir().unwrap();
    let vault = vault_dir.path();
    generate_vault(vault, &mut rng, NOTES);
    let mut churn = Churn::new(vault);
    let commit = ["--commit-notes", "4"];

    // The reference: a clean run, timed. Its startup (model load, open, scan) and the time of
    // the indexing work that follows set the kill delays.
    let clean = tempfile::tempdir().unwrap();
    let (reference, first_commit, full_time) = timed_index(vault, clean.path(), &commit);
    assert_eq!(reference["notes_indexed"], NOTES, "{reference}");
    let batches = NOTES.div_ceil(4) as u32;
    let per_batch = full_time.saturating_sub(first_commit) / (batches - 1);
    let startup = first_commit.saturating_sub(per_batch);
    let work = full_time.saturating_sub(startup);

    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path();
    let mut kills = Vec::new();
    let mut finished_first = 0;
    let mut attempt = 0;
    while kills.len() < KILLS {
        attempt += 1;
        assert!(attempt <= 2 * KILLS, "runs kept finishing before the kill");
        let serve = attempt % 5 == 3;
        let mut cmd = if serve {
            command("serve", vault, data, &commit)
        } else {
            command("index", vault, data, &commit)
        };
        // Somewhere in the startup, plus a share of the indexing work: over 20 runs the kills
        // walk through the whole index (the first run starts on an empty data dir, so its kill
        // may land in the creation of the schema).
        let delay =
            startup.mul_f64(0.5 + rng.unit()) + work.mul_f64(2.0 * rng.unit() / KILLS as f64);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start vault-rag");
        std::thread::sleep(delay);
        let what = format!(
            "{} killed after {} ms (attempt {attempt})",
            if serve { "serve" } else { "index" },
            delay.as_millis()
        );
        if child.try_wait().unwrap().is_some() {
            // The index was complete before the kill: give the next runs work again.
            finished_first += 1;
            churn.change(&mut rng, 0, NOTES / 4);
        } else {
            child.kill().unwrap(); // SIGKILL: no destructor, no flush, no checkpoint
            assert!(!child.wait().unwrap().success(), "{what}");
            check_after_kill(data, &what);
            kills.push(delay.as_millis());
        }
        churn.change(&mut rng, 3, 2);
    }
    // Every note back home with its bytes and mtime: the vault of the reference.
    churn.restore();

    let resumed = index_json(vault, data, &commit);
    assert_eq!(resumed["notes_seen"], NOTES, "{resumed}");
    assert_eq!(resumed["notes_failed"], 0, "{resumed}");
    let db = index_file(data);
    assert_eq!(integrity(&db), "ok");
    assert_same_index(&db, &index_file(clean.path()));
    let again = index_json(vault, data, &[]);
    assert_eq!(again["chunks_embedded"], 0, "{again}");
    assert_eq!(again["notes_indexed"], 0, "{again}");

    let elapsed = started.elapsed();
    eprintln!(
        "{KILLS} kills at {kills:?} ms (clean run {} ms, of which startup {} ms; \
         {finished_first} runs finished first), {:.1} s in all",
        full_time.as_millis(),
        startup.as_millis(),
        elapsed.as_secs_f64()
    );
    assert!(
        elapsed < Duration::from_secs(300),
        "the harness must stay short enough for CI: {elapsed:?}"
    );
}
