//! Retrieval quality evaluation for vault-rag.
//!
//! - [`BeirDataset`]: BEIR-layout test collections (`corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`),
//!   streamed, with errors naming file and line.
//! - [`write_vault`]: a corpus as a vault of notes (one per document, id recoverable from the path),
//!   so that evaluation runs through the real pipeline.
//! - [`metrics`]: P@10, R@10, MRR@10, nDCG@10, MAP@100 with trec_eval's definitions and tie-breaking.
//! - [`run`]: TREC run files that trec_eval/pytrec_eval rank exactly as the metrics here do.
//! - [`known_item`]: seeded known-item queries from a user's own vault; [`read_judged_queries`]:
//!   hand-written ones (`note path<TAB>query`).
//! - [`run_queries`], [`evaluate`], [`EvalReport`]: timing, scoring and presenting an evaluation;
//!   [`EvalComparison`]: several runs on one index side by side, with [`significance`] tests.
//!
//! The crate knows nothing about the index: a search is any function from a query to scored
//! document ids, which keeps the metrics testable on their own.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod beir;
mod error;
mod judged;
pub mod known_item;
pub mod metrics;
mod qrels;
mod report;
pub mod run;
pub mod significance;
mod vault;

pub use beir::{BeirDataset, CorpusReader, Document, Query};
pub use error::EvalError;
pub use judged::{read_judged_queries, JudgedQueries};
pub use known_item::{KnownItem, KnownItemSet, KnownItemSettings};
pub use metrics::{evaluate_query, Metrics, ScoredDoc};
pub use qrels::Qrels;
pub use report::{
    evaluate, percentile, run_queries, EvalComparison, EvalReport, Evaluation, SystemConfig,
    Timings,
};
pub use run::{read_run_file, write_run_file, Run};
pub use vault::{doc_id_from_note, note_file_name, note_text, write_vault, VaultInfo};
