//! Telling a damaged index file from one that is only someone else's or newer, and moving a
//! damaged one aside (never deleting it) so that a new index can be built in its place.
//!
//! Damaged means: not an SQLite file, cut short, failing SQLite's `quick_check`, or an index
//! of ours without a readable schema version, or of an older version this build cannot read.
//! A file of a newer version is refused instead (a newer vault-rag wrote it), and so is an
//! SQLite database that holds other tables (not ours to move).

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode};

use super::sql_err;
use crate::error::IndexError;

/// The 16 bytes every SQLite 3 file starts with.
const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// `path` with `suffix` appended to its file name (`index.sqlite` + `-wal`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = OsString::from(path.as_os_str());
    s.push(suffix);
    PathBuf::from(s)
}

fn corrupt(path: &Path, reason: impl Into<String>) -> IndexError {
    super::seal::damage_seen(path);
    IndexError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Checks the file header before SQLite sees the file: SQLite reads pages lazily, so a file
/// cut short would otherwise only fail at the first search that touches a missing page.
/// A missing or empty file is a new index.
pub(crate) fn check_header(path: &Path) -> Result<(), IndexError> {
    let Ok(mut file) = std::fs::File::open(path) else {
        return Ok(()); // absent (new index) or unreadable: SQLite reports the latter itself
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Ok(());
    }
    let mut head = [0u8; 100];
    if len < head.len() as u64 || file.read_exact(&mut head).is_err() {
        return Err(corrupt(
            path,
            format!("the file is too short to be an SQLite database ({len} bytes)"),
        ));
    }
    if &head[..16] != MAGIC {
        return Err(corrupt(path, "the file is not an SQLite database"));
    }
    let page_size = match u16::from_be_bytes([head[16], head[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(corrupt(path, format!("invalid page size {page_size}")));
    }
    let be32 = |at: usize| u32::from_be_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    let (change_counter, pages, valid_for) = (be32(24), be32(28), be32(92));
    // The page count in the header is valid only when it was written with the change counter.
    // While a write-ahead log holds frames, a checkpoint interrupted by a crash may have
    // written the header before the pages that extend the file: the log completes it, and
    // `quick_check` after opening judges the result.
    let wal_len = std::fs::metadata(with_suffix(path, "-wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    let expected = u64::from(pages) * page_size;
    if change_counter == valid_for && pages > 0 && len < expected && wal_len == 0 {
        return Err(corrupt(
            path,
            format!("the file is cut short: {len} bytes, its header says {expected}"),
        ));
    }
    Ok(())
}

/// Runs SQLite's `quick_check` (every page and b-tree, without the slower index cross-checks).
/// About 2 ms per MB of index.
pub(crate) fn quick_check(conn: &Connection, path: &Path) -> Result<(), IndexError> {
    let first: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|source| classify(path, "checking the file", source))?;
    if first == "ok" {
        Ok(())
    } else {
        Err(corrupt(path, format!("SQLite's quick_check: {first}")))
    }
}

/// An SQLite error as an index error: damage when SQLite says the file is malformed.
pub(crate) fn classify(path: &Path, context: &'static str, source: rusqlite::Error) -> IndexError {
    match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => corrupt(path, "the file is not an SQLite database"),
        Some(ErrorCode::DatabaseCorrupt) => corrupt(path, format!("{context}: {source}")),
        _ => sql_err(path, context)(source),
    }
}

/// Whether an error from opening the index means the file should be moved aside and rebuilt.
pub fn is_damage(err: &IndexError) -> bool {
    match err {
        IndexError::Corrupt { .. } => true,
        IndexError::Sqlite { source, .. } => matches!(
            source.0.sqlite_error_code(),
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
        ),
        // Older or unreadable versions: this build cannot migrate them; newer ones are refused.
        IndexError::SchemaVersion {
            found, supported, ..
        } => !found.trim().parse::<u32>().is_ok_and(|v| v > *supported),
        _ => false,
    }
}

/// Moves the index file and its `-wal`/`-shm` companions to `<file>.corrupt-<unix seconds>`
/// (plus the same suffixes), and returns the new path of the main file. The log goes first: a
/// new index must never meet the old log, and a crash part-way leaves the old file where the
/// next open finds (and moves) it again.
pub fn move_aside(path: &Path) -> Result<PathBuf, IndexError> {
    let secs = super::seal::now_secs();
    let base = with_suffix(path, &format!(".corrupt-{secs}"));
    let mut target = base.clone();
    let taken = |t: &Path| {
        ["", "-wal", "-shm"]
            .iter()
            .any(|s| with_suffix(t, s).exists())
    };
    let mut n = 1;
    while taken(&target) {
        n += 1;
        target = with_suffix(&base, &format!("-{n}"));
    }
    for suffix in ["-wal", "-shm", ""] {
        let from = with_suffix(path, suffix);
        if from.exists() {
            let to = with_suffix(&target, suffix);
            std::fs::rename(&from, &to).map_err(|source| IndexError::MoveAside {
                from: from.clone(),
                to,
                source,
            })?;
        }
    }
    super::seal::damage_moved(path);
    Ok(target)
}
