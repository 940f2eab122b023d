//! Tokenization with the model's own `tokenizer.json`, its post-processor kept (EmbeddingGemma's
//! appends `<eos>`), and padding and truncation taken out of the file's hands: some files bake in
//! a fixed padding (MiniLM's pads every text to 128), and truncation happens here at the model's
//! limit. Runs on the caller's thread, never inside the inference worker.

use std::path::{Path, PathBuf};

use tokenizers::{Encoding, Tokenizer, TruncationDirection};
use vault_rag_core::EmbedError;

/// Token ids of one text, special tokens included, at most `max_tokens` long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub ids: Vec<u32>,
}

pub struct TextTokenizer {
    inner: Tokenizer,
    path: PathBuf,
    /// Special tokens the post-processor adds to a single text.
    added: usize,
    max_tokens: usize,
}

impl TextTokenizer {
    pub fn load(path: &Path, max_tokens: usize) -> Result<Self, EmbedError> {
        let err = |message: String| EmbedError::Tokenizer {
            path: path.to_path_buf(),
            message,
        };
        if !path.is_file() {
            return Err(err("file not found".into()));
        }
        let mut inner = Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| err(e.to_string()))?;
        let added = inner
            .get_post_processor()
            .map(|p| tokenizers::PostProcessor::added_tokens(p, false))
            .unwrap_or(0);
        if added >= max_tokens {
            return Err(err(format!(
                "its post-processor adds {added} special tokens, leaving no room under the limit of {max_tokens}"
            )));
        }
        Ok(Self {
            inner,
            path: path.to_path_buf(),
            added,
            max_tokens,
        })
    }

    /// Tokens of `text` with special tokens and without truncation.
    pub fn count(&self, text: &str) -> Result<usize, EmbedError> {
        Ok(self.raw(text)?.len() + self.added)
    }

    /// Ids for the model: special tokens added, truncated to the model's limit (the special tokens
    /// are kept; the text is cut at its end).
    pub fn encode(&self, text: &str) -> Result<Tokens, EmbedError> {
        let mut raw = self.raw(text)?;
        let room = self.max_tokens - self.added;
        if raw.len() > room {
            raw.truncate(room, 0, TruncationDirection::Right);
        }
        let full = self
            .inner
            .post_process(raw, None, true)
            .map_err(|e| self.error(e.to_string()))?;
        Ok(Tokens {
            ids: full.get_ids().to_vec(),
        })
    }

    fn raw(&self, text: &str) -> Result<Encoding, EmbedError> {
        self.inner.encode_fast(text, false).map_err(|e| {
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
