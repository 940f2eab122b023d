//! BM25 queries against a real SQLite FTS5 table.

use super::*;
use crate::fts::{fts_query_terms, match_expression, QueryTerm, MAX_QUERY_TERMS};
use crate::search::testdb::{NoteSpec, TestDb};
use crate::search::NoteSet;
use vault_rag_core::fake::HashEmbedder;

fn db() -> TestDb {
    let db = TestDb::new();
    let notes = [
        NoteSpec {
            path: "reactor.md",
            tags: &[],
            links: &[],
            body: "# Cooling\n\nThe XR-7741b pump keeps the reactor cool.\n\nNEAR the core: \"quoted\" text.",
        },
        NoteSpec {
            path: "zh.md",
            tags: &[],
            links: &[],
            body: "我们今天学习机器学习的基本方法。\n\n我的猫很可爱。",
        },
        NoteSpec {
            path: "ja.md",
            tags: &[],
            links: &[],
            body: "東京で寿司を食べました。とても美味しかったです。",
        },
        NoteSpec {
            path: "ko.md",
            tags: &[],
            links: &[],
            body: "서울에서 비빔밥을 먹었습니다.",
        },
        NoteSpec {
            path: "cafe.md",
            tags: &[],
            links: &[],
            body: "Un café à Paris près de la gare. Emoji 🦀 rust crab.",
        },
    ];
    db.index_notes(&HashEmbedder::new(32), &notes);
    db
}

/// Notes in rank order (each once).
fn paths(db: &TestDb, query: &str) -> Vec<String> {
    let reader = db.reader();
    let hits = bm25_top(&reader, query, 10, &NoteFilter::All, Bm25Weights::default())
        .unwrap_or_else(|e| panic!("query {query:?}: {e}"));
    let paths: std::collections::HashMap<i64, String> =
        reader.note_paths().unwrap().into_iter().collect();
    let mut out: Vec<String> = Vec::new();
    for s in hits {
        let p = paths[&s.note_id].clone();
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Text that FTS5 would read as syntax, or that is otherwise hostile. None may cause an error.
pub(crate) const NASTY: &[&str] = &[
    "\"",
    "\"\"",
    "\"\"\"",
    "a\"b",
    "\"unbalanced quote",
    "NEAR(",
    "NEAR(reactor pump)",
    "NEAR/2",
    "*",
    "**",
    "reac*",
    "*pump",
    "-x",
    "--",
    "- reactor",
    "col:val",
    "title:reactor",
    "body:",
    ":",
    "(((",
    ")))",
    "(reactor OR pump",
    "AND OR NOT",
    "AND",
    "NOT reactor",
    "reactor NOT",
    "OR",
    "^",
    "^reactor",
    "reactor^2",
    "{title body}: pump",
    "[brackets",
    "}",
    "+",
    "a + b",
    "'",
    "''",
    "\\",
    "\\\"",
    "😀",
    "🦀 rust 🔥",
    "\0",
    "reactor\0pump",
    "\u{feff}",
    "%",
    "_",
    ";DROP TABLE chunks;--",
    "' OR 1=1 --",
    "x'00'",
    "rowid",
    "chunks_fts",
    "rank MATCH 'x'",
    "“机器”",
    "שלום",
    "e\u{301}",
    "\u{202e}reversed",
    "XR-7741b",
];

#[test]
fn nasty_queries_never_error() {
    let db = db();
    assert!(NASTY.len() >= 30);
    for q in NASTY {
        bm25_top(
            &db.reader(),
            q,
            10,
            &NoteFilter::All,
            Bm25Weights::default(),
        )
        .unwrap_or_else(|e| panic!("query {q:?}: {e}"));
    }
    let long = "a".repeat(3000);
    let many = (0..500)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    for q in [long.as_str(), many.as_str()] {
        bm25_top(
            &db.reader(),
            q,
            10,
            &NoteFilter::All,
            Bm25Weights::default(),
        )
        .unwrap();
    }
}

#[test]
fn operators_are_searched_as_words() {
    let db = db();
    assert_eq!(paths(&db, "NEAR("), ["reactor.md"]);
    assert_eq!(paths(&db, "NOT reactor"), ["reactor.md"]);
    assert_eq!(paths(&db, "title:reactor"), ["reactor.md"]);
    assert_eq!(paths(&db, "\"quoted"), ["reactor.md"]);
    assert!(paths(&db, "(((").is_empty());
    assert!(paths(&db, "\"").is_empty());
}

#[test]
fn a_missing_word_does_not_hide_the_others() {
    let db = db();
    assert_eq!(paths(&db, "reactor zeppelin"), ["reactor.md"]);
}

#[test]
fn codes_match_as_phrases() {
    let db = db();
    assert_eq!(paths(&db, "XR-7741b"), ["reactor.md"]);
    assert_eq!(paths(&db, "xr 7741b"), ["reactor.md"]);
    // The parts in the wrong order are not the code.
    assert!(paths(&db, "7741b-XR").is_empty());
}

#[test]
fn cjk_words_and_single_characters_are_found() {
    let db = db();
    assert_eq!(paths(&db, "机器学习"), ["zh.md"]);
    assert_eq!(paths(&db, "学习"), ["zh.md"]);
    // One character at the end of a run (never the first of a bigram).
    assert_eq!(paths(&db, "猫"), ["zh.md"]);
    assert_eq!(paths(&db, "爱"), ["zh.md"]);
    assert_eq!(paths(&db, "寿司"), ["ja.md"]);
    assert_eq!(paths(&db, "東京"), ["ja.md"]);
    assert_eq!(paths(&db, "비빔밥"), ["ko.md"]);
    // A query without spaces that spans words still finds the note.
    assert_eq!(paths(&db, "机器学习教程"), ["zh.md"]);
}

#[test]
fn diacritics_and_case_are_ignored() {
    let db = db();
    assert_eq!(paths(&db, "CAFE"), ["cafe.md"]);
    assert_eq!(paths(&db, "pres"), ["cafe.md"]);
}

#[test]
fn filters_skip_disallowed_notes_before_the_limit() {
    let db = TestDb::new();
    let mut allowed = NoteSet::new();
    for i in 0..30 {
        // Earlier notes mention the word more often, so they rank first.
        let text = "pump ".repeat(30 - i) + "filler words here";
        let (note, _) = db.add_note(&format!("n{i}.md"), "t", &[], &[], &[(&[], (1, 1), &text)]);
        if i >= 27 {
            allowed.insert(note);
        }
    }
    let all = bm25_top(
        &db.reader(),
        "pump",
        3,
        &NoteFilter::All,
        Bm25Weights::default(),
    )
    .unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|s| !allowed.contains(s.note_id)));
    let filtered = bm25_top(
        &db.reader(),
        "pump",
        3,
        &NoteFilter::Only(allowed.clone()),
        Bm25Weights::default(),
    )
    .unwrap();
    assert_eq!(filtered.len(), 3);
    assert!(filtered.iter().all(|s| allowed.contains(s.note_id)));
    assert!(filtered.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn query_terms() {
    let t = fts_query_terms("XR-7741b  \"hello\" 机器学习 猫 NEAR near * title:x v1.2 don't");
    let texts: Vec<&str> = t.iter().map(QueryTerm::text).collect();
    assert_eq!(
        texts,
        [
            "XR-7741b", "hello", "机器", "器学", "学习", "猫", "NEAR", "title", "x", "v1.2",
            "don't"
        ]
    );
    // Function words go, unless they are the whole query.
    let texts = |q: &str| -> Vec<String> {
        fts_query_terms(q)
            .iter()
            .map(|t| t.text().to_string())
            .collect()
    };
    assert_eq!(
        texts("What should I do when the yeast stops?"),
        ["yeast", "stops"]
    );
    assert_eq!(texts("The Who"), ["The", "Who"]);
    assert_eq!(texts("AND OR NOT"), ["AND", "OR", "NOT"]);
    // Paired quotes make one phrase; FTS5 syntax inside it is plain text.
    assert_eq!(
        match_expression(&fts_query_terms("x\"y NEAR( o'\"")).unwrap(),
        "\"x\" OR \"y NEAR( o'\""
    );
    assert_eq!(
        match_expression(&fts_query_terms("x\"y NEAR( o'")).unwrap(),
        "\"x\" OR \"y\" OR \"NEAR\" OR \"o'\""
    );
    // Quotes inside a term are doubled.
    assert_eq!(
        match_expression(&[QueryTerm::Phrase("a\"b".into())]).unwrap(),
        "\"a\"\"b\""
    );
    assert_eq!(match_expression(&fts_query_terms("* ( ) \" ^")), None);
    assert_eq!(fts_query_terms(&"w ".repeat(10)).len(), 1);
    let many = (0..200)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(fts_query_terms(&many).len(), MAX_QUERY_TERMS);
}
