//! The typed queries searches make: rows come back decoded (JSON columns included), so that
//! ranking code never sees SQL or a column layout.

use rusqlite::{params, OptionalExtension};

use super::codec::decode_f16_into;
use super::Reader;
use crate::error::IndexError;

/// BM25 column weights of `chunks_fts(title, headings, body)`: a word in the title or a heading
/// says more about the chunk than one in passing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bm25Weights {
    pub title: f64,
    pub headings: f64,
    pub body: f64,
}

impl Default for Bm25Weights {
    fn default() -> Self {
        Self {
            title: 2.0,
            headings: 1.5,
            body: 1.0,
        }
    }
}

impl Bm25Weights {
    /// Whether every weight is above zero, as bounds on a term's share of a score assume.
    pub(crate) fn positive(&self) -> bool {
        self.title > 0.0 && self.headings > 0.0 && self.body > 0.0
    }
}

/// What a search result shows of a chunk and its note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HitRow {
    pub path: String,
    pub title: String,
    pub heading_path: Vec<String>,
    pub start_line: usize,
    pub end_line: usize,
    pub block_id: Option<String>,
    pub text: String,
}

/// The texts a query's terms are looked for in: the note's title and aliases, the chunk's
/// headings and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MatchTexts {
    pub title: String,
    pub aliases: Vec<String>,
    pub heading_path: Vec<String>,
    pub text: String,
}

/// A JSON list column; an unreadable one is logged and read as empty (it only loses a filter or
/// a heading, never the note).
fn json_list(raw: &str, column: &'static str, row: i64) -> Vec<String> {
    serde_json::from_str(raw).unwrap_or_else(|err| {
        tracing::warn!(column, row, %err, "unreadable list in the index");
        Vec::new()
    })
}

fn line(n: i64) -> usize {
    usize::try_from(n).unwrap_or(1).max(1)
}

impl Reader<'_> {
    /// Path, title, headings, lines and text of a chunk; `None` when it is gone.
    pub(crate) fn hit_row(&self, chunk_id: i64) -> Result<Option<HitRow>, IndexError> {
        let e = || self.err("loading search results");
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT n.path, n.title, c.heading_path, c.start_line, c.end_line, c.block_id, \
                 c.text FROM chunks c JOIN notes n ON n.id = c.note_id WHERE c.id = ?1",
            )
            .map_err(e())?;
        let row = stmt
            .query_row([chunk_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .optional()
            .map_err(e())?;
        Ok(row.map(
            |(path, title, headings, start, end, block_id, text)| HitRow {
                path,
                title,
                heading_path: json_list(&headings, "heading_path", chunk_id),
                start_line: line(start),
                end_line: line(end),
                block_id,
                text,
            },
        ))
    }

    /// The texts of a chunk that query terms are matched against; `None` when it is gone.
    pub(crate) fn match_texts(&self, chunk_id: i64) -> Result<Option<MatchTexts>, IndexError> {
        let e = || self.err("weighing lexical results");
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT n.title, n.aliases, c.heading_path, c.text FROM chunks c \
                 JOIN notes n ON n.id = c.note_id WHERE c.id = ?1",
            )
            .map_err(e())?;
        let row = stmt
            .query_row([chunk_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()
            .map_err(e())?;
        Ok(row.map(|(title, aliases, headings, text)| MatchTexts {
            title,
            aliases: json_list(&aliases, "aliases", chunk_id),
            heading_path: json_list(&headings, "heading_path", chunk_id),
            text,
        }))
    }

    /// Decodes the stored vector of `chunk_id` under `fingerprint` into `out`; false when there is
    /// none (the chunk is gone) or its length is not `out.len()`.
    pub(crate) fn chunk_vector(
        &self,
        chunk_id: i64,
        fingerprint: &str,
        out: &mut [f32],
    ) -> Result<bool, IndexError> {
        let e = || self.err("re-scoring vectors");
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT v.vec FROM chunks c JOIN vectors v \
                 ON v.content_hash = c.content_hash AND v.fingerprint = ?2 WHERE c.id = ?1",
            )
            .map_err(e())?;
        let mut rows = stmt.query(params![chunk_id, fingerprint]).map_err(e())?;
        match rows.next().map_err(e())? {
            Some(row) => {
                let blob = row.get_ref(0).map_err(e())?;
                Ok(decode_f16_into(blob.as_blob().unwrap_or(&[]), out))
            }
            None => Ok(false),
        }
    }

    /// Every chunk vector of `fingerprint` as stored (f16 little-endian, `2 * dims` bytes), as
    /// (chunk id, note id, bytes), in the vectors' key order, not chunk order: asking SQLite for
    /// chunk order reads every chunk row (text included) and then the vectors at random, 4 times
    /// slower at open. The bytes are not decoded here: the sign codes of the default first stage
    /// come straight from the f16 sign bits. Vectors whose length is not `dims` are skipped and
    /// counted in the result.
    pub(crate) fn for_each_chunk_vector(
        &self,
        fingerprint: &str,
        dims: usize,
        mut each: impl FnMut(i64, i64, &[u8]) -> Result<(), IndexError>,
    ) -> Result<usize, IndexError> {
        let e = || self.err("loading vectors");
        // `chunks_by_hash` covers (content_hash, note_id): no chunk row (with its text) is read.
        // (Not forced with INDEXED BY: read-only opens also read files written before it.)
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT c.id, c.note_id, v.vec FROM vectors v \
                 JOIN chunks c ON c.content_hash = v.content_hash \
                 WHERE v.fingerprint = ?1",
            )
            .map_err(e())?;
        let mut rows = stmt.query([fingerprint]).map_err(e())?;
        let mut skipped = 0usize;
        while let Some(row) = rows.next().map_err(e())? {
            let chunk_id: i64 = row.get(0).map_err(e())?;
            let note_id: i64 = row.get(1).map_err(e())?;
            let blob = row.get_ref(2).map_err(e())?.as_blob().unwrap_or(&[]);
            if blob.len() == dims * 2 {
                each(chunk_id, note_id, blob)?;
            } else {
                skipped += 1;
            }
        }
        Ok(skipped)
    }

    /// How many chunks have a vector of `fingerprint` (the rows [`Self::for_each_chunk_vector`]
    /// yields, before length checks).
    pub(crate) fn count_chunk_vectors(&self, fingerprint: &str) -> Result<usize, IndexError> {
        self.conn()
            .query_row(
                "SELECT count(*) FROM chunks c JOIN vectors v \
                 ON v.content_hash = c.content_hash AND v.fingerprint = ?1",
                [fingerprint],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| usize::try_from(n).unwrap_or(0))
            .map_err(self.err("loading vectors"))
    }

    /// Number of stored vectors of `fingerprint` (shared texts count once).
    pub(crate) fn count_vectors(&self, fingerprint: &str) -> Result<u64, IndexError> {
        self.conn()
            .query_row(
                "SELECT count(*) FROM vectors WHERE fingerprint = ?1",
                [fingerprint],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(self.err("counting vectors"))
    }

    /// A note's vectors of `fingerprint` in chunk order (those of the right length).
    pub(crate) fn note_vectors(
        &self,
        note_id: i64,
        fingerprint: &str,
        dims: usize,
    ) -> Result<Vec<Vec<f32>>, IndexError> {
        let e = || self.err("reading a note's vectors");
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT v.vec FROM chunks c JOIN vectors v \
                 ON v.content_hash = c.content_hash AND v.fingerprint = ?2 \
                 WHERE c.note_id = ?1 ORDER BY c.ord",
            )
            .map_err(e())?;
        let mut rows = stmt.query(params![note_id, fingerprint]).map_err(e())?;
        let mut all = Vec::new();
        while let Some(row) = rows.next().map_err(e())? {
            let blob = row.get_ref(0).map_err(e())?;
            let mut v = vec![0f32; dims];
            if decode_f16_into(blob.as_blob().unwrap_or(&[]), &mut v) {
                all.push(v);
            }
        }
        Ok(all)
    }

    /// The id and stored link targets of the note at `path`.
    pub(crate) fn note_links(&self, path: &str) -> Result<Option<(i64, Vec<String>)>, IndexError> {
        let row: Option<(i64, String)> = self
            .conn()
            .prepare_cached("SELECT id, links FROM notes WHERE path = ?1")
            .and_then(|mut s| {
                s.query_row([path], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(self.err("finding similar notes"))?;
        Ok(row.map(|(id, links)| (id, json_list(&links, "links", id))))
    }

    /// (id, path) of every note.
    pub(crate) fn note_paths(&self) -> Result<Vec<(i64, String)>, IndexError> {
        self.conn()
            .prepare_cached("SELECT id, path FROM notes")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()
            })
            .map_err(self.err("resolving links"))
    }

    /// (id, tags) of the notes inside `folder` (whole path segments; every note when `None`).
    pub(crate) fn notes_in_folder(
        &self,
        folder: Option<&str>,
    ) -> Result<Vec<(i64, Vec<String>)>, IndexError> {
        let e = || self.err("applying search filters");
        // `substr` counts characters, as `chars()` does.
        let prefix = folder.map(|f| format!("{f}/"));
        let prefix_len = prefix.as_ref().map_or(0, |p| p.chars().count() as i64);
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT id, tags FROM notes WHERE ?1 IS NULL OR substr(path, 1, ?2) = ?1",
            )
            .map_err(e())?;
        let rows = stmt
            .query_map(params![prefix, prefix_len], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(e())?;
        rows.map(|row| {
            row.map(|(id, tags)| (id, json_list(&tags, "tags", id)))
                .map_err(e())
        })
        .collect()
    }

    /// The notes with a chunk matching the FTS5 expression `expr`.
    pub(crate) fn notes_matching(&self, expr: &str) -> Result<Vec<i64>, IndexError> {
        let e = || self.err("phrase filter");
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT DISTINCT c.note_id FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid \
                 WHERE chunks_fts MATCH ?1",
            )
            .map_err(e())?;
        let rows = stmt
            .query_map(params![expr], |row| row.get::<_, i64>(0))
            .map_err(e())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(e())
    }

    /// Chunks matching the FTS5 expression `expr` in BM25 order (best first) as (chunk id, note
    /// id, −bm25), offered to `keep` until it returns false. `limit` caps the rows SQLite
    /// ranks (it can then keep only that many while sorting); `None` streams them all.
    ///
    /// With `counted`, rows are scored by [`super::fts_rank`]'s function with that phrase list
    /// (the terms' row counts known, chosen phrases scored) instead of FTS5's `bm25()`.
    pub(crate) fn bm25(
        &self,
        expr: &str,
        counted: Option<&[u8]>,
        weights: Bm25Weights,
        limit: Option<usize>,
        mut keep: impl FnMut(i64, i64, f32) -> bool,
    ) -> Result<(), IndexError> {
        let e = || self.err("lexical search");
        let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        // Ranked inside the subquery, joined after: joined first, every matching row (100,000
        // for a common word in a large vault) read its chunk before the sort, three times the
        // cost of the ranking itself.
        let sql = match counted {
            None => {
                "SELECT f.rowid, c.note_id, f.s FROM \
                 (SELECT rowid, bm25(chunks_fts, ?2, ?3, ?4) AS s FROM chunks_fts \
                  WHERE chunks_fts MATCH ?1 ORDER BY s, rowid LIMIT ?5) f \
                 JOIN chunks c ON c.id = f.rowid ORDER BY f.s, f.rowid"
            }
            Some(_) => {
                "SELECT f.rowid, c.note_id, f.s FROM \
                 (SELECT rowid, vault_bm25(chunks_fts, ?2, ?3, ?4, ?6) AS s FROM chunks_fts \
                  WHERE chunks_fts MATCH ?1 ORDER BY s, rowid LIMIT ?5) f \
                 JOIN chunks c ON c.id = f.rowid ORDER BY f.s, f.rowid"
            }
        };
        let mut stmt = self.conn().prepare_cached(sql).map_err(e())?;
        let mut rows = match counted {
            None => stmt.query(params![
                expr,
                weights.title,
                weights.headings,
                weights.body,
                limit
            ]),
            Some(w) => stmt.query(params![
                expr,
                weights.title,
                weights.headings,
                weights.body,
                limit,
                w
            ]),
        }
        .map_err(e())?;
        while let Some(row) = rows.next().map_err(e())? {
            let chunk_id: i64 = row.get(0).map_err(e())?;
            let note_id: i64 = row.get(1).map_err(e())?;
            let bm25: f64 = row.get(2).map_err(e())?;
            if !keep(chunk_id, note_id, -bm25 as f32) {
                break;
            }
        }
        Ok(())
    }

    /// Runs `read` on one snapshot of the index: its statements all see the same committed
    /// state, however the writer commits meanwhile (a search's term counts and its ranking).
    pub(crate) fn snapshot<T>(
        &self,
        read: impl FnOnce() -> Result<T, IndexError>,
    ) -> Result<T, IndexError> {
        let conn = self.conn();
        if !conn.is_autocommit() {
            return read();
        }
        conn.execute_batch("BEGIN")
            .map_err(self.err("starting a read"))?;
        let out = read();
        // A read transaction has nothing to keep: ROLLBACK ends it whatever happened.
        conn.execute_batch("ROLLBACK")
            .map_err(self.err("ending a read"))?;
        out
    }

    /// The rows BM25 counts in the full-text table and, for each FTS5 expression of `parts`,
    /// the rows matching it (BM25's document frequency of one term); `None` when the table has
    /// no row count to read. Counts are remembered while the full-text index is unchanged.
    pub(crate) fn fts_match_counts(
        &self,
        parts: &[String],
    ) -> Result<Option<(u64, Vec<u64>)>, IndexError> {
        let e = || self.err("counting full-text matches");
        // FTS5's averages record (row 1 of its data table: total rows first, as its `bm25()`
        // reads them) and its structure record (row 10, which changes with every write).
        let mut averages: Option<Vec<u8>> = None;
        let mut state = Vec::new();
        {
            let mut stmt = self
                .conn()
                .prepare_cached(
                    "SELECT id, block FROM chunks_fts_data WHERE id IN (10, 1) ORDER BY id DESC",
                )
                .map_err(e())?;
            let mut rows = stmt.query([]).map_err(e())?;
            while let Some(row) = rows.next().map_err(e())? {
                let id: i64 = row.get(0).map_err(e())?;
                let block: Vec<u8> = row.get(1).map_err(e())?;
                state.extend_from_slice(&block);
                if id == 1 {
                    averages = Some(block);
                }
            }
        }
        let Some(rows) = averages.as_deref().and_then(sqlite_varint) else {
            return Ok(None);
        };
        let mut counts = Vec::with_capacity(parts.len());
        for p in parts {
            let known = self.match_counts.lock().get(&state, p);
            let n = match known {
                Some(n) => n,
                None => {
                    let n: i64 = self
                        .conn()
                        .prepare_cached("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1")
                        .and_then(|mut s| s.query_row([p], |r| r.get(0)))
                        .map_err(e())?;
                    let n = u64::try_from(n).unwrap_or(0);
                    self.match_counts.lock().put(&state, p, n);
                    n
                }
            };
            counts.push(n);
        }
        Ok(Some((rows, counts)))
    }
}

/// SQLite's big-endian varint (as FTS5 writes its records): seven bits a byte while the high bit
/// is set, all eight bits of a ninth byte.
fn sqlite_varint(bytes: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(9) {
        if i == 8 {
            return Some((v << 8) | u64::from(b));
        }
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}
