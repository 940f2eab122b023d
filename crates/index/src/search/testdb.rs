//! Test support: a real SQLite index file filled through the store's write transactions (what
//! the indexer uses) without the indexer, plus seeded random vectors and an exact brute-force
//! reference.

use std::path::PathBuf;

use tempfile::TempDir;
use vault_rag_core::fake::HashEmbedder;
use vault_rag_core::{l2_normalize, DocumentText, Embedder};

use super::filter::NoteFilter;
use super::vectors::VectorMatrix;
use crate::store::{embeddings, notes, ChunkRecord, NoteRecord, Reader, Store, WriteTx};

/// A note for [`TestDb::index_notes`]: blank-line-separated paragraphs become chunks; a line
/// starting with `#` sets the heading of the paragraphs after it.
pub struct NoteSpec<'a> {
    pub path: &'a str,
    pub tags: &'a [&'a str],
    pub links: &'a [&'a str],
    pub body: &'a str,
}

impl<'a> NoteSpec<'a> {
    /// A note without tags or links.
    pub fn plain(path: &'a str, body: &'a str) -> Self {
        Self {
            path,
            tags: &[],
            links: &[],
            body,
        }
    }
}

/// A chunk for [`TestDb::add_note`]: headings, (first, last) line, text.
pub type ChunkSpec<'a> = (&'a [String], (usize, usize), &'a str);

pub struct TestDb {
    _dir: TempDir,
    pub path: PathBuf,
    pub store: Store,
}

fn open(path: &std::path::Path) -> Store {
    Store::open(path, HashEmbedder::new(8).fingerprint())
        .unwrap()
        .0
}

fn hash(text: &str) -> [u8; 32] {
    *blake3::hash(text.as_bytes()).as_bytes()
}

impl TestDb {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        let store = open(&path);
        Self {
            _dir: dir,
            path,
            store,
        }
    }

    /// The store, with the folder that must outlive it (for a [`super::Searcher`]).
    pub fn into_store(self) -> (TempDir, Store) {
        (self._dir, self.store)
    }

    /// Re-opens the file (as a restarted process would).
    pub fn reopen(&mut self) {
        self.store = open(&self.path);
    }

    pub fn reader(&self) -> Reader<'_> {
        self.store.reader().unwrap()
    }

    /// Writes a note and its chunks in one transaction; returns the note id and chunk ids.
    pub fn add_note(
        &self,
        path: &str,
        title: &str,
        tags: &[&str],
        links: &[&str],
        chunks: &[ChunkSpec<'_>],
    ) -> (i64, Vec<i64>) {
        self.store
            .write("test", |tx| Ok(write(tx, path, title, tags, links, chunks)))
            .unwrap()
    }

    /// One chunk per vector (`chunks_per_note` chunks per note), in one transaction; the chunks
    /// are numbered from 1 in order.
    pub fn bulk_vectors(&self, fingerprint: &str, vectors: &[Vec<f32>], chunks_per_note: usize) {
        self.store
            .write("test", |tx| {
                for (n, group) in vectors.chunks(chunks_per_note).enumerate() {
                    let i = n * chunks_per_note;
                    let texts: Vec<String> =
                        (i..i + group.len()).map(|j| format!("chunk {j}")).collect();
                    let specs: Vec<ChunkSpec<'_>> = texts
                        .iter()
                        .map(|t| (&[][..], (1, 1), t.as_str()))
                        .collect();
                    write(
                        tx,
                        &format!("n{i}.md"),
                        &format!("Note {i}"),
                        &[],
                        &[],
                        &specs,
                    );
                }
                // Vectors are stored in another order than their chunks, as a first index
                // stores them (newest notes first): odd chunks first, then even ones.
                for parity in [1, 0] {
                    for (j, v) in vectors.iter().enumerate().filter(|(j, _)| j % 2 == parity) {
                        embeddings::insert(tx, fingerprint, &hash(&format!("chunk {j}")), v)?;
                    }
                }
                Ok(())
            })
            .unwrap();
    }

    /// One chunk per text (`per_note` chunks a note, notes `t{i}.md`), in one transaction and
    /// without vectors: for tests of the full-text side at sizes where that matters.
    pub fn bulk_texts(&self, texts: &[String], per_note: usize) {
        self.store
            .write("test", |tx| {
                for (n, group) in texts.chunks(per_note).enumerate() {
                    let specs: Vec<ChunkSpec<'_>> = group
                        .iter()
                        .map(|t| (&[][..], (1, 1), t.as_str()))
                        .collect();
                    write(tx, &format!("t{n}.md"), &format!("T{n}"), &[], &[], &specs);
                }
                Ok(())
            })
            .unwrap();
    }

    /// Indexes `notes` with `embedder` (paragraph chunks, document prompt with the title) and
    /// returns the loaded vector matrix.
    pub fn index_notes(&self, embedder: &dyn Embedder, notes: &[NoteSpec<'_>]) -> VectorMatrix {
        let fp = embedder.fingerprint().id();
        self.store
            .write("test", |tx| {
                for spec in notes {
                    let title = spec
                        .path
                        .rsplit('/')
                        .next()
                        .unwrap()
                        .trim_end_matches(".md")
                        .to_string();
                    let mut heading: Vec<String> = Vec::new();
                    let mut chunks: Vec<(Vec<String>, (usize, usize), &str)> = Vec::new();
                    let mut line = 1;
                    for para in spec.body.split("\n\n") {
                        let n_lines = para.lines().count().max(1);
                        let text = para.trim();
                        if let Some(h) = text.strip_prefix('#') {
                            heading = vec![h.trim_start_matches('#').trim().to_string()];
                        } else if !text.is_empty() {
                            chunks.push((heading.clone(), (line, line + n_lines - 1), text));
                        }
                        line += n_lines + 1;
                    }
                    let specs: Vec<ChunkSpec<'_>> = chunks
                        .iter()
                        .map(|(h, l, t)| (h.as_slice(), *l, *t))
                        .collect();
                    write(tx, spec.path, &title, spec.tags, spec.links, &specs);
                    for (_, _, text) in &chunks {
                        let v = embedder
                            .embed_documents(&[DocumentText {
                                title: Some(&title),
                                text,
                            }])
                            .unwrap()
                            .pop()
                            .unwrap();
                        embeddings::insert(tx, &fp, &hash(text), &v)?;
                    }
                }
                Ok(())
            })
            .unwrap();
        VectorMatrix::load(&self.reader(), &fp, embedder.dim(), Default::default()).unwrap()
    }
}

fn write(
    tx: &WriteTx<'_>,
    path: &str,
    title: &str,
    tags: &[&str],
    links: &[&str],
    chunks: &[ChunkSpec<'_>],
) -> (i64, Vec<i64>) {
    let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
    let hashes: Vec<[u8; 32]> = chunks.iter().map(|c| hash(c.2)).collect();
    let records: Vec<ChunkRecord<'_>> = chunks
        .iter()
        .zip(&hashes)
        .map(|((headings, lines, text), h)| ChunkRecord {
            heading_path: headings,
            start_line: lines.0,
            end_line: lines.1,
            block_id: None,
            text,
            content_hash: h,
        })
        .collect();
    let written = notes::write_note(
        tx,
        &NoteRecord {
            path,
            mtime_ns: 0,
            size: 0,
            content_hash: &[0],
            title,
            tags: &tags,
            aliases: &[],
            links: links.to_vec(),
        },
        &records,
    )
    .unwrap();
    (written.note_id, written.chunk_ids)
}

/// SplitMix64: seeded, no dependency, the same on every platform.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Seeded Gaussian vectors, normalised ([`SplitMix`] + Box-Muller).
pub fn random_unit_vectors(n: usize, dims: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = SplitMix(seed);
    let mut next = move || rng.next_f64();
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
pub fn stored_vectors(reader: &Reader<'_>, fingerprint: &str, dims: usize) -> Vec<(i64, Vec<f32>)> {
    let mut out = Vec::new();
    let skipped = reader
        .for_each_chunk_vector(fingerprint, dims, |chunk, _, f16| {
            let mut v = vec![0f32; dims];
            assert!(crate::store::decode_f16_into(f16, &mut v));
            out.push((chunk, v));
            Ok(())
        })
        .unwrap();
    assert_eq!(skipped, 0);
    out.sort_by_key(|(chunk, _)| *chunk);
    out
}

/// Mean recall@10 of [`super::dense_top`] against exact f32 brute force over `vectors`
/// (chunk id, vector).
pub fn recall_at_10(
    reader: &Reader<'_>,
    fingerprint: &str,
    matrix: &VectorMatrix,
    vectors: &[(i64, Vec<f32>)],
    queries: &[Vec<f32>],
) -> f64 {
    let ctx = super::SearchContext {
        reader,
        vectors: matrix,
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
        let got = super::dense_top(&ctx, q, 50, &NoteFilter::All).unwrap();
        found += got[..10]
            .iter()
            .filter(|s| truth.contains(&s.chunk_id))
            .count();
    }
    found as f64 / (queries.len() * 10) as f64
}
