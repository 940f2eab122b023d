//! `vault-rag embed`: print one vector per text.

use std::io::{BufRead, Write};

use anyhow::Context;
use vault_rag_core::{DocumentText, Embedder};
use vault_rag_embed::OnnxEmbedder;

use crate::settings::ModelArgs;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Embed as search queries (the model's query prompt) instead of documents.
    #[arg(long)]
    pub query: bool,
    /// Note title for the document prompt (ignored with --query).
    #[arg(long, conflicts_with = "query")]
    pub title: Option<String>,
    /// Print each vector as a JSON array on its own line.
    #[arg(long)]
    pub json: bool,
    /// Also read texts from standard input, one per line.
    #[arg(long)]
    pub stdin: bool,
    /// Texts to embed.
    #[arg(required_unless_present = "stdin")]
    pub texts: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut texts = args.texts;
    if args.stdin {
        for line in std::io::stdin().lock().lines() {
            texts.push(line.context("reading texts from standard input")?);
        }
    }
    let spec = crate::model::ready(&args.model, None)?;
    let embedder = OnnxEmbedder::load(&spec)
        .with_context(|| format!("loading the embedding model `{}`", spec.model))?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = if args.query {
        embedder.embed_queries(&refs)
    } else {
        let docs: Vec<DocumentText<'_>> = refs
            .iter()
            .map(|text| DocumentText {
                title: args.title.as_deref(),
                text,
            })
            .collect();
        embedder.embed_documents(&docs)
    }
    .context("embedding")?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for v in &vectors {
        if args.json {
            serde_json::to_writer(&mut out, v)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", short_form(v))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `[0.0123, -0.0456, 0.0789 … 0.0111] (384 dims)`: enough to eyeball, not to copy.
fn short_form(v: &[f32]) -> String {
    const SHOWN: usize = 3;
    let head: Vec<String> = v.iter().take(SHOWN).map(|x| format!("{x:.4}")).collect();
    let tail = match v.len() {
        n if n > SHOWN => format!(" … {:.4}", v[n - 1]),
        _ => String::new(),
    };
    format!("[{}{tail}] ({} dims)", head.join(", "), v.len())
}

#[cfg(test)]
mod tests {
    use super::short_form;

    #[test]
    fn short_form_shows_head_tail_and_width() {
        assert_eq!(
            short_form(&[0.5, -0.25, 0.125, 0.0, 1.0]),
            "[0.5000, -0.2500, 0.1250 … 1.0000] (5 dims)"
        );
        assert_eq!(short_form(&[1.0]), "[1.0000] (1 dims)");
    }
}
