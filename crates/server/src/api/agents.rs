//! `GET /agents/token` and `POST /agents/token/rotate`: the agent token, for the plugin's "Use
//! with AI agents" settings. Only the service token reaches these (the agent token opens `/mcp`
//! and `/health` alone), so an agent can neither read nor renew its own key.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::{blocking, AppState};
use crate::ServerError;

#[derive(Debug, Serialize)]
pub(crate) struct AgentTokenReply {
    /// The bearer token agents send to `/mcp`; `None` when the service runs without tokens.
    token: Option<String>,
    /// Where agents connect, on this service's address.
    mcp_path: &'static str,
}

fn reply(token: Option<String>) -> Json<AgentTokenReply> {
    Json(AgentTokenReply {
        token,
        mcp_path: "/mcp",
    })
}

pub(crate) async fn token(State(state): State<AppState>) -> Json<AgentTokenReply> {
    reply(state.agent_token.as_ref().map(|t| t.current()))
}

pub(crate) async fn rotate(
    State(state): State<AppState>,
) -> Result<Json<AgentTokenReply>, ServerError> {
    let Some(agent) = state.agent_token.clone() else {
        return Ok(reply(None));
    };
    let token =
        blocking(move || agent.rotate().map_err(|source| ServerError::Io { source })).await?;
    tracing::info!("agent token revoked; a new one is in effect");
    Ok(reply(Some(token)))
}
