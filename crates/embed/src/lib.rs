//! Text embeddings on ONNX Runtime, fully offline once the files are on disk.
//!
//! [`OnnxEmbedder`] implements [`vault_rag_core::Embedder`]: it turns queries and documents into
//! unit-length vectors with a model of the [catalogue](catalogue). The pipeline for one call:
//!
//! 1. **prompt**: the model's query or document template (EmbeddingGemma:
//!    `task: search result | query: {q}` and `title: {title or "none"} | text: {text}`);
//! 2. **tokenize** on the caller's thread with the model's own `tokenizer.json` (its
//!    post-processor kept, padding and truncation decided here, at the model's token limit);
//!    files shaped like Gemma's go through a compact BPE tokenizer that gives the same ids as
//!    the `tokenizers` library in about a fifth of its memory, every other file through that
//!    library ([`TextTokenizer`]);
//! 3. **batch**: sort by length, group under a token budget (rows × padded width), so padding
//!    stays small and ONNX Runtime's CPU arena, which grows to the largest batch and never
//!    shrinks, stays bounded;
//! 4. **infer** on one worker thread that owns the session and takes batches from two bounded
//!    channels, queries first: a search waits at most for the batch in progress;
//! 5. **pool**: read the named output (EmbeddingGemma's `sentence_embedding`, never
//!    `outputs[0]`, which is the token states) or average the token states over the mask;
//! 6. **Matryoshka cut** to the requested width, then L2 normalisation.
//!
//! # Finding ONNX Runtime
//!
//! `ort` is built with `load-dynamic`; [`init_runtime`] opens the library once per process from
//! `ORT_DYLIB_PATH` (when set, only there), else the platform's library (`libonnxruntime.so.*`,
//! `libonnxruntime.*.dylib`, `onnxruntime.dll`) next to the executable, as the release archives
//! ship it, else `<vault-rag cache>/onnxruntime/<version>/`, where `make setup` puts it. A missing library is an [`EmbedError::Runtime`](vault_rag_core::EmbedError)
//! that says how to get one, never a panic.
//!
//! # Finding models
//!
//! [`ModelSpec::model_dir`] (`--model-dir`) names a directory laid out like the model's Hugging
//! Face repository (`tokenizer.json`, `onnx/model_quantized.onnx` and the weight files the graph
//! refers to, ...; MiniLM's flat `model.onnx` also works). Without it:
//! `<vault-rag cache>/models/<name>`, then the Hugging Face cache (`HF_HUB_CACHE`, `HF_HOME`).
//! Loading never downloads: [`download`] fetches a model from the hub (`HF_ENDPOINT`) into that
//! cache, resumable and checked, once the caller has the user's consent.
//! [`model_available_offline`] says whether a model can load without a network.
//! `--precision fp32|int8|q4` picks the file.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod batch;
mod bpe;
mod catalog;
mod embedder;
mod hub;
mod hub_error;
mod layout;
mod mapped;
mod memory;
mod onnx_refs;
mod pool;
mod runtime;
mod session;
mod source;
mod tokenize;
mod worker;

pub use catalog::{catalogue, lookup, ModelEntry, Pooling, DEFAULT_MODEL};
pub use embedder::{ModelSpec, OnnxEmbedder};
pub use hub::{DownloadError, DownloadProgress, HubCache};
pub use memory::ProcessMemory;
pub use onnx_refs::external_files;
pub use runtime::{cache_library, init_runtime, ORT_DYLIB_ENV, ORT_VERSION};
pub use source::{
    download, locate, model_available_offline, test_model_dir, vault_rag_cache, ModelFiles,
};
pub use tokenize::{TextTokenizer, TokenizerBackend, Tokens};
pub use vault_rag_core::{DocumentText, EmbedError, Embedder, EmbedderFingerprint, Precision};
