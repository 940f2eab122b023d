//! Search latency and vector memory on synthetic indexes.
//!
//! Builds a real SQLite index of N chunks (random unit vectors of 256 dimensions, stored as f16,
//! and random text from a 5,000-word vocabulary in FTS5), loads the int8 matrix, then runs 200
//! queries per mode and prints p50/p99 latency of [`search::run`] (query embedding excluded: it
//! is the model's cost, measured by the embed crate) and the matrix's bytes per chunk.
//!
//! Run: `cargo run --release -p vault-rag-index --example search_bench -- 10000 100000`

use std::time::Instant;

use rusqlite::Connection;
use vault_rag_core::fake::HashEmbedder;
use vault_rag_core::{l2_normalize, Embedder, SearchMode};
use vault_rag_index::lexical::fts_document;
use vault_rag_index::search::{self, SearchContext, SearchRequest};
use vault_rag_index::vectors::encode_f16;
use vault_rag_index::{VectorMatrix, SCHEMA_SQL};

const DIMS: usize = 256;
const QUERIES: usize = 200;
const CHUNKS_PER_NOTE: usize = 5;
const VOCAB: usize = 5000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f32 {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
    fn vector(&mut self) -> Vec<f32> {
        let mut v: Vec<f32> = (0..DIMS).map(|_| self.gauss()).collect();
        l2_normalize(&mut v);
        v
    }
    /// Zipf-like word choice: word i with probability ~ 1/(i+1).
    fn word(&mut self) -> String {
        let x = self.unit();
        let i = ((VOCAB as f64).powf(x) - 1.0) as usize;
        format!("w{}", i.min(VOCAB - 1))
    }
}

fn build(conn: &Connection, n: usize, fp: &str, rng: &mut Rng) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA_SQL)?;
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; BEGIN")?;
    let mut note_id = 0;
    for i in 0..n {
        if i % CHUNKS_PER_NOTE == 0 {
            conn.execute(
                "INSERT INTO notes (path, mtime_ns, size, content_hash, title, tags, aliases, links, \
                 indexed_at) VALUES (?1, 0, 0, x'00', ?2, '[\"bench\"]', '[]', '[]', 0)",
                rusqlite::params![format!("f{}/n{i}.md", i % 50), format!("Note {i}")],
            )?;
            note_id = conn.last_insert_rowid();
        }
        let text: Vec<String> = (0..120).map(|_| rng.word()).collect();
        let text = text.join(" ");
        let hash = blake3::hash(format!("{i} {text}").as_bytes());
        conn.execute(
            "INSERT INTO chunks (note_id, ord, heading_path, start_line, end_line, text, content_hash) \
             VALUES (?1, ?2, '[]', 1, 3, ?3, ?4)",
            rusqlite::params![note_id, (i % CHUNKS_PER_NOTE) as i64, text, &hash.as_bytes()[..]],
        )?;
        let id = conn.last_insert_rowid();
        conn.execute(
            "INSERT INTO chunks_fts (rowid, title, headings, body) VALUES (?1, ?2, '', ?3)",
            rusqlite::params![id, format!("Note {i}"), fts_document(&text)],
        )?;
        conn.execute(
            "INSERT INTO vectors (content_hash, fingerprint, vec) VALUES (?1, ?2, ?3)",
            rusqlite::params![&hash.as_bytes()[..], fp, encode_f16(&rng.vector())],
        )?;
    }
    conn.execute_batch("COMMIT")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() {
        vec![10_000]
    } else {
        sizes
    };
    let embedder = HashEmbedder::new(DIMS);
    let fp = embedder.fingerprint().id();
    for n in sizes {
        let dir = tempfile::tempdir()?;
        let conn = Connection::open(dir.path().join("index.sqlite"))?;
        let mut rng = Rng(n as u64);
        let t = Instant::now();
        build(&conn, n, &fp, &mut rng)?;
        let build_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let matrix = VectorMatrix::load(&conn, &fp, DIMS)?;
        let load_ms = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "{n} chunks: built in {build_s:.1} s, loaded in {load_ms:.0} ms; vectors in memory: \
             {} bytes = {:.1} bytes/chunk",
            matrix.memory_bytes(),
            matrix.memory_bytes() as f64 / matrix.len() as f64
        );
        let ctx = SearchContext {
            conn: &conn,
            vectors: &matrix,
            embedder: &embedder,
            fingerprint_id: &fp,
        };
        for (mode, folder) in [
            (SearchMode::Dense, None),
            (SearchMode::Lexical, None),
            (SearchMode::Hybrid, None),
            (SearchMode::Hybrid, Some("f7")),
        ] {
            let mut times = Vec::with_capacity(QUERIES);
            let mut hits = 0;
            for q in 0..QUERIES {
                let words: Vec<String> = (0..3 + q % 4).map(|_| rng.word()).collect();
                let req = SearchRequest {
                    mode,
                    folder: folder.map(str::to_string),
                    ..SearchRequest::new(words.join(" "))
                };
                let prepared = search::prepare(&embedder, &req)?;
                let t = Instant::now();
                hits += search::run(&ctx, &prepared)?.len();
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "  {:<7} {:<10} p50 {:>7.2} ms  p99 {:>7.2} ms  ({:.1} hits/query)",
                mode.to_string(),
                folder.map(|f| format!("folder {f}")).unwrap_or_default(),
                percentile(&times, 0.5),
                percentile(&times, 0.99),
                hits as f64 / QUERIES as f64
            );
        }
    }
    Ok(())
}
