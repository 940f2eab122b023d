//! Times the embedder on texts read from a file (one per line). Used for the measurements in the
//! crate docs: `cargo run --release -p vault-rag-embed --example embed_timing -- FILE [MODEL] [DIR]`.
use std::time::Instant;

use vault_rag_embed::{DocumentText, Embedder, ModelSpec, OnnxEmbedder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_default())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[1])?;
    let lines: Vec<&str> = text.lines().collect();
    let spec = ModelSpec {
        model: args
            .get(2)
            .cloned()
            .unwrap_or_else(|| "all-minilm-l6-v2".into()),
        model_dir: args.get(3).map(Into::into),
        batch_tokens: std::env::var("BATCH_TOKENS")
            .ok()
            .and_then(|v| v.parse().ok()),
        ..ModelSpec::default()
    };
    let t0 = Instant::now();
    let e = OnnxEmbedder::load(&spec)?;
    let load = t0.elapsed();
    let tokens: usize = lines
        .iter()
        .map(|l| e.count_tokens(l).min(e.fingerprint().max_tokens))
        .sum();
    let docs: Vec<DocumentText> = lines
        .iter()
        .map(|l| DocumentText {
            title: None,
            text: l,
        })
        .collect();
    let t1 = Instant::now();
    let v = e.embed_documents(&docs)?;
    let took = t1.elapsed().as_secs_f64();
    eprintln!(
        "load {:.2}s; {} texts, {} tokens in {:.2}s: {:.0} tokens/s, {:.1} texts/s; dim {}",
        load.as_secs_f64(),
        v.len(),
        tokens,
        took,
        tokens as f64 / took,
        v.len() as f64 / took,
        v[0].len()
    );
    Ok(())
}
