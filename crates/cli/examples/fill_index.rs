//! Builds a benchmark index of a large vault in minutes instead of hours: the real indexer, the
//! real model for the first `--real` sections (newest notes first, as a first index embeds them),
//! and for every later section a mix of two of those real vectors picked by the text's hash.
//! Notes, sections, full text and vectors are written by the indexer exactly as `vault-rag index`
//! writes them, so `vault-rag serve` opens the result as its own. Prints a JSON summary with the
//! real part's tokens/s, from which the time of a real first index is estimated.
//!
//!     cargo run --release -p vault-rag --example fill_index -- VAULT --data-dir D \
//!         --model-dir M [--precision int8] [--dim 768] [--threads 2] [--real 384]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use parking_lot::Mutex;
use vault_rag_core::{
    l2_normalize, DocumentText, EmbedError, Embedder, EmbedderFingerprint, ModelState, Precision,
};
use vault_rag_embed::{ModelSpec, OnnxEmbedder};
use vault_rag_index::{Engine, IndexSettings, Progress};

#[derive(Parser)]
struct Args {
    vault: PathBuf,
    #[arg(long)]
    data_dir: PathBuf,
    #[arg(long)]
    model_dir: PathBuf,
    #[arg(long, default_value = "embeddinggemma-300m")]
    model: String,
    #[arg(long, default_value = "int8")]
    precision: Precision,
    #[arg(long)]
    dim: Option<usize>,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Sections embedded for real before vectors are re-used.
    #[arg(long, default_value_t = 384)]
    real: usize,
}

/// The real part: how long the model took for how many tokens.
#[derive(Default)]
struct RealPart {
    pool: Vec<Vec<f32>>,
    tokens: u64,
    time: Duration,
}

/// The real embedder until `real` sections are embedded, then mixes of its vectors.
struct Reused {
    inner: OnnxEmbedder,
    real: usize,
    part: Mutex<RealPart>,
}

impl Reused {
    fn mixed(pool: &[Vec<f32>], text: &str) -> Vec<f32> {
        let h = blake3::hash(text.as_bytes());
        let b = h.as_bytes();
        let pick = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            (u64::from_le_bytes(w) % pool.len() as u64) as usize
        };
        // 3:1 keeps each vector near a real one while no two sections share a vector exactly
        // (ties would flatter the first stage).
        let (a, c) = (&pool[pick(0)], &pool[pick(8)]);
        let mut v: Vec<f32> = a.iter().zip(c).map(|(x, y)| 0.75 * x + 0.25 * y).collect();
        l2_normalize(&mut v);
        v
    }
}

impl Embedder for Reused {
    fn fingerprint(&self) -> &EmbedderFingerprint {
        self.inner.fingerprint()
    }
    fn state(&self) -> ModelState {
        self.inner.state()
    }
    fn count_tokens(&self, text: &str) -> usize {
        self.inner.count_tokens(text)
    }
    fn embed_queries(&self, queries: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed_queries(queries)
    }
    fn embed_documents(&self, docs: &[DocumentText<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut part = self.part.lock();
        if part.pool.len() < self.real {
            let started = Instant::now();
            let vectors = self.inner.embed_documents(docs)?;
            part.time += started.elapsed();
            part.tokens += docs
                .iter()
                .map(|d| self.inner.count_tokens(d.text) as u64)
                .sum::<u64>();
            part.pool.extend(vectors.iter().cloned());
            return Ok(vectors);
        }
        Ok(docs
            .iter()
            .map(|d| Self::mixed(&part.pool, d.text))
            .collect())
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let spec = ModelSpec {
        model: args.model.clone(),
        model_dir: Some(args.model_dir.clone()),
        precision: args.precision,
        dim: args.dim,
        threads: Some(args.threads),
        batch_tokens: None,
    };
    let inner = OnnxEmbedder::load(&spec).context("loading the model")?;
    let embedder = Arc::new(Reused {
        inner,
        real: args.real.max(1),
        part: Mutex::new(RealPart::default()),
    });
    let mut settings = IndexSettings::new(args.vault.clone());
    settings.data_dir = Some(args.data_dir.clone());
    let engine = Engine::open(settings, embedder.clone())?;
    let last = Mutex::new(Instant::now());
    let report = |p: &Progress| {
        let mut last = last.lock();
        if last.elapsed() >= Duration::from_secs(10) {
            *last = Instant::now();
            eprintln!(
                "[fill] {:?}: {}/{} notes, {} sections embedded",
                p.state, p.notes_done, p.notes_total, p.chunks_embedded
            );
        }
    };
    let started = Instant::now();
    let summary = engine.reconcile(&report)?;
    let wall = started.elapsed().as_secs_f64();
    engine.shutdown();
    let part = embedder.part.lock();
    let real_rate = part.tokens as f64 / part.time.as_secs_f64().max(1e-9);
    let out = serde_json::json!({
        "notes_indexed": summary.notes_indexed,
        "notes_failed": summary.notes_failed,
        "chunks_embedded": summary.chunks_embedded,
        "tokens_embedded": summary.tokens_embedded,
        "wall_s": wall,
        "real_sections": part.pool.len(),
        "real_tokens": part.tokens,
        "real_seconds": part.time.as_secs_f64(),
        "real_tokens_per_s": real_rate,
        "threads": args.threads,
        "estimated_first_index_s": summary.tokens_embedded as f64 / real_rate,
    });
    println!("{out}");
    Ok(())
}
