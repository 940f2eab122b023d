//! The search pipeline on a real SQLite file with the deterministic hash embedder. Semantic
//! behaviour (paraphrase, rare names missed by dense) is tested with the real model in
//! `tests/search_fixture.rs`.

use super::testdb::{NoteSpec, TestDb};
use super::*;
use vault_rag_core::fake::HashEmbedder;
use vault_rag_core::{NotePath, Reweighted, MAX_QUERY_CHARS};

const DIMS: usize = 64;

fn notes() -> Vec<NoteSpec<'static>> {
    vec![
        NoteSpec {
            path: "Projects/Reactor.md",
            tags: &["project/energy", "Work"],
            links: &["Pumps"],
            body: "# Overview\n\nThe reactor runs hot.\n\n# Parts\n\nThe XR-7741b pump moves coolant through the reactor.",
        },
        NoteSpec {
            path: "Projects/Pumps.md",
            tags: &["project"],
            links: &[],
            body: "Pumps move coolant. A pump needs maintenance every month.",
        },
        NoteSpec {
            path: "Projects/Archive/Old pump.md",
            tags: &["archive"],
            links: &[],
            body: "An old pump that moved coolant in the reactor long ago.",
        },
        NoteSpec {
            path: "Personal/Garden.md",
            tags: &["home"],
            links: &["Projects/Reactor"],
            body: "Tomatoes and basil grow in the garden. The water pump waters the garden.",
        },
        NoteSpec {
            path: "Personal/Cooking.md",
            tags: &["home/kitchen"],
            links: &[],
            body: "Basil pesto with tomatoes and garlic.",
        },
        NoteSpec {
            path: "Projects-old.md",
            tags: &[],
            links: &[],
            body: "A reactor pump note outside the Projects folder.",
        },
    ]
}

/// A real SQLite index of some notes with the hash embedder, and its vectors.
pub(super) struct Fixture {
    db: TestDb,
    vectors: VectorMatrix,
    embedder: HashEmbedder,
    fp: String,
}

impl Fixture {
    fn new() -> Self {
        Self::with_notes(&notes())
    }

    pub(super) fn with_notes(notes: &[NoteSpec<'_>]) -> Self {
        let db = TestDb::new();
        let embedder = HashEmbedder::new(DIMS);
        let vectors = db.index_notes(&embedder, notes);
        let fp = embedder.fingerprint().id();
        Self {
            db,
            vectors,
            embedder,
            fp,
        }
    }

    fn ctx<'a>(&'a self, reader: &'a Reader<'a>) -> SearchContext<'a> {
        SearchContext {
            reader,
            vectors: &self.vectors,
            fingerprint_id: &self.fp,
        }
    }

    pub(super) fn search(&self, req: &SearchRequest) -> Result<Vec<Hit>, IndexError> {
        search(&self.ctx(&self.db.reader()), &self.embedder, req)
    }

    fn similar(&self, req: &SimilarRequest) -> Result<Vec<Hit>, IndexError> {
        similar(&self.ctx(&self.db.reader()), req)
    }
}

fn req(query: &str, mode: SearchMode) -> SearchRequest {
    SearchRequest {
        mode,
        ..SearchRequest::new(query)
    }
}

fn hit_paths(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.path.as_str()).collect()
}

#[test]
fn every_mode_finds_the_exact_name_with_its_place_in_the_note() {
    let f = Fixture::new();
    for mode in [SearchMode::Hybrid, SearchMode::Lexical, SearchMode::Dense] {
        let hits = f.search(&req("XR-7741b", mode)).unwrap();
        let top = &hits[0];
        assert_eq!(top.path, "Projects/Reactor.md", "{mode}");
        assert_eq!(top.title, "Reactor");
        assert_eq!(top.heading_path, ["Parts"], "{mode}");
        assert_eq!(top.line, 7, "{mode}");
        assert_eq!(top.end_line, 7, "{mode}");
        let expected: &[Retriever] = match mode {
            SearchMode::Hybrid => &[Retriever::Dense, Retriever::Lexical],
            SearchMode::Lexical => &[Retriever::Lexical],
            SearchMode::Dense => &[Retriever::Dense],
        };
        assert_eq!(top.retrievers, expected, "{mode}");
        if mode != SearchMode::Dense {
            assert!(top.snippet.contains("**XR-7741b**"), "{}", top.snippet);
        }
        // One hit per note.
        let mut paths = hit_paths(&hits);
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), hits.len());
    }
}

#[test]
fn scores_are_ordered() {
    let f = Fixture::new();
    for mode in [SearchMode::Hybrid, SearchMode::Lexical, SearchMode::Dense] {
        let hits = f.search(&req("pump coolant", mode)).unwrap();
        assert!(hits.len() >= 3, "{mode}: {hits:?}");
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score), "{mode}");
    }
}

#[test]
fn folder_filter_matches_whole_segments() {
    let f = Fixture::new();
    for mode in [SearchMode::Hybrid, SearchMode::Lexical, SearchMode::Dense] {
        let mut r = req("reactor pump", mode);
        r.folder = Some("/Projects/".into());
        let hits = f.search(&r).unwrap();
        assert!(!hits.is_empty());
        assert!(
            hits.iter().all(|h| h.path.starts_with("Projects/")),
            "{mode}: {:?}",
            hit_paths(&hits)
        );
        r.folder = Some("Projects/Archive".into());
        assert_eq!(
            hit_paths(&f.search(&r).unwrap()),
            ["Projects/Archive/Old pump.md"]
        );
        r.folder = Some("Proj".into());
        assert!(f.search(&r).unwrap().is_empty());
    }
}

#[test]
fn tag_filter_is_case_insensitive_and_nested() {
    let f = Fixture::new();
    let mut r = req("tomatoes basil garden", SearchMode::Hybrid);
    r.tag = Some("#HOME".into());
    let mut paths = hit_paths(&f.search(&r).unwrap()).join(",");
    assert_eq!(paths, "Personal/Garden.md,Personal/Cooking.md");
    r.tag = Some("home/kitchen".into());
    paths = hit_paths(&f.search(&r).unwrap()).join(",");
    assert_eq!(paths, "Personal/Cooking.md");
    r.query = "pump".into();
    r.tag = Some("project".into());
    let hits = f.search(&r).unwrap();
    let mut got = hit_paths(&hits);
    got.sort();
    assert_eq!(got, ["Projects/Pumps.md", "Projects/Reactor.md"]);
    // Both filters at once.
    r.folder = Some("Personal".into());
    assert!(f.search(&r).unwrap().is_empty());
}

#[test]
fn filters_apply_before_top_k() {
    let f = Fixture::new();
    // The archive note is not the best "pump" match, but it is the only one in its folder.
    for mode in [SearchMode::Hybrid, SearchMode::Lexical, SearchMode::Dense] {
        let mut r = req("pump", mode);
        r.top_k = 1;
        r.tag = Some("archive".into());
        assert_eq!(
            hit_paths(&f.search(&r).unwrap()),
            ["Projects/Archive/Old pump.md"]
        );
    }
}

#[test]
fn invalid_requests_name_the_field() {
    let f = Fixture::new();
    let cases: Vec<(SearchRequest, &str)> = vec![
        (
            SearchRequest {
                top_k: 0,
                ..SearchRequest::new("x")
            },
            "top_k",
        ),
        (
            SearchRequest {
                top_k: 101,
                ..SearchRequest::new("x")
            },
            "top_k",
        ),
        (SearchRequest::new("   "), "query"),
        (SearchRequest::new("x".repeat(MAX_QUERY_CHARS + 1)), "query"),
        (
            SearchRequest {
                tag: Some("two words".into()),
                fusion: Default::default(),
                ..SearchRequest::new("x")
            },
            "tag",
        ),
        (
            SearchRequest {
                folder: Some("a\0".into()),
                ..SearchRequest::new("x")
            },
            "folder",
        ),
    ];
    for (r, field) in cases {
        match f.search(&r) {
            Err(IndexError::InvalidRequest { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{r:?}: {other:?}"),
        }
    }
    // The limits themselves are fine, and so is a pasted passage.
    assert!(f.search(&SearchRequest::new("pump ".repeat(1_000))).is_ok());
    assert!(f
        .search(&SearchRequest {
            top_k: 100,
            ..SearchRequest::new("x")
        })
        .is_ok());
    assert!(f
        .search(&SearchRequest {
            top_k: 1,
            ..SearchRequest::new("x")
        })
        .is_ok());
}

#[test]
fn requests_deserialise_with_defaults() {
    let r: SearchRequest = serde_json::from_str(r#"{"query":"q"}"#).unwrap();
    assert_eq!(r, SearchRequest::new("q"));
    let r: SearchRequest =
        serde_json::from_str(r#"{"query":"q","top_k":3,"mode":"lexical","tag":"a"}"#).unwrap();
    assert_eq!(
        (r.top_k, r.mode, r.tag.as_deref()),
        (3, SearchMode::Lexical, Some("a"))
    );
    let s: SimilarRequest = serde_json::from_str(r#"{"path":"a/b.md"}"#).unwrap();
    assert_eq!((s.top_k, s.exclude_linked), (10, false));
}

#[test]
fn nasty_queries_never_error_in_any_mode() {
    let f = Fixture::new();
    for mode in [SearchMode::Hybrid, SearchMode::Lexical, SearchMode::Dense] {
        for q in super::lexical::sql_tests::NASTY {
            f.search(&req(q, mode))
                .unwrap_or_else(|e| panic!("{mode} {q:?}: {e}"));
        }
    }
}

#[test]
fn an_empty_index_returns_nothing() {
    let db = TestDb::new();
    let embedder = HashEmbedder::new(DIMS);
    let vectors = VectorMatrix::new(DIMS);
    let fp = embedder.fingerprint().id();
    let reader = db.reader();
    let ctx = SearchContext {
        reader: &reader,
        vectors: &vectors,
        fingerprint_id: &fp,
    };
    for mode in [SearchMode::Hybrid, SearchMode::Lexical, SearchMode::Dense] {
        assert!(search(&ctx, &embedder, &req("anything", mode))
            .unwrap()
            .is_empty());
    }
}

fn sim(path: &str, top_k: usize, exclude_linked: bool) -> SimilarRequest {
    SimilarRequest {
        path: NotePath::new(path).unwrap(),
        top_k,
        exclude_linked,
    }
}

#[test]
fn similar_never_returns_the_note_itself() {
    let f = Fixture::new();
    for n in notes() {
        let hits = f.similar(&sim(n.path, 10, false)).unwrap();
        assert_eq!(hits.len(), notes().len() - 1, "{}", n.path);
        assert!(hits.iter().all(|h| h.path != n.path));
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(hits.iter().all(|h| h.retrievers == [Retriever::Dense]));
    }
    let hits = f.similar(&sim("Projects/Reactor.md", 2, false)).unwrap();
    assert_eq!(hits.len(), 2);
}

#[test]
fn similar_can_leave_out_linked_notes() {
    let f = Fixture::new();
    let with = f.similar(&sim("Projects/Reactor.md", 10, false)).unwrap();
    assert!(hit_paths(&with).contains(&"Projects/Pumps.md"));
    let without = f.similar(&sim("Projects/Reactor.md", 10, true)).unwrap();
    assert!(!hit_paths(&without).contains(&"Projects/Pumps.md"));
    assert_eq!(without.len(), with.len() - 1);
    // A link with a folder resolves too.
    let garden = f.similar(&sim("Personal/Garden.md", 10, true)).unwrap();
    assert!(!hit_paths(&garden).contains(&"Projects/Reactor.md"));
}

#[test]
fn similar_is_the_same_after_reopening() {
    let mut f = Fixture::new();
    let before: Vec<Vec<Hit>> = notes()
        .iter()
        .map(|n| f.similar(&sim(n.path, 10, false)).unwrap())
        .collect();
    f.db.reopen();
    f.vectors = VectorMatrix::load(&f.db.reader(), &f.fp, DIMS, Default::default()).unwrap();
    let after: Vec<Vec<Hit>> = notes()
        .iter()
        .map(|n| f.similar(&sim(n.path, 10, false)).unwrap())
        .collect();
    assert_eq!(before, after);
}

#[test]
fn similar_of_an_unknown_note_is_not_found() {
    let f = Fixture::new();
    assert!(matches!(
        f.similar(&sim("Nope.md", 10, false)),
        Err(IndexError::NoteNotFound { path }) if path == "Nope.md"
    ));
    assert!(matches!(
        f.similar(&sim("Projects/Pumps.md", 0, false)),
        Err(IndexError::InvalidRequest { field: "top_k", .. })
    ));
}

#[test]
fn similar_ties_break_by_path() {
    let db = TestDb::new();
    let embedder = HashEmbedder::new(DIMS);
    let body = "identical text in every note";
    let specs: Vec<NoteSpec<'_>> = ["c.md", "a.md", "d.md", "b.md"]
        .iter()
        .map(|p| NoteSpec {
            path: p,
            tags: &[],
            links: &[],
            body,
        })
        .collect();
    let vectors = db.index_notes(&embedder, &specs);
    let fp = embedder.fingerprint().id();
    let reader = db.reader();
    let ctx = SearchContext {
        reader: &reader,
        vectors: &vectors,
        fingerprint_id: &fp,
    };
    let hits = similar(&ctx, &sim("d.md", 10, false)).unwrap();
    assert_eq!(hit_paths(&hits), ["a.md", "b.md", "c.md"]);
}

#[test]
fn similar_matches_any_part_of_a_long_note() {
    let db = TestDb::new();
    let embedder = HashEmbedder::new(256);
    let specs = [
        NoteSpec {
            path: "mixed.md",
            tags: &[],
            links: &[],
            body: "tomatoes basil garden soil compost\n\nrust borrow checker lifetimes compiler",
        },
        NoteSpec {
            path: "rust.md",
            tags: &[],
            links: &[],
            body: "rust borrow checker lifetimes references",
        },
        NoteSpec {
            path: "garden.md",
            tags: &[],
            links: &[],
            body: "tomatoes basil garden soil watering",
        },
        NoteSpec {
            path: "sailing.md",
            tags: &[],
            links: &[],
            body: "sailing boat wind harbour knots",
        },
    ];
    let vectors = db.index_notes(&embedder, &specs);
    let fp = embedder.fingerprint().id();
    let reader = db.reader();
    let ctx = SearchContext {
        reader: &reader,
        vectors: &vectors,
        fingerprint_id: &fp,
    };
    let hits = similar(&ctx, &sim("mixed.md", 10, false)).unwrap();
    let mut first_two: Vec<&str> = hit_paths(&hits[..2]).to_vec();
    first_two.sort();
    assert_eq!(first_two, ["garden.md", "rust.md"]);
    assert_eq!(hits[2].path, "sailing.md");
    // Each related note is represented by the chunk that matched, with the pair's similarity.
    let garden = hits.iter().find(|h| h.path == "garden.md").unwrap();
    assert!(garden.score > 0.6, "{}", garden.score);
    assert!(hits[2].score < 0.3, "{}", hits[2].score);
}

#[test]
fn the_note_a_query_names_outranks_a_hub_that_mentions_it_often() {
    let filler = [
        ("Garden.md", "Tomatoes and basil in the garden bed."),
        ("Sailing.md", "Wind, harbour and knots on the boat."),
        ("Taxes.md", "Receipts and the tax checklist for April."),
        ("Running.md", "Intervals on Tuesday, a long run on Sunday."),
    ];
    let mut specs = vec![
        NoteSpec {
            path: "Recipes/Sourdough Bread.md",
            tags: &[],
            links: &[],
            body: "A sourdough starter, flour, water and salt; bake the bread in a hot oven.",
        },
        NoteSpec {
            path: "Recipes.md",
            tags: &[],
            links: &[],
            body: "Weeknight dal, miso soup, cold brew coffee, pesto pasta, ramen, tacos, \
                   pancakes, sourdough bread, fried rice: the recipes I cook.",
        },
    ];
    specs.extend(filler.iter().map(|(path, body)| NoteSpec {
        path,
        tags: &[],
        links: &[],
        body,
    }));
    let f = Fixture::with_notes(&specs);
    let reader = f.db.reader();
    let hits = f
        .search(&req("sourdough bread", SearchMode::Hybrid))
        .unwrap();
    assert_eq!(
        hit_paths(&hits)[..2],
        ["Recipes/Sourdough Bread.md", "Recipes.md"]
    );
    let named = &hits[0].explain;
    assert_eq!(named.title_match, Some(1.0));
    assert_eq!(named.fusion, Some(Fusion::Convex));
    assert_eq!(named.title_weight, Some(TITLE_WEIGHT));
    assert_eq!(hits[1].explain.title_match, Some(0.0));
    assert!(
        hits.iter().all(|h| (0.0..=1.0).contains(&h.score)),
        "{hits:?}"
    );

    // The boost itself: a hub just ahead of the named note falls behind it, scores stay 0–1.
    let chunk_of = |path: &str| {
        let lexical = bm25_top(
            &reader,
            "sourdough bread",
            10,
            &NoteFilter::All,
            Bm25Weights::default(),
        )
        .unwrap();
        lexical
            .iter()
            .find(|h| reader.hit_row(h.chunk_id).unwrap().unwrap().path == path)
            .map(|h| (h.note_id, h.chunk_id))
            .unwrap()
    };
    let note = |(note_id, chunk_id): (i64, i64), score: f32| NoteResult {
        note_id,
        chunk_id,
        score,
        retrievers: vec![Retriever::Dense],
        best_rank: 1,
        dense: None,
        lexical: None,
    };
    let (hub, named) = (
        chunk_of("Recipes.md"),
        chunk_of("Recipes/Sourdough Bread.md"),
    );
    let terms = SnippetTerms::from_query("sourdough bread");
    let mut notes = vec![note(hub, 0.80), note(named, 0.75)];
    boost_titles(&reader, &mut notes, &terms, 0.0).unwrap();
    assert_eq!(notes[0].note_id, hub.0, "no weight, no change");
    boost_titles(&reader, &mut notes, &terms, TITLE_WEIGHT).unwrap();
    assert_eq!(notes[0].note_id, named.0);
    assert!((notes[0].score - (0.75 + TITLE_WEIGHT) / (1.0 + TITLE_WEIGHT)).abs() < 1e-6);
    assert!((notes[1].score - 0.80 / (1.0 + TITLE_WEIGHT)).abs() < 1e-6);
}

#[test]
fn a_hit_explains_each_list_and_the_fusion() {
    let f = Fixture::new();
    let hits = f.search(&req("XR-7741b pump", SearchMode::Hybrid)).unwrap();
    let e = &hits[0].explain;
    assert_eq!(hits[0].path, "Projects/Reactor.md");
    assert!(
        e.dense_rank.is_some() && e.dense_similarity.is_some(),
        "{e:?}"
    );
    assert_eq!(e.lexical_rank, Some(1));
    assert!(e.lexical_score.is_some_and(|s| s > 0.0), "{e:?}");
    assert_eq!(e.matched_terms, ["xr 7741b", "pump"]);
    // The best lexical chunk holds every term: keywords lead the blend.
    assert_eq!(e.dense_weight, Some(FusionWeights::GENERIC.exact_dense));
    let partial = f
        .search(&req("XR-7741b pump quasar", SearchMode::Hybrid))
        .unwrap();
    assert_eq!(
        partial[0].explain.dense_weight,
        Some(FusionWeights::GENERIC.dense)
    );
    // Two of the three terms in the best keyword match: keywords count two thirds.
    let lexical = partial[0].explain.lexical_weight.unwrap();
    assert!((lexical - (1.0 - FusionWeights::GENERIC.dense) * 2.0 / 3.0).abs() < 1e-6);

    let rrf = SearchRequest {
        fusion: Fusion::Rrf,
        ..req("XR-7741b pump", SearchMode::Hybrid)
    };
    let e = &f.search(&rrf).unwrap()[0].explain;
    assert_eq!(
        (e.fusion, e.dense_weight, e.title_weight),
        (Some(Fusion::Rrf), None, None)
    );

    let lexical = f
        .search(&req("XR-7741b pump", SearchMode::Lexical))
        .unwrap();
    assert_eq!(
        lexical[0].score, 1.0,
        "lexical scores are relative to the best hit"
    );
    let e = &lexical[0].explain;
    assert_eq!((e.fusion, e.dense_rank), (None, None));
}

#[test]
fn the_fusion_uses_the_models_own_weights() {
    let f = Fixture::new();
    let weights = FusionWeights {
        dense: 0.9,
        exact_dense: 0.6,
        ..FusionWeights::GENERIC
    };
    // The hash embedder with the weights a stronger model would bring.
    let model = Reweighted {
        inner: std::sync::Arc::new(HashEmbedder::new(DIMS)),
        weights,
    };
    let reader = f.db.reader();
    let run = |q: &str| search(&f.ctx(&reader), &model, &req(q, SearchMode::Hybrid)).unwrap();
    assert_eq!(run("XR-7741b pump")[0].explain.dense_weight, Some(0.6));
    assert_eq!(
        run("XR-7741b pump quasar")[0].explain.dense_weight,
        Some(0.9)
    );
}
