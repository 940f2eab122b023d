//! Shared types and contracts of vault-rag.
//!
//! Everything here is light: no IO, no heavy dependencies. The crates that do the work
//! (`markdown`, `embed`, `index`, `server`) agree on these types:
//!
//! - [`NotePath`]: a vault-relative, `/`-separated, NFC-normalised note path.
//! - [`Embedder`]: batch-first text embedding with separate query and document entry points.
//! - [`EmbedderFingerprint`]: what identifies a vector space; vectors of two fingerprints never mix.
//! - [`SearchRequest`], [`SimilarRequest`] and the limits of every request ([`MAX_TOP_K`],
//!   [`MAX_QUERY_CHARS`], …): what callers ask, validated in one place.
//! - [`Hit`], [`SearchMode`], [`Retriever`]: what a search returns.
//! - [`fake::HashEmbedder`]: a deterministic embedder for fast unit tests.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod embedder;
pub mod fake;
mod path;
mod request;
mod types;

pub use embedder::{
    l2_normalize, DocumentText, EmbedError, Embedder, EmbedderFingerprint, FusionWeights,
    ModelState, Precision, Reweighted,
};
pub use path::{NotePath, PathError};
pub use request::{
    check_query, check_top_k, count_or, folder_filter, note_part, tag_filter, NotePart,
    RequestError, SearchFilters, SearchRequest, SimilarRequest, DEFAULT_LIST_LIMIT, DEFAULT_TOP_K,
    MAX_LIST_LIMIT, MAX_QUERY_CHARS, MAX_TOP_K,
};
pub use types::{wikilink, Explain, Fusion, Hit, Retriever, SearchMode};
