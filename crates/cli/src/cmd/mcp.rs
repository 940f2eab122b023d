//! `vault-rag mcp --vault VAULT`: an MCP server on stdio with the tools `search_notes`,
//! `similar_notes`, `read_note` and `list_notes`, and the notes as `vault:///` resources. stdout carries the protocol; logs go to stderr. When a
//! service runs on the same vault it forwards to that service's `/mcp` (loading no model);
//! otherwise it serves on its own, read-only if another process holds the index.

use std::time::Duration;

use anyhow::Context;
use vault_rag_server::VaultMcp;

use crate::bridge::ServiceFile;
use crate::cmd::serve::runtime;
use crate::open::{open, Access};
use crate::settings::{ModelArgs, VaultArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub vault: VaultArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    // Indexes beside an agent's session, while the user works: in the background by default.
    args.vault
        .index_priority
        .get_or_insert(vault_rag_index::IndexPriority::Background);
    let settings = args.vault.to_settings()?;
    if let Ok(dir) = settings.resolve_data_dir() {
        if let Some(service) = ServiceFile::find(&dir) {
            return crate::bridge::run(service, &dir);
        }
    }
    let engine = open(&args.vault, &args.model, Access::Read)?;
    // Read-only beside a running service, which does the indexing.
    if !engine.is_read_only() {
        engine
            .start_background()
            .context("starting background indexing")?;
    }
    let runtime = runtime()?;
    let served = runtime.block_on(VaultMcp::new(engine.clone()).serve_stdio());
    tracing::info!("MCP client disconnected; stopping the indexer");
    engine.shutdown();
    runtime.shutdown_timeout(Duration::from_secs(5));
    Ok(served?)
}
