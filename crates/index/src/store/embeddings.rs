//! Rows of the `vectors` table: one f16 vector per (chunk content hash, embedder fingerprint).
//!
//! The key is the hash of `Chunk::embed_text()` (heading context + text), not of the document
//! prompt, so it leaves out the note title: a renamed or moved note reuses its vectors instead of
//! being embedded again, at the price of vectors that still carry the old title in their prompt
//! until the section itself changes.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, Connection};

use super::{conn_file, Reader, WriteTx};

use super::codec::{decode_f16_into, encode_f16};
use super::sql_err;
use crate::error::IndexError;

/// blake3 of a chunk's embedded text.
pub type ContentHash = [u8; 32];

/// The hashes among `hashes` that already have a vector of `fingerprint`.
pub(crate) fn existing<'a>(
    r: &Reader<'_>,
    fingerprint: &str,
    hashes: impl IntoIterator<Item = &'a ContentHash>,
) -> Result<HashSet<ContentHash>, IndexError> {
    let conn = r.conn();
    let e = || sql_err(conn_file(conn), "looking up vectors");
    let mut stmt = conn
        .prepare_cached("SELECT 1 FROM vectors WHERE content_hash = ?1 AND fingerprint = ?2")
        .map_err(e())?;
    let mut out = HashSet::new();
    for h in hashes {
        if stmt.exists(params![&h[..], fingerprint]).map_err(e())? {
            out.insert(*h);
        }
    }
    Ok(out)
}

/// Stores a vector (as f16); an existing one for the same key is kept.
pub(crate) fn insert(
    w: &WriteTx<'_>,
    fingerprint: &str,
    hash: &ContentHash,
    vector: &[f32],
) -> Result<(), IndexError> {
    let tx: &Connection = &w.tx;
    let mut stmt = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO vectors(content_hash, fingerprint, vec) VALUES (?1, ?2, ?3)",
        )
        .map_err(sql_err(conn_file(tx), "storing a vector"))?;
    stmt.execute(params![&hash[..], fingerprint, encode_f16(vector)])
        .map(drop)
        .map_err(sql_err(conn_file(tx), "storing a vector"))
}

/// The stored vectors of `hashes` (decoded from f16). Hashes without a vector, or with a blob
/// of the wrong length, are absent from the result.
pub(crate) fn load<'a>(
    r: &Reader<'_>,
    fingerprint: &str,
    dims: usize,
    hashes: impl IntoIterator<Item = &'a ContentHash>,
) -> Result<HashMap<ContentHash, Vec<f32>>, IndexError> {
    let conn = r.conn();
    let e = || sql_err(conn_file(conn), "reading vectors");
    let mut stmt = conn
        .prepare_cached("SELECT vec FROM vectors WHERE content_hash = ?1 AND fingerprint = ?2")
        .map_err(e())?;
    let mut out = HashMap::new();
    for h in hashes {
        if out.contains_key(h) {
            continue;
        }
        let mut rows = stmt.query(params![&h[..], fingerprint]).map_err(e())?;
        if let Some(row) = rows.next().map_err(e())? {
            let blob = row.get_ref(0).map_err(e())?;
            let mut v = vec![0f32; dims];
            if decode_f16_into(blob.as_blob().unwrap_or(&[]), &mut v) {
                out.insert(*h, v);
            }
        }
    }
    Ok(out)
}

/// A chunk whose text has no vector of the active embedder yet.
#[derive(Debug, Clone)]
pub struct MissingChunk {
    pub hash: ContentHash,
    pub title: String,
    pub heading_path: Vec<String>,
    pub text: String,
}

/// Every distinct chunk text without a vector of `fingerprint`, in the order to embed them: the
/// most recently modified note first, a note's chunks in order.
pub(crate) fn missing_by_recency(
    r: &Reader<'_>,
    fingerprint: &str,
) -> Result<Vec<ContentHash>, IndexError> {
    let conn = r.conn();
    let e = || sql_err(conn_file(conn), "finding chunks without vectors");
    let mut stmt = conn
        .prepare(
            "SELECT c.content_hash, max(n.mtime_ns) AS newest, min(c.id) AS first
             FROM chunks c JOIN notes n ON n.id = c.note_id
             WHERE NOT EXISTS (SELECT 1 FROM vectors v
                               WHERE v.content_hash = c.content_hash AND v.fingerprint = ?1)
             GROUP BY c.content_hash ORDER BY newest DESC, first",
        )
        .map_err(e())?;
    let rows = stmt
        .query_map([fingerprint], |r| r.get::<_, Vec<u8>>(0))
        .map_err(e())?;
    let mut out = Vec::new();
    for row in rows {
        // A hash not written by this build is skipped; its note is re-chunked when it changes.
        if let Ok(hash) = ContentHash::try_from(row.map_err(e())?.as_slice()) {
            out.push(hash);
        }
    }
    Ok(out)
}

/// The chunk texts of the notes at `paths` (in that order, each note's in reading order) that
/// have no vector of `fingerprint`. Paths not indexed are ignored.
pub(crate) fn missing_in_notes(
    r: &Reader<'_>,
    fingerprint: &str,
    paths: &[String],
) -> Result<Vec<ContentHash>, IndexError> {
    let conn = r.conn();
    let e = || {
        sql_err(
            conn_file(conn),
            "finding the open notes' chunks without vectors",
        )
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT c.content_hash FROM chunks c JOIN notes n ON n.id = c.note_id
             WHERE n.path = ?2
               AND NOT EXISTS (SELECT 1 FROM vectors v
                               WHERE v.content_hash = c.content_hash AND v.fingerprint = ?1)
             ORDER BY c.id",
        )
        .map_err(e())?;
    let mut out = Vec::new();
    for path in paths {
        let rows = stmt
            .query_map(params![fingerprint, path], |r| r.get::<_, Vec<u8>>(0))
            .map_err(e())?;
        for row in rows {
            if let Ok(hash) = ContentHash::try_from(row.map_err(e())?.as_slice()) {
                if !out.contains(&hash) {
                    out.push(hash);
                }
            }
        }
    }
    Ok(out)
}

/// The text to embed for each of `hashes` that still has no vector of `fingerprint`, in the
/// order given (a hash embedded meanwhile, or whose chunks are gone, is left out).
pub(crate) fn missing_chunks(
    r: &Reader<'_>,
    fingerprint: &str,
    hashes: &[ContentHash],
) -> Result<Vec<MissingChunk>, IndexError> {
    let conn = r.conn();
    let e = || sql_err(conn_file(conn), "reading chunks without vectors");
    let mut stmt = conn
        .prepare_cached(
            "SELECT n.title, c.heading_path, c.text
             FROM chunks c JOIN notes n ON n.id = c.note_id
             WHERE c.content_hash = ?2
               AND NOT EXISTS (SELECT 1 FROM vectors v
                               WHERE v.content_hash = c.content_hash AND v.fingerprint = ?1)
             LIMIT 1",
        )
        .map_err(e())?;
    let mut out = Vec::with_capacity(hashes.len());
    for hash in hashes {
        let mut rows = stmt.query(params![fingerprint, &hash[..]]).map_err(e())?;
        if let Some(row) = rows.next().map_err(e())? {
            let headings: String = row.get(1).map_err(e())?;
            out.push(MissingChunk {
                hash: *hash,
                title: row.get(0).map_err(e())?,
                heading_path: serde_json::from_str(&headings).unwrap_or_default(),
                text: row.get(2).map_err(e())?,
            });
        }
    }
    Ok(out)
}

/// Number of distinct chunk texts without a vector of `fingerprint`.
pub(crate) fn count_missing(r: &Reader<'_>, fingerprint: &str) -> Result<u64, IndexError> {
    let conn = r.conn();
    conn.query_row(
        "SELECT count(DISTINCT c.content_hash) FROM chunks c
         WHERE NOT EXISTS (SELECT 1 FROM vectors v
                           WHERE v.content_hash = c.content_hash AND v.fingerprint = ?1)",
        [fingerprint],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n.max(0) as u64)
    .map_err(sql_err(conn_file(conn), "counting chunks without vectors"))
}

/// Deletes vectors of `fingerprint` that no chunk uses, and, when `drop_others`, every vector of
/// other fingerprints (once the active embedder's set is complete). Returns rows deleted.
pub(crate) fn collect_garbage(
    w: &WriteTx<'_>,
    fingerprint: &str,
    drop_others: bool,
) -> Result<usize, IndexError> {
    let tx: &Connection = &w.tx;
    let e = || sql_err(conn_file(tx), "removing unused vectors");
    let mut n = tx
        .execute(
            "DELETE FROM vectors WHERE fingerprint = ?1
               AND content_hash NOT IN (SELECT content_hash FROM chunks)",
            [fingerprint],
        )
        .map_err(e())?;
    if drop_others {
        n += tx
            .execute("DELETE FROM vectors WHERE fingerprint <> ?1", [fingerprint])
            .map_err(e())?;
    }
    Ok(n)
}
