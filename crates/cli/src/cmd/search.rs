//! `vault-rag search VAULT "query"`: bring the index up to date, search it, print a table (or the
//! JSON response).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Instant;

use vault_rag_core::{Fusion, Hit, SearchMode};
use vault_rag_index::Engine;
use vault_rag_index::Progress;
use vault_rag_index::{SearchRequest, SearchResponse};

use crate::settings::{ModelArgs, VaultArgs};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// What to look for: words, a name, a question. "Quoted words" must appear as a phrase;
    /// `word*` matches word beginnings.
    // Optional for clap only (the vault before it is optional with `--vault`); `run` reports a
    // missing query.
    #[arg(value_name = "QUERY")]
    pub query: Option<String>,
    /// Retrievers: hybrid (dense + BM25, fused), dense or lexical.
    #[arg(long, default_value = "hybrid")]
    pub mode: SearchMode,
    /// Number of notes to return (1-100).
    #[arg(long, short = 'k', default_value_t = 10)]
    pub top_k: usize,
    /// Only notes in this folder (vault-relative).
    #[arg(long)]
    pub folder: Option<String>,
    /// Only notes with this tag (`#` optional; nested tags match their parent).
    #[arg(long)]
    pub tag: Option<String>,
    /// How hybrid search merges its lists: convex (weighted scores) or rrf (reciprocal ranks).
    #[arg(long, default_value = "convex")]
    pub fusion: Fusion,
    /// Print the response as one JSON object on standard output (each hit with `explain`: why it
    /// ranked).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let Some(query) = args.query.clone() else {
        anyhow::bail!("no query given: vault-rag search VAULT \"QUERY\"");
    };
    let engine = open_updated(&args.vault, &args.model)?;
    let req = SearchRequest {
        query: query.clone(),
        top_k: args.top_k,
        mode: args.mode,
        folder: args.folder.clone(),
        tag: args.tag.clone(),
        fusion: args.fusion,
    };
    let response = engine.search(&req)?;
    engine.shutdown();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &response)?;
        writeln!(out)?;
    } else {
        let title = format!("{} search for {query:?}", args.mode);
        print_table(&mut out, &title, &response, std::io::stdout().is_terminal())?;
    }
    Ok(())
}

/// Loads the model, opens the index and brings it up to date. Silent when nothing has to be
/// embedded; otherwise progress and a summary go to stderr (stdout stays the result).
pub fn open_updated(vault: &VaultArgs, model: &ModelArgs) -> anyhow::Result<Arc<Engine>> {
    let engine = crate::open::open(vault, model, crate::open::Access::Read)?;
    if engine.is_read_only() {
        return Ok(engine);
    }
    let started = Instant::now();
    // Live progress only on a terminal; scripts get the one summary line.
    let terminal = std::io::stderr().is_terminal();
    let last_report = parking_lot::Mutex::new(0u64);
    let report = |p: &Progress| {
        let mut last = last_report.lock();
        if terminal && p.chunks_embedded > *last {
            *last = p.chunks_embedded;
            eprint!(
                "\rupdating the index: {}/{} notes, {} chunks embedded",
                p.notes_done, p.notes_total, p.chunks_embedded
            );
        }
    };
    let summary = engine.reconcile(&report)?;
    if terminal && *last_report.lock() > 0 {
        eprint!("\r");
    }
    if summary.chunks_embedded > 0 || summary.notes_deleted > 0 {
        eprintln!(
            "index updated: {} notes indexed, {} deleted, {} chunks embedded in {:.1} s",
            summary.notes_indexed,
            summary.notes_deleted,
            summary.chunks_embedded,
            started.elapsed().as_secs_f64()
        );
    }
    if summary.notes_failed > 0 {
        eprintln!(
            "{} notes could not be indexed; `vault-rag status` lists them",
            summary.notes_failed
        );
    }
    Ok(engine)
}

/// A numbered list: rank, score, `path:line`, heading path, then the snippet indented. On a
/// terminal the `**` marks become bold.
pub fn print_table(
    out: &mut dyn Write,
    title: &str,
    response: &SearchResponse,
    terminal: bool,
) -> std::io::Result<()> {
    let incomplete = if response.dense_coverage < 1.0 {
        format!(
            " (index still incomplete: {:.0} % of sections embedded, keyword search covers every note)",
            (response.dense_coverage * 100.0).floor()
        )
    } else if response.index_complete {
        String::new()
    } else {
        " (index still incomplete)".to_string()
    };
    writeln!(
        out,
        "{title}: {} notes in {:.1} ms{incomplete}",
        response.hits.len(),
        response.took_ms
    )?;
    if response.hits.is_empty() {
        writeln!(out, "  no matching notes")?;
    }
    for (i, hit) in response.hits.iter().enumerate() {
        write_hit(out, i + 1, hit, terminal)?;
    }
    Ok(())
}

fn write_hit(out: &mut dyn Write, rank: usize, hit: &Hit, terminal: bool) -> std::io::Result<()> {
    let retrievers: Vec<String> = hit
        .retrievers
        .iter()
        .map(|r| format!("{r:?}").to_lowercase())
        .collect();
    let headings = if hit.heading_path.is_empty() {
        String::new()
    } else {
        format!("  › {}", hit.heading_path.join(" › "))
    };
    writeln!(
        out,
        "{rank:>3}. {:>7.4}  {}:{}{headings}  [{}]",
        hit.score,
        hit.path,
        hit.line,
        retrievers.join("+")
    )?;
    let snippet = if terminal {
        bold_marks(&hit.snippet)
    } else {
        hit.snippet.clone()
    };
    writeln!(out, "      {snippet}")
}

/// `**x**` → ANSI bold.
fn bold_marks(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for (i, part) in s.split("**").enumerate() {
        if i > 0 {
            out.push_str(if i % 2 == 1 { "\x1b[1m" } else { "\x1b[0m" });
        }
        out.push_str(part);
    }
    if s.matches("**").count() % 2 == 1 {
        out.push_str("\x1b[0m");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault_rag_core::Retriever;

    fn response() -> SearchResponse {
        SearchResponse {
            hits: vec![Hit {
                path: "Work/Meeting.md".into(),
                title: "Meeting".into(),
                heading_path: vec!["Meeting".into(), "Action items".into()],
                line: 12,
                end_line: 14,
                block_id: None,
                snippet: "orders a valve **XR-7741b** for".into(),
                score: 0.0325,
                retrievers: vec![Retriever::Dense, Retriever::Lexical],
                explain: Default::default(),
            }],
            index_complete: true,
            dense_coverage: 1.0,
            took_ms: 3.25,
        }
    }

    #[test]
    fn table_lists_rank_score_place_headings_and_snippet() {
        let mut buf = Vec::new();
        print_table(&mut buf, "hybrid search for \"x\"", &response(), false).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(
            text,
            "hybrid search for \"x\": 1 notes in 3.2 ms\n  \
             1.  0.0325  Work/Meeting.md:12  › Meeting › Action items  [dense+lexical]\n      \
             orders a valve **XR-7741b** for\n"
        );
    }

    #[test]
    fn empty_and_incomplete_results_say_so() {
        let mut r = response();
        r.hits.clear();
        r.index_complete = false;
        let mut buf = Vec::new();
        print_table(&mut buf, "t", &r, false).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("(index still incomplete)"), "{text}");
        assert!(text.contains("no matching notes"), "{text}");
    }

    #[test]
    fn marks_become_bold_on_a_terminal() {
        assert_eq!(bold_marks("a **b** c"), "a \x1b[1mb\x1b[0m c");
        assert_eq!(bold_marks("a **b"), "a \x1b[1mb\x1b[0m");
    }
}
