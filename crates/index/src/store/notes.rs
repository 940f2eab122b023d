//! Rows of notes, chunks, their full-text entries and failures.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::{conn_file, Reader, WriteTx};
use serde::Serialize;

use super::sql_err;
use crate::error::IndexError;
use crate::fts::fts_document;

/// What the index remembers about a note file, to tell whether it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteState {
    pub id: i64,
    pub mtime_ns: i64,
    pub size: u64,
    pub content_hash: Vec<u8>,
}

/// A note to write.
#[derive(Debug, Clone)]
pub struct NoteRecord<'a> {
    pub path: &'a str,
    pub mtime_ns: i64,
    pub size: u64,
    pub content_hash: &'a [u8],
    pub title: &'a str,
    pub tags: &'a [String],
    pub aliases: &'a [String],
    pub links: Vec<&'a str>,
}

/// A chunk to write.
#[derive(Debug, Clone)]
pub struct ChunkRecord<'a> {
    pub heading_path: &'a [String],
    pub start_line: usize,
    pub end_line: usize,
    pub block_id: Option<&'a str>,
    pub text: &'a str,
    pub content_hash: &'a [u8],
}

/// Ids touched by writing one note, for the in-memory vector matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenNote {
    pub note_id: i64,
    /// Chunks that were replaced (removed from the index).
    pub removed_chunks: Vec<i64>,
    /// The note's chunks now, in order.
    pub chunk_ids: Vec<i64>,
}

/// A note that could not be indexed, or only partly, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoteFailure {
    pub path: String,
    pub reason: String,
}

fn err<'a>(
    path: &'a Path,
    context: &'static str,
) -> impl FnOnce(rusqlite::Error) -> IndexError + 'a {
    sql_err(path, context)
}

/// Every indexed note, by path.
pub(crate) fn note_states(r: &Reader<'_>) -> Result<HashMap<String, NoteState>, IndexError> {
    let conn = r.conn();
    let e = || err(conn_file(conn), "reading notes");
    let mut stmt = conn
        .prepare("SELECT path, id, mtime_ns, size, content_hash FROM notes")
        .map_err(e())?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                NoteState {
                    id: r.get(1)?,
                    mtime_ns: r.get(2)?,
                    size: r.get::<_, i64>(3)?.max(0) as u64,
                    content_hash: r.get(4)?,
                },
            ))
        })
        .map_err(e())?;
    rows.collect::<Result<_, _>>().map_err(e())
}

/// One note's state.
pub(crate) fn note_state(r: &Reader<'_>, path: &str) -> Result<Option<NoteState>, IndexError> {
    let conn = r.conn();
    conn.query_row(
        "SELECT id, mtime_ns, size, content_hash FROM notes WHERE path = ?1",
        [path],
        |r| {
            Ok(NoteState {
                id: r.get(0)?,
                mtime_ns: r.get(1)?,
                size: r.get::<_, i64>(2)?.max(0) as u64,
                content_hash: r.get(3)?,
            })
        },
    )
    .optional()
    .map_err(err(conn_file(conn), "reading a note"))
}

/// Paths of indexed notes inside folder `prefix` (vault-relative, no trailing `/`).
pub(crate) fn notes_under(r: &Reader<'_>, prefix: &str) -> Result<Vec<String>, IndexError> {
    let conn = r.conn();
    let e = || err(conn_file(conn), "listing notes of a folder");
    // `/` + 1 = `0`: the range [prefix/, prefix0) holds exactly the paths below the folder.
    let lo = format!("{prefix}/");
    let hi = format!("{prefix}0");
    let mut stmt = conn
        .prepare("SELECT path FROM notes WHERE path >= ?1 AND path < ?2 ORDER BY path")
        .map_err(e())?;
    let rows = stmt
        .query_map([lo, hi], |r| r.get::<_, String>(0))
        .map_err(e())?;
    rows.collect::<Result<_, _>>().map_err(e())
}

/// A note as listed to callers: what the index knows about it, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedNote {
    pub path: String,
    pub title: String,
    pub tags: Vec<String>,
    pub aliases: Vec<String>,
    /// Modification time of the file when it was indexed (ns since the Unix epoch).
    pub mtime_ns: i64,
    pub size: u64,
}

/// Indexed notes inside folder `prefix` (vault-relative, no trailing `/`; `None` for all)
/// modified at or after `since_ns`, by path.
pub(crate) fn listed_notes(
    r: &Reader<'_>,
    prefix: Option<&str>,
    since_ns: Option<i64>,
) -> Result<Vec<ListedNote>, IndexError> {
    let conn = r.conn();
    let e = || err(conn_file(conn), "listing notes");
    // Same range trick as `notes_under`; the whole vault when there is no folder.
    let (lo, hi) = match prefix {
        Some(p) => (format!("{p}/"), Some(format!("{p}0"))),
        None => (String::new(), None),
    };
    let mut stmt = conn
        .prepare(
            "SELECT path, title, tags, aliases, mtime_ns, size FROM notes
             WHERE path >= ?1 AND (?2 IS NULL OR path < ?2) AND (?3 IS NULL OR mtime_ns >= ?3)
             ORDER BY path",
        )
        .map_err(e())?;
    let rows = stmt
        .query_map(params![lo, hi, since_ns], |r| {
            let list = |s: String| serde_json::from_str::<Vec<String>>(&s).unwrap_or_default();
            Ok(ListedNote {
                path: r.get(0)?,
                title: r.get(1)?,
                tags: list(r.get(2)?),
                aliases: list(r.get(3)?),
                mtime_ns: r.get(4)?,
                size: r.get::<_, i64>(5)?.max(0) as u64,
            })
        })
        .map_err(e())?;
    rows.collect::<Result<_, _>>().map_err(e())
}

/// Inserts or replaces a note and all its chunks (and their full-text rows).
pub(crate) fn write_note(
    w: &WriteTx<'_>,
    note: &NoteRecord<'_>,
    chunks: &[ChunkRecord<'_>],
) -> Result<WrittenNote, IndexError> {
    let tx: &Connection = &w.tx;
    let path = conn_file(tx);
    let e = || err(path, "writing a note");
    let note_id: i64 = tx
        .query_row(
            "INSERT INTO notes(path, mtime_ns, size, content_hash, title, tags, aliases, links, indexed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, unixepoch())
             ON CONFLICT(path) DO UPDATE SET mtime_ns = excluded.mtime_ns, size = excluded.size,
                 content_hash = excluded.content_hash, title = excluded.title, tags = excluded.tags,
                 aliases = excluded.aliases, links = excluded.links, indexed_at = excluded.indexed_at
             RETURNING id",
            params![
                note.path,
                note.mtime_ns,
                note.size as i64,
                note.content_hash,
                note.title,
                json(note.tags),
                json(note.aliases),
                json(&note.links),
            ],
            |r| r.get(0),
        )
        .map_err(e())?;
    let removed_chunks = chunk_ids(tx, note_id)?;
    // The trigger removes their full-text rows.
    tx.execute("DELETE FROM chunks WHERE note_id = ?1", [note_id])
        .map_err(e())?;
    let mut insert_chunk = tx
        .prepare_cached(
            "INSERT INTO chunks(note_id, ord, heading_path, start_line, end_line, block_id, text, content_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(e())?;
    let mut insert_fts = tx
        .prepare_cached(
            "INSERT INTO chunks_fts(rowid, title, headings, body) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(e())?;
    let title_fts = title_document(note.title, note.aliases);
    let mut ids = Vec::with_capacity(chunks.len());
    for (ord, c) in chunks.iter().enumerate() {
        insert_chunk
            .execute(params![
                note_id,
                ord as i64,
                json(c.heading_path),
                c.start_line as i64,
                c.end_line as i64,
                c.block_id,
                c.text,
                c.content_hash,
            ])
            .map_err(e())?;
        let id = tx.last_insert_rowid();
        insert_fts
            .execute(params![
                id,
                title_fts,
                headings_document(c.heading_path),
                fts_document(c.text),
            ])
            .map_err(e())?;
        ids.push(id);
    }
    Ok(WrittenNote {
        note_id,
        removed_chunks,
        chunk_ids: ids,
    })
}

/// The `title` column of a note's full-text rows. Aliases are other names of the note: a search
/// for one should find it like its title.
fn title_document(title: &str, aliases: &[String]) -> String {
    let mut field = title.to_string();
    for alias in aliases {
        field.push('\n');
        field.push_str(alias);
    }
    fts_document(&field)
}

fn headings_document(heading_path: &[String]) -> String {
    fts_document(&heading_path.join("\n"))
}

/// The `title`, `headings` and `body` columns of a chunk's full-text row.
pub(super) fn fts_fields(
    title: &str,
    aliases: &[String],
    heading_path: &[String],
    text: &str,
) -> (String, String, String) {
    (
        title_document(title, aliases),
        headings_document(heading_path),
        fts_document(text),
    )
}

/// A list column read back; a malformed value (never written by us) reads as empty.
pub(super) fn json_list(raw: &str) -> Vec<String> {
    serde_json::from_str(raw).unwrap_or_default()
}

/// A list column's JSON text.
fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Chunk ids of a note, in order.
fn chunk_ids(conn: &Connection, note_id: i64) -> Result<Vec<i64>, IndexError> {
    let e = || err(conn_file(conn), "listing chunks");
    let mut stmt = conn
        .prepare_cached("SELECT id FROM chunks WHERE note_id = ?1 ORDER BY ord")
        .map_err(e())?;
    let rows = stmt.query_map([note_id], |r| r.get(0)).map_err(e())?;
    rows.collect::<Result<_, _>>().map_err(e())
}

/// Records a new (mtime, size) for a note whose content did not change.
pub(crate) fn touch_note(
    w: &WriteTx<'_>,
    note_id: i64,
    mtime_ns: i64,
    size: u64,
) -> Result<(), IndexError> {
    let tx: &Connection = &w.tx;
    tx.execute(
        "UPDATE notes SET mtime_ns = ?2, size = ?3 WHERE id = ?1",
        params![note_id, mtime_ns, size as i64],
    )
    .map(drop)
    .map_err(err(conn_file(tx), "updating a note"))
}

/// Removes a note, its chunks and their full-text rows; returns its id and chunk ids when it
/// was indexed. Vectors stay until garbage collection: a moved note reuses them.
pub(crate) fn delete_note(
    w: &WriteTx<'_>,
    path: &str,
) -> Result<Option<(i64, Vec<i64>)>, IndexError> {
    let tx: &Connection = &w.tx;
    let e = || err(conn_file(tx), "deleting a note");
    let id: Option<i64> = tx
        .query_row("SELECT id FROM notes WHERE path = ?1", [path], |r| r.get(0))
        .optional()
        .map_err(e())?;
    let Some(id) = id else {
        return Ok(None);
    };
    let chunks = chunk_ids(tx, id)?;
    tx.execute("DELETE FROM notes WHERE id = ?1", [id])
        .map_err(e())?;
    Ok(Some((id, chunks)))
}

/// Records why `path` was not (fully) indexed. `file` is the (mtime_ns, size) of a note that
/// was skipped entirely (it is retried when they change); `None` for a note indexed with a warning.
pub(crate) fn set_failure(
    w: &WriteTx<'_>,
    path: &str,
    reason: &str,
    file: Option<(i64, u64)>,
) -> Result<(), IndexError> {
    let tx: &Connection = &w.tx;
    tx.execute(
        "INSERT INTO failures(path, reason, at, mtime_ns, size) VALUES (?1, ?2, unixepoch(), ?3, ?4)
         ON CONFLICT(path) DO UPDATE SET reason = excluded.reason, at = excluded.at,
             mtime_ns = excluded.mtime_ns, size = excluded.size",
        params![path, reason, file.map(|f| f.0), file.map(|f| f.1 as i64)],
    )
    .map(drop)
    .map_err(err(conn_file(tx), "recording a failure"))
}

/// Forgets the failure of `path` (it indexed cleanly, or it is gone).
pub(crate) fn clear_failure(w: &WriteTx<'_>, path: &str) -> Result<(), IndexError> {
    let tx: &Connection = &w.tx;
    tx.execute("DELETE FROM failures WHERE path = ?1", [path])
        .map(drop)
        .map_err(err(conn_file(tx), "clearing a failure"))
}

/// Every recorded failure, by path.
pub(crate) fn failures(r: &Reader<'_>) -> Result<Vec<NoteFailure>, IndexError> {
    let conn = r.conn();
    let e = || err(conn_file(conn), "reading failures");
    let mut stmt = conn
        .prepare("SELECT path, reason FROM failures ORDER BY path")
        .map_err(e())?;
    let rows = stmt
        .query_map([], |r| {
            Ok(NoteFailure {
                path: r.get(0)?,
                reason: r.get(1)?,
            })
        })
        .map_err(e())?;
    rows.collect::<Result<_, _>>().map_err(e())
}

/// Notes that were skipped entirely, with the (mtime_ns, size) they had then.
pub(crate) fn skipped_files(r: &Reader<'_>) -> Result<HashMap<String, (i64, u64)>, IndexError> {
    let conn = r.conn();
    let e = || err(conn_file(conn), "reading failures");
    let mut stmt = conn
        .prepare("SELECT path, mtime_ns, size FROM failures WHERE mtime_ns IS NOT NULL AND size IS NOT NULL")
        .map_err(e())?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                (r.get(1)?, r.get::<_, i64>(2)?.max(0) as u64),
            ))
        })
        .map_err(e())?;
    rows.collect::<Result<_, _>>().map_err(e())
}

/// (notes, chunks) in the index.
pub(crate) fn counts(r: &Reader<'_>) -> Result<(u64, u64), IndexError> {
    let conn = r.conn();
    conn.query_row(
        "SELECT (SELECT count(*) FROM notes), (SELECT count(*) FROM chunks)",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)?.max(0) as u64,
                r.get::<_, i64>(1)?.max(0) as u64,
            ))
        },
    )
    .map_err(err(conn_file(conn), "counting notes"))
}

/// (chunk id, note id) of every chunk whose embedded text has `hash`.
pub(crate) fn chunks_with_hash(
    w: &WriteTx<'_>,
    hash: &[u8],
) -> Result<Vec<(i64, i64)>, IndexError> {
    let conn: &Connection = &w.tx;
    let e = || err(conn_file(conn), "finding chunks by content");
    let mut stmt = conn
        .prepare_cached("SELECT id, note_id FROM chunks WHERE content_hash = ?1")
        .map_err(e())?;
    let rows = stmt
        .query_map([hash], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(e())?;
    rows.collect::<Result<_, _>>().map_err(e())
}

/// Paths of the notes that have a chunk whose embedded text has `hash`.
pub(crate) fn paths_with_hash(w: &WriteTx<'_>, hash: &[u8]) -> Result<Vec<String>, IndexError> {
    let conn: &Connection = &w.tx;
    let e = || err(conn_file(conn), "finding notes by content");
    let mut stmt = conn
        .prepare_cached(
            "SELECT DISTINCT n.path FROM chunks c JOIN notes n ON n.id = c.note_id
             WHERE c.content_hash = ?1",
        )
        .map_err(e())?;
    let rows = stmt.query_map([hash], |r| r.get(0)).map_err(e())?;
    rows.collect::<Result<_, _>>().map_err(e())
}
