//! Reciprocal-rank fusion of ranked chunk lists, and grouping of chunks into notes.
//!
//! Results are notes, so fusion happens at note level: in each list a note takes the rank of its
//! best chunk, and a note's score is `Σ 1 / (k + rank)` over the lists that found it. A note that
//! the lexical retriever finds through one section (an exact name) and the dense retriever through
//! another (the topic) is thus rewarded for both, which chunk-level fusion would miss. The chunk
//! shown for the note is the one with the highest chunk-level fused score.

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
}

/// Groups one list by note: a note's score is its best chunk's score.
pub fn group_by_note(list: RankedList<'_>) -> Vec<NoteResult> {
    let mut out: Vec<NoteResult> = Vec::new();
    let mut seen: HashMap<i64, ()> = HashMap::new();
    for (i, hit) in list.hits.iter().enumerate() {
        if seen.insert(hit.note_id, ()).is_none() {
            out.push(NoteResult {
                note_id: hit.note_id,
                chunk_id: hit.chunk_id,
                score: hit.score,
                retrievers: vec![list.retriever],
                best_rank: i + 1,
            });
        }
    }
    out
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
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.best_rank.cmp(&b.best_rank))
            .then(a.note_id.cmp(&b.note_id))
    });
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
        assert_eq!(notes[1].best_rank, 3);
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
}
