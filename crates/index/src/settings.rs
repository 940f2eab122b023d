//! What an index is built from: the vault, where the index lives, which files count as notes,
//! and how notes are chunked and committed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vault_rag_markdown::ChunkConfig;

use crate::background::IndexPriority;
use crate::error::IndexError;
use crate::search::VectorCodes;

/// Default cap on the bytes of one note that get indexed (the rest is reported, not indexed).
pub const DEFAULT_MAX_NOTE_BYTES: u64 = 2 * 1024 * 1024;
/// Name of the index file inside the data directory.
pub const INDEX_FILE: &str = "index.sqlite";
/// Name of the lock file inside the data directory.
pub const LOCK_FILE: &str = "index.lock";

/// Settings of one vault index. Build with [`IndexSettings::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct IndexSettings {
    /// The vault root.
    pub vault: PathBuf,
    /// Where the index lives; `None` means the per-user data directory
    /// (see [`IndexSettings::resolve_data_dir`]).
    pub data_dir: Option<PathBuf>,
    /// Obsidian's configuration folder, relative to the vault (renamable in Obsidian).
    pub config_dir: String,
    /// Globs (vault-relative, `/`-separated); when non-empty only matching notes are indexed.
    pub include: Vec<String>,
    /// Globs of notes that are never indexed.
    pub exclude: Vec<String>,
    /// Bytes of a note that are indexed; longer notes are cut at a line boundary and reported.
    pub max_note_bytes: u64,
    /// Chunking budget (clamped to the embedder's input size when the index opens).
    pub chunk: ChunkConfig,
    /// Commit settings of the indexer.
    pub commit: CommitSettings,
    /// How long the watcher waits for a burst of file events to settle.
    pub debounce: Duration,
    /// How the vectors are held in memory for the first stage of a dense search (the stored
    /// vectors and the exact re-score are the same either way).
    pub vector_codes: VectorCodes,
    /// A full pass writes notes and their full text before embedding anything, so keyword and
    /// title search cover the whole vault within seconds; vectors follow, newest notes first.
    pub lexical_first: bool,
    /// How a full pass with work is scheduled: `Background` lowers the process's priority
    /// while it runs (the service's default), `Normal` does not (the `index` command's).
    pub priority: IndexPriority,
}

/// How much work one write transaction holds: a crash loses at most one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitSettings {
    /// Notes per transaction.
    pub notes: usize,
    /// Chunks per transaction (a batch closes when either limit is reached).
    pub chunks: usize,
}

impl Default for CommitSettings {
    fn default() -> Self {
        Self {
            notes: 64,
            chunks: 512,
        }
    }
}

impl IndexSettings {
    /// Default settings for `vault`.
    pub fn new(vault: impl Into<PathBuf>) -> Self {
        Self {
            vault: vault.into(),
            data_dir: None,
            config_dir: ".obsidian".to_string(),
            include: Vec::new(),
            exclude: Vec::new(),
            max_note_bytes: DEFAULT_MAX_NOTE_BYTES,
            chunk: ChunkConfig::default(),
            commit: CommitSettings::default(),
            debounce: Duration::from_millis(500),
            vector_codes: VectorCodes::default(),
            lexical_first: true,
            priority: IndexPriority::Normal,
        }
    }

    /// The canonical vault root; fails when it does not exist or is not a directory.
    pub fn canonical_vault(&self) -> Result<PathBuf, IndexError> {
        let canon = self
            .vault
            .canonicalize()
            .map_err(|source| IndexError::Vault {
                path: self.vault.clone(),
                source,
            })?;
        if !canon.is_dir() {
            return Err(IndexError::VaultNotDir {
                path: self.vault.clone(),
            });
        }
        Ok(canon)
    }

    /// The data directory: `data_dir` when set, else
    /// `<user data dir>/vault-rag/<vault name>-<hash of the canonical vault path>`, so that two
    /// vaults with the same folder name never share an index.
    pub fn resolve_data_dir(&self) -> Result<PathBuf, IndexError> {
        if let Some(dir) = &self.data_dir {
            return Ok(dir.clone());
        }
        let vault = self.canonical_vault()?;
        let base = dirs::data_dir().ok_or(IndexError::NoDataDir)?;
        Ok(base.join("vault-rag").join(vault_dir_name(&vault)))
    }

    /// The index file (`<data dir>/index.sqlite`).
    pub fn index_path(&self) -> Result<PathBuf, IndexError> {
        Ok(self.resolve_data_dir()?.join(INDEX_FILE))
    }

    /// Checks the values that do not need the file system.
    pub fn validate(&self) -> Result<(), IndexError> {
        let positive = [
            ("max_note_bytes", self.max_note_bytes as usize),
            ("chunk.max_tokens", self.chunk.max_tokens),
            ("commit.notes", self.commit.notes),
            ("commit.chunks", self.commit.chunks),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(IndexError::Setting {
                    field,
                    message: "must be greater than 0".into(),
                });
            }
        }
        if self.chunk.overlap_tokens >= self.chunk.max_tokens {
            return Err(IndexError::Setting {
                field: "chunk.overlap_tokens",
                message: format!(
                    "{} must be smaller than chunk.max_tokens ({})",
                    self.chunk.overlap_tokens, self.chunk.max_tokens
                ),
            });
        }
        let config = self.config_dir.trim_matches('/');
        if config.is_empty() || config.split('/').any(|s| s == "..") {
            return Err(IndexError::Setting {
                field: "config_dir",
                message: format!("`{}` must be a folder inside the vault", self.config_dir),
            });
        }
        Ok(())
    }
}

/// `<sanitised vault folder name>-<first 12 hex digits of blake3(canonical path)>`.
pub fn vault_dir_name(canonical_vault: &Path) -> String {
    let name: String = canonical_vault
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vault".into())
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    let hash = blake3::hash(canonical_vault.as_os_str().as_encoded_bytes());
    format!("{name}-{}", &hash.to_hex()[..12])
}

/// Fits `cfg` to an embedder that reads at most `model_max_tokens` tokens per input, of which
/// `prompt_tokens` go to the document prompt and the title: a chunk that does not fit would be
/// truncated by the model, silently losing its end.
pub fn clamp_chunk_config(
    cfg: &ChunkConfig,
    model_max_tokens: usize,
    prompt_tokens: usize,
) -> ChunkConfig {
    // Never below 32 tokens: a model that small is useless anyway, and chunking must progress.
    let budget = model_max_tokens.saturating_sub(prompt_tokens).max(32);
    let mut out = cfg.clone();
    out.max_tokens = cfg.max_tokens.min(budget);
    out.overlap_tokens = cfg.overlap_tokens.min(out.max_tokens / 4);
    out.min_tokens = cfg.min_tokens.min(out.max_tokens / 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_names_differ_per_vault_path() {
        let a = vault_dir_name(Path::new("/home/u/Notes"));
        let b = vault_dir_name(Path::new("/work/Notes"));
        assert!(a.starts_with("Notes-") && b.starts_with("Notes-"));
        assert_ne!(a, b);
        assert_eq!(
            vault_dir_name(Path::new("/x/My Vault!")).len(),
            "My_Vault_-".len() + 12
        );
    }

    #[test]
    fn explicit_data_dir_wins() {
        let mut s = IndexSettings::new("/does/not/matter");
        s.data_dir = Some("/tmp/idx".into());
        assert_eq!(s.index_path().unwrap(), Path::new("/tmp/idx/index.sqlite"));
    }

    #[test]
    fn missing_vault_is_named() {
        let s = IndexSettings::new("/no/such/vault");
        let err = s.resolve_data_dir().unwrap_err().to_string();
        assert!(err.contains("/no/such/vault"), "{err}");
    }

    #[test]
    fn clamp_fits_model_window() {
        let cfg = ChunkConfig {
            max_tokens: 1024,
            overlap_tokens: 200,
            ..ChunkConfig::default()
        };
        let c = clamp_chunk_config(&cfg, 256, 40);
        assert_eq!(c.max_tokens, 216);
        assert!(c.overlap_tokens <= 54);
        let small = clamp_chunk_config(&ChunkConfig::default(), 8192, 40);
        assert_eq!(small.max_tokens, ChunkConfig::default().max_tokens);
    }

    #[test]
    fn validation_names_the_field() {
        let mut s = IndexSettings::new("/v");
        s.commit.notes = 0;
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("commit.notes"));
        let mut s = IndexSettings::new("/v");
        s.config_dir = "../x".into();
        assert!(s.validate().unwrap_err().to_string().contains("config_dir"));
    }
}
