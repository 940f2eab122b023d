//! The MCP server: the same backend and rules as the HTTP API, as tools and resources for agents.
//!
//! Tools ([`tools`]):
//! - `search_notes {query, limit?, mode?, folder?, tag?}`: hybrid search over the vault;
//! - `similar_notes {path, limit?}`: notes like a given note;
//! - `read_note {path, heading? | start_line?, end_line?}`: a note, one section, or a line range;
//! - `list_notes {folder?, tag?, modified_since?, order?, limit?, cursor?}`: browse, a page at a time;
//! - `gather_context {question, budget_tokens?, folder?, tag?}`: the numbered passages that answer
//!   a question (what `POST /ask` sends its model), for agents that bring their own model.
//!
//! Every hit and listed note carries `link`, an Obsidian wikilink (`[[Folder/Note#Heading]]`)
//! an agent can cite. Notes are also resources (`vault:///Folder/Note.md`, [`resources`]) for
//! clients that browse them. Failures (bad arguments, unknown note, path outside the vault) are
//! tool errors whose text starts with the HTTP API's error code, so agents see why.

mod resources;
mod tools;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    Implementation, ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool_handler, ErrorData, RoleServer, ServerHandler, ServiceExt};

use crate::{Backend, Limits, ServerError};

/// The MCP service over a [`Backend`].
#[derive(Clone)]
pub struct VaultMcp {
    backend: Arc<dyn Backend>,
    tool_router: ToolRouter<Self>,
}

impl VaultMcp {
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self {
            backend,
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

#[tool_handler(router = self.tool_router)]
impl ServerHandler for VaultMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("vault-rag", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Search and read the user's Obsidian vault. search_notes finds notes by meaning and keywords; \
             similar_notes finds related notes; read_note reads a note, one section (heading) or a line range; \
             list_notes browses notes by folder, tag or modification time; gather_context returns the \
             passages that answer a question, packed to a token budget. Cite notes with the `link` \
             field of results (an Obsidian wikilink such as [[Folder/Note#Heading]]).",
        )
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        resources::list(self.backend.clone(), request.and_then(|r| r.cursor)).await
    }

    async fn list_resource_templates(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            resources::template(),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        resources::read(self.backend.clone(), &request.uri)
            .await
            .map(Into::into)
    }
}
