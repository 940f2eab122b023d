//! `vault-rag eval`: retrieval quality through the real pipeline (vault → chunks → embeddings →
//! index → search), on a BEIR-layout test collection or on known-item queries made from a vault.
//!
//! A BEIR corpus is written once as a vault of notes under `<data dir>/eval/<dataset>/vault`; each
//! configuration (model, precision, dimensions, chunk size) gets its own index next to it, built once
//! and reused (re-indexing is incremental). Results are per note, so a document ranks by its best chunk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use vault_rag_core::{Embedder, SearchMode};
use vault_rag_eval::known_item::{self, KnownItemSettings};
use vault_rag_eval::{
    doc_id_from_note, evaluate, run_queries, write_run_file, write_vault, BeirDataset, EvalReport,
    Qrels, Query, ScoredDoc, SystemConfig, Timings,
};
use vault_rag_index::Progress;
use vault_rag_index::{Engine, IndexSettings, SearchRequest};
use vault_rag_markdown::ChunkConfig;

use crate::settings::ModelArgs;

/// How often indexing progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Documents retrieved per query: enough for MAP@100 and a standard 100-deep run file.
const DEPTH: usize = 100;

#[derive(clap::Args)]
pub struct Args {
    /// A BEIR-layout dataset folder: corpus.jsonl, queries.jsonl, qrels/test.tsv.
    #[arg(long, required_unless_present = "vault", conflicts_with = "vault")]
    pub dataset: Option<PathBuf>,
    /// A vault to make known-item queries from (with --known-item N).
    #[arg(long, requires = "known_item")]
    pub vault: Option<PathBuf>,
    /// Number of known-item queries (a heading or first sentence of a random note; that note is
    /// the one right answer). They share words with their note, so they favour lexical search.
    #[arg(long, requires = "vault")]
    pub known_item: Option<usize>,
    /// Seed of the known-item draw (same seed, same queries).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Retrievers: hybrid, dense or lexical.
    #[arg(long, default_value = "hybrid")]
    pub mode: SearchMode,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Chunk size in tokens (overlap and character cap scale with it); default: the indexer's.
    #[arg(long)]
    pub chunk_tokens: Option<usize>,
    /// Evaluate only the first N judged queries (queries.jsonl order).
    #[arg(long)]
    pub queries_limit: Option<usize>,
    /// Write a TREC run (`qid Q0 docid rank score tag`, 100 per query) to this file.
    #[arg(long)]
    pub run_file: Option<PathBuf>,
    /// Print the report as JSON (with per-query metrics) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Where evaluation vaults and indexes are kept (default: the per-user data directory).
    #[arg(long, env = "VAULT_RAG_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Obsidian's configuration folder in --vault (skipped when making queries).
    #[arg(long, default_value = ".obsidian")]
    pub config_dir: String,
}

/// What one evaluation needs besides the searcher: the queries, their judgments, the vault to
/// index and how a hit's note path becomes a document id.
struct Task {
    dataset: String,
    vault: PathBuf,
    cache: PathBuf,
    queries: Vec<Query>,
    qrels: Qrels,
    doc_id: fn(&str) -> Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let root = match &args.data_dir {
        Some(dir) => dir.join("eval"),
        None => dirs::data_dir()
            .context("no per-user data directory on this system: pass --data-dir")?
            .join("vault-rag")
            .join("eval"),
    };
    let task = match (&args.dataset, &args.vault, args.known_item) {
        (Some(dir), _, _) => beir_task(dir, &root, args.queries_limit)?,
        (None, Some(vault), Some(n)) => known_item_task(vault, n, &args, &root)?,
        _ => bail!("give --dataset DIR, or --vault VAULT with --known-item N"),
    };
    if task.queries.is_empty() {
        bail!("no judged queries to evaluate in {}", task.dataset);
    }

    let spec = crate::model::ready(&args.model, None)?;
    let embedder: Arc<dyn Embedder> = Arc::new(
        vault_rag_embed::OnnxEmbedder::load(&spec).context("loading the embedding model")?,
    );
    let fp = embedder.fingerprint().clone();
    let chunk = chunk_config(args.chunk_tokens);
    if args.chunk_tokens.is_some_and(|n| n > fp.max_tokens) {
        eprintln!(
            "note: `{}` reads at most {} tokens: chunks are cut to fit",
            fp.model, fp.max_tokens
        );
    }
    let index_dir = task.cache.join(format!(
        "index-{}-{}-{}-c{}-{}",
        sanitize(&fp.model),
        fp.precision,
        fp.dims,
        chunk.max_tokens,
        &fp.id()[..8]
    ));
    let mut settings = IndexSettings::new(&task.vault);
    settings.data_dir = Some(index_dir.clone());
    settings.chunk = chunk.clone();
    if args.known_item.is_some() {
        settings.config_dir = args.config_dir.clone();
    }

    let engine = Engine::open(settings, embedder)
        .with_context(|| format!("opening the index in {}", index_dir.display()))?;
    let started = Instant::now();
    let last = std::sync::Mutex::new(Instant::now());
    let summary = engine
        .reconcile(&|p: &Progress| {
            // Progress on stderr every few seconds: indexing a corpus can take many minutes.
            if let Ok(mut last) = last.lock() {
                if last.elapsed() >= PROGRESS_EVERY {
                    *last = Instant::now();
                    eprintln!(
                        "indexing: {}/{} notes, {} chunks embedded, {:.0} s",
                        p.notes_done,
                        p.notes_total,
                        p.chunks_embedded,
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        })
        .context("indexing the evaluation vault")?;
    let index_secs = started.elapsed().as_secs_f64();
    if !summary.failures.is_empty() {
        eprintln!(
            "warning: {} note(s) failed to index, first: {}: {}",
            summary.failures.len(),
            summary.failures[0].path,
            summary.failures[0].reason
        );
    }

    let (run, latencies) = run_queries(&task.queries, DEPTH, |q| {
        let request = SearchRequest {
            query: q.text.clone(),
            top_k: DEPTH,
            mode: args.mode,
            folder: None,
            tag: None,
        };
        let response = engine.search(&request).map_err(|e| e.to_string())?;
        response
            .hits
            .iter()
            .map(|h| {
                (task.doc_id)(&h.path)
                    .map(|id| ScoredDoc::new(id, f64::from(h.score)))
                    .ok_or_else(|| {
                        format!("hit `{}` is not a note of the evaluation vault", h.path)
                    })
            })
            .collect()
    })?;
    let evaluation = evaluate(&task.qrels, &run);
    let status = engine.status();
    let chunk_tokens = engine.settings().chunk.max_tokens;
    engine.shutdown();

    let report = EvalReport {
        dataset: task.dataset.clone(),
        system: SystemConfig {
            mode: args.mode.to_string(),
            model: fp.model.clone(),
            precision: fp.precision.to_string(),
            dim: fp.dims,
            chunk_tokens,
            fingerprint: fp.id(),
        },
        notes: status.notes_indexed as usize,
        chunks: status.chunks as usize,
        queries: evaluation.queries,
        queries_without_relevant: evaluation.queries_without_relevant,
        metrics: evaluation.mean,
        timings: Timings::new(index_secs, summary.chunks_embedded as usize, &latencies),
        per_query: evaluation.per_query,
    };
    if let Some(path) = &args.run_file {
        let order: Vec<String> = task.queries.iter().map(|q| q.id.clone()).collect();
        let tag = format!("vault-rag-{}", args.mode);
        write_run_file(path, &run, &order, DEPTH, &tag)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

fn beir_task(dir: &Path, root: &Path, limit: Option<usize>) -> anyhow::Result<Task> {
    let dataset = BeirDataset::open(dir)?;
    let (queries, qrels) = dataset.test_queries(limit)?;
    let cache = root.join(sanitize(&dataset.name));
    let info = write_vault(&dataset, &cache.join("vault"))?;
    tracing::info!(
        documents = info.documents,
        written = info.written,
        "evaluation vault"
    );
    Ok(Task {
        dataset: dataset.name,
        vault: info.dir,
        cache,
        queries,
        qrels,
        doc_id: doc_id_from_note,
    })
}

fn known_item_task(vault: &Path, n: usize, args: &Args, root: &Path) -> anyhow::Result<Task> {
    let canonical = vault
        .canonicalize()
        .with_context(|| format!("vault `{}` not found", vault.display()))?;
    let settings = KnownItemSettings {
        count: n,
        seed: args.seed,
        skip_dirs: vec![args.config_dir.clone()],
        ..Default::default()
    };
    let notes = known_item::read_notes(&canonical, &settings)?;
    let set = known_item::generate(&notes, &settings);
    if set.items.len() < n {
        eprintln!(
            "note: {} of {} known-item queries made ({} notes scanned)",
            set.items.len(),
            n,
            set.notes_scanned
        );
    }
    let name = canonical
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vault".into());
    let key = &blake3::hash(canonical.to_string_lossy().as_bytes()).to_hex()[..8];
    Ok(Task {
        dataset: format!("known-item:{name}"),
        vault: canonical,
        cache: root.join(format!("known-item-{}-{key}", sanitize(&name))),
        queries: set.queries,
        qrels: set.qrels,
        doc_id: |path| Some(known_item::run_doc_id(path)),
    })
}

/// The indexer's chunking, resized to `tokens` when given (overlap 1/8, character cap 16× tokens).
fn chunk_config(tokens: Option<usize>) -> ChunkConfig {
    let mut cfg = ChunkConfig::default();
    if let Some(n) = tokens {
        cfg.max_tokens = n;
        cfg.overlap_tokens = n / 8;
        cfg.max_chars = cfg.max_chars.max(n * 16);
    }
    cfg
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
