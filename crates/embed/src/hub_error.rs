//! Why a model download failed, each with what to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error(
        "cannot reach {endpoint} ({message}). Check the network connection (a proxy or firewall \
         may block it), then start again: what was fetched is kept"
    )]
    Network { endpoint: String, message: String },
    #[error("{file} was not found in the Hugging Face repository {repo} (HTTP 404 from {url})")]
    NotFound {
        repo: String,
        file: String,
        url: String,
    },
    #[error(
        "{file}: access denied (HTTP {status} from {url}). The repository may be gated or \
         private: accept its terms on the hub and set HF_TOKEN to an access token"
    )]
    Denied {
        file: String,
        url: String,
        status: u16,
    },
    #[error("HTTP {status} from {url}; try again later")]
    Http { url: String, status: u16 },
    #[error("unexpected answer from {url}: {message}")]
    Protocol { url: String, message: String },
    #[error(
        "the disk is full (or a file-size limit was reached) while writing {}: free some space \
         and start again; the part already fetched is kept and the download continues from there",
        path.display()
    )]
    DiskFull { path: PathBuf },
    #[error(
        "{file} is damaged: its sha256 is {actual}, the hub announced {expected}. The file was \
         deleted; the next start downloads it again"
    )]
    Checksum {
        file: String,
        expected: String,
        actual: String,
    },
    #[error(
        "{file} has {actual} bytes, the hub announced {expected}. The file was deleted; the \
         next start downloads it again"
    )]
    Size {
        file: String,
        expected: u64,
        actual: u64,
    },
    #[error(
        "the download of {file} stopped at {done} of {total} bytes ({message}); start again to \
         continue from there"
    )]
    Interrupted {
        file: String,
        done: u64,
        total: u64,
        message: String,
    },
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{graph} refers to {missing}, which the repository does not provide; the model cannot load"
    )]
    MissingData { graph: String, missing: String },
}
