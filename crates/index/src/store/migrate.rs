//! Upgrades an index written under an earlier schema version, in place and in one transaction:
//! an interrupted upgrade leaves the old version as it was, and the next open tries again.
//!
//! - 1 → 2: the full-text table gains English stemming. Its rows are rebuilt from the chunks'
//!   stored text, so no note is read again and no vector is recomputed.
//! - 2 → 3: the vectors move from a WITHOUT ROWID table, where each one took an overflow page,
//!   to a rowid table (see `schema.sql`); the file is then vacuumed to give the space back.

use std::path::Path;
use std::time::Instant;

use rusqlite::{params, Connection};

use super::notes::{fts_fields, json_list};
use super::sql_error::sql_err;
use super::{SCHEMA_SQL, SCHEMA_VERSION};
use crate::error::IndexError;

/// Brings the index at `path` from schema version `from` to [`SCHEMA_VERSION`].
pub(super) fn upgrade(conn: &mut Connection, path: &Path, from: u32) -> Result<(), IndexError> {
    let started = Instant::now();
    let e = || sql_err(path, "upgrading the index");
    let tx = conn.transaction().map_err(e())?;
    if from < 2 {
        tx.execute_batch("DROP TABLE IF EXISTS chunks_fts;")
            .map_err(e())?;
        // Recreates chunks_fts with the current tokenizer; every other object already exists.
        tx.execute_batch(SCHEMA_SQL).map_err(e())?;
        let mut rows = tx
            .prepare(
                "SELECT c.id, n.title, n.aliases, c.heading_path, c.text
                 FROM chunks c JOIN notes n ON n.id = c.note_id",
            )
            .map_err(e())?;
        let mut insert = tx
            .prepare("INSERT INTO chunks_fts(rowid, title, headings, body) VALUES (?1, ?2, ?3, ?4)")
            .map_err(e())?;
        let mut it = rows.query([]).map_err(e())?;
        let mut count = 0u64;
        while let Some(r) = it.next().map_err(e())? {
            let id: i64 = r.get(0).map_err(e())?;
            let title: String = r.get(1).map_err(e())?;
            let aliases = json_list(&r.get::<_, String>(2).map_err(e())?);
            let headings = json_list(&r.get::<_, String>(3).map_err(e())?);
            let text: String = r.get(4).map_err(e())?;
            let (t, h, b) = fts_fields(&title, &aliases, &headings, &text);
            insert.execute(params![id, t, h, b]).map_err(e())?;
            count += 1;
        }
        drop(it);
        drop(rows);
        drop(insert);
        tracing::info!(
            file = %path.display(),
            chunks = count,
            took_s = started.elapsed().as_secs_f64(),
            "full-text index rebuilt with stemming (schema 1 → 2)"
        );
    }
    if from < 3 {
        let moved = tx
            .execute_batch(
                "CREATE TABLE vectors_v3 (
                     content_hash BLOB NOT NULL,
                     fingerprint  TEXT NOT NULL,
                     vec          BLOB NOT NULL,
                     PRIMARY KEY (content_hash, fingerprint)
                 );
                 INSERT INTO vectors_v3(content_hash, fingerprint, vec)
                     SELECT content_hash, fingerprint, vec FROM vectors;
                 DROP TABLE vectors;
                 ALTER TABLE vectors_v3 RENAME TO vectors;",
            )
            .map_err(e())
            .and_then(|()| {
                tx.query_row("SELECT count(*) FROM vectors", [], |r| r.get::<_, i64>(0))
                    .map_err(e())
            })?;
        tracing::info!(
            file = %path.display(),
            vectors = moved,
            took_s = started.elapsed().as_secs_f64(),
            "vectors moved to a compact table (schema 2 → 3)"
        );
    }
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
        [SCHEMA_VERSION.to_string()],
    )
    .map_err(e())?;
    tx.commit().map_err(e())?;
    if from < 3 {
        // The old table's pages are free now: two thirds of the file. VACUUM hands them back to
        // the disk; when it cannot (no room for its copy), the index is still whole and the
        // free pages are reused by later writes.
        let started = Instant::now();
        match conn.execute_batch("VACUUM") {
            Ok(()) => tracing::info!(
                file = %path.display(),
                took_s = started.elapsed().as_secs_f64(),
                "index file compacted"
            ),
            Err(err) => tracing::warn!(
                file = %path.display(),
                %err,
                "could not compact the index file; its free pages are reused by later writes"
            ),
        }
        // The copy and the vacuum wrote the whole index through the log, and a log is only
        // truncated when asked: left alone it would keep that size until the service stops.
        // Nothing else has the file open yet.
        if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
            tracing::warn!(file = %path.display(), %err, "could not empty the log after the upgrade");
        }
    }
    Ok(())
}
