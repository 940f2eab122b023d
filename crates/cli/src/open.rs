//! How commands open an index: the model checked and loaded, then the engine, in one place.

use std::sync::Arc;

use anyhow::Context;
use vault_rag_embed::{ModelSpec, OnnxEmbedder};
use vault_rag_index::{Engine, IndexSettings};

use crate::settings::{ModelArgs, VaultArgs};

/// What a command needs of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// It keeps the index up to date (`index`): another process holding it is an error.
    Write,
    /// It reads (`search`, `similar`, `mcp`): read-only when another process holds the index.
    Read,
}

/// Checks the model settings, loads the model and opens the vault's index.
pub fn open(vault: &VaultArgs, model: &ModelArgs, access: Access) -> anyhow::Result<Arc<Engine>> {
    let settings = vault.to_settings()?;
    let spec = crate::model::ready(model, Some(&settings))?;
    let embedder = Arc::new(
        OnnxEmbedder::load(&spec)
            .with_context(|| format!("loading the embedding model `{}`", spec.model))?,
    );
    match access {
        Access::Write => Ok(Engine::open(settings, embedder)?),
        Access::Read => open_or_read(settings, embedder),
    }
}

/// Opens the index with a model that is still loading (see [`OnnxEmbedder::start`]).
pub fn start(
    settings: IndexSettings,
    spec: &ModelSpec,
) -> anyhow::Result<(Arc<Engine>, Arc<OnnxEmbedder>)> {
    let embedder = Arc::new(
        OnnxEmbedder::start(spec)
            .with_context(|| format!("loading the embedding model `{}`", spec.model))?,
    );
    let engine = Engine::open(settings, embedder.clone())?;
    Ok((engine, embedder))
}

/// Opens the index to keep it up to date, or, when another vault-rag process (a running
/// service) holds it, read-only as that process last committed it: commands that only read
/// never fail for that, and never block the process that writes.
fn open_or_read(
    settings: IndexSettings,
    embedder: Arc<OnnxEmbedder>,
) -> anyhow::Result<Arc<Engine>> {
    match Engine::open(settings.clone(), embedder.clone()) {
        Err(vault_rag_index::IndexError::Locked { pid, .. }) => {
            let by = pid.map(|p| format!(" (process {p})")).unwrap_or_default();
            eprintln!(
                "note: another vault-rag process{by} keeps this index up to date; reading it as \
                 that process last saved it"
            );
            Ok(Engine::open_read_only(settings, embedder)?)
        }
        other => Ok(other?),
    }
}
