//! "Ask your vault": a question is always answered from retrieval first, so that any model that
//! can follow a prompt works (no tool calls needed).
//!
//! [`retrieve`] runs the hybrid search, keeps the hits that really match the question
//! ([`relevance`]), and packs the sections around them into numbered [`Passage`]s under a token
//! budget. [`answer`] sends them with the question to an OpenAI-compatible chat endpoint
//! ([`ChatClient`]), streams the tokens, and maps the `[n]` markers of the answer to notes
//! ([`Citation`]). With no relevant passage the model is never called.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod cite;
mod error;
mod llm;
mod passages;
mod prompt;
pub mod relevance;
mod session;

pub use cite::{resolve_citations, Citation, Cited};
pub use error::{AskError, LlmError};
pub use llm::{is_loopback, ChatClient, ChatMessage, LlmSettings, Streamed, API_KEY_ENV};
pub use passages::{estimate_tokens, pack, PackSettings, Passage};
pub use prompt::{messages, NOT_IN_NOTES, SYSTEM_PROMPT};
pub use session::{
    answer, retrieve, AskAnswer, AskRequest, Retrieval, Role, Turn, VaultAccess,
    DEFAULT_BUDGET_TOKENS, DEFAULT_TOP_K, MAX_BUDGET_TOKENS, MAX_HISTORY_TURNS, NOTHING_FOUND,
};
