//! `vault-rag ask VAULT "question"`: retrieval, then the answer streamed to the terminal with the
//! notes it cites (or one JSON object with `--json`).

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;

use vault_rag_ask::{AskAnswer, AskRequest, ChatClient, Retrieval, VaultAccess};
use vault_rag_core::{Hit, NotePath, SearchRequest};
use vault_rag_index::Engine;

use crate::settings::{LlmArgs, ModelArgs, VaultArgs};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The question, in your own words.
    #[arg(value_name = "QUESTION")]
    pub question: Option<String>,
    /// Notes searched for passages (1-100).
    #[arg(long, short = 'k', default_value_t = vault_rag_ask::DEFAULT_TOP_K)]
    pub top_k: usize,
    /// Most tokens of note text sent to the model. The default fits a model with a 4k-token
    /// context; raise it for larger ones.
    #[arg(long, default_value_t = vault_rag_ask::DEFAULT_BUDGET_TOKENS)]
    pub budget_tokens: usize,
    /// Only notes in this folder (vault-relative).
    #[arg(long)]
    pub folder: Option<String>,
    /// Only notes with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Only show the passages that would be sent; no model is asked.
    #[arg(long)]
    pub context_only: bool,
    /// Print the final answer as one JSON object (answer, citations, passages) on standard output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let Some(question) = args.question.clone() else {
        anyhow::bail!("no question given: vault-rag ask VAULT \"QUESTION\"");
    };
    let llm = args.llm.settings()?;
    if llm.is_none() && !args.context_only {
        // Said before the model loads: nothing can be answered without an endpoint.
        return Err(vault_rag_ask::AskError::NoEndpoint.into());
    }
    let client = llm.map(ChatClient::new).transpose()?;
    if let Some(c) = &client {
        if !vault_rag_ask::is_loopback(&c.settings().base_url) {
            eprintln!(
                "note: {} is not on this machine: the passages below leave it",
                c.settings().base_url
            );
        }
    }
    let mut request = AskRequest::new(question);
    request.top_k = args.top_k;
    request.budget_tokens = args.budget_tokens;
    request.folder = args.folder.clone();
    request.tag = args.tag.clone();
    request.validate()?;
    let engine = super::search::open_updated(&args.vault, &args.model)?;
    let retrieval = vault_rag_ask::retrieve(&EngineVault(&engine), &request);
    let result = retrieval.and_then(|retrieval| {
        if args.context_only {
            return Ok((retrieval, None));
        }
        let answer = answer(&retrieval, &request, client.as_ref(), args.json)?;
        Ok((retrieval, Some(answer)))
    });
    engine.shutdown();
    let (retrieval, answer) = result?;
    let mut out = std::io::stdout().lock();
    match (answer, args.json) {
        (Some(answer), true) => serde_json::to_writer(&mut out, &answer)?,
        (None, true) => serde_json::to_writer(&mut out, &retrieval)?,
        (Some(answer), false) => print_sources(&mut out, &answer)?,
        (None, false) => print_passages(&mut out, &retrieval)?,
    }
    writeln!(out)?;
    Ok(())
}

/// Streams the answer to stdout (unless the caller wants JSON only).
fn answer(
    retrieval: &Retrieval,
    request: &AskRequest,
    client: Option<&ChatClient>,
    quiet: bool,
) -> Result<AskAnswer, vault_rag_ask::AskError> {
    if !quiet && std::io::stderr().is_terminal() && retrieval.found {
        eprintln!(
            "{} passages from your notes; asking the model…",
            retrieval.passages.len()
        );
    }
    let mut stdout = std::io::stdout();
    let mut on_token = |piece: &str| {
        if !quiet {
            // A closed pipe ends the answer like a closed connection does.
            if stdout
                .write_all(piece.as_bytes())
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    };
    vault_rag_ask::answer(retrieval, request, client, &mut on_token)
}

fn print_sources(out: &mut dyn Write, answer: &AskAnswer) -> std::io::Result<()> {
    writeln!(out)?;
    if !answer.dropped_citations.is_empty() {
        let dropped: Vec<String> = answer
            .dropped_citations
            .iter()
            .map(|n| format!("[{n}]"))
            .collect();
        writeln!(out, "(dropped {}: no such passage)", dropped.join(" "))?;
    }
    if answer.finish_reason.as_deref() == Some("length") {
        writeln!(out, "(cut at --llm-max-tokens)")?;
    }
    if !answer.citations.is_empty() {
        writeln!(out, "\nSources:")?;
    }
    for c in &answer.citations {
        writeln!(out, "  [{}] {}  {}:{}", c.n, c.link, c.path, c.line)?;
    }
    Ok(())
}

fn print_passages(out: &mut dyn Write, retrieval: &Retrieval) -> std::io::Result<()> {
    if !retrieval.found {
        writeln!(out, "{}", vault_rag_ask::NOTHING_FOUND)?;
    }
    for p in &retrieval.passages {
        writeln!(
            out,
            "[{}] {}  {}:{}-{}  (~{} tokens)\n{}\n",
            p.n, p.link, p.path, p.start_line, p.end_line, p.tokens, p.text
        )?;
    }
    Ok(())
}

/// The index as answering sees it.
pub struct EngineVault<'a>(pub &'a Engine);

impl VaultAccess for EngineVault<'_> {
    fn search(&self, request: &SearchRequest) -> Result<Vec<Hit>, String> {
        self.0
            .search(request)
            .map(|r| r.hits)
            .map_err(|e| e.to_string())
    }

    fn read_note(&self, path: &str) -> Option<String> {
        self.0.read_note(&NotePath::new(path).ok()?).ok()
    }

    fn similarity_floor(&self) -> f32 {
        self.0.embedder().fusion_weights().evidence_similarity
    }
}
