//! The session's weight layout with the real MiniLM model: lean at rest, prepacked during bulk
//! document work, lean again after a quiet spell, and the same vectors in every layout. Its own
//! test binary: it shortens the quiet spell through the environment.

mod common;

use std::time::{Duration, Instant};

use common::{cosine, minilm_spec, reference, untitled};
use vault_rag_embed::{Embedder, OnnxEmbedder};

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bulk_work_runs_prepacked_and_rest_runs_lean_with_the_same_vectors() {
    // SAFETY: set before any thread of this test binary reads the environment (one test here).
    unsafe { std::env::set_var("VAULT_RAG_LEAN_AFTER_MS", "1500") };
    let e = OnnxEmbedder::load(&minilm_spec()).expect("load MiniLM");
    assert!(!e.weights_prepacked(), "a loaded model starts lean");

    let refs = reference();
    let queries: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let check = |layout: &str| {
        let vectors = e.embed_queries(&queries).unwrap();
        for (r, v) in refs.iter().zip(&vectors) {
            let c = cosine(&r.vector, v);
            assert!(
                c >= 0.9999,
                "{layout}: {}: cosine {c} to the reference",
                r.name
            );
        }
    };
    check("lean");

    // A few notes' worth of documents keeps the lean session.
    let long = refs
        .iter()
        .find(|r| r.name == "long_english")
        .expect("the long reference text")
        .text
        .clone();
    let text: String = long.split(' ').take(150).collect::<Vec<_>>().join(" ");
    let per_text = e.count_tokens(&text);
    assert!(per_text > 150, "{per_text} tokens");
    let docs: Vec<String> = (0..64).map(|i| format!("note {i}: {text}")).collect();
    let as_docs = |texts: &[String]| e.embed_documents(&untitled(texts)).unwrap();
    let few = as_docs(&docs[..4]);
    assert!(
        !e.weights_prepacked(),
        "an edit's worth of documents stays lean"
    );

    // Bulk work (64 × ~200 tokens): the session is rebuilt prepacked along the way.
    let bulk = as_docs(&docs);
    assert!(
        e.weights_prepacked(),
        "bulk work switches to prepacked weights"
    );
    for (i, (a, b)) in few.iter().zip(&bulk).enumerate() {
        let c = cosine(a, b);
        assert!(c >= 0.9999, "document {i}: cosine {c} between layouts");
    }
    check("prepacked");

    // Quiet: back to lean by itself, and still the same vectors.
    wait_for("the session is lean again", || !e.weights_prepacked());
    check("lean again");
    let again = as_docs(&docs[..4]);
    for (i, (a, b)) in few.iter().zip(&again).enumerate() {
        let c = cosine(a, b);
        assert!(c >= 0.9999, "document {i}: cosine {c} after switching back");
    }
}
