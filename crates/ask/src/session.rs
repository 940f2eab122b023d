//! One question, start to end: [`retrieve`] (searches, relevance, packing), then [`answer`]
//! (the model, streamed, and the citations).

use std::ops::ControlFlow;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use vault_rag_core::{check_query, Hit, SearchMode, SearchRequest, MAX_QUERY_CHARS};

use crate::relevance::{content_words, is_relevant};
use crate::{
    pack, prompt, resolve_citations, AskError, ChatClient, Citation, PackSettings, Passage,
};

/// Tokens of passages sent when the caller does not say: with the rules, the question and a
/// 512-token answer this fits a 4k-token model.
pub const DEFAULT_BUDGET_TOKENS: usize = 2_500;
/// The largest budget a request may ask for.
pub const MAX_BUDGET_TOKENS: usize = 100_000;
/// Notes searched for passages.
pub const DEFAULT_TOP_K: usize = 8;
/// Earlier turns sent along (the newest ones).
pub const MAX_HISTORY_TURNS: usize = 6;
/// Longest earlier turn sent along, in characters.
const MAX_TURN_CHARS: usize = 2_000;

/// What is said when no note matches: the model is not asked.
pub const NOTHING_FOUND: &str = "Your notes don't seem to cover this: no note matches the question closely enough, so no model was asked. Try other words, or check the folder and tag filters.";

/// Who said a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// An earlier turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Role,
    pub content: String,
}

/// A question.
#[derive(Debug, Clone, PartialEq)]
pub struct AskRequest {
    pub question: String,
    /// Earlier turns, oldest first.
    pub history: Vec<Turn>,
    pub top_k: usize,
    pub budget_tokens: usize,
    pub folder: Option<String>,
    pub tag: Option<String>,
    /// Passage ids (`path#Lstart-end`) or note paths to leave out.
    pub exclude: Vec<String>,
}

impl AskRequest {
    pub fn new(question: impl Into<String>) -> Self {
        Self {
            question: question.into(),
            history: Vec::new(),
            top_k: DEFAULT_TOP_K,
            budget_tokens: DEFAULT_BUDGET_TOKENS,
            folder: None,
            tag: None,
            exclude: Vec::new(),
        }
    }

    /// Checks the fields a caller sets.
    pub fn validate(&self) -> Result<(), AskError> {
        check_query(&self.question).map_err(|e| AskError::Invalid {
            field: "question",
            message: e.message,
        })?;
        if !(100..=MAX_BUDGET_TOKENS).contains(&self.budget_tokens) {
            return Err(AskError::Invalid {
                field: "budget_tokens",
                message: format!(
                    "is {}; it must be between 100 and {MAX_BUDGET_TOKENS}",
                    self.budget_tokens
                ),
            });
        }
        if !(1..=vault_rag_core::MAX_TOP_K).contains(&self.top_k) {
            return Err(AskError::Invalid {
                field: "top_k",
                message: format!(
                    "is {}; it must be between 1 and {}",
                    self.top_k,
                    vault_rag_core::MAX_TOP_K
                ),
            });
        }
        Ok(())
    }

    /// The search request for `query` under this question's filters.
    fn search(&self, query: String) -> SearchRequest {
        SearchRequest {
            query,
            top_k: self.top_k,
            mode: SearchMode::Hybrid,
            folder: self.folder.clone(),
            tag: self.tag.clone(),
            fusion: Default::default(),
        }
    }
}

/// What answering needs from the index.
pub trait VaultAccess {
    /// A hybrid search, filters applied.
    fn search(&self, request: &SearchRequest) -> Result<Vec<Hit>, String>;
    /// A note's text, if it can be read.
    fn read_note(&self, path: &str) -> Option<String>;
    /// The dense similarity from which a hit counts as evidence (the model's own).
    fn similarity_floor(&self) -> f32;
}

/// The passages for a question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retrieval {
    /// The queries searched (the question; with history, also the question after the last one).
    pub queries: Vec<String>,
    pub passages: Vec<Passage>,
    /// False when no hit was close enough: the model will not be asked.
    pub found: bool,
    /// Hits the searches returned, relevant or not.
    pub hits_considered: usize,
    pub took_ms: f64,
}

/// Searches for the question (and, in a conversation, for the question read after the last one,
/// so that "and how long did it take?" finds what "it" was), keeps the hits that match, and packs
/// the passages.
pub fn retrieve(vault: &dyn VaultAccess, req: &AskRequest) -> Result<Retrieval, AskError> {
    let started = Instant::now();
    req.validate()?;
    let mut queries = vec![req.question.trim().to_string()];
    if let Some(last) = req.history.iter().rev().find(|t| t.role == Role::User) {
        let joined: String = format!("{} {}", last.content.trim(), req.question.trim())
            .chars()
            .take(MAX_QUERY_CHARS)
            .collect();
        queries.push(joined);
    }
    let floor = vault.similarity_floor();
    let mut lists: Vec<Vec<Hit>> = Vec::new();
    let mut considered = 0;
    for query in &queries {
        let hits = vault
            .search(&req.search(query.clone()))
            .map_err(AskError::Search)?;
        considered += hits.len();
        let words = content_words(query);
        lists.push(
            hits.into_iter()
                .filter(|h| is_relevant(h, &words, floor))
                .collect(),
        );
    }
    let merged = interleave(lists);
    let mut read = |path: &str| vault.read_note(path);
    let passages = pack(
        &merged,
        &mut read,
        &req.exclude,
        PackSettings::for_budget(req.budget_tokens),
    );
    Ok(Retrieval {
        queries,
        found: !passages.is_empty(),
        passages,
        hits_considered: considered,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// Rank by rank across the lists, each note and line once.
fn interleave(lists: Vec<Vec<Hit>>) -> Vec<Hit> {
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    let mut out: Vec<Hit> = Vec::new();
    for rank in 0..longest {
        for list in &lists {
            if let Some(hit) = list.get(rank) {
                if !out.iter().any(|h| h.path == hit.path && h.line == hit.line) {
                    out.push(hit.clone());
                }
            }
        }
    }
    out
}

/// The final answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AskAnswer {
    /// The answer; `[n]` markers name entries of `citations`.
    pub answer: String,
    /// The answer with each marker as a wikilink, to paste into a note.
    pub answer_markdown: String,
    pub citations: Vec<Citation>,
    /// Marker numbers the model used that named no passage (taken out of the answer).
    pub dropped_citations: Vec<usize>,
    /// False when no note matched: `answer` says so and no model was asked.
    pub found: bool,
    pub model_called: bool,
    pub model: Option<String>,
    /// The endpoint's `finish_reason` (`length`: cut at `max_tokens`).
    pub finish_reason: Option<String>,
    /// True when the caller stopped the answer.
    pub cancelled: bool,
    pub passages: Vec<Passage>,
    pub retrieval_ms: f64,
    pub answer_ms: f64,
}

/// Answers from `retrieval`: without a passage, says so at once; otherwise streams the model's
/// answer through `on_token` (which may stop it) and resolves its citations. `llm` is only
/// needed when something was found.
pub fn answer(
    retrieval: &Retrieval,
    req: &AskRequest,
    llm: Option<&ChatClient>,
    on_token: &mut dyn FnMut(&str) -> ControlFlow<()>,
) -> Result<AskAnswer, AskError> {
    let started = Instant::now();
    let mut out = AskAnswer {
        answer: String::new(),
        answer_markdown: String::new(),
        citations: Vec::new(),
        dropped_citations: Vec::new(),
        found: retrieval.found,
        model_called: false,
        model: None,
        finish_reason: None,
        cancelled: false,
        passages: retrieval.passages.clone(),
        retrieval_ms: retrieval.took_ms,
        answer_ms: 0.0,
    };
    if !retrieval.found {
        out.cancelled = on_token(NOTHING_FOUND).is_break();
        out.answer = NOTHING_FOUND.to_string();
        out.answer_markdown = NOTHING_FOUND.to_string();
        return Ok(out);
    }
    let llm = llm.ok_or(AskError::NoEndpoint)?;
    let history: Vec<Turn> = req
        .history
        .iter()
        .rev()
        .take(MAX_HISTORY_TURNS)
        .rev()
        .map(|t| Turn {
            role: t.role,
            content: t.content.chars().take(MAX_TURN_CHARS).collect(),
        })
        .collect();
    let messages = prompt::messages(req.question.trim(), &history, &retrieval.passages);
    out.model_called = true;
    out.model = Some(llm.settings().model.clone());
    let streamed = llm.stream(&messages, on_token)?;
    let cited = resolve_citations(&streamed.text, &retrieval.passages);
    out.answer = cited.text;
    out.answer_markdown = cited.markdown;
    out.citations = cited.citations;
    out.dropped_citations = cited.dropped;
    out.finish_reason = streamed.finish_reason;
    out.cancelled = streamed.cancelled;
    out.answer_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault_rag_core::Explain;

    struct Fake;
    impl VaultAccess for Fake {
        fn search(&self, request: &SearchRequest) -> Result<Vec<Hit>, String> {
            let similarity = if request.query.contains("pump") {
                0.6
            } else {
                0.1
            };
            Ok(vec![Hit {
                path: "Pump.md".into(),
                title: "Pump".into(),
                heading_path: vec!["Pump".into()],
                line: 1,
                end_line: 2,
                block_id: None,
                snippet: String::new(),
                score: 1.0,
                retrievers: vec![],
                explain: Explain {
                    dense_similarity: Some(similarity),
                    ..Explain::default()
                },
            }])
        }
        fn read_note(&self, _: &str) -> Option<String> {
            Some("# Pump\nPart XR-7741b.\n".into())
        }
        fn similarity_floor(&self) -> f32 {
            0.4
        }
    }

    #[test]
    fn nothing_relevant_means_no_model_call() {
        let req = AskRequest::new("population of Mongolia");
        let r = retrieve(&Fake, &req).unwrap();
        assert!(!r.found);
        let mut tokens = Vec::new();
        let a = answer(&r, &req, None, &mut |t| {
            tokens.push(t.to_string());
            ControlFlow::Continue(())
        })
        .unwrap();
        assert!(!a.model_called);
        assert_eq!(a.answer, NOTHING_FOUND);
        assert_eq!(tokens, [NOTHING_FOUND]);
    }

    #[test]
    fn a_follow_up_is_searched_with_the_last_question() {
        let mut req = AskRequest::new("and what did it cost?");
        req.history = vec![
            Turn {
                role: Role::User,
                content: "which drain pump did I order?".into(),
            },
            Turn {
                role: Role::Assistant,
                content: "XR-7741b [1].".into(),
            },
        ];
        let r = retrieve(&Fake, &req).unwrap();
        assert_eq!(r.queries.len(), 2);
        assert!(r.found, "the joined query finds the pump note");
        let err = answer(&r, &req, None, &mut |_| ControlFlow::Continue(())).unwrap_err();
        assert_eq!(err.code(), "llm_not_configured");
    }

    #[test]
    fn bad_requests_name_the_field() {
        let mut req = AskRequest::new("  ");
        assert!(retrieve(&Fake, &req)
            .unwrap_err()
            .to_string()
            .contains("question"));
        req.question = "x".into();
        req.budget_tokens = 5;
        assert!(retrieve(&Fake, &req)
            .unwrap_err()
            .to_string()
            .contains("budget_tokens"));
    }
}
