//! A small in-memory backend over real note files in a temporary vault, embedding with the
//! deterministic `HashEmbedder`: enough index behaviour to exercise every route and error path
//! of the server in-process. The real engine is tested end to end in `crates/cli/tests`.

#![allow(dead_code)]

pub mod http;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use vault_rag_core::fake::HashEmbedder;
use vault_rag_core::{
    DocumentText, EmbedError, Embedder, EmbedderFingerprint, Hit, NotePath, Retriever, SearchMode,
};
use vault_rag_server::{
    Backend, IndexFailure, IndexProgress, IndexState, LiveUpdates, SearchResults, ServerError,
};

pub const NOTES: &[(&str, &str)] = &[
    (
        "Garden/Tomatoes.md",
        "---\ntags: [garden]\n---\n# Tomatoes\nWater the tomato plants every morning in summer.\n## Pests\nAphids love tomato leaves.\n",
    ),
    (
        "Garden/Roses.md",
        "# Roses\nPrune the roses in early spring. See [[Tomatoes]].\n",
    ),
    (
        "Code/Rust.md",
        "---\ntags: [code]\n---\n# Rust\nThe borrow checker keeps references valid.\n",
    ),
    ("Inbox.md", "# Inbox\nBuy bread and call the plumber.\n"),
];

/// What the next backend call should fail with (to reach the 5xx codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    None,
    Unavailable,
    Internal,
    Panic,
}

/// `HashEmbedder` that records how many embedding calls run at once.
pub struct ProbeEmbedder {
    inner: HashEmbedder,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub delay: Mutex<Option<Duration>>,
}

impl ProbeEmbedder {
    fn run<T>(&self, work: impl FnOnce() -> T) -> T {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if let Some(delay) = *self.delay.lock() {
            std::thread::sleep(delay);
        }
        let out = work();
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

impl Embedder for ProbeEmbedder {
    fn fingerprint(&self) -> &EmbedderFingerprint {
        self.inner.fingerprint()
    }

    fn count_tokens(&self, text: &str) -> usize {
        self.inner.count_tokens(text)
    }

    fn embed_queries(&self, queries: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.run(|| self.inner.embed_queries(queries))
    }

    fn embed_documents(&self, docs: &[DocumentText<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.run(|| self.inner.embed_documents(docs))
    }
}

pub struct MemoryBackend {
    pub vault: tempfile::TempDir,
    pub outside: tempfile::TempDir,
    pub embedder: ProbeEmbedder,
    state: Mutex<IndexState>,
    pub fail: Mutex<Failure>,
    pub delay: Mutex<Option<Duration>>,
    pub calls: Mutex<Vec<String>>,
}

impl MemoryBackend {
    pub fn new() -> Arc<Self> {
        let vault = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        for (path, text) in NOTES {
            let file = vault.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        std::fs::write(
            outside.path().join("secret.md"),
            "# Secret\npassword=hunter2\n",
        )
        .unwrap();
        // Windows creates symbolic links only with extra privileges: there the escape is absent.
        #[cfg(unix)]
        std::os::unix::fs::symlink(
            outside.path().join("secret.md"),
            vault.path().join("Escape.md"),
        )
        .unwrap();
        Arc::new(Self {
            vault,
            outside,
            embedder: ProbeEmbedder {
                inner: HashEmbedder::new(64),
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
                delay: Mutex::new(None),
            },
            state: Mutex::new(IndexState::Idle),
            fail: Mutex::new(Failure::None),
            delay: Mutex::new(None),
            calls: Mutex::new(Vec::new()),
        })
    }

    pub fn vault_path(&self) -> &Path {
        self.vault.path()
    }

    fn enter(&self, call: &str) -> Result<(), ServerError> {
        self.calls.lock().push(call.to_string());
        if let Some(delay) = *self.delay.lock() {
            std::thread::sleep(delay);
        }
        match *self.fail.lock() {
            Failure::None => Ok(()),
            Failure::Unavailable => Err(ServerError::IndexUnavailable {
                message: "the index is being opened".into(),
            }),
            Failure::Internal => Err(ServerError::Internal {
                message: "disk on fire".into(),
            }),
            Failure::Panic => panic!("backend bug"),
        }
    }

    fn note_text(&self, path: &str) -> String {
        std::fs::read_to_string(self.vault.path().join(path)).unwrap()
    }

    fn hit(&self, path: &str, score: f32, retrievers: Vec<Retriever>, terms: &[String]) -> Hit {
        let text = self.note_text(path);
        let body: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("---") && !l.starts_with("tags"))
            .collect();
        let mut snippet = body.join(" ");
        for term in terms {
            snippet = snippet
                .split(' ')
                .map(|w| {
                    if w.to_lowercase()
                        .trim_matches(|c: char| !c.is_alphanumeric())
                        == *term
                    {
                        format!("**{w}**")
                    } else {
                        w.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
        }
        let np = NotePath::new(path).unwrap();
        Hit {
            path: path.to_string(),
            title: np.stem().to_string(),
            heading_path: vec![np.stem().to_string()],
            line: 1,
            end_line: text.lines().count(),
            block_id: None,
            snippet,
            score,
            retrievers,
            explain: Default::default(),
        }
    }

    fn tags(&self, path: &str) -> Vec<String> {
        let text = self.note_text(path);
        text.lines()
            .find_map(|l| l.strip_prefix("tags: ["))
            .map(|l| {
                l.trim_end_matches(']')
                    .split(',')
                    .map(|t| t.trim().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn vector(&self, path: &str) -> Vec<f32> {
        let text = self.note_text(path);
        self.embedder
            .inner
            .embed_documents(&[DocumentText {
                title: None,
                text: &text,
            }])
            .unwrap()
            .remove(0)
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Backend for MemoryBackend {
    fn embedder(&self) -> &dyn Embedder {
        &self.embedder
    }

    fn search(&self, query: &vault_rag_core::SearchRequest) -> Result<SearchResults, ServerError> {
        self.enter("search")?;
        let q = self.embedder.embed_query(&query.query)?;
        let terms: Vec<String> = query
            .query
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| t.len() > 2)
            .map(str::to_string)
            .collect();
        let mut hits: Vec<Hit> = NOTES
            .iter()
            .map(|(path, _)| *path)
            .filter(|p| {
                query
                    .folder
                    .as_deref()
                    .is_none_or(|f| NotePath::new(p).unwrap().is_in_folder(f))
            })
            .filter(|p| {
                query
                    .tag
                    .as_deref()
                    .is_none_or(|t| self.tags(p).iter().any(|x| x == t))
            })
            .filter_map(|path| {
                let lower = self.note_text(path).to_lowercase();
                let lexical = terms.iter().filter(|t| lower.contains(t.as_str())).count();
                let dense = dot(&q, &self.vector(path));
                let (score, retrievers) = match query.mode {
                    SearchMode::Dense => (dense, vec![Retriever::Dense]),
                    SearchMode::Lexical if lexical > 0 => {
                        (lexical as f32, vec![Retriever::Lexical])
                    }
                    SearchMode::Lexical => return None,
                    SearchMode::Hybrid if lexical > 0 => (
                        dense + lexical as f32,
                        vec![Retriever::Dense, Retriever::Lexical],
                    ),
                    SearchMode::Hybrid => (dense, vec![Retriever::Dense]),
                };
                Some(self.hit(path, score, retrievers, &terms))
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(query.top_k);
        Ok(SearchResults {
            hits,
            index_complete: true,
            dense_coverage: 1.0,
            took_ms: 0.5,
        })
    }

    fn similar(
        &self,
        query: &vault_rag_core::SimilarRequest,
    ) -> Result<SearchResults, ServerError> {
        self.enter("similar")?;
        vault_rag_index::resolve_in_vault(self.vault.path(), &query.path)?;
        let source = query.path.as_str();
        if !NOTES.iter().any(|(p, _)| *p == source) {
            return Err(ServerError::NoteNotFound {
                path: source.to_string(),
            });
        }
        let v = self.vector(source);
        let mut hits: Vec<Hit> = NOTES
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| *p != source)
            .map(|p| self.hit(p, dot(&v, &self.vector(p)), vec![Retriever::Dense], &[]))
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(query.top_k);
        Ok(SearchResults {
            hits,
            index_complete: true,
            dense_coverage: 1.0,
            took_ms: 0.5,
        })
    }

    fn status(&self) -> IndexProgress {
        let state = *self.state.lock();
        IndexProgress {
            state,
            notes_done: NOTES.len(),
            notes_total: NOTES.len(),
            notes_indexed: NOTES.len(),
            chunks: NOTES.len() * 2,
            failures: vec![IndexFailure {
                path: "Broken.md".into(),
                reason: "not valid UTF-8".into(),
            }],
            index_size_bytes: 3 * 1024 * 1024,
            complete: state == IndexState::Idle,
            fingerprint: self.embedder.fingerprint().id(),
            live_updates: LiveUpdates::On,
            vectors_missing: 0,
            background: false,
            sections_embedded: 0,
            dense_coverage: 1.0,
        }
    }

    fn rebuild(&self) -> Result<IndexState, ServerError> {
        self.enter("rebuild")?;
        *self.state.lock() = IndexState::Indexing;
        Ok(IndexState::Indexing)
    }

    fn pause(&self) -> Result<IndexState, ServerError> {
        self.enter("pause")?;
        *self.state.lock() = IndexState::Paused;
        Ok(IndexState::Paused)
    }

    fn resume(&self) -> Result<IndexState, ServerError> {
        self.enter("resume")?;
        *self.state.lock() = IndexState::Idle;
        Ok(IndexState::Idle)
    }

    fn hold(&self, _: std::time::Duration) -> Result<IndexState, ServerError> {
        self.enter("hold")?;
        Ok(*self.state.lock())
    }

    fn focus(&self, _: Vec<NotePath>) -> Result<IndexState, ServerError> {
        self.enter("focus")?;
        Ok(*self.state.lock())
    }

    fn read_note(&self, path: &NotePath) -> Result<String, ServerError> {
        self.enter("read_note")?;
        let file = vault_rag_index::resolve_in_vault(self.vault.path(), path)?;
        std::fs::read_to_string(&file).map_err(|err| ServerError::Internal {
            message: format!("{}: {err}", file.display()),
        })
    }

    fn list_notes(
        &self,
        request: &vault_rag_index::ListRequest,
    ) -> Result<vault_rag_index::NoteList, ServerError> {
        self.enter("list_notes")?;
        let mut notes: Vec<vault_rag_index::ListedNote> = NOTES
            .iter()
            .map(|(path, _)| *path)
            .filter(|p| {
                request
                    .folder
                    .as_deref()
                    .is_none_or(|f| NotePath::new(p).unwrap().is_in_folder(f))
            })
            .filter(|p| {
                request
                    .tag
                    .as_deref()
                    .is_none_or(|t| self.tags(p).iter().any(|x| x == t))
            })
            .map(|path| vault_rag_index::ListedNote {
                path: path.to_string(),
                title: NotePath::new(path).unwrap().stem().to_string(),
                tags: self.tags(path),
                aliases: Vec::new(),
                mtime_ns: 1_000_000_000,
                size: self.note_text(path).len() as u64,
            })
            .collect();
        notes.sort_by(|a, b| a.path.cmp(&b.path));
        let total = notes.len();
        let notes = notes
            .into_iter()
            .skip(request.offset)
            .take(request.limit)
            .collect();
        Ok(vault_rag_index::NoteList { notes, total })
    }
}

pub fn vault_file(backend: &MemoryBackend, path: &str) -> PathBuf {
    backend.vault_path().join(path)
}
