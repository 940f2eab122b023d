//! Errors of the evaluation crate. Each names the file (and line, field or query) it concerns.

use std::path::PathBuf;

/// Everything that can go wrong while loading a dataset, writing a run or a vault.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` line {line}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{path}` line {line}: field `{field}`: {message}")]
    Field {
        path: PathBuf,
        line: usize,
        field: &'static str,
        message: String,
    },
    #[error("`{path}` line {line}: {message}")]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("dataset `{dir}` is incomplete: {message}")]
    Dataset { dir: PathBuf, message: String },
    #[error("document id `{id}` cannot be written to a run file: {message}")]
    RunId { id: String, message: String },
    #[error("query `{query}`: search failed: {message}")]
    Search { query: String, message: String },
}

impl EvalError {
    pub(crate) fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Read {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Write {
            path: path.into(),
            source,
        }
    }
}
