//! Restricted BM25 ranking against the full ranking, on a real FTS5 table large enough for
//! common words to be skipped.

use super::plan;
use crate::fts::{fts_query_terms, match_expression, match_parts};
use crate::search::lexical::{bm25_top, ranked_top, Bm25Weights};
use crate::search::testdb::{SplitMix as Rng, TestDb};
use crate::search::{NoteFilter, NoteSet};
use crate::store::fts_rank::slots;

/// Common words with the share of chunks holding them, as in a vault on one subject.
const COMMON: &[(&str, u64)] = &[
    ("cell", 60),
    ("protein", 45),
    ("growth", 30),
    ("signal", 12),
];

/// 8,000 chunks: each holds the common words by their shares (sometimes twice) and 6 of 1,500
/// rarer words, with lengths from 8 to about 40 words.
fn corpus() -> TestDb {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut texts: Vec<String> = (0..8_000)
        .map(|_| {
            let mut words: Vec<String> = Vec::new();
            for &(w, share) in COMMON {
                if rng.below(100) < share {
                    for _ in 0..=rng.below(2) {
                        words.push(w.to_string());
                    }
                }
            }
            for _ in 0..6 {
                words.push(format!("rare{}", rng.below(1_500)));
            }
            for _ in 0..rng.below(32) {
                words.push(format!("filler{}", rng.below(40)));
            }
            words.join(" ")
        })
        .collect();
    // Rows holding only common words that outscore every row of a rarer word: 30 short ones
    // full of "growth protein", and 25 long ones holding "scarce" once.
    texts.extend((0..30).map(|_| "growth growth protein protein".to_string()));
    texts.extend((0..25).map(|i| format!("scarce {}", vec![format!("pad{i}"); 199].join(" "))));
    let db = TestDb::new();
    db.bulk_texts(&texts, 4);
    db
}

/// The full ranking of `query`: every match scored, the `limit` best (chunk id, score).
fn full(db: &TestDb, query: &str, limit: usize) -> Vec<(i64, f32)> {
    full_in(db, query, limit, &NoteFilter::All)
}

/// The full ranking of `query` streamed in rank order, the first `limit` rows `filter` allows.
fn full_in(db: &TestDb, query: &str, limit: usize, filter: &NoteFilter) -> Vec<(i64, f32)> {
    let expr = match_expression(&fts_query_terms(query)).unwrap();
    let mut out = Vec::new();
    db.reader()
        .bm25(&expr, None, Bm25Weights::default(), None, |c, n, s| {
            if filter.allows(n) {
                out.push((c, s));
            }
            out.len() < limit
        })
        .unwrap();
    out
}

/// `(chunk id, score)` of every row of a ranking of `expr` (the first `limit`), scored by
/// `bm25()` or by a phrase list.
fn ranked(
    reader: &crate::store::Reader<'_>,
    expr: &str,
    counted: Option<&[u8]>,
    limit: Option<usize>,
) -> Vec<(i64, f32)> {
    let mut out = Vec::new();
    reader
        .bm25(expr, counted, Bm25Weights::default(), limit, |c, _, s| {
            out.push((c, s));
            true
        })
        .unwrap();
    out
}

/// Every other note.
fn half_the_notes(db: &TestDb) -> NoteFilter {
    let mut set = NoteSet::new();
    for (id, _) in db.reader().note_paths().unwrap() {
        if id % 2 == 0 {
            set.insert(id);
        }
    }
    NoteFilter::Only(set)
}

#[test]
fn restricted_rankings_equal_the_full_ranking_and_fall_back_when_short() {
    let db = corpus();
    let reader = db.reader();
    let even = half_the_notes(&db);
    let mut rng = Rng(7);
    let (mut held, mut fell_short) = (0, 0);
    for i in 0..240 {
        let mut words: Vec<String> = (0..1 + rng.below(3))
            .map(|_| {
                COMMON[rng.below(COMMON.len() as u64) as usize]
                    .0
                    .to_string()
            })
            .collect();
        for _ in 0..1 + rng.below(3) {
            words.push(format!("rare{}", rng.below(1_500)));
        }
        let query = words.join(" ");
        // Deep lists (past what the rare words hold) must fall back to ranking everything.
        let limit = if i % 4 == 0 { 400 } else { 20 };
        let got: Vec<(i64, f32)> = bm25_top(
            &reader,
            &query,
            limit,
            &NoteFilter::All,
            Bm25Weights::default(),
        )
        .unwrap()
        .iter()
        .map(|s| (s.chunk_id, s.score))
        .collect();
        assert_eq!(
            got,
            full(&db, &query, limit),
            "query {query:?}, limit {limit}"
        );
        let filtered: Vec<(i64, f32)> =
            bm25_top(&reader, &query, limit, &even, Bm25Weights::default())
                .unwrap()
                .iter()
                .map(|s| (s.chunk_id, s.score))
                .collect();
        assert_eq!(
            filtered,
            full_in(&db, &query, limit, &even),
            "query {query:?}, limit {limit}, every other note"
        );

        let parts = match_parts(&fts_query_terms(&query));
        if let Some(r) = plan(&reader, &parts).unwrap().and_then(|p| p.restricted) {
            let found: Vec<f32> = ranked(&reader, &r.expr, Some(&r.slots), Some(limit))
                .into_iter()
                .map(|(_, s)| s)
                .collect();
            if r.holds(found.len(), limit, found.last().copied()) {
                held += 1;
            } else {
                fell_short += 1;
            }
        }
    }
    // Both paths were taken: the comparison above covered restricted answers and fallbacks.
    eprintln!("held {held} fell short {fell_short}");
    assert!(
        held >= 40,
        "restricted rankings kept: {held}, fallbacks {fell_short}"
    );
    assert!(
        fell_short >= 10,
        "restricted rankings kept: {held}, fallbacks {fell_short}"
    );
}

#[test]
fn single_terms_rank_every_match_and_prefixes_are_checked_as_written() {
    let db = corpus();
    let reader = db.reader();
    assert_eq!(plan(&reader, &["\"cell\"".to_string()]).unwrap(), None);
    // A typed prefix matches only chunks holding a word it begins, as written.
    let query = "cell rare5*";
    let got: Vec<i64> = bm25_top(&reader, query, 5, &NoteFilter::All, Bm25Weights::default())
        .unwrap()
        .iter()
        .map(|s| s.chunk_id)
        .collect();
    assert_eq!(got.len(), 5);
    assert!(full(&db, "rare5 rare50 rare500", 100)
        .iter()
        .any(|(c, _)| got.contains(c)));
}

#[test]
fn common_rows_that_outscore_the_rare_ones_are_not_skipped() {
    let db = corpus();
    let reader = db.reader();
    let query = "growth protein scarce";
    let parts = match_parts(&fts_query_terms(query));
    let r = plan(&reader, &parts)
        .unwrap()
        .and_then(|p| p.restricted)
        .expect("growth and protein are skipped");
    assert_eq!(
        r.expr,
        "(\"scarce\") AND (\"growth\" OR \"protein\" OR \"scarce\")"
    );
    let got: Vec<(i64, f32)> =
        bm25_top(&reader, query, 20, &NoteFilter::All, Bm25Weights::default())
            .unwrap()
            .iter()
            .map(|s| (s.chunk_id, s.score))
            .collect();
    let expected = full(&db, query, 20);
    assert_eq!(got, expected);
    // The answer holds rows without "scarce": a restricted ranking would have missed them.
    let scarce: std::collections::HashSet<i64> =
        full(&db, "scarce", 100).iter().map(|r| r.0).collect();
    assert!(expected.iter().any(|(c, _)| !scarce.contains(c)));
}

#[test]
fn remembered_counts_follow_the_index_as_it_changes() {
    let db = TestDb::new();
    db.bulk_texts(&["alpha beta".to_string(), "alpha".to_string()], 1);
    let parts = ["\"alpha\"".to_string(), "\"beta\"".to_string()];
    let counts = |db: &TestDb| db.reader().fts_match_counts(&parts).unwrap().unwrap();
    assert_eq!(counts(&db), (2, vec![2, 1]));
    // Asked again from the memory, then after a write that adds one row of each.
    assert_eq!(counts(&db), (2, vec![2, 1]));
    db.add_note("n.md", "N", &[], &[], &[(&[], (1, 1), "alpha beta gamma")]);
    assert_eq!(counts(&db), (3, vec![3, 2]));
    // The note rewritten: its old row's words leave the counts.
    db.add_note("n.md", "N", &[], &[], &[(&[], (1, 1), "delta")]);
    assert_eq!(counts(&db).1, vec![2, 1]);
}

#[test]
fn counted_scores_are_bm25s_bit_for_bit_and_a_restricted_row_scores_as_in_the_full_query() {
    let db = corpus();
    let reader = db.reader();
    let mut rng = Rng(11);
    let mut restricted = 0;
    for _ in 0..60 {
        let mut words: Vec<String> = vec![COMMON[rng.below(4) as usize].0.to_string()];
        for _ in 0..1 + rng.below(3) {
            words.push(format!("rare{}", rng.below(1_500)));
        }
        if rng.below(2) == 0 {
            words.push(COMMON[rng.below(4) as usize].0.to_string());
        }
        let query = words.join(" ");
        let parts = match_parts(&fts_query_terms(&query));
        let expr = parts.join(" OR ");
        let Some(p) = plan(&reader, &parts).unwrap() else {
            continue;
        };
        // Every matching row, in the same order with the same f32 score.
        let builtin = ranked(&reader, &expr, None, None);
        assert!(!builtin.is_empty());
        assert_eq!(
            ranked(&reader, &expr, Some(&p.full_slots), None),
            builtin,
            "{query}"
        );
        if let Some(r) = p.restricted {
            restricted += 1;
            let full: std::collections::HashMap<i64, f32> = builtin.into_iter().collect();
            let rows = ranked(&reader, &r.expr, Some(&r.slots), None);
            assert!(!rows.is_empty());
            for (chunk, score) in rows {
                assert_eq!(full.get(&chunk), Some(&score), "{query}: chunk {chunk}");
            }
        }
    }
    assert!(restricted >= 20, "restricted plans: {restricted}");
}

#[test]
fn a_phrase_list_that_does_not_fit_is_an_error_and_the_search_still_answers() {
    let db = corpus();
    let reader = db.reader();
    let expr = "\"cell\" OR \"rare7\"";
    let mut none = Vec::new();
    let err = reader
        .bm25(
            expr,
            Some(&slots(3, &[(0, 10)])),
            Bm25Weights::default(),
            None,
            |c, _, _| {
                none.push(c);
                true
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
    let err = reader
        .bm25(
            expr,
            Some(&[1, 2, 3]),
            Bm25Weights::default(),
            None,
            |_, _, _| true,
        )
        .unwrap_err();
    assert!(err.to_string().contains("malformed"), "{err}");
    // The pooled connection still serves searches.
    let got = bm25_top(
        &reader,
        "cell rare7",
        10,
        &NoteFilter::All,
        Bm25Weights::default(),
    )
    .unwrap();
    assert_eq!(got.len(), 10);
}

#[test]
fn a_search_counts_and_ranks_on_one_snapshot_while_the_index_changes() {
    let db = TestDb::new();
    db.bulk_texts(&["alpha beta".to_string(), "alpha".to_string()], 1);
    let reader = db.reader();
    let parts = ["\"alpha\"".to_string(), "\"beta\"".to_string()];
    let (before, after) = reader
        .snapshot(|| {
            let before = reader.fts_match_counts(&parts)?;
            db.add_note("n.md", "N", &[], &[], &[(&[], (1, 1), "alpha beta gamma")]);
            Ok((before, reader.fts_match_counts(&parts)?))
        })
        .unwrap();
    assert_eq!(before, Some((2, vec![2, 1])));
    assert_eq!(after, before, "the write is not seen inside the snapshot");
    assert_eq!(
        reader.fts_match_counts(&parts).unwrap(),
        Some((3, vec![3, 2]))
    );
}

#[test]
fn typed_prefixes_are_pruned_per_cut_short_form_and_equal_the_full_ranking() {
    let db = corpus();
    let reader = db.reader();
    let even = half_the_notes(&db);
    let mut rng = Rng(23);
    let mut restricted = 0;
    // Prefixes of the common words (cut short too: "protei*" is also searched as "prote*" and
    // "prot*") and of rare ones, as typed letter by letter.
    let prefixes = ["ce*", "cel*", "protei*", "grow*", "signa*"];
    for i in 0..80 {
        let mut words = vec![prefixes[rng.below(prefixes.len() as u64) as usize].to_string()];
        for _ in 0..1 + rng.below(2) {
            words.push(format!("rare{}", rng.below(1_500)));
        }
        if i % 2 == 0 {
            words.push(format!("rare{}*", rng.below(150)));
        }
        if i % 3 == 0 {
            words.push(COMMON[rng.below(4) as usize].0.to_string());
        }
        // Rows of the common words alone outscore every row of "scarce" (see `corpus`).
        let query = if i % 10 == 9 {
            "grow* protei* scarce".to_string()
        } else {
            words.join(" ")
        };
        let limit = if i % 4 == 0 { 200 } else { 20 };
        let scores = |v: Vec<crate::search::fusion::Scored>| -> Vec<(i64, f32)> {
            v.iter().map(|s| (s.chunk_id, s.score)).collect()
        };
        for filter in [&NoteFilter::All, &even] {
            let w = Bm25Weights::default();
            assert_eq!(
                scores(bm25_top(&reader, &query, limit, filter, w).unwrap()),
                scores(ranked_top(&reader, &query, limit, filter, w, false).unwrap()),
                "query {query:?}, limit {limit}"
            );
        }
        let parts = match_parts(&fts_query_terms(&query));
        if plan(&reader, &parts)
            .unwrap()
            .is_some_and(|p| p.restricted.is_some())
        {
            restricted += 1;
        }
    }
    assert!(restricted >= 20, "restricted plans: {restricted}");
}
