//! [`OnnxEmbedder`]: the catalogue, the model files, the tokenizer and the inference worker put
//! together behind the [`Embedder`] contract.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use vault_rag_core::{
    DocumentText, EmbedError, Embedder, EmbedderFingerprint, FusionWeights, ModelState, Precision,
};

use crate::batch;
use crate::catalog::{lookup, ModelEntry, DEFAULT_MODEL};
use crate::session::{SessionRunner, SessionSettings};
use crate::source::{content_tag, locate, ModelFiles};
use crate::tokenize::{TextTokenizer, Tokens};
use crate::worker::{Priority, Readiness, Worker};

/// Which model to load and how to run it. Every `None` means "the model's default".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// Catalogue name: `embeddinggemma-300m` (default) or `all-minilm-l6-v2`.
    pub model: String,
    /// A directory laid out like the Hugging Face repository (or MiniLM's flat layout); without
    /// it, the vault-rag cache, the Hugging Face cache and then a download are tried.
    pub model_dir: Option<PathBuf>,
    pub precision: Precision,
    /// Output dimensions (a Matryoshka width of the model); default: the model's default.
    pub dim: Option<usize>,
    /// Inference threads; default: all cores.
    pub threads: Option<usize>,
    /// Token budget of one inference batch (rows × padded width); default: the model's.
    pub batch_tokens: Option<usize>,
}

impl Default for ModelSpec {
    /// EmbeddingGemma-300m, int8, at its default width (768 dimensions, the catalogue's `default_dim`).
    fn default() -> Self {
        Self {
            model: DEFAULT_MODEL.into(),
            model_dir: None,
            precision: Precision::Int8,
            dim: None,
            threads: None,
            batch_tokens: None,
        }
    }
}

/// A text embedder on ONNX Runtime. Cheap to share (`Arc<dyn Embedder>`); tokenization runs on the
/// calling thread, inference on one worker thread that serves queries before documents.
pub struct OnnxEmbedder {
    entry: ModelEntry,
    files: ModelFiles,
    fingerprint: EmbedderFingerprint,
    tokenizer: TextTokenizer,
    batch_tokens: usize,
    threads: usize,
    worker: Worker,
    readiness: Arc<Readiness>,
    /// Whether the session holds prepacked weights now (set by the worker, see `layout`).
    prepacked: Arc<AtomicBool>,
}

impl OnnxEmbedder {
    /// Loads the catalogue model named in `spec` and waits until it can embed.
    pub fn load(spec: &ModelSpec) -> Result<Self, EmbedError> {
        Self::load_entry(lookup(&spec.model)?, spec)
    }

    /// Loads a model described by `entry` (a catalogue entry, possibly adjusted); `spec.model` is
    /// ignored.
    pub fn load_entry(entry: ModelEntry, spec: &ModelSpec) -> Result<Self, EmbedError> {
        let embedder = Self::start_entry(entry, spec)?;
        embedder.wait_ready()?;
        Ok(embedder)
    }

    /// Like [`OnnxEmbedder::load`], but returns once the files are found and the tokenizer is
    /// loaded; the model session loads on the inference thread. The fingerprint is known at once,
    /// so an index can be opened and searched lexically meanwhile; embedding calls wait for the
    /// model. [`Embedder::state`] tells where loading is, [`OnnxEmbedder::wait_ready`] waits.
    pub fn start(spec: &ModelSpec) -> Result<Self, EmbedError> {
        Self::start_entry(lookup(&spec.model)?, spec)
    }

    fn start_entry(entry: ModelEntry, spec: &ModelSpec) -> Result<Self, EmbedError> {
        // Cheap checks first: a wrong width should not wait for a model load.
        let dim = entry.resolve_dim(spec.dim)?;
        crate::runtime::init_runtime()?;
        let files = locate(&entry, spec)?;
        let started = std::time::Instant::now();
        let tokenizer = TextTokenizer::load(&files.tokenizer, entry.max_tokens)?;
        let tokenizer_ms = started.elapsed().as_millis();
        let threads = spec
            .threads
            .filter(|&t| t > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let batch_tokens = spec
            .batch_tokens
            .filter(|&b| b > 0)
            .unwrap_or(entry.batch_tokens);
        let fingerprint = EmbedderFingerprint {
            model: entry.name.clone(),
            file: format!("{}#{}", files.model_rel, content_tag(&files.model)?),
            precision: spec.precision,
            dims: dim,
            query_prompt: entry.query_prompt.clone(),
            document_prompt: entry.document_prompt.clone(),
            pooling: entry.pooling.describe(),
            max_tokens: entry.max_tokens,
        };
        let readiness = Arc::new(Readiness::default());
        let prepacked = Arc::new(AtomicBool::new(false));
        let load = {
            let (model, entry) = (files.model.clone(), entry.clone());
            let prepacked = prepacked.clone();
            let origin = files.origin.to_string();
            move || {
                let started = std::time::Instant::now();
                let runner = SessionRunner::load(
                    &model,
                    &entry,
                    SessionSettings {
                        threads,
                        dim,
                        prepacked,
                    },
                )?;
                let session_ms = started.elapsed().as_millis();
                crate::memory::release_free_memory();
                crate::mapped::release_code_after_load();
                let memory = crate::memory::ProcessMemory::current();
                tracing::info!(
                    model = %entry.name,
                    file = %model.display(),
                    from = %origin,
                    dim,
                    threads,
                    batch_tokens,
                    tokenizer_ms,
                    session_ms,
                    rss_mib = memory.map(|m| m.rss_mib()),
                    peak_mib = memory.map(|m| m.peak_mib()),
                    "embedding model loaded"
                );
                Ok(runner)
            }
        };
        let worker = Worker::spawn_loading(load, &entry.name, readiness.clone())?;
        Ok(Self {
            entry,
            files,
            fingerprint,
            tokenizer,
            batch_tokens,
            threads,
            worker,
            readiness,
            prepacked,
        })
    }

    /// Whether the session holds its weights prepacked for the matrix kernels now: during bulk
    /// document work by default, never at rest (see `VAULT_RAG_ORT_PREPACK`).
    pub fn weights_prepacked(&self) -> bool {
        self.prepacked.load(Ordering::Relaxed)
    }

    /// Blocks until the model session has loaded; its load error otherwise.
    pub fn wait_ready(&self) -> Result<(), EmbedError> {
        self.readiness.wait()
    }

    /// The catalogue entry in use.
    pub fn entry(&self) -> &ModelEntry {
        &self.entry
    }

    /// The files loaded.
    pub fn files(&self) -> &ModelFiles {
        &self.files
    }

    /// Token budget of one inference batch.
    pub fn batch_tokens(&self) -> usize {
        self.batch_tokens
    }

    /// Inference threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Token ids the model sees for `text` as given (no prompt added): special tokens included,
    /// truncated at the model's limit.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, EmbedError> {
        Ok(self.tokenizer.encode(text)?.ids)
    }

    /// Tokenizes (here, on the caller's thread), batches and embeds.
    fn embed_texts(
        &self,
        priority: Priority,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let tokens = texts
            .iter()
            .map(|t| self.tokenizer.encode(t))
            .collect::<Result<Vec<Tokens>, _>>()?;
        let batches = batch::plan(tokens, self.batch_tokens, self.entry.pad_id);
        // A search runs at normal priority even while indexing runs in the background.
        let _raised = (priority == Priority::Query).then(vault_rag_priority::query);
        self.worker.embed(priority, batches, texts.len())
    }
}

impl Embedder for OnnxEmbedder {
    fn fingerprint(&self) -> &EmbedderFingerprint {
        &self.fingerprint
    }

    fn state(&self) -> ModelState {
        self.readiness.state()
    }

    fn count_tokens(&self, text: &str) -> usize {
        // A text the tokenizer rejects cannot be embedded either; the embedding call reports the
        // error. Here a bound (no token is shorter than a byte) keeps a chunker's sizes safe.
        self.tokenizer.count(text).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot count tokens; using the byte length");
            text.len() + 2
        })
    }

    fn fusion_weights(&self) -> FusionWeights {
        self.entry.fusion
    }

    fn embed_queries(&self, queries: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let texts: Vec<String> = queries.iter().map(|q| self.entry.query_text(q)).collect();
        self.embed_texts(Priority::Query, &texts)
    }

    fn embed_documents(&self, docs: &[DocumentText<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let texts: Vec<String> = docs
            .iter()
            .map(|d| self.entry.document_text(d.title, d.text))
            .collect();
        self.embed_texts(Priority::Document, &texts)
    }
}
