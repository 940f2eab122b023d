//! Running the queries against a search function, scoring the run, and presenting the result.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::metrics::{evaluate_query, trec_sort, Metrics, ScoredDoc};
use crate::run::Run;
use crate::significance::{compare, Comparison, MetricFn, ALPHA, PERMUTATIONS};
use crate::{EvalError, Qrels, Query};

/// Runs every query through `search` (which returns up to `depth` documents), timing each call.
/// Returns the run (documents in trec_eval order, at most `depth` per query) and the latencies in
/// milliseconds, in query order. The first failing query stops the run with its error.
pub fn run_queries<F>(
    queries: &[Query],
    depth: usize,
    mut search: F,
) -> Result<(Run, Vec<f64>), EvalError>
where
    F: FnMut(&Query) -> Result<Vec<ScoredDoc>, String>,
{
    let mut run = Run::new();
    let mut latencies = Vec::with_capacity(queries.len());
    for q in queries {
        let start = Instant::now();
        let mut docs = search(q).map_err(|message| EvalError::Search {
            query: q.id.clone(),
            message,
        })?;
        latencies.push(start.elapsed().as_secs_f64() * 1000.0);
        trec_sort(&mut docs);
        docs.truncate(depth);
        run.insert(q.id.clone(), docs);
    }
    Ok((run, latencies))
}

/// Metrics of a whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// Mean over every judged query (a query missing from the run counts as all zeros).
    pub mean: Metrics,
    pub per_query: BTreeMap<String, Metrics>,
    pub queries: usize,
    /// Judged queries none of whose judgments is relevant (they score 0, as in pytrec_eval).
    pub queries_without_relevant: usize,
}

/// Scores `run` against every query of `qrels`.
pub fn evaluate(qrels: &Qrels, run: &Run) -> Evaluation {
    let mut per_query = BTreeMap::new();
    let mut without = 0;
    for qid in qrels.query_ids() {
        let Some(judged) = qrels.get(qid) else {
            continue;
        };
        if !judged.values().any(|&g| g >= 1) {
            without += 1;
        }
        let docs = run.get(qid).map(Vec::as_slice).unwrap_or(&[]);
        per_query.insert(qid.clone(), evaluate_query(judged, docs));
    }
    let all: Vec<Metrics> = per_query.values().copied().collect();
    Evaluation {
        mean: Metrics::mean(&all),
        queries: all.len(),
        per_query,
        queries_without_relevant: without,
    }
}

/// The `p`-th percentile (0–100) by the nearest-rank method; 0 for no data.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Wall-clock timings of an evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    /// Seconds spent bringing the index up to date (near 0 when a cached index was reused).
    pub index_secs: f64,
    /// Chunks embedded by this run's indexing (0 when the cached index was current).
    pub chunks_embedded: usize,
    pub query_p50_ms: f64,
    pub query_p99_ms: f64,
    pub query_mean_ms: f64,
}

impl Timings {
    pub fn new(index_secs: f64, chunks_embedded: usize, latencies_ms: &[f64]) -> Self {
        let mean = if latencies_ms.is_empty() {
            0.0
        } else {
            latencies_ms.iter().sum::<f64>() / latencies_ms.len() as f64
        };
        Self {
            index_secs,
            chunks_embedded,
            query_p50_ms: percentile(latencies_ms, 50.0),
            query_p99_ms: percentile(latencies_ms, 99.0),
            query_mean_ms: mean,
        }
    }
}

/// What was evaluated: the searcher's configuration.
#[derive(Debug, Clone, Serialize)]
pub struct SystemConfig {
    pub mode: String,
    pub model: String,
    pub precision: String,
    pub dim: usize,
    pub chunk_tokens: usize,
    /// The embedder fingerprint id of the index.
    pub fingerprint: String,
}

/// The full result of one evaluation, as printed (`--json` prints it as JSON).
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Dataset name, or `known-item:<vault>`.
    pub dataset: String,
    pub system: SystemConfig,
    pub notes: usize,
    pub chunks: usize,
    pub queries: usize,
    pub queries_without_relevant: usize,
    pub metrics: Metrics,
    pub timings: Timings,
    /// Per-query metrics (only in JSON output).
    pub per_query: BTreeMap<String, Metrics>,
}

impl EvalReport {
    /// A short human-readable table.
    pub fn to_text(&self) -> String {
        let s = &self.system;
        let m = &self.metrics;
        let t = &self.timings;
        let mut out = format!(
            "dataset {}  mode {}  model {} {}@{}  chunk {} tokens\n",
            self.dataset, s.mode, s.model, s.precision, s.dim, s.chunk_tokens
        );
        out.push_str(&format!(
            "{} queries ({} without relevant documents), {} notes, {} chunks\n",
            self.queries, self.queries_without_relevant, self.notes, self.chunks
        ));
        out.push_str("  P@10    R@10    MRR@10  nDCG@10 MAP@100 R@100   Hit@1\n");
        out.push_str(&format!(
            "  {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {:.4}\n",
            m.p_at_10,
            m.recall_at_10,
            m.mrr_at_10,
            m.ndcg_at_10,
            m.map_at_100,
            m.recall_at_100,
            m.hit_at_1
        ));
        out.push_str(&format!(
            "index {:.1} s ({} chunks embedded), query p50 {:.1} ms, p99 {:.1} ms, mean {:.1} ms\n",
            t.index_secs, t.chunks_embedded, t.query_p50_ms, t.query_p99_ms, t.query_mean_ms
        ));
        out
    }
}

/// Several runs over one index (e.g. every search mode), side by side, with a significance test
/// of the first run against each of the others.
#[derive(Debug, Clone, Serialize)]
pub struct EvalComparison {
    pub runs: Vec<EvalReport>,
    /// The first run against each other run, on nDCG@10 and MRR@10.
    pub significance: Vec<Comparison>,
}

/// The metrics the comparison tests.
const TESTED: [(&str, MetricFn); 2] = [("nDCG@10", |m| m.ndcg_at_10), ("MRR@10", |m| m.mrr_at_10)];

impl EvalComparison {
    /// Tests `runs[0]` against every later run (their `system.mode` names them).
    pub fn new(runs: Vec<EvalReport>) -> Self {
        let mut significance = Vec::new();
        if let Some((first, rest)) = runs.split_first() {
            for other in rest {
                for metric in TESTED {
                    significance.push(compare(
                        (&first.system.mode, &first.per_query),
                        (&other.system.mode, &other.per_query),
                        metric,
                    ));
                }
            }
        }
        Self { runs, significance }
    }

    /// One table row per run, then one line per comparison.
    pub fn to_text(&self) -> String {
        let Some(first) = self.runs.first() else {
            return String::new();
        };
        let s = &first.system;
        let mut out = format!(
            "dataset {}  model {} {}@{}  chunk {} tokens\n{} queries ({} without relevant documents), {} notes, {} chunks; index {:.1} s ({} chunks embedded)\n",
            first.dataset, s.model, s.precision, s.dim, s.chunk_tokens, first.queries,
            first.queries_without_relevant, first.notes, first.chunks, first.timings.index_secs,
            first.timings.chunks_embedded
        );
        out.push_str(
            "run            nDCG@10  MRR@10   Hit@1    P@10     R@10     R@100    MAP@100  query p50 / p99 ms\n",
        );
        for r in &self.runs {
            let (m, t) = (&r.metrics, &r.timings);
            out.push_str(&format!(
                "{:<14} {:.4}   {:.4}   {:.4}   {:.4}   {:.4}   {:.4}   {:.4}   {:.1} / {:.1}\n",
                r.system.mode,
                m.ndcg_at_10,
                m.mrr_at_10,
                m.hit_at_1,
                m.p_at_10,
                m.recall_at_10,
                m.recall_at_100,
                m.map_at_100,
                t.query_p50_ms,
                t.query_p99_ms
            ));
        }
        if !self.significance.is_empty() {
            out.push_str(&format!(
                "paired randomisation test ({PERMUTATIONS} permutations, significant when p < {ALPHA}):\n"
            ));
        }
        for c in &self.significance {
            out.push_str(&format!(
                "  {} vs {} {}: {:+.4}  p = {:.4}  {}  ({} better, {} worse, {} same)\n",
                c.a,
                c.b,
                c.metric,
                c.difference,
                c.p_value,
                if c.significant {
                    "significant"
                } else {
                    "not significant"
                },
                c.wins,
                c.losses,
                c.ties
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 50.0), 2.0);
        assert_eq!(percentile(&[5.0], 99.0), 5.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn run_and_evaluate_with_missing_and_unjudged_queries() {
        let queries = vec![
            Query {
                id: "q1".into(),
                text: "alpha".into(),
            },
            Query {
                id: "q2".into(),
                text: "beta".into(),
            },
        ];
        let (run, lat) = run_queries(&queries, 2, |q| {
            Ok(match q.id.as_str() {
                "q1" => vec![
                    ScoredDoc::new("x", 0.1),
                    ScoredDoc::new("a", 0.9),
                    ScoredDoc::new("b", 0.5),
                ],
                _ => Vec::new(),
            })
        })
        .unwrap();
        assert_eq!(lat.len(), 2);
        // Sorted and cut to depth 2.
        assert_eq!(
            run["q1"]
                .iter()
                .map(|d| d.doc_id.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        let mut qrels = Qrels::default();
        qrels.insert("q1", "a", 1);
        qrels.insert("q2", "z", 1);
        qrels.insert("q3", "z", 0);
        let ev = evaluate(&qrels, &run);
        assert_eq!(ev.queries, 3);
        assert_eq!(ev.queries_without_relevant, 1);
        assert!((ev.mean.mrr_at_10 - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(ev.per_query["q2"], Metrics::default());
    }

    #[test]
    fn search_errors_name_the_query() {
        let q = vec![Query {
            id: "q9".into(),
            text: "t".into(),
        }];
        let err = run_queries(&q, 10, |_| Err("boom".into())).unwrap_err();
        assert!(err.to_string().contains("q9") && err.to_string().contains("boom"));
    }
}
