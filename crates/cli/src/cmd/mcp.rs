//! `vault-rag mcp --vault VAULT`: an MCP server on stdio with the tools `search_notes`,
//! `similar_notes` and `read_note`. stdout carries the protocol; logs go to stderr. Beside a
//! running service on the same vault it reads the index read-only and indexes nothing.

use std::time::Duration;

use anyhow::Context;
use vault_rag_server::{Limits, VaultMcp};

use crate::cmd::serve::{open_engine, runtime};
use crate::settings::{ModelArgs, VaultArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub vault: VaultArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let engine = open_engine(&args.vault, &args.model)?;
    // Read-only beside a running service, which does the indexing.
    if !engine.is_read_only() {
        engine
            .start_background()
            .context("starting background indexing")?;
    }
    let runtime = runtime()?;
    let served = runtime.block_on(VaultMcp::new(engine.clone(), Limits::default()).serve_stdio());
    tracing::info!("MCP client disconnected; stopping the indexer");
    engine.shutdown();
    runtime.shutdown_timeout(Duration::from_secs(5));
    Ok(served?)
}
