//! Model files from the Hugging Face hub: the standard cache layout (shared with every other tool
//! that uses it) and downloads that resume, verify and never leave a half file where a model is
//! looked for.
//!
//! Layout, as `huggingface_hub` writes it: `<cache>/models--<org>--<name>/blobs/<etag>` holds the
//! bytes, `snapshots/<commit>/<file>` links to the blob, `refs/<revision>` names the commit. A
//! download writes `blobs/<etag>.incomplete` and continues it with a `Range` request after a
//! crash or a lost connection; the blob is renamed into place only once its size and (for files
//! stored with git LFS) its sha256 match what the hub announced.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use crate::hub_error::DownloadError;

/// Where the hub's files are, by the same rules as `huggingface_hub`: `HF_HUB_CACHE`, else
/// `HF_HOME/hub`, else `~/.cache/huggingface/hub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubCache {
    root: PathBuf,
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl HubCache {
    pub fn from_env() -> Self {
        let root = env_path("HF_HUB_CACHE")
            .or_else(|| env_path("HF_HOME").map(|h| h.join("hub")))
            .or_else(|| {
                env_path("XDG_CACHE_HOME")
                    .or_else(|| dirs::home_dir().map(|h| h.join(".cache")))
                    .map(|c| c.join("huggingface").join("hub"))
            })
            .unwrap_or_else(|| PathBuf::from(".cache/huggingface/hub"));
        Self { root }
    }

    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn repo_dir(&self, repo: &str) -> PathBuf {
        self.root
            .join(format!("models--{}", repo.replace('/', "--")))
    }

    /// The cached file of `repo` at `revision` (a branch such as `main`), if it is there.
    pub fn get(&self, repo: &str, revision: &str, file: &str) -> Option<PathBuf> {
        let dir = self.repo_dir(repo);
        let commit = std::fs::read_to_string(dir.join("refs").join(revision))
            .map(|c| c.trim().to_string())
            .unwrap_or_else(|_| revision.to_string());
        let path = dir.join("snapshots").join(commit).join(file);
        path.is_file().then_some(path)
    }
}

/// Bytes fetched so far and in all, for progress bars and `/health`. Shared between the
/// downloading thread and whoever reports it.
#[derive(Debug, Default)]
pub struct DownloadProgress {
    done: AtomicU64,
    total: AtomicU64,
    file: Mutex<String>,
}

impl DownloadProgress {
    /// (file being fetched, bytes done, bytes in all as known so far).
    pub fn snapshot(&self) -> (String, u64, u64) {
        let file = self.file.lock().map(|f| f.clone()).unwrap_or_default();
        (file, self.done.load(Relaxed), self.total.load(Relaxed))
    }

    /// Adds the size of a file about to be fetched to the total.
    pub(crate) fn add_total(&self, n: u64) {
        self.total.fetch_add(n, Relaxed);
    }

    fn advance(&self, n: u64) {
        self.done.fetch_add(n, Relaxed);
    }

    fn set_file(&self, file: &str) {
        if let Ok(mut f) = self.file.lock() {
            *f = file.to_string();
        }
    }
}

/// What the hub says about one file before it is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    pub file: String,
    pub commit: String,
    /// `X-Linked-Etag` (the sha256 of an LFS file) or `ETag` (git's blob id), without quotes.
    pub etag: String,
    pub size: u64,
    /// Where the bytes are (the CDN for LFS files).
    pub url: String,
}

impl FileMeta {
    /// The sha256 to check, when the etag is one (LFS files).
    fn sha256(&self) -> Option<&str> {
        (self.etag.len() == 64 && self.etag.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(self.etag.as_str())
    }
}

/// A client of one hub (`HF_ENDPOINT`, default `https://huggingface.co`) writing to one cache.
pub struct Hub {
    endpoint: String,
    token: Option<String>,
    cache: HubCache,
    /// Does not follow redirects: the metadata is on the hub's own answer.
    head: ureq::Agent,
    get: ureq::Agent,
    /// Tries per file when the connection drops mid-way; each continues where the last stopped.
    attempts: u32,
}

const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
const CHUNK: usize = 256 * 1024;

impl Hub {
    pub fn from_env() -> Self {
        let endpoint = std::env::var("HF_ENDPOINT")
            .ok()
            .map(|e| e.trim().trim_end_matches('/').to_string())
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let token = std::env::var("HF_TOKEN")
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        Self::new(endpoint, token, HubCache::from_env())
    }

    pub fn new(endpoint: String, token: Option<String>, cache: HubCache) -> Self {
        let agent = |redirects| {
            ureq::AgentBuilder::new()
                .redirects(redirects)
                .timeout_connect(Duration::from_secs(15))
                .timeout_read(Duration::from_secs(60))
                .user_agent(concat!("vault-rag/", env!("CARGO_PKG_VERSION")))
                .build()
        };
        Self {
            endpoint,
            token,
            cache,
            head: agent(0),
            get: agent(5),
            attempts: 4,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn resolve_url(&self, repo: &str, revision: &str, file: &str) -> String {
        format!("{}/{repo}/resolve/{revision}/{file}", self.endpoint)
    }

    fn network(&self, e: impl std::fmt::Display) -> DownloadError {
        DownloadError::Network {
            endpoint: self.endpoint.clone(),
            message: e.to_string(),
        }
    }

    /// Asks the hub for a file's commit, etag, size and download address (no body is fetched).
    pub fn meta(&self, repo: &str, revision: &str, file: &str) -> Result<FileMeta, DownloadError> {
        let mut url = self.resolve_url(repo, revision, file);
        // Relative redirects are the hub's own (a renamed repository); absolute ones go to the CDN.
        for _ in 0..5 {
            let mut req = self.head.head(&url).set("Accept-Encoding", "identity");
            if let Some(t) = &self.token {
                req = req.set("Authorization", &format!("Bearer {t}"));
            }
            let resp = match req.call() {
                Ok(resp) => resp,
                Err(ureq::Error::Status(status, _)) => {
                    return Err(status_error(repo, file, status, &url))
                }
                Err(e) => return Err(self.network(e)),
            };
            let header = |name: &str| resp.header(name).map(str::to_string);
            let location = header("location");
            if (300..400).contains(&resp.status()) {
                if let Some(loc) = location.as_deref().filter(|l| l.starts_with('/')) {
                    url = format!("{}{loc}", origin(&self.endpoint));
                    continue;
                }
            }
            let etag = header("x-linked-etag")
                .or_else(|| header("etag"))
                .map(|e| e.trim_start_matches("W/").trim_matches('"').to_string())
                .filter(|e| !e.is_empty() && !e.contains(['/', '\\', '.']))
                .ok_or_else(|| DownloadError::Protocol {
                    url: url.clone(),
                    message: "no ETag header".into(),
                })?;
            let size = header("x-linked-size")
                .or_else(|| header("content-length"))
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| DownloadError::Protocol {
                    url: url.clone(),
                    message: "no size (X-Linked-Size or Content-Length)".into(),
                })?;
            let commit = header("x-repo-commit")
                .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric()))
                .ok_or_else(|| DownloadError::Protocol {
                    url: url.clone(),
                    message: "no X-Repo-Commit header".into(),
                })?;
            let url = match location {
                Some(loc) if (300..400).contains(&resp.status()) => loc,
                _ => url,
            };
            return Ok(FileMeta {
                file: file.to_string(),
                commit,
                etag,
                size,
                url,
            });
        }
        Err(DownloadError::Protocol {
            url,
            message: "too many redirects".into(),
        })
    }

    /// Makes the file of `meta` present in the cache and returns its snapshot path: resumes a
    /// partial download, checks size and sha256, then links it into the snapshot.
    pub fn fetch(
        &self,
        repo: &str,
        revision: &str,
        meta: &FileMeta,
        progress: &DownloadProgress,
    ) -> Result<PathBuf, DownloadError> {
        let dir = self.cache.repo_dir(repo);
        let blobs = dir.join("blobs");
        std::fs::create_dir_all(&blobs).map_err(|e| io_error(&blobs, e))?;
        let blob = blobs.join(&meta.etag);
        progress.set_file(&meta.file);
        let have = std::fs::metadata(&blob).map(|m| m.len()).ok();
        if have == Some(meta.size) {
            progress.advance(meta.size);
        } else {
            let partial = blobs.join(format!("{}.incomplete", meta.etag));
            self.download(meta, &partial, progress)?;
            std::fs::rename(&partial, &blob).map_err(|e| io_error(&blob, e))?;
        }
        let link = dir.join("snapshots").join(&meta.commit).join(&meta.file);
        link_snapshot(&blob, &link)?;
        if revision != meta.commit {
            let refs = dir.join("refs");
            std::fs::create_dir_all(&refs).map_err(|e| io_error(&refs, e))?;
            write_atomic(&refs.join(revision), meta.commit.as_bytes())?;
        }
        Ok(link)
    }

    /// Fetches into `partial` (continuing what it holds), retrying dropped connections, and
    /// checks the result; a file that fails the check is deleted.
    fn download(
        &self,
        meta: &FileMeta,
        partial: &Path,
        progress: &DownloadProgress,
    ) -> Result<(), DownloadError> {
        let mut hasher = Sha256::new();
        let mut done = hash_existing(partial, meta.size, &mut hasher)?;
        progress.advance(done);
        if done > 0 {
            tracing::info!(file = %meta.file, done, total = meta.size, "resuming a download");
        }
        let mut last_err = None;
        for attempt in 0..self.attempts {
            if done >= meta.size {
                break;
            }
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500 << attempt.min(4)));
                tracing::warn!(file = %meta.file, done, attempt, "download interrupted; resuming");
            }
            match self.transfer(meta, partial, &mut done, &mut hasher, progress) {
                Ok(()) => last_err = None,
                Err(e @ (DownloadError::Interrupted { .. } | DownloadError::Network { .. })) => {
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(e) = last_err {
            return Err(e);
        }
        if done != meta.size {
            remove(partial);
            return Err(DownloadError::Size {
                file: meta.file.clone(),
                expected: meta.size,
                actual: done,
            });
        }
        if let Some(expected) = meta.sha256() {
            let actual = hex(&hasher.finalize());
            if !actual.eq_ignore_ascii_case(expected) {
                remove(partial);
                return Err(DownloadError::Checksum {
                    file: meta.file.clone(),
                    expected: expected.to_string(),
                    actual,
                });
            }
        }
        Ok(())
    }

    /// One GET from `done` on; appends to `partial` and feeds the hasher as bytes arrive.
    fn transfer(
        &self,
        meta: &FileMeta,
        partial: &Path,
        done: &mut u64,
        hasher: &mut Sha256,
        progress: &DownloadProgress,
    ) -> Result<(), DownloadError> {
        let mut req = self.get.get(&meta.url).set("Accept-Encoding", "identity");
        // The CDN's address is signed; the token goes to the hub only.
        if meta.url.starts_with(&self.endpoint) {
            if let Some(t) = &self.token {
                req = req.set("Authorization", &format!("Bearer {t}"));
            }
        }
        if *done > 0 {
            req = req.set("Range", &format!("bytes={done}-"));
        }
        let resp = match req.call() {
            Ok(resp) => resp,
            Err(ureq::Error::Status(status, _)) => {
                return Err(status_error("", &meta.file, status, &meta.url))
            }
            Err(e) => return Err(self.network(e)),
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(partial)
            .map_err(|e| io_error(partial, e))?;
        if *done > 0 && resp.status() != 206 {
            // The server sent the whole file: start again from its first byte.
            progress.done.fetch_sub(*done, Relaxed);
            *done = 0;
            *hasher = Sha256::new();
            file.set_len(0).map_err(|e| io_error(partial, e))?;
        }
        let mut body = resp.into_reader();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(DownloadError::Interrupted {
                        file: meta.file.clone(),
                        done: *done,
                        total: meta.size,
                        message: e.to_string(),
                    })
                }
            };
            if *done + n as u64 > meta.size {
                return Err(DownloadError::Size {
                    file: meta.file.clone(),
                    expected: meta.size,
                    actual: *done + n as u64,
                });
            }
            file.write_all(&buf[..n])
                .map_err(|e| io_error(partial, e))?;
            hasher.update(&buf[..n]);
            *done += n as u64;
            progress.advance(n as u64);
        }
        file.sync_all().map_err(|e| io_error(partial, e))?;
        if *done < meta.size {
            return Err(DownloadError::Interrupted {
                file: meta.file.clone(),
                done: *done,
                total: meta.size,
                message: "the connection closed early".into(),
            });
        }
        Ok(())
    }
}

/// Feeds the bytes a partial file already holds to the hasher; returns how many there are. A
/// partial file longer than the whole is damaged and starts over.
fn hash_existing(partial: &Path, size: u64, hasher: &mut Sha256) -> Result<u64, DownloadError> {
    let mut file = match std::fs::File::open(partial) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_error(partial, e)),
    };
    let len = file.metadata().map_err(|e| io_error(partial, e))?.len();
    if len > size {
        drop(file);
        remove(partial);
        return Ok(0);
    }
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).map_err(|e| io_error(partial, e))?;
        if n == 0 {
            return Ok(len);
        }
        hasher.update(&buf[..n]);
    }
}

fn status_error(repo: &str, file: &str, status: u16, url: &str) -> DownloadError {
    match status {
        404 => DownloadError::NotFound {
            repo: repo.to_string(),
            file: file.to_string(),
            url: url.to_string(),
        },
        401 | 403 => DownloadError::Denied {
            file: file.to_string(),
            url: url.to_string(),
            status,
        },
        _ => DownloadError::Http {
            url: url.to_string(),
            status,
        },
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

fn io_error(path: &Path, source: std::io::Error) -> DownloadError {
    // A file-size limit (EFBIG) stops a download the same way a full disk does.
    if matches!(
        source.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::FileTooLarge
    ) {
        DownloadError::DiskFull {
            path: path.to_path_buf(),
        }
    } else {
        DownloadError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn remove(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!(path = %path.display(), error = %e, "cannot delete a damaged download");
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DownloadError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| io_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))
}

/// Points `link` at `blob`: a relative symlink as `huggingface_hub` makes it, or a copy where the
/// system refuses links (Windows without developer mode).
fn link_snapshot(blob: &Path, link: &Path) -> Result<(), DownloadError> {
    let parent = link.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    if link.is_file() {
        return Ok(());
    }
    let _ = std::fs::remove_file(link);
    // snapshots/<commit>/<a>/<b> → ../../../blobs/<etag>: one `..` per folder below the repo dir.
    let depth = link
        .strip_prefix(
            blob.parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("")),
        )
        .map(|rel| rel.components().count().saturating_sub(1))
        .unwrap_or(2);
    let mut target = PathBuf::new();
    for _ in 0..depth {
        target.push("..");
    }
    target.push("blobs");
    target.push(blob.file_name().unwrap_or_default());
    #[cfg(unix)]
    let linked = std::os::unix::fs::symlink(&target, link);
    #[cfg(windows)]
    let linked = std::os::windows::fs::symlink_file(&target, link);
    #[cfg(not(any(unix, windows)))]
    let linked: std::io::Result<()> = Err(std::io::ErrorKind::Unsupported.into());
    match linked {
        Ok(()) => Ok(()),
        Err(_) => std::fs::copy(blob, link)
            .map(|_| ())
            .map_err(|e| io_error(link, e)),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_of_urls() {
        assert_eq!(origin("http://127.0.0.1:8080/a/b"), "http://127.0.0.1:8080");
        assert_eq!(origin("https://huggingface.co"), "https://huggingface.co");
    }

    #[test]
    fn cache_reads_the_standard_layout() {
        let dir = tempfile::tempdir().unwrap();
        let cache = HubCache::new(dir.path().to_path_buf());
        let repo = dir.path().join("models--org--name");
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "abc123\n").unwrap();
        assert_eq!(cache.get("org/name", "main", "onnx/m.onnx"), None);
        std::fs::create_dir_all(repo.join("blobs")).unwrap();
        std::fs::write(repo.join("blobs/e1"), b"xyz").unwrap();
        let link = repo.join("snapshots/abc123/onnx/m.onnx");
        link_snapshot(&repo.join("blobs/e1"), &link).unwrap();
        assert_eq!(std::fs::read(&link).unwrap(), b"xyz");
        #[cfg(unix)]
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("../../../blobs/e1")
        );
        assert_eq!(cache.get("org/name", "main", "onnx/m.onnx"), Some(link));
    }

    #[test]
    fn only_sha256_etags_are_checked() {
        let mut meta = FileMeta {
            file: "f".into(),
            commit: "c".into(),
            etag: "a".repeat(64),
            size: 1,
            url: String::new(),
        };
        assert!(meta.sha256().is_some());
        meta.etag = "b".repeat(40);
        assert!(meta.sha256().is_none());
    }
}
