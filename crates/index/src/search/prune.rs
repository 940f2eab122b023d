//! Ranking fewer rows when only the best few are wanted (the MaxScore idea, on FTS5).
//!
//! FTS5 scores every row matching any OR-ed query term, and scoring (about half a microsecond a
//! row) is most of a lexical search's time: a common word such as "cell" matches a third of a
//! 500,000-chunk vault while contributing little to any score. A term's BM25 contribution is
//! below `idf × (k1 + 1)` whatever the row, so a row holding only the common terms scores below
//! the sum of their bounds. The search therefore ranks only the rows that hold one of the rarer
//! terms, with the full query's scores, and keeps that answer when its last row scores above
//! the common terms' bound: then no skipped row could have entered it, and the result is exactly
//! the full ranking's. Otherwise the full query runs. A note filter changes nothing in this: the
//! last row kept is the last allowed one, and a skipped row scores below it allowed or not.

use crate::error::IndexError;
use crate::store::Reader;

/// FTS5's `bm25()` constant: a term's share of a score stays below `idf × (K1 + 1)`.
const K1: f64 = 1.2;

/// Skipped rows below which leaving them out is not worth the counting it takes.
const MIN_SKIPPED_ROWS: u64 = 5_000;

/// The rows a ranking may be restricted to, and what a skipped row could score at most.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Essential {
    /// The OR of the rarer terms: rows outside it are not ranked.
    pub within: String,
    /// Upper bound of the score of a row holding only the other terms.
    pub skipped_bound: f64,
}

impl Essential {
    /// Whether a ranking restricted to [`Self::within`] whose `limit`-th score is `last` is the
    /// full ranking's: full, and no skipped row can reach its last score (f32 scores: a margin).
    pub(crate) fn holds(&self, found: usize, limit: usize, last: Option<f32>) -> bool {
        found >= limit
            && last.is_some_and(|s| f64::from(s) > self.skipped_bound * (1.0 + 1e-4) + 1e-4)
    }
}

/// For the OR-ed `parts` of a query, the rarer ones to restrict ranking to, or `None` when
/// every row should be ranked: a single term, no row count, or too little to skip.
pub(crate) fn essential(
    reader: &Reader<'_>,
    parts: &[String],
) -> Result<Option<Essential>, IndexError> {
    if parts.len() < 2 {
        return Ok(None);
    }
    let Some((rows, counts)) = reader.fts_match_counts(parts)? else {
        return Ok(None);
    };
    let terms: Vec<(u64, &str)> = counts
        .into_iter()
        .zip(parts.iter().map(String::as_str))
        .collect();
    Ok(choose(rows, &terms))
}

/// The choice itself, from the row count and each part's matching rows: the most common parts
/// whose bounds add up to at most half the largest bound are skipped (a restricted ranking's
/// last score then usually clears them), if they hold enough rows to be worth it.
pub(crate) fn choose(rows: u64, terms: &[(u64, &str)]) -> Option<Essential> {
    let mut bounded: Vec<(f64, u64, &str)> = terms
        .iter()
        .map(|&(n, p)| (idf(rows, n) * (K1 + 1.0), n, p))
        .collect();
    if bounded.iter().any(|(b, _, _)| !b.is_finite()) {
        return None;
    }
    bounded.sort_by(|a, b| a.0.total_cmp(&b.0));
    let largest = bounded.last()?.0;
    let (mut sum, mut skipped, mut rows_skipped) = (0.0, 0, 0);
    for &(bound, n, _) in &bounded {
        if sum + bound > largest / 2.0 {
            break;
        }
        sum += bound;
        skipped += 1;
        rows_skipped += n;
    }
    if skipped == 0 || rows_skipped < MIN_SKIPPED_ROWS {
        return None;
    }
    let within: Vec<&str> = bounded[skipped..].iter().map(|&(_, _, p)| p).collect();
    Some(Essential {
        within: within.join(" OR "),
        skipped_bound: sum,
    })
}

/// FTS5's inverse document frequency: `ln((N − n + 0.5) / (n + 0.5))`, at least 1e-6 (a term in
/// more than half the rows counts next to nothing). Not finite when `n` exceeds `N`.
fn idf(rows: u64, matching: u64) -> f64 {
    if matching > rows {
        return f64::NAN;
    }
    let idf = ((rows - matching) as f64 + 0.5).ln() - (matching as f64 + 0.5).ln();
    if idf <= 0.0 {
        1e-6
    } else {
        idf
    }
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
        let terms = [
            (187_100, "\"cell\""),
            (15_494, "\"cycle\""),
            (3_844, "\"phosphatase\""),
        ];
        let e = choose(505_007, &terms).expect("cell is worth skipping");
        assert_eq!(e.within, "\"cycle\" OR \"phosphatase\"");
        let cell = idf(505_007, 187_100) * 2.2;
        assert!((e.skipped_bound - cell).abs() < 1e-12);
    }

    #[test]
    fn ranks_everything_when_little_would_be_skipped() {
        assert_eq!(choose(505_007, &[(10, "\"a\"")]), None);
        assert_eq!(choose(505_007, &[(900, "\"a\""), (10, "\"b\"")]), None);
        assert_eq!(
            choose(505_007, &[(20_000, "\"a\""), (20_000, "\"b\"")]),
            None
        );
        assert_eq!(choose(10, &[(11, "\"a\""), (1, "\"b\"")]), None);
    }

    #[test]
    fn a_restricted_ranking_holds_only_when_full_and_above_the_bound() {
        let e = Essential {
            within: String::new(),
            skipped_bound: 1.0,
        };
        assert!(e.holds(10, 10, Some(1.5)));
        assert!(!e.holds(9, 10, Some(1.5)));
        assert!(!e.holds(10, 10, Some(1.0)));
        assert!(!e.holds(0, 0, None));
    }
}
