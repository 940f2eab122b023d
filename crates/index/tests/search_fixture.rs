//! Known-answer searches on `fixtures/vaults/search` with the real MiniLM model, ONNX Runtime and
//! a real index file, through [`Engine`] as the server and the command line use it.

use std::path::PathBuf;
use std::sync::Arc;

use vault_rag_core::{Hit, NotePath, Retriever, SearchMode};
use vault_rag_embed::{ModelSpec, OnnxEmbedder};
use vault_rag_index::Engine;
use vault_rag_index::{IndexSettings, SearchRequest, SimilarRequest};

fn model_dir() -> PathBuf {
    vault_rag_embed::test_model_dir().unwrap_or_else(|e| panic!("{e}"))
}

fn fixture_vault() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/vaults/search")
}

fn open(data_dir: &std::path::Path) -> Arc<Engine> {
    let embedder = OnnxEmbedder::load(&ModelSpec {
        model: "all-minilm-l6-v2".into(),
        model_dir: Some(model_dir()),
        threads: Some(2),
        ..ModelSpec::default()
    })
    .expect("load MiniLM");
    let mut settings = IndexSettings::new(fixture_vault());
    settings.data_dir = Some(data_dir.to_path_buf());
    Engine::open(settings, Arc::new(embedder)).expect("open index")
}

fn indexed() -> (tempfile::TempDir, Arc<Engine>) {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let summary = engine.reconcile(&|_| {}).unwrap();
    assert_eq!(summary.notes_failed, 0, "{:?}", summary.failures);
    assert!(summary.notes_indexed >= 15);
    (dir, engine)
}

fn search(engine: &Engine, query: &str, mode: SearchMode) -> Vec<Hit> {
    let res = engine
        .search(&SearchRequest {
            mode,
            ..SearchRequest::new(query)
        })
        .unwrap();
    assert!(res.index_complete);
    res.hits
}

fn paths(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.path.as_str()).collect()
}

/// Words of `text`, lower-cased, without a few function words.
fn content_words(text: &str) -> std::collections::HashSet<String> {
    const STOP: &[&str] = &[
        "a", "after", "an", "and", "are", "at", "be", "by", "do", "for", "from", "how", "i", "in",
        "is", "it", "my", "of", "on", "or", "that", "the", "to", "what", "when", "with",
    ];
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| !w.is_empty() && !STOP.contains(&w.as_str()))
        .collect()
}

fn note_text(path: &str) -> String {
    std::fs::read_to_string(fixture_vault().join(path)).unwrap()
}

#[test]
fn known_answers() {
    let (_dir, engine) = indexed();

    // Paraphrases: no word in common with their note, found by meaning.
    for (query, note) in [
        (
            "what should I do when my homemade bread yeast stops bubbling?",
            "Baking/Sourdough starter.md",
        ),
        ("never lose my photos if the laptop dies", "Tech/Backups.md"),
        (
            "feeling groggy for days once I land in Tokyo",
            "Personal/Jet lag.md",
        ),
    ] {
        let shared: Vec<String> = content_words(query)
            .intersection(&content_words(&note_text(note)))
            .cloned()
            .collect();
        assert!(shared.is_empty(), "{query:?} shares {shared:?} with {note}");
        let dense = search(&engine, query, SearchMode::Dense);
        assert!(
            paths(&dense[..3]).contains(&note),
            "dense {query:?}: {:?}",
            paths(&dense)
        );
        assert_eq!(dense[0].retrievers, [Retriever::Dense]);
        // A stray common word shared with another note must not outvote the meaning.
        let hybrid = search(&engine, query, SearchMode::Hybrid);
        assert_eq!(
            hybrid[0].path,
            note,
            "hybrid {query:?}: {:?}",
            paths(&hybrid)
        );
    }

    // An exact product code: the dense model confuses it with look-alike codes, BM25 does not.
    let meeting = "Work/Team meeting 2024-03-12.md";
    let dense = search(&engine, "XR-7741b", SearchMode::Dense);
    assert!(
        !paths(&dense[..3]).contains(&meeting),
        "dense: {:?}",
        paths(&dense)
    );
    let lexical = search(&engine, "XR-7741b", SearchMode::Lexical);
    assert_eq!(paths(&lexical), [meeting]);
    let hybrid = search(&engine, "XR-7741b", SearchMode::Hybrid);
    assert_eq!(hybrid[0].path, meeting, "hybrid: {:?}", paths(&hybrid));
    let top = &hybrid[0];
    assert_eq!(
        top.heading_path.last().map(String::as_str),
        Some("Action items")
    );
    let text = note_text(meeting);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[top.line - 1..top.end_line]
        .iter()
        .any(|l| l.contains("XR-7741b")));
    assert!(top.snippet.contains("**XR-7741b**"), "{}", top.snippet);
    assert_eq!(top.retrievers, [Retriever::Dense, Retriever::Lexical]);

    // Chinese and Japanese words, and single characters inside a longer run.
    for (query, note) in [
        ("机器学习", "中文/机器学习笔记.md"),
        ("监督", "中文/机器学习笔记.md"),
        ("猫", "中文/宠物.md"),
        ("抹茶", "日本語/京都旅行.md"),
        ("金閣寺", "日本語/京都旅行.md"),
        ("茶", "日本語/京都旅行.md"),
    ] {
        for mode in [SearchMode::Lexical, SearchMode::Hybrid] {
            let hits = search(&engine, query, mode);
            assert_eq!(
                hits.first().map(|h| h.path.as_str()),
                Some(note),
                "{mode} {query}"
            );
        }
    }
}

#[test]
fn filters() {
    let (_dir, engine) = indexed();
    let run = |query: &str, mode: SearchMode, folder: Option<&str>, tag: Option<&str>| {
        let res = engine
            .search(&SearchRequest {
                mode,
                top_k: 20,
                folder: folder.map(str::to_string),
                tag: tag.map(str::to_string),
                fusion: Default::default(),
                ..SearchRequest::new(query)
            })
            .unwrap();
        let mut p: Vec<String> = res.hits.into_iter().map(|h| h.path).collect();
        p.sort();
        p
    };
    for mode in [SearchMode::Hybrid, SearchMode::Dense, SearchMode::Lexical] {
        // Folder: only the notes under Work/ (lexical needs a word they share).
        let q = if mode == SearchMode::Lexical {
            "XR"
        } else {
            "replacement parts"
        };
        let got = run(q, mode, Some("Work"), None);
        assert!(!got.is_empty(), "{mode}");
        assert!(
            got.iter().all(|p| p.starts_with("Work/")),
            "{mode}: {got:?}"
        );
        // Tag: nested tags match their parent, case and `#` do not matter.
        let q = if mode == SearchMode::Lexical {
            "run OR light"
        } else {
            "health"
        };
        let got = run(q, mode, None, Some("#Health"));
        assert_eq!(
            got,
            ["Personal/Jet lag.md", "Personal/Running plan.md"],
            "{mode}"
        );
        let got = run(q, mode, None, Some("health/sleep"));
        assert_eq!(got, ["Personal/Jet lag.md"], "{mode}");
    }
    // A folder that only prefixes a name is not that folder.
    assert!(run("valve", SearchMode::Hybrid, Some("Wor"), None).is_empty());
    // Non-ASCII folders and tags.
    assert_eq!(
        run("猫", SearchMode::Hybrid, Some("中文"), Some("生活")),
        ["中文/宠物.md"]
    );
}

fn similar(engine: &Engine, path: &str, exclude_linked: bool) -> Vec<Hit> {
    engine
        .similar(&SimilarRequest {
            path: NotePath::new(path).unwrap(),
            top_k: 10,
            exclude_linked,
        })
        .unwrap()
        .hits
}

#[test]
fn similar_notes_are_related_stable_and_never_the_note_itself() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine.reconcile(&|_| {}).unwrap();
    let notes = [
        "Baking/Sourdough starter.md",
        "Baking/Weekend bake plan.md",
        "Personal/Jet lag.md",
        "Work/Team meeting 2024-03-12.md",
        "中文/宠物.md",
    ];
    let before: Vec<Vec<Hit>> = notes.iter().map(|n| similar(&engine, n, false)).collect();
    for (note, hits) in notes.iter().zip(&before) {
        assert_eq!(hits.len(), 10, "{note}");
        assert!(hits.iter().all(|h| h.path != *note), "{note}");
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score), "{note}");
    }
    assert_eq!(before[0][0].path, "Baking/Weekend bake plan.md");
    assert_eq!(before[1][0].path, "Baking/Sourdough starter.md");
    assert_eq!(before[2][0].path, "Travel/Packing list.md");
    // The bake plan links to the starter: excluded on request.
    let unlinked = similar(&engine, "Baking/Weekend bake plan.md", true);
    assert!(unlinked
        .iter()
        .all(|h| h.path != "Baking/Sourdough starter.md"));
    assert_eq!(paths(&unlinked[..9]), paths(&before[1][1..10]));

    // A restart (closing and re-opening the index) changes nothing.
    engine.shutdown();
    drop(engine);
    let engine = open(dir.path());
    let summary = engine.reconcile(&|_| {}).unwrap();
    assert_eq!(summary.chunks_embedded, 0);
    let after: Vec<Vec<Hit>> = notes.iter().map(|n| similar(&engine, n, false)).collect();
    assert_eq!(before, after);
}
