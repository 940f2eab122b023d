//! `vault-rag index VAULT`: bring the vault's index up to date, with progress, and report what
//! was done and what could not be indexed.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;
use vault_rag_embed::OnnxEmbedder;
use vault_rag_index::engine::Engine;
use vault_rag_index::progress::{IndexState, IndexSummary, Progress};

use crate::settings::{ModelArgs, VaultArgs};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub vault: VaultArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print the summary as one JSON object on standard output.
    #[arg(long)]
    pub json: bool,
    /// Re-read and re-chunk every note (vectors of unchanged text are reused).
    #[arg(long)]
    pub rebuild: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let settings = args.vault.to_settings()?;
    let spec = crate::model::ready(&args.model, Some(&settings))?;
    let embedder = OnnxEmbedder::load(&spec)
        .with_context(|| format!("loading the embedding model `{}`", spec.model))?;
    let engine = Engine::open(settings, Arc::new(embedder))?;
    if args.rebuild {
        engine.rebuild()?;
    }
    let reporter = Reporter::new(!args.json && std::io::stderr().is_terminal());
    let summary = engine.reconcile(&|p| reporter.update(p))?;
    reporter.finish();
    engine.shutdown();
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, &summary)?;
        writeln!(out)?;
    } else {
        print_summary(&summary, engine.index_path());
    }
    Ok(())
}

/// A progress bar on a terminal; otherwise one log line per committed batch (what scripts and
/// the plugin's log see).
struct Reporter {
    bar: Option<ProgressBar>,
    started: Instant,
    last: Mutex<(u64, Instant)>,
}

impl Reporter {
    fn new(terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} {prefix} [{bar:30}] {pos}/{len} notes  {msg}  ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            started: Instant::now(),
            last: Mutex::new((0, Instant::now())),
        }
    }

    fn update(&self, p: &Progress) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = p.tokens_embedded as f64 / secs;
        match &self.bar {
            Some(bar) => {
                bar.set_prefix(match p.state {
                    IndexState::Scanning => "scanning",
                    _ if p.vectors_missing > 0 => "embedding",
                    _ => "indexing",
                });
                bar.set_length(p.notes_total);
                bar.set_position(p.notes_done);
                bar.set_message(format!(
                    "{} chunks embedded, {} reused, {:.0} tokens/s",
                    p.chunks_embedded, p.chunks_reused, rate
                ));
            }
            None => {
                let mut last = self.last.lock();
                if p.batches_committed == last.0 {
                    return;
                }
                *last = (p.batches_committed, Instant::now());
                eprintln!(
                    "progress: batch {} committed, notes {}/{}, chunks embedded {}, reused {}, {:.0} tokens/s",
                    p.batches_committed,
                    p.notes_done,
                    p.notes_total,
                    p.chunks_embedded,
                    p.chunks_reused,
                    rate
                );
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn print_summary(s: &IndexSummary, index: &std::path::Path) {
    let secs = s.elapsed_ms as f64 / 1000.0;
    println!("index: {}", index.display());
    println!(
        "notes: {} seen, {} indexed, {} unchanged, {} deleted, {} failed",
        s.notes_seen, s.notes_indexed, s.notes_unchanged, s.notes_deleted, s.notes_failed
    );
    let rate = if secs > 0.0 {
        s.tokens_embedded as f64 / secs
    } else {
        0.0
    };
    println!(
        "chunks: {} embedded ({} tokens, {:.0} tokens/s), {} reused; {:.1} s",
        s.chunks_embedded, s.tokens_embedded, rate, s.chunks_reused, secs
    );
    if s.interrupted {
        println!("stopped early: the next run continues where this one ended");
    }
    if !s.failures.is_empty() {
        println!("problems ({}):", s.failures.len());
        for f in &s.failures {
            println!("  {}: {}", f.path, f.reason);
        }
    }
}
