//! Fusion of ranked chunk lists into notes: convex (the default) and reciprocal-rank fusion, and
//! grouping of one list into notes.
//!
//! Results are notes, so fusion happens at note level: in each list a note takes the rank and
//! score of its best chunk. A note that the lexical retriever finds through one section (an exact
//! name) and the dense retriever through another (the topic) is thus rewarded for both, which
//! chunk-level fusion would miss.
//!
//! - [`convex`]: `w · dense + (1 − w) · lexical`, each score divided by its list's best
//!   (Bruch, Gai, Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", ACM TOIS 2023:
//!   their theoretical-minimum–maximum normalisation).
//!   Unlike RRF it keeps how far apart the scores are: a clear dense first is not pulled down by a
//!   lexical list whose top hits are nearly tied, and the fused score means something (1 = the best
//!   note of both lists).
//! - [`fuse`]: `Σ w / (k + rank)` over the lists (RRF, with per-hit vote weights).

use std::cmp::Ordering;
use std::collections::HashMap;

use vault_rag_core::Retriever;

/// A candidate from the scan: a chunk, its note and its (approximate) cosine similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub chunk_id: i64,
    pub note_id: i64,
    pub score: f32,
}

impl Scored {
    /// Descending score, then ascending chunk id: a total order that makes results reproducible.
    pub fn rank_cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.chunk_id.cmp(&other.chunk_id))
    }
}

/// Weight of the title match (the share of the query's terms in a note's title or aliases) added
/// to a convex score: known-item queries name their note, and a long hub note that mentions the
/// name in one section should not outrank the note itself. Chosen on SciFact train (0, 0.1 and
/// 0.2 tried: 0.1 best), then checked on title-style queries of the sample vault (Hit@1 0.958 →
/// 0.979) and Cranfield (nDCG@10 +0.005).
pub const TITLE_WEIGHT: f32 = 0.1;

/// RRF constant. Measured on Cranfield with MiniLM (nDCG@10 / recall@100): plain RRF 0.4056 / 0.7747 with k = 60 and 0.4085 / 0.7747 with k = 20; with the
/// weights [`crate::search`] gives (dense: similarity relative to the best hit, lexical: share of
/// query terms held) 0.4015 / 0.7818 with k = 60 and 0.4098 / 0.7829 with k = 20 (dense alone
/// 0.3846, BM25 alone 0.3478). A smaller k also lets one retriever's clear first outweigh a
/// middling rank in both, which in a small vault (where every note is in the dense list) keeps a
/// weak one-word lexical match from burying the best dense hit.
pub const RRF_K: f32 = 20.0;

/// One retriever's results, best first.
#[derive(Debug, Clone, Copy)]
pub struct RankedList<'a> {
    pub retriever: Retriever,
    pub hits: &'a [Scored],
    /// Weight of each hit's contribution (parallel to `hits`); empty means 1 for all.
    pub weights: &'a [f32],
}

impl<'a> RankedList<'a> {
    /// A list whose hits all count fully.
    pub fn new(retriever: Retriever, hits: &'a [Scored]) -> Self {
        Self {
            retriever,
            hits,
            weights: &[],
        }
    }

    fn weight(&self, i: usize) -> f32 {
        self.weights.get(i).copied().unwrap_or(1.0)
    }
}

/// What one list says about a note: its rank among the list's notes (1-based) and the score of
/// its best chunk there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    pub rank: usize,
    pub score: f32,
}

/// A note in a fused or grouped result list.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteResult {
    pub note_id: i64,
    /// The chunk that represents the note.
    pub chunk_id: i64,
    pub score: f32,
    /// Retrievers whose lists hold the note, in [`Retriever`] order.
    pub retrievers: Vec<Retriever>,
    /// Best rank (1-based) of the note in any list; breaks score ties.
    pub best_rank: usize,
    /// The note in the dense and lexical lists, when they hold it.
    pub dense: Option<Evidence>,
    pub lexical: Option<Evidence>,
}

impl NoteResult {
    fn evidence_mut(&mut self, retriever: Retriever) -> &mut Option<Evidence> {
        match retriever {
            Retriever::Dense => &mut self.dense,
            Retriever::Lexical => &mut self.lexical,
        }
    }
}

/// Sorts notes best first: score, then best rank, then note id (reproducible).
pub(crate) fn sort_notes(notes: &mut [NoteResult]) {
    notes.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.best_rank.cmp(&b.best_rank))
            .then(a.note_id.cmp(&b.note_id))
    });
}

/// Groups one list by note: a note's score is its best chunk's score.
pub fn group_by_note(list: RankedList<'_>) -> Vec<NoteResult> {
    let mut out: Vec<NoteResult> = Vec::new();
    let mut seen: HashMap<i64, ()> = HashMap::new();
    for hit in list.hits {
        if seen.insert(hit.note_id, ()).is_none() {
            let evidence = Evidence {
                rank: out.len() + 1,
                score: hit.score,
            };
            let mut note = NoteResult {
                note_id: hit.note_id,
                chunk_id: hit.chunk_id,
                score: hit.score,
                retrievers: vec![list.retriever],
                best_rank: evidence.rank,
                dense: None,
                lexical: None,
            };
            *note.evidence_mut(list.retriever) = Some(evidence);
            out.push(note);
        }
    }
    out
}

/// Convex fusion of a dense and a lexical list at note level (see the module docs), best first.
///
/// Each list's note scores are divided by the list's best (theoretical-minimum–maximum
/// normalisation with minimum 0: cosine below 0 and BM25 count as 0), so the best note of a list
/// gets 1 and a list whose scores are close together stays close together. A note missing from a
/// list that was cut at `depth` chunks gets that list's lowest normalised score (it may score up to
/// what the last note there did); missing from a shorter list, which holds every match, it gets 0.
/// `dense_weight` is `w`; the lexical side weighs `(1 − w) × lexical_confidence` (0–1), so that a
/// lexical list whose best match is weak (one common word of a long question) cannot outvote the
/// meaning just because normalisation lifts its best to 1. The chunk shown for a note is the best
/// chunk of the list that contributes more to its score.
pub fn convex(
    dense: &[Scored],
    lexical: &[Scored],
    dense_weight: f32,
    lexical_confidence: f32,
    depth: usize,
) -> Vec<NoteResult> {
    let w = dense_weight.clamp(0.0, 1.0);
    let mut notes: HashMap<i64, NoteResult> = HashMap::new();
    // Per note, the larger of its two parts so far: its list's chunk is the one shown.
    let mut shown_part: HashMap<i64, f32> = HashMap::new();
    let mut floors = Vec::with_capacity(2);
    for (retriever, hits, weight) in [
        (Retriever::Dense, dense, w),
        (
            Retriever::Lexical,
            lexical,
            (1.0 - w) * lexical_confidence.clamp(0.0, 1.0),
        ),
    ] {
        let grouped = group_by_note(RankedList::new(retriever, hits));
        let hi = grouped.iter().map(|n| n.score).fold(0.0f32, f32::max);
        let normalise = |score: f32| {
            if hi > 0.0 {
                score.max(0.0) / hi
            } else {
                0.0
            }
        };
        // A list shorter than `depth` holds every match: a note missing from it matched nothing.
        let floor = if hits.len() < depth {
            0.0
        } else {
            grouped
                .iter()
                .map(|n| normalise(n.score))
                .fold(1.0f32, f32::min)
        };
        floors.push((retriever, weight * floor));
        for g in grouped {
            let part = weight * normalise(g.score);
            let note = notes.entry(g.note_id).or_insert_with(|| NoteResult {
                score: 0.0,
                retrievers: Vec::new(),
                ..g.clone()
            });
            let shown = shown_part.entry(g.note_id).or_insert(f32::NEG_INFINITY);
            if part > *shown {
                *shown = part;
                note.chunk_id = g.chunk_id;
            }
            note.score += part;
            note.best_rank = note.best_rank.min(g.best_rank);
            note.retrievers.push(retriever);
            *note.evidence_mut(retriever) = *g.evidence_of(retriever);
        }
    }
    let mut out: Vec<NoteResult> = notes
        .into_values()
        .map(|mut n| {
            for &(retriever, floor) in &floors {
                if !n.retrievers.contains(&retriever) {
                    n.score += floor;
                }
            }
            n.retrievers.sort();
            n
        })
        .collect();
    sort_notes(&mut out);
    out
}

impl NoteResult {
    fn evidence_of(&self, retriever: Retriever) -> &Option<Evidence> {
        match retriever {
            Retriever::Dense => &self.dense,
            Retriever::Lexical => &self.lexical,
        }
    }
}

/// Reciprocal-rank fusion of `lists` at note level (see the module docs), best first. A hit's
/// contribution is multiplied by its weight; a note's weight in a list is its best chunk's.
pub fn fuse(lists: &[RankedList<'_>], k: f32) -> Vec<NoteResult> {
    #[derive(Default)]
    struct Acc {
        score: f32,
        best_rank: usize,
        retrievers: Vec<Retriever>,
        chunks: HashMap<i64, f32>,
        dense: Option<Evidence>,
        lexical: Option<Evidence>,
    }
    let mut notes: HashMap<i64, Acc> = HashMap::new();
    for list in lists {
        let mut note_rank = 0usize;
        let mut ranked_notes: HashMap<i64, ()> = HashMap::new();
        for (i, hit) in list.hits.iter().enumerate() {
            let w = list.weight(i);
            let acc = notes.entry(hit.note_id).or_default();
            *acc.chunks.entry(hit.chunk_id).or_default() += w / (k + (i + 1) as f32);
            if ranked_notes.insert(hit.note_id, ()).is_none() {
                note_rank += 1;
                acc.score += w / (k + note_rank as f32);
                acc.best_rank = if acc.best_rank == 0 {
                    note_rank
                } else {
                    acc.best_rank.min(note_rank)
                };
                if !acc.retrievers.contains(&list.retriever) {
                    acc.retrievers.push(list.retriever);
                }
                let evidence = Some(Evidence {
                    rank: note_rank,
                    score: hit.score,
                });
                match list.retriever {
                    Retriever::Dense => acc.dense = evidence,
                    Retriever::Lexical => acc.lexical = evidence,
                }
            }
        }
    }
    let mut out: Vec<NoteResult> = notes
        .into_iter()
        .map(|(note_id, mut acc)| {
            acc.retrievers.sort();
            let chunk_id = acc
                .chunks
                .iter()
                .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(&c, _)| c)
                .unwrap_or_default();
            NoteResult {
                note_id,
                chunk_id,
                score: acc.score,
                retrievers: acc.retrievers,
                best_rank: acc.best_rank,
                dense: acc.dense,
                lexical: acc.lexical,
            }
        })
        .collect();
    sort_notes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(chunk_id: i64, note_id: i64, score: f32) -> Scored {
        Scored {
            chunk_id,
            note_id,
            score,
        }
    }

    #[test]
    fn grouping_keeps_the_best_chunk_per_note() {
        let hits = [s(1, 10, 0.9), s(2, 10, 0.8), s(3, 20, 0.7), s(4, 30, 0.6)];
        let notes = group_by_note(RankedList::new(Retriever::Dense, &hits));
        let ids: Vec<(i64, i64)> = notes.iter().map(|n| (n.note_id, n.chunk_id)).collect();
        assert_eq!(ids, [(10, 1), (20, 3), (30, 4)]);
        assert_eq!(notes[1].best_rank, 2); // ranks count notes, not chunks
        assert_eq!(notes[0].score, 0.9);
    }

    #[test]
    fn a_note_found_by_both_lists_wins() {
        // Note 20 is second in both lists, notes 10 and 30 first in one each.
        let dense = [s(1, 10, 0.9), s(2, 20, 0.8)];
        let lexical = [s(3, 30, 9.0), s(4, 20, 8.0)];
        let fused = fuse(
            &[
                RankedList::new(Retriever::Dense, &dense),
                RankedList::new(Retriever::Lexical, &lexical),
            ],
            RRF_K,
        );
        assert_eq!(fused[0].note_id, 20);
        assert_eq!(fused[0].retrievers, [Retriever::Dense, Retriever::Lexical]);
        let expected = 2.0 / (RRF_K + 2.0);
        assert!((fused[0].score - expected).abs() < 1e-7);
        // Ties (10 and 30, both rank 1 in one list) break by note id.
        assert_eq!(fused[1].note_id, 10);
        assert_eq!(fused[2].note_id, 30);
        assert_eq!(fused[2].retrievers, [Retriever::Lexical]);
    }

    #[test]
    fn different_chunks_of_one_note_both_count() {
        let dense = [s(1, 10, 0.9), s(5, 40, 0.8)];
        let lexical = [s(2, 10, 5.0), s(6, 50, 4.0)];
        let fused = fuse(
            &[
                RankedList::new(Retriever::Dense, &dense),
                RankedList::new(Retriever::Lexical, &lexical),
            ],
            RRF_K,
        );
        assert_eq!(fused[0].note_id, 10);
        assert!((fused[0].score - 2.0 / (RRF_K + 1.0)).abs() < 1e-7);
        // Both chunks have the same fused score; the lower id is shown.
        assert_eq!(fused[0].chunk_id, 1);
    }

    #[test]
    fn best_chunk_is_the_one_both_lists_found() {
        let dense = [s(1, 10, 0.9), s(2, 10, 0.8)];
        let lexical = [s(2, 10, 5.0)];
        let fused = fuse(
            &[
                RankedList::new(Retriever::Dense, &dense),
                RankedList::new(Retriever::Lexical, &lexical),
            ],
            RRF_K,
        );
        assert_eq!(fused.len(), 1);
        assert_eq!(fused[0].chunk_id, 2);
    }

    #[test]
    fn weights_scale_contributions() {
        let dense = [s(1, 10, 0.9), s(2, 20, 0.8)];
        let lexical = [s(3, 20, 5.0)];
        let half = [0.5];
        let fused = fuse(
            &[
                RankedList::new(Retriever::Dense, &dense),
                RankedList {
                    retriever: Retriever::Lexical,
                    hits: &lexical,
                    weights: &half,
                },
            ],
            RRF_K,
        );
        assert_eq!(fused[0].note_id, 20);
        let expected = 1.0 / (RRF_K + 2.0) + 0.5 / (RRF_K + 1.0);
        assert!((fused[0].score - expected).abs() < 1e-7);
        let zero = [0.0];
        let fused = fuse(
            &[
                RankedList::new(Retriever::Dense, &dense),
                RankedList {
                    retriever: Retriever::Lexical,
                    hits: &lexical,
                    weights: &zero,
                },
            ],
            RRF_K,
        );
        assert_eq!(fused[0].note_id, 10);
    }

    #[test]
    fn empty_lists() {
        assert!(fuse(&[], RRF_K).is_empty());
        assert!(group_by_note(RankedList::new(Retriever::Lexical, &[])).is_empty());
    }

    #[test]
    fn convex_divides_by_each_lists_best_and_floors_missing_notes() {
        // Note 10: best of both lists. Note 20: dense only. Note 30: lexical only.
        let dense = [s(1, 10, 0.8), s(2, 20, 0.6), s(9, 40, 0.4)];
        let lexical = [s(3, 10, 10.0), s(4, 30, 5.0), s(8, 40, 2.0)];
        let fused = convex(&dense, &lexical, 0.6, 1.0, 3);
        let score = |id: i64| fused.iter().find(|n| n.note_id == id).unwrap().score;
        assert!((score(10) - 1.0).abs() < 1e-6);
        // 0.6 · 0.6/0.8 + 0.4 · (the lexical floor 2/10)
        assert!(
            (score(20) - (0.6 * 0.75 + 0.4 * 0.2)).abs() < 1e-6,
            "{}",
            score(20)
        );
        // 0.6 · (the dense floor 0.4/0.8) + 0.4 · 0.5
        assert!(
            (score(30) - (0.6 * 0.5 + 0.4 * 0.5)).abs() < 1e-6,
            "{}",
            score(30)
        );
        assert_eq!(fused[0].note_id, 10);
        assert_eq!(fused[0].retrievers, [Retriever::Dense, Retriever::Lexical]);
        let n20 = fused.iter().find(|n| n.note_id == 20).unwrap();
        assert_eq!(
            n20.dense,
            Some(Evidence {
                rank: 2,
                score: 0.6
            })
        );
        assert_eq!(n20.lexical, None);
    }

    #[test]
    fn convex_shows_the_chunk_of_the_larger_part_and_survives_odd_lists() {
        // Note 10's lexical part (0.5 · 1) beats its dense part (0.5 · 0.5): its lexical chunk shows.
        let dense = [s(1, 20, 0.8), s(2, 10, 0.4)];
        let lexical = [s(3, 10, 4.0)];
        let fused = convex(&dense, &lexical, 0.5, 1.0, 2);
        let n10 = fused.iter().find(|n| n.note_id == 10).unwrap();
        assert_eq!(n10.chunk_id, 3);
        // Empty and non-positive lists give finite scores, best first.
        assert!(convex(&[], &[], 0.5, 1.0, 2).is_empty());
        let negative = convex(&[s(1, 1, -0.2), s(2, 2, -0.5)], &[], 0.7, 1.0, 2);
        assert!(negative
            .iter()
            .all(|n| n.score.is_finite() && n.score >= 0.0));
        assert_eq!(
            convex(&dense, &[], 1.5, 1.0, 2)[0].note_id,
            20,
            "weights are clamped to 0–1"
        );
    }

    #[test]
    fn a_note_missing_from_a_complete_list_gets_nothing_from_it() {
        // One lexical match in a list cut at 50: the list is complete, so notes 20 and 30 matched no
        // keyword and must not get the lexical floor (here the match's own score, i.e. full credit).
        let dense = [s(1, 20, 0.9), s(2, 30, 0.8), s(3, 10, 0.5)];
        let lexical = [s(3, 10, 7.0)];
        let fused = convex(&dense, &lexical, 0.65, 1.0, 50);
        let score = |id: i64| fused.iter().find(|n| n.note_id == id).unwrap().score;
        assert!((score(20) - 0.65).abs() < 1e-6, "{}", score(20));
        assert!((score(10) - (0.65 * 0.5 / 0.9 + 0.35)).abs() < 1e-6);
        assert_eq!(fused[0].note_id, 10);
    }

    #[test]
    fn a_weak_keyword_match_counts_for_less() {
        // The same lists: with full confidence the lone keyword match wins, with a fifth of the
        // query's terms in it the best meaning match stays first.
        let dense = [s(1, 20, 0.9), s(2, 10, 0.5)];
        let lexical = [s(2, 10, 7.0)];
        assert_eq!(convex(&dense, &lexical, 0.65, 1.0, 50)[0].note_id, 10);
        let weak = convex(&dense, &lexical, 0.65, 0.2, 50);
        assert_eq!(weak[0].note_id, 20);
        let n10 = weak.iter().find(|n| n.note_id == 10).unwrap();
        assert!((n10.score - (0.65 * 0.5 / 0.9 + 0.35 * 0.2)).abs() < 1e-6);
    }
}
