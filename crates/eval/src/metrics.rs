//! Retrieval metrics with trec_eval's definitions (the ones pytrec_eval and BEIR report).
//!
//! - Ranking: by score descending, ties by document id descending (byte order), as trec_eval sorts a
//!   run; the rank column of a run file is ignored there, so it is ignored here too.
//! - Relevant: grade ≥ 1 (trec_eval's default relevance level).
//! - `P@10` = relevant in the top 10 / 10 (also when fewer than 10 are returned).
//! - `R@10` = relevant in the top 10 / relevant judged.
//! - `MRR@10` = 1 / rank of the first relevant document within the top 10, else 0.
//! - `nDCG@10`: gain = grade, discount = log2(rank + 1), ideal = the judged grades sorted descending.
//! - `MAP@100` = Σ precision at each relevant rank ≤ 100 / relevant judged.
//! - `R@100` = relevant in the top 100 / relevant judged.
//!
//! A query whose judgments hold no relevant document scores 0 everywhere and still counts in the mean,
//! as pytrec_eval reports it (checked against pytrec-eval-terrier 0.5.11).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One retrieved document with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredDoc {
    pub doc_id: String,
    pub score: f64,
}

impl ScoredDoc {
    pub fn new(doc_id: impl Into<String>, score: f64) -> Self {
        Self {
            doc_id: doc_id.into(),
            score,
        }
    }
}

/// trec_eval's order: score descending, then document id descending.
pub fn trec_cmp(a: &ScoredDoc, b: &ScoredDoc) -> Ordering {
    b.score
        .partial_cmp(&a.score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| b.doc_id.as_bytes().cmp(a.doc_id.as_bytes()))
}

/// Sorts a run in trec_eval's order (stable, so equal entries keep their relative order).
pub fn trec_sort(run: &mut [ScoredDoc]) {
    run.sort_by(trec_cmp);
}

/// The five reported metrics of one query, or their mean over queries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub p_at_10: f64,
    pub recall_at_10: f64,
    pub mrr_at_10: f64,
    pub ndcg_at_10: f64,
    pub map_at_100: f64,
    #[serde(default)]
    pub recall_at_100: f64,
    /// 1 when the first result is relevant (trec_eval's `success_1`): for known-item queries,
    /// whether the right note came first.
    #[serde(default)]
    pub hit_at_1: f64,
}

impl Metrics {
    /// Arithmetic mean of each metric (zeros for an empty slice).
    pub fn mean(all: &[Metrics]) -> Metrics {
        if all.is_empty() {
            return Metrics::default();
        }
        let n = all.len() as f64;
        let sum = |f: fn(&Metrics) -> f64| all.iter().map(f).sum::<f64>() / n;
        Metrics {
            p_at_10: sum(|m| m.p_at_10),
            recall_at_10: sum(|m| m.recall_at_10),
            mrr_at_10: sum(|m| m.mrr_at_10),
            ndcg_at_10: sum(|m| m.ndcg_at_10),
            map_at_100: sum(|m| m.map_at_100),
            recall_at_100: sum(|m| m.recall_at_100),
            hit_at_1: sum(|m| m.hit_at_1),
        }
    }
}

/// Scores one query's run against its judgments. The run may be in any order; it is sorted the
/// trec_eval way first. Documents without a judgment count as not relevant.
pub fn evaluate_query(judgments: &BTreeMap<String, i64>, run: &[ScoredDoc]) -> Metrics {
    let mut ranked: Vec<&ScoredDoc> = run.iter().collect();
    ranked.sort_by(|a, b| trec_cmp(a, b));
    // A document listed twice counts once, at its best position (trec_eval refuses duplicates).
    let mut seen = std::collections::HashSet::new();
    ranked.retain(|d| seen.insert(d.doc_id.as_str()));
    let grades: Vec<i64> = ranked
        .iter()
        .map(|d| judgments.get(&d.doc_id).copied().unwrap_or(0))
        .collect();
    let num_rel = judgments.values().filter(|&&g| g >= 1).count();
    if num_rel == 0 {
        return Metrics::default();
    }

    let rel_in_10 = grades.iter().take(10).filter(|&&g| g >= 1).count() as f64;
    let mrr = grades
        .iter()
        .take(10)
        .position(|&g| g >= 1)
        .map_or(0.0, |i| 1.0 / (i as f64 + 1.0));

    let dcg = |gs: &mut dyn Iterator<Item = i64>| -> f64 {
        gs.take(10)
            .enumerate()
            .filter(|(_, g)| *g > 0)
            .map(|(i, g)| g as f64 / (i as f64 + 2.0).log2())
            .sum()
    };
    let mut ideal: Vec<i64> = judgments.values().copied().filter(|&g| g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg = dcg(&mut ideal.into_iter());
    let ndcg = if idcg > 0.0 {
        dcg(&mut grades.iter().copied()) / idcg
    } else {
        0.0
    };

    let mut hits = 0usize;
    let mut ap_sum = 0.0;
    for (i, &g) in grades.iter().take(100).enumerate() {
        if g >= 1 {
            hits += 1;
            ap_sum += hits as f64 / (i as f64 + 1.0);
        }
    }

    Metrics {
        p_at_10: rel_in_10 / 10.0,
        recall_at_10: rel_in_10 / num_rel as f64,
        mrr_at_10: mrr,
        ndcg_at_10: ndcg,
        map_at_100: ap_sum / num_rel as f64,
        recall_at_100: hits as f64 / num_rel as f64,
        hit_at_1: if grades.first().is_some_and(|&g| g >= 1) {
            1.0
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judg(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(d, g)| (d.to_string(), *g)).collect()
    }

    fn run(pairs: &[(&str, f64)]) -> Vec<ScoredDoc> {
        pairs.iter().map(|(d, s)| ScoredDoc::new(*d, *s)).collect()
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn graded_relevance_by_hand() {
        // Ranked: d3 (grade 0), d2 (1), d1 (2), d9 (unjudged).
        let j = judg(&[("d1", 2), ("d2", 1), ("d3", 0)]);
        let r = run(&[("d3", 1.0), ("d2", 0.6), ("d1", 0.5), ("d9", 0.1)]);
        let m = evaluate_query(&j, &r);
        let dcg = 1.0 / 3f64.log2() + 2.0 / 4f64.log2();
        let idcg = 2.0 + 1.0 / 3f64.log2();
        close(m.ndcg_at_10, dcg / idcg);
        close(m.p_at_10, 0.2);
        close(m.recall_at_10, 1.0);
        close(m.mrr_at_10, 0.5);
        close(m.map_at_100, (1.0 / 2.0 + 2.0 / 3.0) / 2.0);
    }

    #[test]
    fn perfect_ranking_is_one() {
        let j = judg(&[("a", 3), ("b", 1)]);
        let m = evaluate_query(&j, &run(&[("a", 0.9), ("b", 0.8), ("c", 0.1)]));
        close(m.ndcg_at_10, 1.0);
        close(m.mrr_at_10, 1.0);
        close(m.map_at_100, 1.0);
        close(m.recall_at_10, 1.0);
        close(m.p_at_10, 0.2);
    }

    #[test]
    fn no_relevant_documents_scores_zero() {
        let j = judg(&[("a", 0), ("b", 0)]);
        let m = evaluate_query(&j, &run(&[("a", 1.0), ("b", 0.5)]));
        assert_eq!(m, Metrics::default());
    }

    #[test]
    fn empty_run_scores_zero() {
        let j = judg(&[("a", 1)]);
        assert_eq!(evaluate_query(&j, &[]), Metrics::default());
    }

    #[test]
    fn fewer_than_ten_results() {
        // Three relevant, two returned, both relevant: P@10 still divides by 10.
        let j = judg(&[("a", 1), ("b", 1), ("c", 1)]);
        let m = evaluate_query(&j, &run(&[("a", 0.9), ("b", 0.8)]));
        close(m.p_at_10, 0.2);
        close(m.recall_at_10, 2.0 / 3.0);
        close(m.mrr_at_10, 1.0);
        close(m.map_at_100, 2.0 / 3.0);
        let idcg = 1.0 + 1.0 / 3f64.log2() + 0.5;
        close(m.ndcg_at_10, (1.0 + 1.0 / 3f64.log2()) / idcg);
    }

    #[test]
    fn ties_break_by_doc_id_descending() {
        // Equal scores: "b" ranks before "a" (descending id), whatever the input order.
        let j = judg(&[("a", 1)]);
        let m1 = evaluate_query(&j, &run(&[("a", 0.5), ("b", 0.5)]));
        let m2 = evaluate_query(&j, &run(&[("b", 0.5), ("a", 0.5)]));
        close(m1.mrr_at_10, 0.5);
        assert_eq!(m1, m2);
        // Byte order, not numeric: "9" > "10", so "9" ranks first.
        let j = judg(&[("10", 1)]);
        let m = evaluate_query(&j, &run(&[("10", 0.5), ("9", 0.5)]));
        close(m.mrr_at_10, 0.5);
    }

    #[test]
    fn cutoffs_at_ten_and_hundred() {
        // The only relevant document at rank 11: nothing at 10, but MAP@100 sees it.
        let j = judg(&[("rel", 2)]);
        let mut r: Vec<ScoredDoc> = (0..10)
            .map(|i| ScoredDoc::new(format!("x{i}"), 1.0 - i as f64 * 0.01))
            .collect();
        r.push(ScoredDoc::new("rel", 0.5));
        let m = evaluate_query(&j, &r);
        close(m.ndcg_at_10, 0.0);
        close(m.mrr_at_10, 0.0);
        close(m.recall_at_10, 0.0);
        close(m.map_at_100, 1.0 / 11.0);
        close(m.recall_at_100, 1.0);
        // At rank 101 it is outside MAP@100 and R@100 too.
        let j = judg(&[("rel", 1)]);
        let mut r: Vec<ScoredDoc> = (0..100)
            .map(|i| ScoredDoc::new(format!("x{i:03}"), 2.0 - i as f64 * 0.01))
            .collect();
        r.push(ScoredDoc::new("rel", 0.0));
        close(evaluate_query(&j, &r).map_at_100, 0.0);
        close(evaluate_query(&j, &r).recall_at_100, 0.0);
    }

    #[test]
    fn ideal_uses_all_judged_grades() {
        // Ideal order 3, 2, 1 although the run finds only the grade-1 document, at rank 1.
        let j = judg(&[("a", 3), ("b", 2), ("c", 1)]);
        let m = evaluate_query(&j, &run(&[("c", 1.0)]));
        let idcg = 3.0 + 2.0 / 3f64.log2() + 1.0 / 2.0;
        close(m.ndcg_at_10, 1.0 / idcg);
        close(m.recall_at_10, 1.0 / 3.0);
    }

    #[test]
    fn negative_grades_are_not_relevant() {
        let j = judg(&[("a", -1), ("b", 1)]);
        let m = evaluate_query(&j, &run(&[("a", 1.0), ("b", 0.5)]));
        close(m.mrr_at_10, 0.5);
        close(m.ndcg_at_10, 1.0 / 3f64.log2());
    }

    #[test]
    fn mean_averages_each_metric() {
        let a = Metrics {
            p_at_10: 0.2,
            recall_at_10: 1.0,
            mrr_at_10: 1.0,
            ndcg_at_10: 0.5,
            map_at_100: 0.25,
            recall_at_100: 1.0,
            hit_at_1: 1.0,
        };
        let m = Metrics::mean(&[a, Metrics::default()]);
        close(m.p_at_10, 0.1);
        close(m.ndcg_at_10, 0.25);
        close(m.map_at_100, 0.125);
        close(m.recall_at_100, 0.5);
        close(m.hit_at_1, 0.5);
        assert_eq!(Metrics::mean(&[]), Metrics::default());
    }
}
