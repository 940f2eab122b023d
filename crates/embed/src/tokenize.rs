//! Tokenization with the model's own `tokenizer.json`, its post-processor kept (EmbeddingGemma's
//! appends `<eos>`), and padding and truncation taken out of the file's hands: some files bake in
//! a fixed padding (MiniLM's pads every text to 128), and truncation happens here at the model's
//! limit. Runs on the caller's thread, never inside the inference worker. Files shaped like
//! Gemma's go to the compact BPE tokenizer of `crate::bpe` (same ids, a fraction of the memory);
//! every other file to the `tokenizers` library.

use std::path::{Path, PathBuf};

use tokenizers::{Encoding, Tokenizer, TruncationDirection};
use vault_rag_core::EmbedError;

use crate::bpe::CompactBpe;

/// Token ids of one text, special tokens included, at most `max_tokens` long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub ids: Vec<u32>,
}

/// Which implementation tokenizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenizerBackend {
    /// The compact BPE tokenizer of this crate: files shaped like Gemma's, same ids as
    /// `tokenizers`, a fraction of its memory.
    CompactBpe,
    /// The `tokenizers` library, for every other file.
    HuggingFace,
}

enum Backend {
    Compact(Box<CompactBpe>),
    Hf(Box<Tokenizer>),
}

pub struct TextTokenizer {
    backend: Backend,
    path: PathBuf,
    /// Special tokens the post-processor adds to a single text.
    added: usize,
    max_tokens: usize,
}

impl TextTokenizer {
    /// The compact tokenizer when the file is one it reproduces exactly, else `tokenizers`.
    pub fn load(path: &Path, max_tokens: usize) -> Result<Self, EmbedError> {
        Self::load_inner(path, max_tokens, None)
    }

    /// One backend, for comparisons: [`TokenizerBackend::CompactBpe`] fails with the reason
    /// when the file has a setting it does not reproduce.
    pub fn load_with(
        path: &Path,
        max_tokens: usize,
        backend: TokenizerBackend,
    ) -> Result<Self, EmbedError> {
        Self::load_inner(path, max_tokens, Some(backend))
    }

    fn load_inner(
        path: &Path,
        max_tokens: usize,
        wanted: Option<TokenizerBackend>,
    ) -> Result<Self, EmbedError> {
        let err = |message: String| EmbedError::Tokenizer {
            path: path.to_path_buf(),
            message,
        };
        if !path.is_file() {
            return Err(err("file not found".into()));
        }
        // `VAULT_RAG_COMPACT_TOKENIZER=0` keeps every file on `tokenizers`, for measurements.
        let off =
            wanted.is_none() && std::env::var("VAULT_RAG_COMPACT_TOKENIZER").as_deref() == Ok("0");
        let compact = match wanted {
            Some(TokenizerBackend::HuggingFace) => None,
            None if off => None,
            _ => match CompactBpe::load(path) {
                Ok(c) => {
                    tracing::debug!(
                        path = %path.display(),
                        vocab = c.vocab_len(),
                        merges = c.merges_len(),
                        table_mib = c.heap_bytes() / (1 << 20),
                        "compact BPE tokenizer"
                    );
                    Some(c)
                }
                Err(why) if wanted.is_some() => {
                    return Err(err(format!(
                        "not supported by the compact tokenizer: {why}"
                    )))
                }
                Err(why) => {
                    tracing::debug!(path = %path.display(), %why, "tokenizer left to the tokenizers library");
                    None
                }
            },
        };
        let (backend, added) = match compact {
            Some(c) => {
                let added = c.prefix.len() + c.suffix.len();
                (Backend::Compact(Box::new(c)), added)
            }
            None => {
                let mut inner = Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?;
                inner.with_padding(None);
                inner
                    .with_truncation(None)
                    .map_err(|e| err(e.to_string()))?;
                let added = inner
                    .get_post_processor()
                    .map(|p| tokenizers::PostProcessor::added_tokens(p, false))
                    .unwrap_or(0);
                (Backend::Hf(Box::new(inner)), added)
            }
        };
        if added >= max_tokens {
            return Err(err(format!(
                "its post-processor adds {added} special tokens, leaving no room under the limit of {max_tokens}"
            )));
        }
        Ok(Self {
            backend,
            path: path.to_path_buf(),
            added,
            max_tokens,
        })
    }

    pub fn backend(&self) -> TokenizerBackend {
        match self.backend {
            Backend::Compact(_) => TokenizerBackend::CompactBpe,
            Backend::Hf(_) => TokenizerBackend::HuggingFace,
        }
    }

    /// Tokens of `text` with special tokens and without truncation.
    pub fn count(&self, text: &str) -> Result<usize, EmbedError> {
        let raw = match &self.backend {
            Backend::Compact(c) => {
                let mut ids = Vec::new();
                c.encode_raw(text, &mut ids);
                ids.len()
            }
            Backend::Hf(inner) => self.raw(inner, text)?.len(),
        };
        Ok(raw + self.added)
    }

    /// Ids for the model: special tokens added, truncated to the model's limit (the special tokens
    /// are kept; the text is cut at its end).
    pub fn encode(&self, text: &str) -> Result<Tokens, EmbedError> {
        let room = self.max_tokens - self.added;
        match &self.backend {
            Backend::Compact(c) => {
                let mut raw = Vec::new();
                c.encode_raw(text, &mut raw);
                raw.truncate(room);
                let mut ids = Vec::with_capacity(raw.len() + self.added);
                ids.extend_from_slice(&c.prefix);
                ids.extend_from_slice(&raw);
                ids.extend_from_slice(&c.suffix);
                Ok(Tokens { ids })
            }
            Backend::Hf(inner) => {
                let mut raw = self.raw(inner, text)?;
                if raw.len() > room {
                    raw.truncate(room, 0, TruncationDirection::Right);
                }
                let full = inner
                    .post_process(raw, None, true)
                    .map_err(|e| self.error(e.to_string()))?;
                Ok(Tokens {
                    ids: full.get_ids().to_vec(),
                })
            }
        }
    }

    fn raw(&self, inner: &Tokenizer, text: &str) -> Result<Encoding, EmbedError> {
        inner.encode_fast(text, false).map_err(|e| {
            self.error(format!(
                "cannot tokenize a text of {} bytes: {e}",
                text.len()
            ))
        })
    }

    fn error(&self, message: String) -> EmbedError {
        EmbedError::Tokenizer {
            path: self.path.clone(),
            message,
        }
    }
}
