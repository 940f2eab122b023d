//! Test support: a real SQLite index file filled directly through the schema, without the
//! indexer, plus seeded random vectors and an exact brute-force reference.

use std::path::PathBuf;

use rusqlite::Connection;
use tempfile::TempDir;
use vault_rag_core::{l2_normalize, DocumentText, Embedder};

use crate::lexical::fts_document;
use crate::vectors::{encode_f16, NoteFilter, VectorMatrix};
use crate::SCHEMA_SQL;

/// A note for [`TestDb::index_notes`]: blank-line-separated paragraphs become chunks; a line
/// starting with `#` sets the heading of the paragraphs after it.
pub struct NoteSpec<'a> {
    pub path: &'a str,
    pub tags: &'a [&'a str],
    pub links: &'a [&'a str],
    pub body: &'a str,
}

pub struct TestDb {
    _dir: TempDir,
    pub path: PathBuf,
    pub conn: Connection,
}

impl TestDb {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_SQL).unwrap();
        Self {
            _dir: dir,
            path,
            conn,
        }
    }

    /// Re-opens the file (as a restarted process would).
    pub fn reopen(&mut self) {
        self.conn = Connection::open(&self.path).unwrap();
    }

    pub fn add_note(&self, path: &str, title: &str, tags: &[&str], links: &[&str]) -> i64 {
        self.conn
            .execute(
                "INSERT INTO notes (path, mtime_ns, size, content_hash, title, tags, aliases, links, \
                 indexed_at) VALUES (?1, 0, 0, x'00', ?2, ?3, '[]', ?4, 0)",
                rusqlite::params![
                    path,
                    title,
                    serde_json::to_string(tags).unwrap(),
                    serde_json::to_string(links).unwrap()
                ],
            )
            .unwrap();
        self.conn.last_insert_rowid()
    }

    /// Adds a chunk (and its FTS row); returns its id.
    pub fn add_chunk(
        &self,
        note_id: i64,
        ord: usize,
        headings: &[String],
        lines: (usize, usize),
        text: &str,
    ) -> i64 {
        let title: String = self
            .conn
            .query_row("SELECT title FROM notes WHERE id = ?1", [note_id], |r| {
                r.get(0)
            })
            .unwrap();
        self.conn
            .execute(
                "INSERT INTO chunks (note_id, ord, heading_path, start_line, end_line, block_id, \
                 text, content_hash) VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7)",
                rusqlite::params![
                    note_id,
                    ord as i64,
                    serde_json::to_string(headings).unwrap(),
                    lines.0 as i64,
                    lines.1 as i64,
                    text,
                    blake3::hash(text.as_bytes()).as_bytes().to_vec()
                ],
            )
            .unwrap();
        let id = self.conn.last_insert_rowid();
        self.conn
            .execute(
                "INSERT INTO chunks_fts (rowid, title, headings, body) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    id,
                    fts_document(&title),
                    fts_document(&headings.join(" ")),
                    fts_document(text)
                ],
            )
            .unwrap();
        id
    }

    pub fn add_vector(&self, chunk_id: i64, fingerprint: &str, v: &[f32]) {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO vectors (content_hash, fingerprint, vec) \
                 SELECT content_hash, ?2, ?3 FROM chunks WHERE id = ?1",
                rusqlite::params![chunk_id, fingerprint, encode_f16(v)],
            )
            .unwrap();
    }

    /// One chunk per vector (`chunks_per_note` chunks per note), in one transaction.
    pub fn bulk_vectors(&self, fingerprint: &str, vectors: &[Vec<f32>], chunks_per_note: usize) {
        self.conn.execute_batch("BEGIN").unwrap();
        let mut note = 0;
        for (i, v) in vectors.iter().enumerate() {
            if i % chunks_per_note == 0 {
                note = self.add_note(&format!("n{i}.md"), &format!("Note {i}"), &[], &[]);
            }
            let chunk = self.add_chunk(
                note,
                i % chunks_per_note,
                &[],
                (1, 1),
                &format!("chunk {i}"),
            );
            self.add_vector(chunk, fingerprint, v);
        }
        self.conn.execute_batch("COMMIT").unwrap();
    }

    /// Indexes `notes` with `embedder` (paragraph chunks, document prompt with the title) and
    /// returns the loaded vector matrix.
    pub fn index_notes(&self, embedder: &dyn Embedder, notes: &[NoteSpec<'_>]) -> VectorMatrix {
        let fp = embedder.fingerprint().id();
        self.conn.execute_batch("BEGIN").unwrap();
        for spec in notes {
            let title = spec
                .path
                .rsplit('/')
                .next()
                .unwrap()
                .trim_end_matches(".md")
                .to_string();
            let note = self.add_note(spec.path, &title, spec.tags, spec.links);
            let mut heading: Vec<String> = Vec::new();
            let mut ord = 0;
            let mut line = 1;
            for para in spec.body.split("\n\n") {
                let n_lines = para.lines().count().max(1);
                let text = para.trim();
                if let Some(h) = text.strip_prefix('#') {
                    heading = vec![h.trim_start_matches('#').trim().to_string()];
                } else if !text.is_empty() {
                    let chunk =
                        self.add_chunk(note, ord, &heading, (line, line + n_lines - 1), text);
                    let v = embedder
                        .embed_documents(&[DocumentText {
                            title: Some(&title),
                            text,
                        }])
                        .unwrap()
                        .pop()
                        .unwrap();
                    self.add_vector(chunk, &fp, &v);
                    ord += 1;
                }
                line += n_lines + 1;
            }
        }
        self.conn.execute_batch("COMMIT").unwrap();
        VectorMatrix::load(&self.conn, &fp, embedder.dim()).unwrap()
    }
}

/// Seeded Gaussian vectors, normalised (SplitMix64 + Box-Muller: no dependency, same on every
/// platform).
pub fn random_unit_vectors(n: usize, dims: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let mut v: Vec<f32> = (0..dims)
                .map(|_| {
                    let (u1, u2) = (next().max(1e-12), next());
                    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
                })
                .collect();
            l2_normalize(&mut v);
            v
        })
        .collect()
}

/// Every stored vector of `fingerprint` with its chunk id, decoded to f32.
pub fn stored_vectors(conn: &Connection, fingerprint: &str, dims: usize) -> Vec<(i64, Vec<f32>)> {
    let mut stmt = conn
        .prepare(
            "SELECT c.id, v.vec FROM chunks c JOIN vectors v ON v.content_hash = c.content_hash \
             AND v.fingerprint = ?1 ORDER BY c.id",
        )
        .unwrap();
    let rows = stmt
        .query_map([fingerprint], |r| {
            let blob: Vec<u8> = r.get(1)?;
            let mut v = vec![0f32; dims];
            assert!(crate::vectors::decode_f16_into(&blob, &mut v));
            Ok((r.get(0)?, v))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// Mean recall@10 of [`crate::search::dense_top`] against exact f32 brute force over `vectors`
/// (chunk id, vector).
pub fn recall_at_10(
    conn: &Connection,
    fingerprint: &str,
    matrix: &VectorMatrix,
    vectors: &[(i64, Vec<f32>)],
    queries: &[Vec<f32>],
) -> f64 {
    let embedder = vault_rag_core::fake::HashEmbedder::new(matrix.dims());
    let ctx = crate::search::SearchContext {
        conn,
        vectors: matrix,
        embedder: &embedder,
        fingerprint_id: fingerprint,
    };
    let mut found = 0usize;
    for q in queries {
        let mut exact: Vec<(f32, i64)> = vectors
            .iter()
            .map(|(id, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), *id))
            .collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let truth: Vec<i64> = exact[..10].iter().map(|e| e.1).collect();
        let got = crate::search::dense_top(&ctx, q, 50, &NoteFilter::All).unwrap();
        found += got[..10]
            .iter()
            .filter(|s| truth.contains(&s.chunk_id))
            .count();
    }
    found as f64 / (queries.len() * 10) as f64
}
