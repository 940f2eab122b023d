//! Ranking fewer rows when only the best few are wanted (the MaxScore idea, on FTS5).
//!
//! FTS5 scores every row matching any OR-ed query term, and scoring (about a microsecond a row)
//! is most of a lexical search's time: a common word such as "cell" matches a third of a
//! 500,000-chunk vault while contributing little to any score. A term's BM25 contribution is
//! below `idf × (k1 + 1)` whatever the row, so a row holding only the common terms scores below
//! the sum of their bounds. The search therefore ranks only the rows that hold one of the rarer
//! terms, with the full query's scores, and keeps that answer when its last row scores above
//! the common terms' bound: then no skipped row could have entered it, and the result is exactly
//! the full ranking's. Otherwise the full query runs. A note filter changes nothing in this: the
//! last row kept is the last allowed one, and a skipped row scores below it allowed or not.
//!
//! Both rankings score with [`crate::store::fts_rank`]'s function and the counts taken here, so
//! FTS5 does not count each term's rows again; the restricted one matches
//! `(rarer) AND (common OR rarer)`, which walks only the rarer terms' rows.

use crate::error::IndexError;
use crate::store::fts_rank::{idf, slots, K1};
use crate::store::Reader;

/// Skipped rows below which leaving them out is not worth a second ranking.
const MIN_SKIPPED_ROWS: u64 = 5_000;

/// How a lexical search over several terms ranks, its terms' row counts known.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// The phrase list scoring the full expression (every part, in order).
    pub full_slots: Vec<u8>,
    /// A ranking of fewer rows to try first, when worth it.
    pub restricted: Option<Restricted>,
}

/// A ranking restricted to the rows holding one of the rarer terms.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Restricted {
    /// `(rarer) AND (common OR rarer)`.
    pub expr: String,
    /// Its phrase list: every term once, in the full expression's order.
    pub slots: Vec<u8>,
    /// Upper bound of the score of a row holding only the common terms.
    pub skipped_bound: f64,
}

impl Restricted {
    /// Whether this ranking, `found` rows of `limit` wanted with `last` the last score, is the
    /// full ranking's: full, and no skipped row can reach its last score (f32 scores: a margin).
    pub(crate) fn holds(&self, found: usize, limit: usize, last: Option<f32>) -> bool {
        found >= limit
            && last.is_some_and(|s| f64::from(s) > self.skipped_bound * (1.0 + 1e-4) + 1e-4)
    }
}

/// For the OR-ed `parts` of a query (one FTS5 phrase each), how to rank them, or `None` for
/// FTS5's own `bm25()`: a single term, or no row counts to go by.
pub(crate) fn plan(reader: &Reader<'_>, parts: &[String]) -> Result<Option<Plan>, IndexError> {
    if parts.len() < 2 {
        return Ok(None);
    }
    let Some((rows, counts)) = reader.fts_match_counts(parts)? else {
        return Ok(None);
    };
    Ok(build(rows, parts, &counts))
}

/// [`plan`] from the counts.
pub(crate) fn build(rows: u64, parts: &[String], counts: &[u64]) -> Option<Plan> {
    if parts.len() != counts.len() || counts.iter().any(|&n| n > rows) {
        return None;
    }
    let full_slots = slots(
        parts.len(),
        &counts.iter().copied().enumerate().collect::<Vec<_>>(),
    );
    let restricted = choose(rows, counts).map(|(skip, skipped_bound)| {
        let pick = |skipped: bool| -> Vec<&str> {
            parts
                .iter()
                .zip(&skip)
                .filter(|&(_, &s)| s == skipped)
                .map(|(p, _)| p.as_str())
                .collect()
        };
        let (rarer, common) = (pick(false), pick(true));
        let rarer_or = rarer.join(" OR ");
        let expr = format!("({rarer_or}) AND ({} OR {rarer_or})", common.join(" OR "));
        // Phrases number in order of appearance: the rarer ones first, then the common ones.
        let (mut next_rare, mut next_common) = (0, rarer.len());
        let scored: Vec<(usize, u64)> = skip
            .iter()
            .zip(counts)
            .map(|(&skipped, &n)| {
                let next = if skipped {
                    &mut next_common
                } else {
                    &mut next_rare
                };
                *next += 1;
                (*next - 1, n)
            })
            .collect();
        Restricted {
            expr,
            slots: slots(2 * rarer.len() + common.len(), &scored),
            skipped_bound,
        }
    });
    Some(Plan {
        full_slots,
        restricted,
    })
}

/// Which parts to skip, from the row count and each part's matching rows, with the bound of what
/// they add up to: the most common parts whose bounds sum to at most half the largest bound (a
/// restricted ranking's last score then usually clears them), if they hold enough rows to be
/// worth it. `None`: rank every row.
pub(crate) fn choose(rows: u64, counts: &[u64]) -> Option<(Vec<bool>, f64)> {
    let mut bounded: Vec<(f64, u64, usize)> = counts
        .iter()
        .enumerate()
        .map(|(i, &n)| (idf(rows, n) * (K1 + 1.0), n, i))
        .collect();
    if bounded.iter().any(|(b, _, _)| !b.is_finite()) {
        return None;
    }
    bounded.sort_by(|a, b| a.0.total_cmp(&b.0));
    let largest = bounded.last()?.0;
    let (mut sum, mut rows_skipped) = (0.0, 0);
    let mut skip = vec![false; counts.len()];
    for &(bound, n, i) in &bounded {
        if sum + bound > largest / 2.0 {
            break;
        }
        sum += bound;
        skip[i] = true;
        rows_skipped += n;
    }
    if !skip.contains(&true) || rows_skipped < MIN_SKIPPED_ROWS {
        return None;
    }
    Some((skip, sum))
}

#[cfg(test)]
#[path = "prune_tests.rs"]
mod sql_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idf_is_fts5s() {
        assert!((idf(1000, 10) - (990.5f64 / 10.5).ln()).abs() < 1e-12);
        assert_eq!(idf(1000, 600), 1e-6);
        assert!(idf(10, 11).is_nan());
    }

    #[test]
    fn skips_the_common_terms_only_while_their_bounds_stay_small() {
        let (skip, bound) =
            choose(505_007, &[187_100, 15_494, 3_844]).expect("cell is worth skipping");
        assert_eq!(skip, vec![true, false, false]);
        let cell = idf(505_007, 187_100) * 2.2;
        assert!((bound - cell).abs() < 1e-12);
    }

    #[test]
    fn ranks_everything_when_little_would_be_skipped() {
        assert_eq!(choose(505_007, &[10]), None);
        assert_eq!(choose(505_007, &[900, 10]), None);
        assert_eq!(choose(505_007, &[20_000, 20_000]), None);
        assert_eq!(choose(10, &[11, 1]), None);
    }

    #[test]
    fn the_restricted_expression_scores_each_term_once_in_the_full_order() {
        let parts: Vec<String> = ["\"cycle\"", "\"cell\"", "\"phosphatase\""]
            .map(String::from)
            .to_vec();
        let counts = [15_494, 187_100, 3_844];
        let plan = build(505_007, &parts, &counts).unwrap();
        assert_eq!(
            plan.full_slots,
            slots(3, &[(0, 15_494), (1, 187_100), (2, 3_844)])
        );
        let r = plan.restricted.unwrap();
        assert_eq!(
            r.expr,
            "(\"cycle\" OR \"phosphatase\") AND (\"cell\" OR \"cycle\" OR \"phosphatase\")"
        );
        // Phrases: cycle 0, phosphatase 1, cell 2, then cycle and phosphatase again.
        assert_eq!(r.slots, slots(5, &[(0, 15_494), (2, 187_100), (1, 3_844)]));
        assert_eq!(
            build(10, &parts, &counts),
            None,
            "counts above the row count"
        );
        let few = build(505_007, &parts, &[10, 20, 30]).unwrap();
        assert_eq!(few.restricted, None);
    }

    #[test]
    fn a_restricted_ranking_holds_only_when_full_and_above_the_bound() {
        let e = Restricted {
            expr: String::new(),
            slots: Vec::new(),
            skipped_bound: 1.0,
        };
        assert!(e.holds(10, 10, Some(1.5)));
        assert!(!e.holds(9, 10, Some(1.5)));
        assert!(!e.holds(10, 10, Some(1.0)));
        assert!(!e.holds(0, 0, None));
    }
}
