//! Shared by the `reliability_*` tests: a seeded vault generator, the real binary with the
//! MiniLM model, and comparisons of index files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use rusqlite::Connection;

pub(crate) use crate::support as server;

/// A small seeded generator (splitmix64): the same seed gives the same vault and delays.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const TOPICS: [&str; 10] = [
    "rivers",
    "compilers",
    "sourdough",
    "violins",
    "comets",
    "orchards",
    "railways",
    "glaciers",
    "beekeeping",
    "typography",
];
const WORDS: [&str; 24] = [
    "measured", "slowly", "bright", "narrow", "ancient", "copper", "winter", "quiet", "signal",
    "harvest", "thread", "lantern", "marble", "engine", "meadow", "ledger", "orbit", "pattern",
    "ribbon", "summit", "timber", "valley", "whistle", "yeast",
];

/// One note in Obsidian style: frontmatter, headings, links, tags, lists, a code fence, a
/// comment; some long enough to be split into several chunks.
pub fn note_text(rng: &mut Rng, i: usize) -> String {
    let topic = TOPICS[i % TOPICS.len()];
    let mut s = String::new();
    if rng.below(2) == 0 {
        s.push_str(&format!(
            "---\ntags: [{topic}, n{}]\naliases: [\"{topic} {i}\"]\n---\n",
            i % 7
        ));
    }
    s.push_str(&format!("# Note {i} about {topic}\n\n"));
    // Small notes keep the test fast under load; one in eight has a section long enough to be
    // split into several chunks.
    let sections = 1 + rng.below(2) as usize;
    for sec in 0..sections {
        if sec > 0 {
            s.push_str(&format!("## Part {sec} of {topic}\n\n"));
        }
        let most = if rng.below(8) == 0 { 30 } else { 3 };
        let sentences = 1 + rng.below(most) as usize;
        for _ in 0..sentences {
            let n = 4 + rng.below(6) as usize;
            let words: Vec<&str> = (0..n).map(|_| *rng.pick(&WORDS)).collect();
            s.push_str(&format!("The {topic} {}. ", words.join(" ")));
        }
        s.push_str("\n\n");
        match rng.below(5) {
            0 => s.push_str(&format!(
                "See [[note-{:03}|the other one]] and #{topic}.\n\n",
                rng.below(100)
            )),
            1 => s.push_str("- first item\n- second item with a ^block1\n\n"),
            2 => s.push_str("```rust\nfn main() { println!(\"x\"); }\n```\n\n"),
            3 => s.push_str("%% a private comment %%\n\n"),
            _ => {}
        }
    }
    s
}

pub fn write(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// Writes `n` generated notes into `root` (`topic/note-NNN.md`).
pub fn generate_vault(root: &Path, rng: &mut Rng, n: usize) {
    for i in 0..n {
        let topic = TOPICS[i % TOPICS.len()];
        write(root, &format!("{topic}/note-{i:03}.md"), note_text(rng, i));
    }
}

/// `vault-rag <cmd>` with the MiniLM model flags for commands that embed.
pub fn command(cmd: &str, vault: &Path, data: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vault-rag"));
    c.arg(cmd);
    if cmd == "serve" {
        c.arg("--vault");
    }
    c.arg(vault).arg("--data-dir").arg(data).args(extra);
    if cmd != "status" {
        c.args(server::model_args()).args(["--precision", "int8"]);
    }
    c.env_remove("VAULT_RAG_DATA_DIR")
        .env_remove("VAULT_RAG_TOKEN")
        .env("VAULT_RAG_LOG", "warn");
    c
}

/// Runs `vault-rag index … --json` to completion and returns its summary.
pub fn index_json(vault: &Path, data: &Path, extra: &[&str]) -> serde_json::Value {
    let out = command("index", vault, data, &[extra, &["--json"]].concat())
        .output()
        .expect("run vault-rag index");
    assert!(
        out.status.success(),
        "vault-rag index failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

pub fn index_file(data: &Path) -> PathBuf {
    data.join("index.sqlite")
}

pub fn integrity(db: &Path) -> String {
    Connection::open(db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

pub fn count(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Everything that defines an index's content, without ids (they depend on history): notes,
/// chunks, full-text terms with positions, failures and vector keys. Vector values are compared
/// by [`assert_same_vectors`].
pub fn rows(db: &Connection) -> Vec<String> {
    let mut out = server::index_rows(db);
    out.extend(server::vector_key_rows(db));
    out
}

/// Asserts that two indexes hold the same content; vectors within batching noise.
pub fn assert_same_index(a: &Path, b: &Path) {
    let (a, b) = (Connection::open(a).unwrap(), Connection::open(b).unwrap());
    let (ra, rb) = (rows(&a), rows(&b));
    if ra != rb {
        let first = ra.iter().zip(&rb).position(|(x, y)| x != y);
        panic!(
            "indexes differ: {} vs {} rows; first difference at {first:?}: {:?} vs {:?}",
            ra.len(),
            rb.len(),
            first.map(|i| &ra[i]),
            first.map(|i| &rb[i])
        );
    }
    assert_same_vectors(&a, &b);
}

pub fn assert_same_vectors(a: &Connection, b: &Connection) {
    let (a, b) = (server::stored_vectors(a), server::stored_vectors(b));
    assert_eq!(a.len(), b.len());
    for ((ha, va), (hb, vb)) in a.iter().zip(&b) {
        assert_eq!(ha, hb);
        let cos: f32 = va.iter().zip(vb).map(|(x, y)| x * y).sum();
        assert!(
            cos > 0.98,
            "vector {ha} differs beyond batching noise: cosine {cos}"
        );
    }
}
