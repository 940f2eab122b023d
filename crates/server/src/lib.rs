//! The HTTP API and the MCP server of vault-rag.
//!
//! The server talks to the index through the [`Backend`] trait (search, similar notes, embedding,
//! status, indexing controls, reading notes), so the HTTP and MCP layers can be tested in-process
//! with any implementation; `vault_rag_index::Engine` is the real one.
//!
//! - [`router`]: the axum API (`/health`, `/search`, `/similar`, `/embed`, `/v1/embeddings`,
//!   `/index/*`, `/openapi.json`, `/agents/token`, `/mcp`) behind the access rules of
//!   [`security`](AccessSettings): loopback `Host` with the served port, allow-listed `Origin`,
//!   optional bearer token, and the [`AgentToken`] that opens only `/mcp` and `/health`.
//! - [`Listener`]: binds (loopback unless a token is set), then serves until a shutdown signal;
//!   [`PendingBackend`] answers on the same port while the model is still downloading.
//! - [`ServerError`]: the one error type; [`ServerError::status_and_code`] is the one mapping to
//!   HTTP status and stable `error.code` strings.
//! - [`openapi::document`]: the OpenAPI 3.1 document of the API.
//! - [`VaultMcp`]: the MCP server (tools `search_notes`, `similar_notes`, `read_note`, `list_notes`; notes as
//!   `vault:///` resources) on stdio and at `/mcp`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod accept;
pub mod agent_token;
mod api;
mod backend;
mod engine;
mod error;
mod extract;
pub mod mcp;
pub mod openapi;
mod pending;
mod section;
mod security;
mod serve;

pub use accept::ConnectionLimits;
pub use agent_token::{AgentToken, AGENT_TOKEN_FILE};
pub use api::{router, ApiSettings, Limits, ROUTES};
pub use backend::{Backend, IndexFailure, IndexProgress, IndexState, LiveUpdates, SearchResults};
pub use error::{ErrorBody, ErrorDetail, ServerError};
pub use mcp::VaultMcp;
pub use pending::PendingBackend;
pub use section::extract_section;
pub use security::{AccessSettings, OBSIDIAN_ORIGIN};
pub use serve::{listening_line, Listener, ServeSettings};
