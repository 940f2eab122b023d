//! `vault-rag eval --ask FILE --vault VAULT`: how well `ask` grounds its answers, on questions
//! written for a vault. Without a model: whether the passages it would send hold the right note
//! and heading, and whether it says "not in your notes" exactly when it should. With
//! `--llm-url`: whether the answer cites the right note, how many of its citations do, and
//! whether it holds the expected words.

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use vault_rag_ask::{AskRequest, ChatClient};

use super::ask::EngineVault;
use crate::settings::{LlmArgs, ModelArgs, VaultArgs};

/// One question of the file.
struct Question {
    line: usize,
    /// `None`: the vault cannot answer it.
    path: Option<String>,
    heading: String,
    question: String,
    expect: String,
}

fn parse(file: &Path) -> anyhow::Result<Vec<Question>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [path, heading, question, expect] = fields[..] else {
            anyhow::bail!(
                "{}:{}: expected `note path<TAB>heading<TAB>question<TAB>answer contains` (4 fields), found {}",
                file.display(),
                i + 1,
                fields.len()
            );
        };
        if question.trim().is_empty() {
            anyhow::bail!("{}:{}: the question is empty", file.display(), i + 1);
        }
        out.push(Question {
            line: i + 1,
            path: (path.trim() != "-").then(|| path.trim().to_string()),
            heading: heading.trim().to_string(),
            question: question.trim().to_string(),
            expect: expect.trim().to_string(),
        });
    }
    if out.is_empty() {
        anyhow::bail!("{}: no questions", file.display());
    }
    Ok(out)
}

/// What happened to one question.
#[derive(Serialize)]
struct Outcome {
    line: usize,
    question: String,
    expected_note: Option<String>,
    found: bool,
    /// Rank (1-based) of the first passage from the right note.
    note_rank: Option<usize>,
    /// A passage from the right note under the right heading was sent.
    heading_sent: bool,
    passages: usize,
    passage_tokens: usize,
    citations: Vec<String>,
    /// With a model: whether it was asked (not when nothing relevant was found).
    model_called: bool,
    answer: Option<String>,
    answer_has_expected: Option<bool>,
    retrieval_ms: f64,
    answer_ms: f64,
}

#[derive(Serialize, Default)]
struct Report {
    questions: usize,
    answerable: usize,
    unanswerable: usize,
    /// Answerable questions whose passages hold the right note / under the right heading.
    note_recall: f64,
    heading_recall: f64,
    /// The first passage is from the right note.
    note_first: f64,
    /// The gate: answerable questions that reach the model, unanswerable ones that do not.
    answered_when_answerable: f64,
    refused_when_unanswerable: f64,
    mean_passages: f64,
    mean_passage_tokens: f64,
    mean_retrieval_ms: f64,
    model: Option<String>,
    /// With a model: answerable questions whose answer cites the right note.
    cites_right_note: Option<f64>,
    /// With a model: the share of all citations (answerable questions) that point to the right note.
    citation_precision: Option<f64>,
    /// With a model: answers that cite anything at all.
    cites_anything: Option<f64>,
    /// With a model: answers holding the expected words (case-insensitive).
    answer_has_expected: Option<f64>,
    mean_answer_ms: Option<f64>,
    outcomes: Vec<Outcome>,
}

pub fn run(
    file: &Path,
    vault: VaultArgs,
    model: &ModelArgs,
    llm: &LlmArgs,
    top_k: usize,
    json: bool,
) -> anyhow::Result<()> {
    let questions = parse(file)?;
    let client = llm.settings()?.map(ChatClient::new).transpose()?;
    let engine = super::search::open_updated(&vault, model)?;
    let access = EngineVault(&engine);
    let terminal = std::io::stderr().is_terminal();
    let mut outcomes = Vec::new();
    for (i, q) in questions.iter().enumerate() {
        if terminal {
            eprint!("\rquestion {}/{}", i + 1, questions.len());
        } else if i > 0 && i % 10 == 0 {
            // Scripts and logs get a line now and then instead of a redrawn counter.
            eprintln!("question {}/{}", i + 1, questions.len());
        }
        let mut request = AskRequest::new(q.question.clone());
        request.top_k = top_k;
        let retrieval = vault_rag_ask::retrieve(&access, &request)?;
        let note_rank = q.path.as_ref().and_then(|path| {
            retrieval
                .passages
                .iter()
                .position(|p| &p.path == path)
                .map(|r| r + 1)
        });
        let heading = q.heading.to_lowercase();
        let heading_sent = q.path.as_ref().is_some_and(|path| {
            retrieval.passages.iter().any(|p| {
                // The passage quotes the heading's section: it holds the heading line, or
                // starts under it.
                &p.path == path
                    && (heading.is_empty()
                        || p.title.to_lowercase() == heading
                        || p.heading_path.iter().any(|h| h.to_lowercase() == heading)
                        || p.text.lines().any(|l| {
                            l.starts_with('#')
                                && l.trim_start_matches('#').trim().to_lowercase() == heading
                        }))
            })
        });
        let mut outcome = Outcome {
            line: q.line,
            question: q.question.clone(),
            expected_note: q.path.clone(),
            found: retrieval.found,
            note_rank,
            heading_sent,
            passages: retrieval.passages.len(),
            passage_tokens: retrieval.passages.iter().map(|p| p.tokens).sum(),
            citations: Vec::new(),
            model_called: false,
            answer: None,
            answer_has_expected: None,
            retrieval_ms: retrieval.took_ms,
            answer_ms: 0.0,
        };
        if let Some(client) = &client {
            let answer = vault_rag_ask::answer(&retrieval, &request, Some(client), &mut |_| {
                ControlFlow::Continue(())
            })
            .with_context(|| format!("{}:{}: answering failed", file.display(), q.line))?;
            outcome.citations = answer.citations.iter().map(|c| c.path.clone()).collect();
            outcome.answer_has_expected = (!q.expect.is_empty()).then(|| {
                answer
                    .answer
                    .to_lowercase()
                    .contains(&q.expect.to_lowercase())
            });
            outcome.model_called = answer.model_called;
            outcome.answer = Some(answer.answer);
            outcome.answer_ms = answer.answer_ms;
        }
        outcomes.push(outcome);
    }
    if terminal {
        eprint!("\r");
    }
    engine.shutdown();
    let report = summarize(
        outcomes,
        client.as_ref().map(|c| c.settings().model.clone()),
    );
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

fn share(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

fn summarize(outcomes: Vec<Outcome>, model: Option<String>) -> Report {
    let answerable: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.expected_note.is_some())
        .collect();
    let unanswerable = outcomes.len() - answerable.len();
    let count = |f: &dyn Fn(&Outcome) -> bool| answerable.iter().filter(|o| f(o)).count();
    let mean = |f: &dyn Fn(&Outcome) -> f64| {
        share(1, outcomes.len()) * outcomes.iter().map(f).sum::<f64>()
    };
    let mut report = Report {
        questions: outcomes.len(),
        answerable: answerable.len(),
        unanswerable,
        note_recall: share(count(&|o| o.note_rank.is_some()), answerable.len()),
        heading_recall: share(count(&|o| o.heading_sent), answerable.len()),
        note_first: share(count(&|o| o.note_rank == Some(1)), answerable.len()),
        answered_when_answerable: share(count(&|o| o.found), answerable.len()),
        refused_when_unanswerable: share(
            outcomes
                .iter()
                .filter(|o| o.expected_note.is_none() && !o.found)
                .count(),
            unanswerable,
        ),
        mean_passages: mean(&|o| o.passages as f64),
        mean_passage_tokens: mean(&|o| o.passage_tokens as f64),
        mean_retrieval_ms: mean(&|o| o.retrieval_ms),
        ..Report::default()
    };
    if model.is_some() {
        let right = |o: &Outcome| {
            o.expected_note
                .as_ref()
                .is_some_and(|p| o.citations.contains(p))
        };
        let all_citations: usize = answerable.iter().map(|o| o.citations.len()).sum();
        let right_citations: usize = answerable
            .iter()
            .map(|o| {
                o.citations
                    .iter()
                    .filter(|c| o.expected_note.as_ref() == Some(c))
                    .count()
            })
            .sum();
        let with_expected: Vec<bool> = answerable
            .iter()
            .filter_map(|o| o.answer_has_expected)
            .collect();
        report.cites_right_note = Some(share(count(&right), answerable.len()));
        report.citation_precision = Some(share(right_citations, all_citations));
        report.cites_anything = Some(share(count(&|o| !o.citations.is_empty()), answerable.len()));
        report.answer_has_expected = Some(share(
            with_expected.iter().filter(|b| **b).count(),
            with_expected.len(),
        ));
        let called: Vec<f64> = outcomes
            .iter()
            .filter(|o| o.found)
            .map(|o| o.answer_ms)
            .collect();
        report.mean_answer_ms = Some(share(1, called.len()) * called.iter().sum::<f64>());
    }
    report.model = model;
    report.outcomes = outcomes;
    report
}

fn print_table(r: &Report) {
    println!(
        "{} questions ({} answerable, {} not in the vault)",
        r.questions, r.answerable, r.unanswerable
    );
    let pct = |x: f64| format!("{:5.1} %", 100.0 * x);
    println!("  right note among the passages   {}", pct(r.note_recall));
    println!(
        "  right heading among them        {}",
        pct(r.heading_recall)
    );
    println!("  right note first                {}", pct(r.note_first));
    println!(
        "  answerable → model asked        {}",
        pct(r.answered_when_answerable)
    );
    println!(
        "  not in the vault → said so      {}",
        pct(r.refused_when_unanswerable)
    );
    println!(
        "  passages sent: {:.1} on average, {:.0} tokens; retrieval {:.1} ms",
        r.mean_passages, r.mean_passage_tokens, r.mean_retrieval_ms
    );
    if let Some(model) = &r.model {
        println!("with {model}:");
        let opt = |x: Option<f64>| x.map(pct).unwrap_or_default();
        println!(
            "  answer cites the right note     {}",
            opt(r.cites_right_note)
        );
        println!(
            "  citations to the right note     {}",
            opt(r.citation_precision)
        );
        println!(
            "  answer cites anything           {}",
            opt(r.cites_anything)
        );
        println!(
            "  answer holds the expected words {}",
            opt(r.answer_has_expected)
        );
        println!(
            "  answer time {:.0} ms on average",
            r.mean_answer_ms.unwrap_or(0.0)
        );
    }
    let missed: Vec<String> = r
        .outcomes
        .iter()
        .filter(|o| o.expected_note.is_some() && o.note_rank.is_none())
        .map(|o| format!("  line {}: {}", o.line, o.question))
        .collect();
    if !missed.is_empty() {
        println!("right note not sent:\n{}", missed.join("\n"));
    }
}
