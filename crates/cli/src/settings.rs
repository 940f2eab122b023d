//! Settings shared by the commands, resolved once from flags and environment.

use std::path::{Path, PathBuf};

use vault_rag_core::Precision;
use vault_rag_embed::{ModelSpec, DEFAULT_MODEL};

/// Which embedding model to load and how to run it. Every command that embeds flattens this
/// (`#[command(flatten)]`), so the flags and environment variables are the same everywhere.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct ModelArgs {
    /// Embedding model: embeddinggemma-300m or all-minilm-l6-v2. Default: the model the index
    /// was built with, else embeddinggemma-300m.
    #[arg(long, env = "VAULT_RAG_MODEL")]
    pub model: Option<String>,
    /// Directory with the model files, laid out like the model's Hugging Face repository
    /// (tokenizer.json, onnx/model_quantized.onnx, ...). Default: the vault-rag cache, then the
    /// Hugging Face cache.
    #[arg(long, env = "VAULT_RAG_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Weight precision, which picks the model file: fp32, int8 or q4. Default: the index's,
    /// else int8.
    #[arg(long, env = "VAULT_RAG_PRECISION")]
    pub precision: Option<Precision>,
    /// Output dimensions, a Matryoshka width of the model (EmbeddingGemma: 768, 512, 256, 128).
    /// Default: the model's (768 for EmbeddingGemma).
    #[arg(long, env = "VAULT_RAG_DIM")]
    pub dim: Option<usize>,
    /// Inference threads. Default: all cores.
    #[arg(long, env = "VAULT_RAG_THREADS")]
    pub threads: Option<usize>,
    /// Token budget of one inference batch (rows × padded length). Default: the model's.
    #[arg(long, env = "VAULT_RAG_BATCH_TOKENS")]
    pub batch_tokens: Option<usize>,
    /// Download the model from Hugging Face when it is not on this machine (without it, a
    /// terminal asks first and anything else stops with a message).
    #[arg(long, env = "VAULT_RAG_DOWNLOAD")]
    pub download: bool,
}

impl ModelArgs {
    /// The spec from the flags alone (defaults for what is not given); commands on an index go
    /// through [`crate::model::check`], which also reads what the index records.
    pub fn to_spec(&self) -> ModelSpec {
        ModelSpec {
            model: self
                .model
                .clone()
                .unwrap_or_else(|| DEFAULT_MODEL.to_string()),
            model_dir: self.model_dir.clone(),
            precision: self.precision.unwrap_or(Precision::Int8),
            dim: self.dim,
            threads: self.threads,
            batch_tokens: self.batch_tokens,
        }
    }
}

/// Which vault to index and how. Commands take the vault as a positional argument
/// (`vault-rag index VAULT`) or as `--vault VAULT` (`vault-rag serve --vault VAULT`); both
/// forms work everywhere.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct VaultArgs {
    /// The vault folder.
    #[arg(
        value_name = "VAULT",
        required_unless_present = "vault_flag",
        conflicts_with = "vault_flag"
    )]
    pub vault: Option<PathBuf>,
    /// The vault folder (same as the positional argument).
    #[arg(long = "vault", id = "vault_flag", value_name = "VAULT")]
    pub vault_flag: Option<PathBuf>,
    /// Where the index lives. Default: <user data dir>/vault-rag/<vault name>-<hash of its path>.
    #[arg(long, env = "VAULT_RAG_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Obsidian's configuration folder inside the vault (it can be renamed in Obsidian).
    #[arg(long, env = "VAULT_RAG_CONFIG_DIR", default_value = ".obsidian")]
    pub config_dir: String,
    /// Only index notes matching this glob (vault-relative, e.g. `Projects/**`). Repeatable.
    #[arg(long = "include", value_name = "GLOB")]
    pub include: Vec<String>,
    /// Never index notes matching this glob (e.g. `**/Drafts/**`). Repeatable.
    #[arg(long = "exclude", value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Bytes of a note that are indexed; the rest of a longer note is reported, not indexed.
    #[arg(long, env = "VAULT_RAG_MAX_NOTE_BYTES", default_value_t = vault_rag_index::DEFAULT_MAX_NOTE_BYTES)]
    pub max_note_bytes: u64,
    /// Largest chunk in tokens (also capped by the model's input size).
    #[arg(long, value_name = "TOKENS")]
    pub chunk_tokens: Option<usize>,
    /// Tokens repeated from the previous chunk when a section is split.
    #[arg(long, value_name = "TOKENS")]
    pub chunk_overlap: Option<usize>,
    /// Notes per write transaction: a crash loses at most this many notes of work.
    #[arg(long, env = "VAULT_RAG_COMMIT_NOTES", value_name = "NOTES")]
    pub commit_notes: Option<usize>,
    /// How vectors are held in memory for the first stage of a dense search: binary (one bit
    /// per dimension, candidates re-scored exactly; the smallest) or int8 (8 times the memory).
    #[arg(long, env = "VAULT_RAG_VECTOR_CODES", default_value_t = vault_rag_index::VectorCodes::default())]
    pub vector_codes: vault_rag_index::VectorCodes,
    /// Priority of a full pass with work: background lowers the process below the user's
    /// applications while it runs (nice 10, macOS's background band, Windows' below normal).
    /// Default: background for `serve` and `mcp`, normal for `index`.
    #[arg(long, env = "VAULT_RAG_INDEX_PRIORITY")]
    pub index_priority: Option<vault_rag_index::IndexPriority>,
}

impl VaultArgs {
    /// The defaults for `vault`, as if only it were given on the command line.
    pub fn for_vault(vault: PathBuf) -> VaultArgs {
        VaultArgs {
            vault: Some(vault),
            vault_flag: None,
            data_dir: None,
            config_dir: ".obsidian".into(),
            include: Vec::new(),
            exclude: Vec::new(),
            max_note_bytes: vault_rag_index::DEFAULT_MAX_NOTE_BYTES,
            chunk_tokens: None,
            chunk_overlap: None,
            commit_notes: None,
            vector_codes: vault_rag_index::VectorCodes::default(),
            index_priority: None,
        }
    }

    /// The vault, from whichever form was given.
    pub fn vault_path(&self) -> anyhow::Result<&Path> {
        self.vault
            .as_deref()
            .or(self.vault_flag.as_deref())
            .ok_or_else(|| anyhow::anyhow!("no vault given: pass VAULT or --vault VAULT"))
    }

    pub fn to_settings(&self) -> anyhow::Result<vault_rag_index::IndexSettings> {
        let mut s = vault_rag_index::IndexSettings::new(self.vault_path()?);
        s.data_dir = self.data_dir.clone();
        s.config_dir = self.config_dir.clone();
        s.include = self.include.clone();
        s.exclude = self.exclude.clone();
        s.max_note_bytes = self.max_note_bytes;
        if let Some(t) = self.chunk_tokens {
            s.chunk.max_tokens = t;
            s.chunk.overlap_tokens = s.chunk.overlap_tokens.min(t / 4);
            s.chunk.min_tokens = s.chunk.min_tokens.min(t / 2);
        }
        if let Some(o) = self.chunk_overlap {
            s.chunk.overlap_tokens = o;
        }
        if let Some(n) = self.commit_notes {
            s.commit.notes = n;
        }
        s.vector_codes = self.vector_codes;
        s.priority = self.index_priority.unwrap_or_default();
        s.validate()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        model: ModelArgs,
    }

    #[test]
    fn defaults_are_the_product_defaults() {
        // The test environment may set VAULT_RAG_*; parse with explicit values where it matters.
        let p =
            Probe::try_parse_from(["x", "--model", DEFAULT_MODEL, "--precision", "int8"]).unwrap();
        let spec = p.model.to_spec();
        assert_eq!(spec.model, DEFAULT_MODEL);
        assert_eq!(spec.precision, Precision::Int8);
    }

    #[test]
    fn flags_reach_the_spec() {
        let p = Probe::try_parse_from([
            "x",
            "--model",
            "all-minilm-l6-v2",
            "--model-dir",
            "/models/minilm",
            "--precision",
            "fp32",
            "--dim",
            "384",
            "--threads",
            "3",
            "--batch-tokens",
            "1024",
        ])
        .unwrap();
        let spec = p.model.to_spec();
        assert_eq!(
            spec,
            ModelSpec {
                model: "all-minilm-l6-v2".into(),
                model_dir: Some("/models/minilm".into()),
                precision: Precision::Fp32,
                dim: Some(384),
                threads: Some(3),
                batch_tokens: Some(1024),
            }
        );
    }

    #[test]
    fn bad_precision_is_refused() {
        let err = Probe::try_parse_from(["x", "--precision", "fp16"])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("fp16"), "{err}");
    }

    #[derive(Parser)]
    struct VaultProbe {
        #[command(flatten)]
        vault: VaultArgs,
    }

    #[test]
    fn vault_as_argument_or_flag() {
        let a = VaultProbe::try_parse_from([
            "x",
            "/v",
            "--config-dir",
            "cfg",
            "--exclude",
            "a/**",
            "--exclude",
            "b/**",
        ])
        .unwrap();
        let s = a.vault.to_settings().unwrap();
        assert_eq!(s.vault, Path::new("/v"));
        assert_eq!(s.config_dir, "cfg");
        assert_eq!(s.exclude, ["a/**", "b/**"]);
        let b = VaultProbe::try_parse_from([
            "x",
            "--vault",
            "/w",
            "--data-dir",
            "/d",
            "--chunk-tokens",
            "100",
            "--commit-notes",
            "5",
        ])
        .unwrap();
        let s = b.vault.to_settings().unwrap();
        assert_eq!(
            (s.vault.as_path(), s.data_dir.as_deref()),
            (Path::new("/w"), Some(Path::new("/d")))
        );
        assert_eq!((s.chunk.max_tokens, s.commit.notes), (100, 5));
        assert!(VaultProbe::try_parse_from(["x", "/v", "--vault", "/w"]).is_err());
    }

    #[test]
    fn bad_vault_settings_name_the_field() {
        let a = VaultProbe::try_parse_from([
            "x",
            "/v",
            "--chunk-tokens",
            "10",
            "--chunk-overlap",
            "20",
        ])
        .unwrap();
        let err = a.vault.to_settings().unwrap_err().to_string();
        assert!(err.contains("overlap"), "{err}");
    }
}

/// The chat endpoint answers come from (`vault-rag ask`, `serve`'s `POST /ask`). The key, when
/// the endpoint needs one, comes only from `VAULT_RAG_LLM_API_KEY`: a flag would show in `ps`.
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct LlmArgs {
    /// OpenAI-compatible chat endpoint, e.g. http://127.0.0.1:11434/v1 (Ollama),
    /// http://127.0.0.1:8080/v1 (llama.cpp's server), http://127.0.0.1:1234/v1 (LM Studio).
    #[arg(long, env = "VAULT_RAG_LLM_URL")]
    pub llm_url: Option<String>,
    /// The model the endpoint should use, e.g. llama3.2.
    #[arg(long, env = "VAULT_RAG_LLM_MODEL")]
    pub llm_model: Option<String>,
    /// Sampling temperature (0-2); low keeps answers close to the notes.
    #[arg(long, env = "VAULT_RAG_LLM_TEMPERATURE", default_value_t = 0.2)]
    pub llm_temperature: f32,
    /// Longest answer, in tokens.
    #[arg(long, env = "VAULT_RAG_LLM_MAX_TOKENS", default_value_t = 512)]
    pub llm_max_tokens: usize,
    /// Seconds to wait for the next piece of an answer.
    #[arg(long, env = "VAULT_RAG_LLM_TIMEOUT", default_value_t = 120)]
    pub llm_timeout: u64,
}

impl LlmArgs {
    /// The endpoint's settings, or `None` when no URL is set. A URL without a model, or a bad
    /// value, is an error that names the setting.
    pub fn settings(&self) -> anyhow::Result<Option<vault_rag_ask::LlmSettings>> {
        let Some(url) = self.llm_url.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        let Some(model) = self.llm_model.as_deref().filter(|m| !m.trim().is_empty()) else {
            anyhow::bail!(
                "--llm-url is set but --llm-model (VAULT_RAG_LLM_MODEL) is not: name the model the endpoint should use"
            );
        };
        if !(0.0..=2.0).contains(&self.llm_temperature) {
            anyhow::bail!("--llm-temperature must be between 0 and 2");
        }
        if self.llm_max_tokens == 0 {
            anyhow::bail!("--llm-max-tokens must be at least 1");
        }
        let mut settings = vault_rag_ask::LlmSettings::new(url.trim(), model.trim());
        settings.api_key = std::env::var(vault_rag_ask::API_KEY_ENV)
            .ok()
            .filter(|k| !k.is_empty());
        settings.temperature = self.llm_temperature;
        settings.max_tokens = self.llm_max_tokens;
        settings.timeout_s = self.llm_timeout;
        settings.endpoint()?;
        Ok(Some(settings))
    }
}
