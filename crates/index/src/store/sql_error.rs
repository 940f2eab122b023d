//! The one way a SQLite error becomes an [`IndexError`]: with the index file and what was being
//! done, a full disk told apart.

use std::path::Path;

use crate::error::IndexError;

/// A SQLite error, as the index reports it (the source of [`IndexError::Sqlite`] and
/// [`IndexError::NoSpace`]).
#[derive(Debug)]
pub struct SqliteError(pub(crate) rusqlite::Error);

impl std::fmt::Display for SqliteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SqliteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Wraps a SQLite error with the index file and what was being done.
pub(crate) fn sql_err<'a>(
    path: &'a Path,
    context: &'static str,
) -> impl FnOnce(rusqlite::Error) -> IndexError + 'a {
    move |source| {
        if matches!(
            source.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
        ) {
            super::seal::damage_seen(path);
        }
        // SQLite reports ENOSPC as "full", and EFBIG (a file size limit) as a write error.
        let no_space = source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
            || matches!(&source, rusqlite::Error::SqliteFailure(e, _)
                if e.extended_code == rusqlite::ffi::SQLITE_IOERR_WRITE);
        let path = path.to_path_buf();
        let source = SqliteError(source);
        if no_space {
            IndexError::NoSpace {
                path,
                context,
                source,
            }
        } else {
            IndexError::Sqlite {
                path,
                context,
                source,
            }
        }
    }
}
