//! The MCP server: the same backend and rules as the HTTP API, as three tools for agents.
//!
//! - `search_notes {query, top_k?, mode?, folder?, tag?}`: hybrid search over the vault.
//! - `similar_notes {path, top_k?}`: notes like a given note.
//! - `read_note {path, heading?}`: a note, or one section of it, by heading.
//!
//! Failures (bad arguments, unknown note, path outside the vault) are tool errors whose text
//! starts with the HTTP API's error code, so agents see why.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool, tool_handler, tool_router, ErrorData, ServerHandler, ServiceExt};
use schemars::JsonSchema;
use serde::Deserialize;
use vault_rag_core::SearchMode;

use crate::api::{blocking, check_folder, check_query, check_top_k, note_path};
use crate::section::extract_section;
use crate::{Backend, Limits, SearchQuery, ServerError, SimilarQuery};

/// Arguments of `search_notes`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchNotesArgs {
    /// What to look for, in natural language or keywords.
    pub query: String,
    /// How many notes to return (1-100, default 10).
    pub top_k: Option<u64>,
    /// `hybrid` (default: meaning + keywords), `dense` (meaning only) or `lexical` (keywords only).
    pub mode: Option<ModeArg>,
    /// Only notes in this vault folder, e.g. `Projects/Alpha`.
    pub folder: Option<String>,
    /// Only notes with this tag (with or without `#`).
    pub tag: Option<String>,
}

/// Search mode argument.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModeArg {
    Hybrid,
    Dense,
    Lexical,
}

impl From<ModeArg> for SearchMode {
    fn from(mode: ModeArg) -> Self {
        match mode {
            ModeArg::Hybrid => SearchMode::Hybrid,
            ModeArg::Dense => SearchMode::Dense,
            ModeArg::Lexical => SearchMode::Lexical,
        }
    }
}

/// Arguments of `similar_notes`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SimilarNotesArgs {
    /// Vault-relative path of the note, e.g. `Projects/Alpha/Plan.md`.
    pub path: String,
    /// How many notes to return (1-100, default 10).
    pub top_k: Option<u64>,
}

/// Arguments of `read_note`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadNoteArgs {
    /// Vault-relative path of the note, e.g. `Projects/Alpha/Plan.md`.
    pub path: String,
    /// Only the section under this heading (case-insensitive; `Parent#Child` also works).
    pub heading: Option<String>,
}

/// The MCP service over a [`Backend`].
#[derive(Clone)]
pub struct VaultMcp {
    backend: Arc<dyn Backend>,
    limits: Arc<Limits>,
    tool_router: ToolRouter<Self>,
}

impl VaultMcp {
    pub fn new(backend: Arc<dyn Backend>, limits: Limits) -> Self {
        Self {
            backend,
            limits: Arc::new(limits),
            tool_router: Self::tool_router(),
        }
    }

    /// Serves MCP on stdin/stdout until the client disconnects.
    pub async fn serve_stdio(self) -> Result<(), ServerError> {
        let running =
            self.serve(rmcp::transport::stdio())
                .await
                .map_err(|err| ServerError::Internal {
                    message: format!("MCP initialisation failed: {err}"),
                })?;
        running
            .waiting()
            .await
            .map_err(|err| ServerError::Internal {
                message: format!("MCP service failed: {err}"),
            })?;
        Ok(())
    }
}

/// MCP over Streamable HTTP for `serve`'s `/mcp`: one [`VaultMcp`] per session. Host, Origin and
/// the token are checked by the API's own guard before a request gets here, so rmcp's own
/// checks are off (they would only repeat ours, less strictly).
pub(crate) fn http_service(
    backend: Arc<dyn Backend>,
    limits: Arc<Limits>,
) -> StreamableHttpService<VaultMcp, LocalSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_max_request_body_bytes(limits.max_body_bytes);
    StreamableHttpService::new(
        move || {
            Ok(VaultMcp {
                backend: backend.clone(),
                limits: limits.clone(),
                tool_router: VaultMcp::tool_router(),
            })
        },
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// The MCP transport answers a malformed request (a missing `Accept`, an unknown session…) with
/// plain text; clients of this API get the usual JSON error with a stable code instead.
pub(crate) async fn error_body(response: axum::response::Response) -> axum::response::Response {
    use axum::http::header;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let code = match status.as_u16() {
        404 => "not_found",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        400..=499 => "invalid_request",
        _ => "internal",
    };
    let body = serde_json::json!({ "error": { "code": code, "message": format!("MCP transport: {text}") } });
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    axum::response::Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

fn tool_error(err: ServerError) -> CallToolResult {
    let (_, code) = err.status_and_code();
    CallToolResult::error(vec![ContentBlock::text(format!(
        "{code}: {}",
        err.full_message()
    ))])
}

fn outcome(result: Result<CallToolResult, ServerError>) -> Result<CallToolResult, ErrorData> {
    Ok(result.unwrap_or_else(tool_error))
}

fn to_json(value: &impl serde::Serialize) -> Result<serde_json::Value, ServerError> {
    serde_json::to_value(value).map_err(|err| ServerError::Internal {
        message: format!("cannot serialise tool result: {err}"),
    })
}

#[tool_router]
impl VaultMcp {
    #[tool(
        description = "Search the user's Obsidian notes. Returns the best notes with path, title, heading, line and a snippet (matched terms in **bold**). Use read_note to read a hit."
    )]
    async fn search_notes(
        &self,
        Parameters(args): Parameters<SearchNotesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let limits = self.limits.clone();
        let backend = self.backend.clone();
        outcome(
            async move {
                let query = SearchQuery {
                    query: check_query(&args.query, &limits)?,
                    top_k: check_top_k(args.top_k, &limits)?,
                    mode: args.mode.map(SearchMode::from).unwrap_or_default(),
                    folder: check_folder(args.folder)?,
                    tag: args
                        .tag
                        .map(|t| t.trim().trim_start_matches('#').to_string())
                        .filter(|t| !t.is_empty()),
                };
                let results = blocking(move || backend.search(&query)).await?;
                Ok(CallToolResult::structured(to_json(&serde_json::json!({
                    "hits": results.hits,
                    "index_complete": results.index_complete,
                }))?))
            }
            .await,
        )
    }

    #[tool(description = "Find notes similar in meaning to a given note of the vault.")]
    async fn similar_notes(
        &self,
        Parameters(args): Parameters<SimilarNotesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let limits = self.limits.clone();
        let backend = self.backend.clone();
        outcome(
            async move {
                let query = SimilarQuery {
                    path: note_path(&args.path)?,
                    top_k: check_top_k(args.top_k, &limits)?,
                    exclude_linked: false,
                };
                let path = query.path.to_string();
                let results = blocking(move || backend.similar(&query)).await?;
                Ok(CallToolResult::structured(to_json(&serde_json::json!({
                    "path": path,
                    "hits": results.hits,
                    "index_complete": results.index_complete,
                }))?))
            }
            .await,
        )
    }

    #[tool(
        description = "Read a note of the vault (Markdown), or only the section under one heading."
    )]
    async fn read_note(
        &self,
        Parameters(args): Parameters<ReadNoteArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let backend = self.backend.clone();
        outcome(
            async move {
                let path = note_path(&args.path)?;
                let shown = path.to_string();
                let text = blocking(move || backend.read_note(&path)).await?;
                let text = match args.heading.as_deref().filter(|h| !h.trim().is_empty()) {
                    None => text,
                    Some(heading) => extract_section(&text, heading).map_err(|found| {
                        ServerError::invalid(
                            "heading",
                            format!(
                                "`{heading}` is not a heading of `{shown}` (headings: {})",
                                found.join(", ")
                            ),
                        )
                    })?,
                };
                Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
            }
            .await,
        )
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for VaultMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("vault-rag", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Search and read the user's Obsidian vault: search_notes finds notes by meaning and keywords, similar_notes finds related notes, read_note reads a note or one of its sections.",
            )
    }
}
