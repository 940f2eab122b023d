//! Whether one system beats another by more than chance: Fisher's paired randomisation test over
//! per-query scores, as IR papers report it (Smucker, Allan, Carterette, CIKM 2007).
//!
//! Under the null hypothesis the two systems are exchangeable for every query, so each per-query
//! difference is as likely to have the other sign. The p-value is the share of random sign
//! assignments whose mean difference is at least as far from zero as the observed one (two-sided).
//! The permutations come from a fixed seed, so a report is reproducible.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::metrics::Metrics;

/// Sign assignments drawn; the p-value's resolution is about 1 / this.
pub const PERMUTATIONS: usize = 10_000;

/// The level below which a difference is called significant.
pub const ALPHA: f64 = 0.05;

/// Reads one metric of a query's scores.
pub type MetricFn = fn(&Metrics) -> f64;

/// One paired comparison of two runs on one metric.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    pub metric: String,
    /// Mean of `a` − mean of `b`.
    pub difference: f64,
    /// Two-sided p-value of the randomisation test.
    pub p_value: f64,
    /// `p_value < ALPHA`.
    pub significant: bool,
    /// Queries where `a` scored higher, lower, the same.
    pub wins: usize,
    pub losses: usize,
    pub ties: usize,
}

/// Compares `a` and `b` on `metric` over the queries both were scored on.
pub fn compare(
    (name_a, a): (&str, &BTreeMap<String, Metrics>),
    (name_b, b): (&str, &BTreeMap<String, Metrics>),
    metric: (&str, MetricFn),
) -> Comparison {
    let diffs: Vec<f64> = a
        .iter()
        .filter_map(|(q, ma)| b.get(q).map(|mb| metric.1(ma) - metric.1(mb)))
        .collect();
    let p_value = randomisation_p(&diffs, PERMUTATIONS, 0x5eed_1dea);
    let n = diffs.len().max(1) as f64;
    const EPS: f64 = 1e-12;
    Comparison {
        a: name_a.into(),
        b: name_b.into(),
        metric: metric.0.into(),
        difference: diffs.iter().sum::<f64>() / n,
        p_value,
        significant: p_value < ALPHA,
        wins: diffs.iter().filter(|&&d| d > EPS).count(),
        losses: diffs.iter().filter(|&&d| d < -EPS).count(),
        ties: diffs.iter().filter(|&&d| d.abs() <= EPS).count(),
    }
}

/// Two-sided p-value of the paired randomisation test on `diffs` with `rounds` random sign
/// assignments (the observed assignment counted once, so p is never 0).
pub fn randomisation_p(diffs: &[f64], rounds: usize, seed: u64) -> f64 {
    if diffs.is_empty() {
        return 1.0;
    }
    let observed = diffs.iter().sum::<f64>().abs();
    let mut rng = SplitMix64(seed);
    let mut at_least = 1usize;
    for _ in 0..rounds {
        let mut sum = 0.0;
        let mut bits = 0u64;
        for (i, d) in diffs.iter().enumerate() {
            if i % 64 == 0 {
                bits = rng.next();
            }
            sum += if bits & 1 == 1 { *d } else { -*d };
            bits >>= 1;
        }
        // A tolerance so that sums equal to the observed one up to rounding count as equal.
        if sum.abs() >= observed - 1e-9 {
            at_least += 1;
        }
    }
    at_least as f64 / (rounds + 1) as f64
}

/// A small, well-mixed generator (Steele, Lea, Flood 2014): enough for sign flips.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_query(values: &[f64]) -> BTreeMap<String, Metrics> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                (
                    format!("q{i}"),
                    Metrics {
                        ndcg_at_10: v,
                        ..Metrics::default()
                    },
                )
            })
            .collect()
    }

    const NDCG: (&str, MetricFn) = ("ndcg_at_10", |m| m.ndcg_at_10);

    #[test]
    fn a_consistent_gain_is_significant() {
        let a = per_query(&[0.6; 40]);
        let b: Vec<f64> = (0..40).map(|i| 0.5 + (i % 3) as f64 * 0.01).collect();
        let c = compare(("a", &a), ("b", &per_query(&b)), NDCG);
        assert!(c.significant, "{c:?}");
        assert!(c.p_value < 0.001);
        assert_eq!((c.wins, c.losses, c.ties), (40, 0, 0));
        assert!((c.difference - 0.09).abs() < 0.01);
    }

    #[test]
    fn noise_is_not_significant() {
        // Differences that cancel out: +0.1 and −0.1 alternate, with one extra +0.1.
        let a: Vec<f64> = (0..21)
            .map(|i| if i % 2 == 0 { 0.6 } else { 0.4 })
            .collect();
        let c = compare(("a", &per_query(&a)), ("b", &per_query(&[0.5; 21])), NDCG);
        assert!(!c.significant, "{c:?}");
        assert!(c.p_value > 0.5);
        assert_eq!((c.wins, c.losses), (11, 10));
    }

    #[test]
    fn identical_runs_give_p_one() {
        let a = per_query(&[0.3, 0.7, 1.0]);
        let c = compare(("a", &a), ("b", &a), NDCG);
        assert_eq!(c.p_value, 1.0);
        assert_eq!(c.ties, 3);
        assert_eq!(randomisation_p(&[], 100, 1), 1.0);
    }

    #[test]
    fn p_value_matches_the_exact_test_on_a_small_case() {
        // 5 positive differences of 1: only the all-positive and all-negative of the 32 sign
        // assignments reach |sum| = 5, so the exact p is 2/32.
        let p = randomisation_p(&[1.0; 5], 200_000, 7);
        assert!((p - 2.0 / 32.0).abs() < 0.003, "{p}");
    }
}
