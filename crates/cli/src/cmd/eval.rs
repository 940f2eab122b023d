//! `vault-rag eval`: retrieval quality through the real pipeline (vault → chunks → embeddings →
//! index → search), on a BEIR-layout test collection or on known-item queries made from a vault.
//!
//! A BEIR corpus is written once as a vault of notes under `<data dir>/eval/<dataset>/vault`; each
//! configuration (model, precision, dimensions, chunk size) gets its own index next to it, built once
//! and reused (re-indexing is incremental). Results are per note, so a document ranks by its best chunk.
//!
//! By default every mode runs over the one index (hybrid with each fusion, dense, lexical) and the
//! report tests hybrid against each of the others for significance. `--mode lexical` alone builds
//! an index without vectors: the model's tokenizer still sizes the chunks, so they are the chunks
//! the full index has, but nothing is embedded.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use vault_rag_core::{
    DocumentText, EmbedError, Embedder, EmbedderFingerprint, Fusion, FusionWeights, ModelState,
    Reweighted, SearchMode,
};
use vault_rag_eval::known_item::{self, KnownItemSettings};
use vault_rag_eval::{
    doc_id_from_note, evaluate, read_judged_queries, run_queries, write_run_file, write_vault,
    BeirDataset, EvalComparison, EvalReport, Qrels, Query, ScoredDoc, SystemConfig, Timings,
};
use vault_rag_index::Progress;
use vault_rag_index::{Engine, IndexSettings, SearchRequest, VectorCodes};
use vault_rag_markdown::ChunkConfig;

use crate::settings::{LlmArgs, ModelArgs, VaultArgs};

/// How often indexing progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Documents retrieved per query: enough for MAP@100 and a standard 100-deep run file.
const DEPTH: usize = 100;

#[derive(clap::Args)]
pub struct Args {
    /// A BEIR-layout dataset folder: corpus.jsonl, queries.jsonl, qrels/test.tsv.
    #[arg(long, required_unless_present = "vault", conflicts_with = "vault")]
    pub dataset: Option<PathBuf>,
    /// A vault to evaluate on: with --known-item N (drawn queries) or --queries FILE (written ones).
    #[arg(long)]
    pub vault: Option<PathBuf>,
    /// Number of known-item queries (a heading or first sentence of a random note; that note is
    /// the one right answer). They share words with their note, so they favour lexical search.
    #[arg(long, requires = "vault", conflicts_with = "queries")]
    pub known_item: Option<usize>,
    /// Known-item queries written by hand for --vault: a tab-separated file of
    /// `note path<TAB>query` lines (`#` starts a comment), one right note per query.
    #[arg(long, requires = "vault")]
    pub queries: Option<PathBuf>,
    /// Questions for `ask` over --vault: a tab-separated file of `note path<TAB>heading<TAB>
    /// question<TAB>answer contains` lines (path `-`: the vault cannot answer it). Reports whether
    /// the right note and heading are among the passages sent, and with --llm-url whether the
    /// answer cites them.
    #[arg(long, requires = "vault", conflicts_with_all = ["queries", "known_item"])]
    pub ask: Option<PathBuf>,
    /// Notes searched per question with --ask.
    #[arg(long, default_value_t = vault_rag_ask::DEFAULT_TOP_K)]
    pub ask_top_k: usize,
    #[command(flatten)]
    pub llm: LlmArgs,
    /// Seed of the known-item draw (same seed, same queries).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Runs: all (hybrid with each fusion, dense and lexical over one index, compared for
    /// significance), or one of hybrid, dense, lexical (lexical alone embeds nothing).
    #[arg(long, value_enum, default_value_t = EvalMode::All)]
    pub mode: EvalMode,
    /// How a single hybrid run merges its lists: convex or rrf.
    #[arg(long, default_value = "convex")]
    pub fusion: Fusion,
    /// The dense side's weight in convex fusion (0-1) instead of the model's own: to choose a
    /// model's weight on training queries. The index is the same.
    #[arg(long, value_parser = weight)]
    pub dense_weight: Option<f32>,
    /// The dense side's weight when the best keyword match holds every query term (0-1), instead
    /// of the model's own.
    #[arg(long, value_parser = weight)]
    pub exact_dense_weight: Option<f32>,
    /// The judgments to evaluate against: `qrels/<split>.tsv` (e.g. train to tune, test to report).
    #[arg(long, default_value = "test")]
    pub split: String,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Chunk size in tokens (overlap and character cap scale with it); default: the indexer's.
    #[arg(long)]
    pub chunk_tokens: Option<usize>,
    /// How vectors are held in memory for the first stage of dense search: binary (sign bits,
    /// then an exact re-score) or int8. The index is the same.
    #[arg(long, env = "VAULT_RAG_VECTOR_CODES", default_value_t = VectorCodes::default())]
    pub vector_codes: VectorCodes,
    /// Evaluate only the first N judged queries (queries.jsonl order).
    #[arg(long)]
    pub queries_limit: Option<usize>,
    /// Write a TREC run (`qid Q0 docid rank score tag`, 100 per query) to this file (one run only).
    #[arg(long, conflicts_with = "run_dir")]
    pub run_file: Option<PathBuf>,
    /// Write each run's TREC run file into this folder, as `<run>.trec`.
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Print the report as JSON (with per-query metrics) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Where evaluation vaults and indexes are kept (default: the per-user data directory). With
    /// --ask: the vault's index folder, as for `vault-rag index`.
    #[arg(long, env = "VAULT_RAG_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Obsidian's configuration folder in --vault (skipped when making queries).
    #[arg(long, default_value = ".obsidian")]
    pub config_dir: String,
}

/// Which runs an evaluation makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalMode {
    All,
    Hybrid,
    Dense,
    Lexical,
}

/// One run: its name in reports and file names, and the search it makes.
struct RunSpec {
    name: String,
    mode: SearchMode,
    fusion: Fusion,
}

impl RunSpec {
    fn new(mode: SearchMode, fusion: Fusion) -> Self {
        let name = match (mode, fusion) {
            (SearchMode::Hybrid, Fusion::Rrf) => "hybrid-rrf".to_string(),
            _ => mode.to_string(),
        };
        Self { name, mode, fusion }
    }
}

fn run_specs(mode: EvalMode, fusion: Fusion) -> Vec<RunSpec> {
    match mode {
        // Hybrid first: the comparison tests it against each of the others.
        EvalMode::All => vec![
            RunSpec::new(SearchMode::Hybrid, Fusion::Convex),
            RunSpec::new(SearchMode::Hybrid, Fusion::Rrf),
            RunSpec::new(SearchMode::Dense, fusion),
            RunSpec::new(SearchMode::Lexical, fusion),
        ],
        EvalMode::Hybrid => vec![RunSpec::new(SearchMode::Hybrid, fusion)],
        EvalMode::Dense => vec![RunSpec::new(SearchMode::Dense, fusion)],
        EvalMode::Lexical => vec![RunSpec::new(SearchMode::Lexical, fusion)],
    }
}

/// The model's tokenizer without its inference: chunks come out exactly as the model's index
/// cuts them, and every "vector" is the same one value, so a lexical-only evaluation embeds
/// nothing. Its fingerprint names it, so its index is never taken for the model's.
struct NoVectors {
    inner: Arc<dyn Embedder>,
    fingerprint: EmbedderFingerprint,
}

impl NoVectors {
    fn new(inner: Arc<dyn Embedder>) -> Self {
        let mut fingerprint = inner.fingerprint().clone();
        fingerprint.model = format!("{}+no-vectors", fingerprint.model);
        fingerprint.dims = 1;
        Self { inner, fingerprint }
    }
}

impl Embedder for NoVectors {
    fn fingerprint(&self) -> &EmbedderFingerprint {
        &self.fingerprint
    }
    fn state(&self) -> ModelState {
        self.inner.state()
    }
    fn count_tokens(&self, text: &str) -> usize {
        self.inner.count_tokens(text)
    }
    fn embed_queries(&self, queries: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(vec![vec![1.0]; queries.len()])
    }
    fn embed_documents(&self, docs: &[DocumentText<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(vec![vec![1.0]; docs.len()])
    }
}

fn weight(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(w) if (0.0..=1.0).contains(&w) => Ok(w),
        _ => Err(format!("{s:?} is not a weight from 0 to 1")),
    }
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
    if let (Some(file), Some(vault)) = (&args.ask, &args.vault) {
        let mut vault_args = VaultArgs::for_vault(vault.clone());
        vault_args.config_dir = args.config_dir.clone();
        vault_args.data_dir = args.data_dir.clone();
        return super::ask_eval::run(
            file,
            vault_args,
            &args.model,
            &args.llm,
            args.ask_top_k,
            args.json,
        );
    }
    let root = match &args.data_dir {
        Some(dir) => dir.join("eval"),
        None => dirs::data_dir()
            .context("no per-user data directory on this system: pass --data-dir")?
            .join("vault-rag")
            .join("eval"),
    };
    let task = match (&args.dataset, &args.vault, args.known_item) {
        (Some(dir), _, _) => beir_task(dir, &root, &args.split, args.queries_limit)?,
        (None, Some(vault), Some(n)) => known_item_task(vault, n, &args, &root)?,
        (None, Some(vault), None) => match &args.queries {
            Some(file) => judged_task(vault, file, &root)?,
            None => bail!("--vault needs --known-item N or --queries FILE"),
        },
        _ => bail!("give --dataset DIR, or --vault VAULT with --known-item N or --queries FILE"),
    };
    if task.queries.is_empty() {
        bail!("no judged queries to evaluate in {}", task.dataset);
    }

    if args.run_file.is_some() && args.mode == EvalMode::All {
        bail!("--run-file takes one run: give --mode, or use --run-dir for all of them");
    }
    let specs = run_specs(args.mode, args.fusion);

    let spec = crate::model::ready(&args.model, None)?;
    let model: Arc<dyn Embedder> = Arc::new(
        vault_rag_embed::OnnxEmbedder::load(&spec).context("loading the embedding model")?,
    );
    let model: Arc<dyn Embedder> = if args.dense_weight.is_some()
        || args.exact_dense_weight.is_some()
    {
        let own = model.fusion_weights();
        let weights = FusionWeights {
            dense: args.dense_weight.unwrap_or(own.dense),
            exact_dense: args.exact_dense_weight.unwrap_or(own.exact_dense),
            ..own
        };
        eprintln!(
            "note: convex fusion with dense weights {} / {} on exact matches (the model's own: {} / {})",
            weights.dense, weights.exact_dense, own.dense, own.exact_dense
        );
        Arc::new(Reweighted {
            inner: model,
            weights,
        })
    } else {
        model
    };
    let fp = model.fingerprint().clone();
    let embedder: Arc<dyn Embedder> = if args.mode == EvalMode::Lexical {
        Arc::new(NoVectors::new(model))
    } else {
        model
    };
    let chunk = chunk_config(args.chunk_tokens);
    if args.chunk_tokens.is_some_and(|n| n > fp.max_tokens) {
        eprintln!(
            "note: `{}` reads at most {} tokens: chunks are cut to fit",
            fp.model, fp.max_tokens
        );
    }
    let index_fp = embedder.fingerprint().clone();
    let index_dir = task.cache.join(format!(
        "index-{}-{}-{}-c{}-{}",
        sanitize(&index_fp.model),
        index_fp.precision,
        index_fp.dims,
        chunk.max_tokens,
        &index_fp.id()[..8]
    ));
    let mut settings = IndexSettings::new(&task.vault);
    settings.data_dir = Some(index_dir.clone());
    settings.chunk = chunk.clone();
    settings.vector_codes = args.vector_codes;
    if args.vault.is_some() {
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
    // The no-vectors index runs no inference: none of its chunks was embedded.
    let embedded = match args.mode {
        EvalMode::Lexical => 0,
        _ => summary.chunks_embedded as usize,
    };
    let status = engine.status();
    let chunk_tokens = engine.settings().chunk.max_tokens;
    let order: Vec<String> = task.queries.iter().map(|q| q.id.clone()).collect();

    let mut reports = Vec::with_capacity(specs.len());
    for run_spec in &specs {
        let (run, latencies) = run_queries(&task.queries, DEPTH, |q| {
            let request = SearchRequest {
                query: q.text.clone(),
                top_k: DEPTH,
                mode: run_spec.mode,
                folder: None,
                tag: None,
                fusion: run_spec.fusion,
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
        let tag = format!("vault-rag-{}", run_spec.name);
        if let Some(path) = &args.run_file {
            write_run_file(path, &run, &order, DEPTH, &tag)?;
        }
        if let Some(dir) = &args.run_dir {
            let path = dir.join(format!("{}.trec", run_spec.name));
            write_run_file(&path, &run, &order, DEPTH, &tag)?;
        }
        reports.push(EvalReport {
            dataset: task.dataset.clone(),
            system: SystemConfig {
                mode: run_spec.name.clone(),
                model: fp.model.clone(),
                precision: fp.precision.to_string(),
                dim: fp.dims,
                chunk_tokens,
                fingerprint: index_fp.id(),
            },
            notes: status.notes_indexed as usize,
            chunks: status.chunks as usize,
            queries: evaluation.queries,
            queries_without_relevant: evaluation.queries_without_relevant,
            metrics: evaluation.mean,
            timings: Timings::new(index_secs, embedded, &latencies),
            per_query: evaluation.per_query,
        });
    }
    engine.shutdown();

    let mut out = std::io::stdout().lock();
    if reports.len() == 1 {
        let report = &reports[0];
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
        } else {
            write!(out, "{}", report.to_text())?;
        }
    } else {
        let comparison = EvalComparison::new(reports);
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&comparison)?)?;
        } else {
            write!(out, "{}", comparison.to_text())?;
        }
    }
    Ok(())
}

fn beir_task(dir: &Path, root: &Path, split: &str, limit: Option<usize>) -> anyhow::Result<Task> {
    let dataset = BeirDataset::open(dir)?;
    let (queries, qrels) = dataset.split_queries(split, limit)?;
    let cache = root.join(sanitize(&dataset.name));
    let info = write_vault(&dataset, &cache.join("vault"))?;
    tracing::info!(
        documents = info.documents,
        written = info.written,
        "evaluation vault"
    );
    let name = if split == "test" {
        dataset.name
    } else {
        format!("{} ({split})", dataset.name)
    };
    Ok(Task {
        dataset: name,
        vault: info.dir,
        cache,
        queries,
        qrels,
        doc_id: doc_id_from_note,
    })
}

fn known_item_task(vault: &Path, n: usize, args: &Args, root: &Path) -> anyhow::Result<Task> {
    let canonical = canonical_vault(vault)?;
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
    Ok(vault_task(
        canonical,
        root,
        "known-item",
        set.queries,
        set.qrels,
    ))
}

/// Hand-written known-item queries over a vault; the index is the one drawn queries use.
fn judged_task(vault: &Path, file: &Path, root: &Path) -> anyhow::Result<Task> {
    let canonical = canonical_vault(vault)?;
    let judged = read_judged_queries(file, &canonical)?;
    let stem = file
        .file_stem()
        .map_or_else(|| "queries".into(), |s| s.to_string_lossy().into_owned());
    Ok(vault_task(
        canonical,
        root,
        &stem,
        judged.queries,
        judged.qrels,
    ))
}

fn canonical_vault(vault: &Path) -> anyhow::Result<PathBuf> {
    vault
        .canonicalize()
        .with_context(|| format!("vault `{}` not found", vault.display()))
}

/// Queries over a vault (named `<label>:<vault>`); drawn and written ones share the vault's index.
fn vault_task(vault: PathBuf, root: &Path, label: &str, queries: Vec<Query>, qrels: Qrels) -> Task {
    let (name, cache) = vault_cache(&vault, root);
    Task {
        dataset: format!("{label}:{name}"),
        vault,
        cache,
        queries,
        qrels,
        doc_id: |path| Some(known_item::run_doc_id(path)),
    }
}

/// A vault's name and the folder its evaluation index is kept in (one per vault path).
fn vault_cache(canonical: &Path, root: &Path) -> (String, PathBuf) {
    let name = canonical
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vault".into());
    let key = &blake3::hash(canonical.to_string_lossy().as_bytes()).to_hex()[..8];
    let cache = root.join(format!("known-item-{}-{key}", sanitize(&name)));
    (name, cache)
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
