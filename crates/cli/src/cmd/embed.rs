//! `vault-rag embed`: print one vector per text.

#[derive(clap::Args)]
pub struct Args {
    /// Texts to embed.
    pub texts: Vec<String>,
}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("embedding is not available in this build")
}
