//! Query syntax as users type it: `"exact phrases"` and `prefix*`, from parsing to the hits of
//! every mode, on a real SQLite file.

use super::testdb::NoteSpec;
use super::*;
use crate::fts::{fts_query_terms, match_expression, required_expression, QueryTerm};

fn notes() -> Vec<NoteSpec<'static>> {
    let note = NoteSpec::plain;
    vec![
        note(
            "Birds.md",
            "The migration of birds follows the coast in autumn.",
        ),
        note(
            "Data.md",
            "Migrating the database took a weekend. Birds were not involved.",
        ),
        note(
            "Headache.md",
            "A migraine kept me home; the coast was too bright.",
        ),
        note(
            "Order.md",
            "Birds of the coast: the autumn migration follows them.",
        ),
        note(
            "Index.md",
            "Indexing notes is fast. The indexes live in SQLite.",
        ),
    ]
}

fn terms(q: &str) -> Vec<QueryTerm> {
    fts_query_terms(q)
}

#[test]
fn quotes_make_one_phrase_and_a_star_a_prefix() {
    use QueryTerm::*;
    assert_eq!(
        terms("\"migration of birds\" coast migrat* a*"),
        [
            Quoted("migration of birds".into()),
            Phrase("coast".into()),
            Prefix("migrat".into()),
        ]
    );
    // Curly and German quotes pair too; an unpaired quote is only a separator.
    assert_eq!(terms("“the coast”"), [Quoted("the coast".into())]);
    assert_eq!(terms("„the coast“"), [Quoted("the coast".into())]);
    assert_eq!(
        terms("\"the coast"),
        [Phrase("the".into()), Phrase("coast".into())][1..]
    );
    // A one-letter prefix is a word (here a stop word, dropped). Quotes around nothing
    // searchable, and stars with nothing before them, add nothing.
    assert_eq!(terms("\" \" coast *"), [Phrase("coast".into())]);
    // CJK inside quotes becomes adjacent bigrams.
    assert_eq!(terms("\"机器学习\""), [Quoted("机器 器学 学习".into())]);
    // The same word quoted, starred and bare is three terms.
    assert_eq!(terms("\"coast\" coast* coast").len(), 3);
}

#[test]
fn expressions_search_cut_prefixes_and_require_quoted_phrases() {
    let t = terms("\"of birds\" migrati* \"the coast\"");
    assert_eq!(
        match_expression(&t).unwrap(),
        "\"of birds\" OR \"migrati\"* OR \"migrat\"* OR \"migra\"* OR \"the coast\""
    );
    assert_eq!(
        required_expression(&t).unwrap(),
        "\"of birds\" AND \"the coast\""
    );
    assert_eq!(required_expression(&terms("of birds")), None);
    // Short and non-English prefixes are searched as typed only.
    assert_eq!(match_expression(&terms("inde*")).unwrap(), "\"inde\"*");
    assert_eq!(match_expression(&terms("größe*")).unwrap(), "\"größe\"*");
}

struct Fixture(super::tests::Fixture);

impl Fixture {
    fn new() -> Self {
        Self(super::tests::Fixture::with_notes(&notes()))
    }

    fn search(&self, query: &str, mode: SearchMode) -> Vec<Hit> {
        let req = SearchRequest {
            mode,
            ..SearchRequest::new(query)
        };
        self.0
            .search(&req)
            .unwrap_or_else(|e| panic!("{query:?} {mode}: {e}"))
    }

    fn paths(&self, query: &str, mode: SearchMode) -> Vec<String> {
        let mut p: Vec<String> = self
            .search(query, mode)
            .into_iter()
            .map(|h| h.path)
            .collect();
        p.sort();
        p
    }
}

const MODES: [SearchMode; 3] = [SearchMode::Hybrid, SearchMode::Lexical, SearchMode::Dense];

#[test]
fn a_quoted_phrase_limits_every_mode_to_notes_that_hold_it() {
    let f = Fixture::new();
    for mode in MODES {
        // "Order.md" has every word, but not in this order.
        assert_eq!(
            f.paths("\"migration of birds\"", mode),
            ["Birds.md"],
            "{mode}"
        );
        // Stemmed like the rest: "migrating the database" holds "migrate the database".
        assert_eq!(
            f.paths("\"migrate the database\"", mode),
            ["Data.md"],
            "{mode}"
        );
        // With other words, the phrase still filters and the words rank.
        assert_eq!(
            f.paths("\"the coast\" autumn", mode),
            ["Birds.md", "Headache.md", "Order.md"],
            "{mode}"
        );
        // Two phrases: both must be there.
        assert_eq!(
            f.paths("\"birds of\" \"the autumn\"", mode),
            ["Order.md"],
            "{mode}"
        );
        // A phrase no note holds is only quotation marks: its words still search.
        assert!(
            !f.paths("\"birds of the database\"", mode).is_empty(),
            "{mode}"
        );
    }
    assert_eq!(
        f.paths("\"birds of the database\"", SearchMode::Lexical),
        ["Birds.md", "Data.md", "Order.md"]
    );
    let hit = &f.search("\"migration of birds\"", SearchMode::Hybrid)[0];
    assert!(
        hit.snippet.contains("**migration of birds**"),
        "{}",
        hit.snippet
    );
    assert_eq!(hit.explain.matched_terms, ["migration of birds"]);
}

#[test]
fn a_prefix_matches_words_that_start_with_it_even_past_their_stem() {
    let f = Fixture::new();
    let lexical = |q| f.paths(q, SearchMode::Lexical);
    assert_eq!(lexical("migrat*"), ["Birds.md", "Data.md", "Order.md"]);
    // "migration" is stored as its stem `migrat`; the prefix typed past it still finds it, and
    // the shortened search does not bring in "migraine".
    assert_eq!(lexical("migrati*"), ["Birds.md", "Data.md", "Order.md"]);
    assert_eq!(lexical("migratio*"), ["Birds.md", "Order.md"]);
    assert_eq!(lexical("migrai*"), ["Headache.md"]);
    assert_eq!(lexical("indexi*"), ["Index.md"]);
    assert!(lexical("migratx*").is_empty());
    let hit = &f.search("indexi*", SearchMode::Hybrid)[0];
    assert_eq!(hit.path, "Index.md");
    assert!(hit.snippet.contains("**Indexing**"), "{}", hit.snippet);
    assert!(!hit.snippet.contains("**indexes**"), "{}", hit.snippet);
    assert_eq!(hit.explain.matched_terms, ["indexi*"]);
    // Not a filter: in hybrid, other notes may follow on meaning.
    assert!(f.paths("migrati*", SearchMode::Hybrid).len() >= 2);
}
