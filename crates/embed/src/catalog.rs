//! The models vault-rag knows: where their files live, how their output becomes a vector, which
//! prompts they were trained with and which dimensions they support.

use vault_rag_core::{EmbedError, FusionWeights, Precision};

/// How the model's output becomes one vector per text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pooling {
    /// The model already pools: read this `[batch, dim]` output as is.
    Output(String),
    /// Average this `[batch, seq, dim]` output over the tokens whose attention mask is 1.
    MaskedMean(String),
}

impl Pooling {
    /// The one output the session has to compute.
    pub fn output_name(&self) -> &str {
        match self {
            Self::Output(name) | Self::MaskedMean(name) => name,
        }
    }

    /// Short description for the fingerprint: `output:NAME` or `mean` (of `last_hidden_state`) or `mean:NAME`.
    pub fn describe(&self) -> String {
        match self {
            Self::Output(name) => format!("output:{name}"),
            Self::MaskedMean(name) if name == "last_hidden_state" => "mean".to_string(),
            Self::MaskedMean(name) => format!("mean:{name}"),
        }
    }
}

/// One model of the catalogue. Public and constructible so that a caller (or a test) can describe
/// a model that is not built in and load it with [`crate::OnnxEmbedder::load_entry`].
#[derive(Debug, Clone, PartialEq)]
pub struct ModelEntry {
    /// Name used on the command line and in fingerprints, e.g. `embeddinggemma-300m`.
    pub name: String,
    /// Hugging Face repository the files come from.
    pub repo: String,
    /// Candidate model files per precision, relative to the model directory; the Hugging Face
    /// layout comes first (it is also the one downloaded).
    pub fp32_files: Vec<String>,
    pub int8_files: Vec<String>,
    pub q4_files: Vec<String>,
    /// Tokenizer file relative to the model directory.
    pub tokenizer_file: String,
    pub pooling: Pooling,
    /// Query template; `{q}` stands for the query. Empty: the query is embedded as is.
    pub query_prompt: String,
    /// Document template; `{title}` (or `none`) and `{text}`. Empty: the text is embedded as is.
    pub document_prompt: String,
    /// Width of the model's output.
    pub native_dim: usize,
    /// Dimensions a vector may be cut to (Matryoshka); always includes `native_dim`.
    pub allowed_dims: Vec<usize>,
    /// Dimensions used when the spec does not ask for any.
    pub default_dim: usize,
    /// Longest input in tokens, special tokens included; longer inputs are truncated.
    pub max_tokens: usize,
    /// Whether the graph takes a `token_type_ids` input (all zeros for single texts).
    pub token_type_ids: bool,
    pub pad_id: u32,
    /// Token budget of one inference batch (padded tokens), chosen by measurement.
    pub batch_tokens: usize,
    /// Directory names under `<vault-rag cache>/models/` that hold this model (`make setup` puts
    /// the test model there).
    pub cache_dirs: Vec<String>,
    /// Approximate download size in MB per precision (fp32, int8, q4), tokenizer included:
    /// estimated from the parameter count, for the question asked before a download. The exact
    /// size comes from the hub once the download starts.
    pub approx_mb: [u32; 3],
    /// How hybrid search weighs this model's similarities against BM25.
    pub fusion: FusionWeights,
    /// The licence the weights come under, and where to read it.
    pub licence: String,
    pub licence_url: String,
}

/// Name of the product's default model.
pub const DEFAULT_MODEL: &str = "embeddinggemma-300m";

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl ModelEntry {
    /// EmbeddingGemma-300m (onnx-community export): pooled, projected and normalised inside the
    /// graph; the first output is the token states, so the embedding is read by name.
    pub fn embeddinggemma_300m() -> Self {
        Self {
            name: DEFAULT_MODEL.into(),
            repo: "onnx-community/embeddinggemma-300m-ONNX".into(),
            fp32_files: strings(&["onnx/model.onnx"]),
            int8_files: strings(&["onnx/model_quantized.onnx"]),
            q4_files: strings(&["onnx/model_q4.onnx"]),
            tokenizer_file: "tokenizer.json".into(),
            pooling: Pooling::Output("sentence_embedding".into()),
            query_prompt: "task: search result | query: {q}".into(),
            document_prompt: "title: {title} | text: {text}".into(),
            native_dim: 768,
            allowed_dims: vec![768, 512, 256, 128],
            // Measured (docs/quality.md): int8@768 matches fp32@768 in nDCG@10 while the cut to
            // 256 costs about 2 %; the embedding costs the same, only vector storage grows.
            default_dim: 768,
            max_tokens: 2048,
            token_type_ids: false,
            pad_id: 0,
            // Measured (docs/benchmarks.md): 512 is faster than 2,048 and holds less memory;
            // 8,192 is 3× slower and grows the arena by 200 MB.
            batch_tokens: 512,
            cache_dirs: strings(&["embeddinggemma-300m", "embeddinggemma-300m-onnx"]),
            // 308M parameters: 4 bytes, 1 byte or about half a byte each, plus a 33 MB tokenizer.
            approx_mb: [1270, 345, 210],
            // docs/quality.md: with this model BM25 adds less than with MiniLM, and more weight
            // on keywords for exact matches than MiniLM's 0.35 keeps. Chosen over the grid
            // dense 0.6-1.0 × exact 0.35/0.6 by the mean of full Cranfield and SciFact train
            // (0.4316 / 0.8825; SciFact train alone preferred dense only, and this model may have
            // seen those claims); held out on SciFact test: 0.7877 vs dense 0.7722 (p = 0.04).
            fusion: FusionWeights {
                dense: 0.8,
                exact_dense: 0.6,
                // Sample-vault questions: answerable 0.29 (held every keyword) and 0.36 to 0.70;
                // unanswerable up to 0.30 (Kubernetes → the container migration), lasagna 0.37.
                evidence_similarity: 0.33,
            },
            licence: "Gemma Terms of Use".into(),
            licence_url: "https://ai.google.dev/gemma/terms".into(),
        }
    }

    /// all-MiniLM-L6-v2: the small test model. The flat layout (`model.onnx` at the root) is the
    /// int8 file `make setup` installs; the Hugging Face layout has one file per precision.
    pub fn all_minilm_l6_v2() -> Self {
        Self {
            name: "all-minilm-l6-v2".into(),
            repo: "Xenova/all-MiniLM-L6-v2".into(),
            fp32_files: strings(&["onnx/model.onnx"]),
            int8_files: strings(&["onnx/model_quantized.onnx", "model.onnx"]),
            q4_files: strings(&["onnx/model_q4.onnx"]),
            tokenizer_file: "tokenizer.json".into(),
            pooling: Pooling::MaskedMean("last_hidden_state".into()),
            query_prompt: String::new(),
            document_prompt: String::new(),
            native_dim: 384,
            allowed_dims: vec![384],
            default_dim: 384,
            max_tokens: 256,
            token_type_ids: true,
            pad_id: 0,
            // Small batches run faster per token on CPU (docs/benchmarks.md, the whole pass).
            batch_tokens: 512,
            cache_dirs: strings(&["all-MiniLM-L6-v2-int8", "all-minilm-l6-v2"]),
            // 22.7M parameters.
            approx_mb: [91, 24, 16],
            fusion: FusionWeights::GENERIC,
            licence: "Apache-2.0".into(),
            licence_url: "https://www.apache.org/licenses/LICENSE-2.0".into(),
        }
    }

    /// Candidate files for `precision`.
    pub fn files_for(&self, precision: Precision) -> &[String] {
        match precision {
            Precision::Fp32 => &self.fp32_files,
            Precision::Int8 => &self.int8_files,
            Precision::Q4 => &self.q4_files,
        }
    }

    /// Approximate download size in MB of the files `precision` needs.
    pub fn approx_download_mb(&self, precision: Precision) -> u32 {
        match precision {
            Precision::Fp32 => self.approx_mb[0],
            Precision::Int8 => self.approx_mb[1],
            Precision::Q4 => self.approx_mb[2],
        }
    }

    /// Checks a requested output width against the model's Matryoshka dimensions.
    pub fn resolve_dim(&self, requested: Option<usize>) -> Result<usize, EmbedError> {
        let dim = requested.unwrap_or(self.default_dim);
        if self.allowed_dims.contains(&dim) {
            Ok(dim)
        } else {
            Err(EmbedError::Dim {
                model: self.name.clone(),
                requested: dim,
                native: self.native_dim,
                allowed: join(&self.allowed_dims),
            })
        }
    }

    /// The text the model sees for a query.
    pub fn query_text(&self, query: &str) -> String {
        if self.query_prompt.is_empty() {
            query.to_string()
        } else {
            self.query_prompt.replace("{q}", query)
        }
    }

    /// The text the model sees for a document. The template is split once on `{text}` so that a
    /// `{title}` written inside the text itself is never replaced.
    pub fn document_text(&self, title: Option<&str>, text: &str) -> String {
        if self.document_prompt.is_empty() {
            return text.to_string();
        }
        let title = title
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or("none");
        match self.document_prompt.split_once("{text}") {
            Some((head, tail)) => {
                let mut out = head.replace("{title}", title);
                out.push_str(text);
                out.push_str(&tail.replace("{title}", title));
                out
            }
            None => self.document_prompt.replace("{title}", title),
        }
    }
}

/// Every built-in model.
pub fn catalogue() -> Vec<ModelEntry> {
    vec![
        ModelEntry::embeddinggemma_300m(),
        ModelEntry::all_minilm_l6_v2(),
    ]
}

/// Finds a built-in model by name (case-insensitive; `all-MiniLM-L6-v2` works too).
pub fn lookup(name: &str) -> Result<ModelEntry, EmbedError> {
    let wanted = name.trim().to_ascii_lowercase();
    let wanted = wanted.rsplit('/').next().unwrap_or(&wanted);
    let all = catalogue();
    all.iter()
        .find(|e| e.name == wanted || e.repo.to_ascii_lowercase().ends_with(&format!("/{wanted}")))
        .cloned()
        .ok_or_else(|| EmbedError::UnknownModel {
            name: name.to_string(),
            known: all
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

fn join(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_name_and_repo() {
        assert_eq!(lookup("embeddinggemma-300m").unwrap().native_dim, 768);
        assert_eq!(lookup("all-MiniLM-L6-v2").unwrap().native_dim, 384);
        assert_eq!(
            lookup("Xenova/all-MiniLM-L6-v2").unwrap().name,
            "all-minilm-l6-v2"
        );
        assert_eq!(
            lookup("onnx-community/embeddinggemma-300m-ONNX")
                .unwrap()
                .name,
            DEFAULT_MODEL
        );
        let err = lookup("bert-base").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("bert-base") && msg.contains("embeddinggemma-300m"),
            "{msg}"
        );
    }

    #[test]
    fn dims_follow_the_matryoshka_list() {
        let gemma = ModelEntry::embeddinggemma_300m();
        assert_eq!(gemma.resolve_dim(None).unwrap(), 768);
        assert_eq!(gemma.resolve_dim(Some(768)).unwrap(), 768);
        assert_eq!(gemma.resolve_dim(Some(128)).unwrap(), 128);
        let err = gemma.resolve_dim(Some(1024)).unwrap_err().to_string();
        assert!(err.contains("1024") && err.contains("native 768"), "{err}");
        assert!(gemma.resolve_dim(Some(300)).is_err());
        let mini = ModelEntry::all_minilm_l6_v2();
        assert_eq!(mini.resolve_dim(None).unwrap(), 384);
        assert!(mini.resolve_dim(Some(256)).is_err());
    }

    #[test]
    fn gemma_prompts() {
        let gemma = ModelEntry::embeddinggemma_300m();
        assert_eq!(
            gemma.query_text("Which planet is known as the Red Planet?"),
            "task: search result | query: Which planet is known as the Red Planet?"
        );
        assert_eq!(
            gemma.document_text(None, "Mars."),
            "title: none | text: Mars."
        );
        assert_eq!(
            gemma.document_text(Some("  "), "Mars."),
            "title: none | text: Mars."
        );
        assert_eq!(
            gemma.document_text(Some("Planets"), "Mars."),
            "title: Planets | text: Mars."
        );
        // Template markers inside the text are content, not placeholders.
        assert_eq!(
            gemma.document_text(Some("T"), "use {title} and {q}"),
            "title: T | text: use {title} and {q}"
        );
    }

    #[test]
    fn minilm_has_no_prompts() {
        let mini = ModelEntry::all_minilm_l6_v2();
        assert_eq!(mini.query_text("hello"), "hello");
        assert_eq!(mini.document_text(Some("Title"), "body"), "body");
        assert_eq!(mini.pooling.describe(), "mean");
        assert_eq!(
            ModelEntry::embeddinggemma_300m().pooling.describe(),
            "output:sentence_embedding"
        );
    }

    #[test]
    fn every_entry_is_consistent() {
        for e in catalogue() {
            assert!(e.allowed_dims.contains(&e.native_dim), "{}", e.name);
            assert!(e.allowed_dims.contains(&e.default_dim), "{}", e.name);
            assert!(
                e.allowed_dims.iter().all(|&d| d <= e.native_dim),
                "{}",
                e.name
            );
            // An input longer than the budget runs as a batch of its own (batch::plan); the
            // budget must still hold a chunk of the default size with its prompt.
            assert!(
                e.batch_tokens >= 384,
                "{}: batch budget {}",
                e.name,
                e.batch_tokens
            );
            for p in [Precision::Fp32, Precision::Int8, Precision::Q4] {
                assert!(!e.files_for(p).is_empty(), "{} {p}", e.name);
            }
        }
    }
}
