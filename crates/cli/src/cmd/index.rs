//! `vault-rag index VAULT`: bring the vault's index up to date, with progress and the time left,
//! and report what was done and what could not be indexed. Ctrl-C stops after the batch in
//! flight and says what was kept.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;
use vault_rag_index::{IndexState, IndexSummary, Progress};

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
    let engine = crate::open::open(&args.vault, &args.model, crate::open::Access::Write)?;
    // Ctrl-C (or SIGTERM) ends the pass after the batch in flight: what is committed stays.
    let stopped = Arc::new(AtomicBool::new(false));
    {
        // A weak handle: the handler lives as long as the process, the engine must not (its
        // close folds the log into the index file).
        let (engine, stopped) = (Arc::downgrade(&engine), stopped.clone());
        if let Err(e) = ctrlc::set_handler(move || {
            if !stopped.swap(true, Ordering::SeqCst) {
                eprintln!(
                    "\nstopping after the batch in progress (Ctrl-C again does nothing more)"
                );
            }
            if let Some(engine) = engine.upgrade() {
                engine.request_stop();
            }
        }) {
            tracing::warn!("cannot handle Ctrl-C: {e}");
        }
    }
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
    if stopped.load(Ordering::SeqCst) {
        eprintln!(
            "interrupted: {} notes indexed and kept; the rest continues on the next run",
            summary.notes_indexed
        );
    }
    Ok(())
}

/// A progress bar on a terminal; otherwise a line every few seconds (what scripts and the
/// plugin's log see). The time left comes from the bytes of the notes still to embed, which
/// follow the tokens, not from the count of notes (unchanged notes cost nothing).
struct Reporter {
    bar: Option<ProgressBar>,
    started: Instant,
    /// When the last line was printed, and the commits it had seen.
    last_line: Mutex<(Instant, u64)>,
    /// When the embedding that follows the lexical pass began, and the chunks embedded then.
    embedding: Mutex<Option<(Instant, u64)>>,
}

/// Seconds between progress lines when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(10);

impl Reporter {
    fn new(terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style =
                ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            started: Instant::now(),
            last_line: Mutex::new((Instant::now(), 0)),
            embedding: Mutex::new(None),
        }
    }

    fn update(&self, p: &Progress) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = p.tokens_embedded as f64 / secs;
        // After a lexical-first pass has written every note, the sections are embedded: the
        // bar and the estimate follow the sections left.
        let embedding = (p.state != IndexState::Scanning
            && p.notes_done >= p.notes_total
            && p.vectors_missing > 0)
            .then(|| {
                let (t0, c0) = *self
                    .embedding
                    .lock()
                    .get_or_insert((Instant::now(), p.chunks_embedded));
                let done = p.chunks_embedded.saturating_sub(c0);
                (done, p.vectors_missing, t0.elapsed().as_secs_f64())
            });
        let left = match embedding {
            Some((done, missing, secs)) => embed_time_left(done, missing, secs),
            None => time_left(p, secs),
        }
        .map(|s| format!(", {s}"))
        .unwrap_or_default();
        match &self.bar {
            Some(bar) => {
                bar.set_prefix(match p.state {
                    IndexState::Scanning => "scanning",
                    _ if p.vectors_missing > 0 => "embedding",
                    _ => "indexing",
                });
                let (done, total, unit) = match embedding {
                    Some((done, missing, _)) => (done, done + missing, "sections"),
                    None => (p.notes_done, p.notes_total, "notes"),
                };
                bar.set_length(total);
                bar.set_position(done);
                bar.set_message(format!(
                    "{unit}  {} chunks embedded, {} reused, {:.0} tokens/s{left}",
                    p.chunks_embedded, p.chunks_reused, rate
                ));
            }
            None => {
                // A line per commit (scripts wait for them), and one every few seconds between
                // commits, so that a long batch is never a long silence.
                let mut last = self.last_line.lock();
                let committed = p.batches_committed > last.1;
                if !committed && last.0.elapsed() < LINE_EVERY {
                    return;
                }
                *last = (Instant::now(), p.batches_committed);
                let what = if committed {
                    format!("batch {} committed", p.batches_committed)
                } else {
                    "working".to_string()
                };
                let waiting = if p.vectors_missing > 0 {
                    format!(", sections to embed {}", p.vectors_missing)
                } else {
                    String::new()
                };
                eprintln!(
                    "progress: {what}, notes {}/{}, chunks embedded {}, reused {}{waiting}, {:.0} tokens/s{left}",
                    p.notes_done, p.notes_total, p.chunks_embedded, p.chunks_reused, rate
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

/// "about 14 min left", once enough is done to tell.
fn time_left(p: &Progress, secs: f64) -> Option<String> {
    if p.bytes_done == 0 || p.bytes_todo <= p.bytes_done || secs < 3.0 {
        return None;
    }
    let left = (p.bytes_todo - p.bytes_done) as f64 * secs / p.bytes_done as f64;
    Some(format_left(left))
}

/// The same for the embedding after a lexical-first pass: `done` sections embedded in `secs`,
/// `missing` still to go.
fn embed_time_left(done: u64, missing: u64, secs: f64) -> Option<String> {
    if done == 0 || missing == 0 || secs < 3.0 {
        return None;
    }
    Some(format_left(missing as f64 * secs / done as f64))
}

fn format_left(left: f64) -> String {
    if left < 90.0 {
        format!("about {:.0} s left", left.max(1.0))
    } else if left < 5400.0 {
        format!("about {:.0} min left", left / 60.0)
    } else {
        format!("about {:.1} h left", left / 3600.0)
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
        println!("stopped early: what was indexed is kept; the next run continues from there");
    }
    if !s.failures.is_empty() {
        println!("problems ({}):", s.failures.len());
        for f in &s.failures {
            println!("  {}: {}", f.path, f.reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_follows_the_bytes_still_to_embed() {
        let mut p = Progress {
            state: IndexState::Indexing,
            notes_done: 0,
            notes_total: 10,
            chunks_embedded: 0,
            chunks_reused: 0,
            tokens_embedded: 0,
            batches_committed: 0,
            vectors_missing: 0,
            bytes_todo: 1_000_000,
            bytes_done: 0,
        };
        assert_eq!(time_left(&p, 10.0), None);
        p.bytes_done = 250_000;
        assert_eq!(time_left(&p, 1.0), None, "too early to tell");
        assert_eq!(time_left(&p, 20.0).as_deref(), Some("about 60 s left"));
        assert_eq!(time_left(&p, 200.0).as_deref(), Some("about 10 min left"));
        p.bytes_done = p.bytes_todo;
        assert_eq!(time_left(&p, 200.0), None);
    }

    #[test]
    fn embedding_time_left_follows_the_sections_still_to_embed() {
        assert_eq!(embed_time_left(0, 100, 10.0), None);
        assert_eq!(embed_time_left(50, 100, 2.0), None, "too early to tell");
        assert_eq!(embed_time_left(100, 0, 20.0), None);
        assert_eq!(
            embed_time_left(100, 300, 20.0).as_deref(),
            Some("about 60 s left")
        );
        assert_eq!(
            embed_time_left(100, 3000, 20.0).as_deref(),
            Some("about 10 min left")
        );
    }
}
