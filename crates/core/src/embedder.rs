//! The embedding contract.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Weight precision of a model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Fp32,
    #[default]
    Int8,
    Q4,
}

impl FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "fp32" | "f32" => Ok(Self::Fp32),
            "int8" | "q8" => Ok(Self::Int8),
            "q4" | "int4" => Ok(Self::Q4),
            other => Err(format!(
                "unknown precision `{other}` (expected fp32, int8 or q4)"
            )),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fp32 => "fp32",
            Self::Int8 => "int8",
            Self::Q4 => "q4",
        })
    }
}

/// Everything that determines the vector an embedder produces for a text. Two embedders with the
/// same fingerprint produce interchangeable vectors; different fingerprints never share an index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EmbedderFingerprint {
    /// Model name, e.g. `embeddinggemma-300m` or `all-MiniLM-L6-v2`.
    pub model: String,
    /// Model file relative to the model directory, e.g. `onnx/model_quantized.onnx`.
    pub file: String,
    pub precision: Precision,
    /// Output dimensions (after any Matryoshka cut).
    pub dims: usize,
    /// Query prompt template (`{q}` stands for the query); empty when the model has none.
    pub query_prompt: String,
    /// Document prompt template (`{title}`, `{text}`); empty when the model has none.
    pub document_prompt: String,
    /// How token states become one vector, e.g. `output:sentence_embedding` or `mean`.
    pub pooling: String,
    /// Maximum tokens per input (longer inputs are truncated).
    pub max_tokens: usize,
}

impl EmbedderFingerprint {
    /// A short stable id (hex) of the whole fingerprint.
    pub fn id(&self) -> String {
        // serde_json on a struct keeps field order, so this is canonical for a given version.
        let json = serde_json::to_vec(self).unwrap_or_default();
        blake3::hash(&json).to_hex()[..16].to_string()
    }
}

/// A document to embed: its note title (used in the document prompt) and its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentText<'a> {
    pub title: Option<&'a str>,
    pub text: &'a str,
}

/// Errors of embedding, with the file or value they concern.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("ONNX Runtime library not found or not loadable: {message}")]
    Runtime { message: String },
    #[error("model file `{path}` is missing or unreadable: {message}")]
    ModelFile { path: PathBuf, message: String },
    #[error("tokenizer `{path}` could not be loaded: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("model `{model}` has no output named `{name}` (it has: {available})")]
    Output {
        model: String,
        name: String,
        available: String,
    },
    #[error("dimension {requested} is not available for `{model}` (native {native}; allowed: {allowed})")]
    Dim {
        model: String,
        requested: usize,
        native: usize,
        allowed: String,
    },
    #[error("unknown model `{name}` (known: {known})")]
    UnknownModel { name: String, known: String },
    #[error("model `{model}` is not available offline: {message}")]
    NotAvailable { model: String, message: String },
    #[error("downloading model `{model}` failed: {message}")]
    Download { model: String, message: String },
    #[error("inference failed: {message}")]
    Inference { message: String },
    #[error("the embedding worker has stopped")]
    WorkerStopped,
    #[error("the embedding model failed to load: {message}")]
    NotLoaded { message: String },
}

/// Whether an embedder can embed yet: a server answers while its model loads in the background.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum ModelState {
    /// The model's files are being fetched (before the model can load).
    Downloading {
        /// The file being fetched, relative to the model repository.
        file: String,
        bytes_done: u64,
        /// Bytes of all files, as known so far (it grows once the graph names its weight files).
        bytes_total: u64,
    },
    Loading,
    Ready,
    Failed {
        message: String,
    },
}

/// How far a hybrid search trusts a model's similarities against BM25 in its convex fusion: the
/// dense side's weight (the lexical side has 1 − it). A stronger model earns a larger share, so
/// the weights belong to the model and are chosen per model on SciFact's training queries
/// (`docs/quality.md`); [`FusionWeights::GENERIC`] is for models without measured weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusionWeights {
    /// The dense side's weight for most queries.
    pub dense: f32,
    /// The dense side's weight when the best lexical chunk holds every query term: such a query
    /// names something the vault spells out (a part number, a title), and keywords are the surer
    /// guide.
    pub exact_dense: f32,
    /// The dense similarity from which a hit counts as evidence for a question, so that a
    /// question the vault cannot answer gets "not in your notes" without a model call
    /// (`vault-rag ask`). Similarities are on each model's own scale, so it is measured per model
    /// on the sample vault's questions (`examples/ask-questions.tsv`, `docs/quality.md`).
    pub evidence_similarity: f32,
}

impl FusionWeights {
    /// Chosen with all-MiniLM-L6-v2: 0.65 was best on SciFact's 809 training queries and again on
    /// SciFact test and Cranfield when they were checked afterwards. The exact-match weight lifted
    /// 39 known-item queries drawn from the sample vault from nDCG@10 0.895 to 0.947 while SciFact
    /// train (where it applies to 42 of 809 queries) and Cranfield moved by less than 0.003.
    pub const GENERIC: Self = Self {
        dense: 0.65,
        exact_dense: 0.35,
        // Over the 38 answerable questions of the sample vault the best hit's similarity was
        // 0.26 to 0.74 (the two under 0.30 hold every keyword instead); the 8 the vault cannot
        // answer reached 0.23, except one near miss (lasagna → the dal recipe, 0.40).
        evidence_similarity: 0.30,
    };
}

impl Default for FusionWeights {
    fn default() -> Self {
        Self::GENERIC
    }
}

/// Turns texts into unit-length vectors. Implementations are cheap to share (`&self`, `Send + Sync`)
/// and batch-first; queries and documents have separate entry points because their prompts differ.
pub trait Embedder: Send + Sync {
    /// What identifies this embedder's vector space.
    fn fingerprint(&self) -> &EmbedderFingerprint;

    /// Whether the model is loaded. Embedding calls made while it loads wait for it.
    fn state(&self) -> ModelState {
        ModelState::Ready
    }

    /// Output dimensions.
    fn dim(&self) -> usize {
        self.fingerprint().dims
    }

    /// Number of tokens the model's tokenizer makes of `text` (without prompt, with special tokens).
    fn count_tokens(&self, text: &str) -> usize;

    /// This model's weights in hybrid search.
    fn fusion_weights(&self) -> FusionWeights {
        FusionWeights::GENERIC
    }

    /// Embeds search queries (with the model's query prompt), in input order.
    fn embed_queries(&self, queries: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// Embeds documents (with the model's document prompt), in input order.
    fn embed_documents(&self, docs: &[DocumentText<'_>]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// Embeds one query.
    fn embed_query(&self, query: &str) -> Result<Vec<f32>, EmbedError> {
        self.embed_queries(&[query])?
            .pop()
            .ok_or_else(|| EmbedError::Inference {
                message: "no vector returned".into(),
            })
    }
}

/// A model with other fusion weights: the same fingerprint and vectors, so the same index. How a
/// model's weights are chosen on tuning queries.
pub struct Reweighted {
    pub inner: Arc<dyn Embedder>,
    pub weights: FusionWeights,
}

impl Embedder for Reweighted {
    fn fingerprint(&self) -> &EmbedderFingerprint {
        self.inner.fingerprint()
    }
    fn state(&self) -> ModelState {
        self.inner.state()
    }
    fn count_tokens(&self, text: &str) -> usize {
        self.inner.count_tokens(text)
    }
    fn fusion_weights(&self) -> FusionWeights {
        self.weights
    }
    fn embed_queries(&self, queries: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed_queries(queries)
    }
    fn embed_documents(&self, docs: &[DocumentText<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed_documents(docs)
    }
}

/// L2-normalises `v` in place; a zero vector stays zero.
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
