//! The embedder with real parts: ONNX Runtime and the all-MiniLM-L6-v2 int8 model, against
//! reference vectors computed by Python ONNX Runtime (`scripts/reference_vectors.py`).

mod common;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::{cosine, minilm_spec, norm, reference, untitled};
use vault_rag_embed::{DocumentText, Embedder, OnnxEmbedder, Precision};

/// One shared embedder: loading the session costs about a second.
fn embedder() -> &'static Arc<OnnxEmbedder> {
    static E: OnceLock<Arc<OnnxEmbedder>> = OnceLock::new();
    E.get_or_init(|| Arc::new(OnnxEmbedder::load(&minilm_spec()).expect("load MiniLM")))
}

#[test]
fn matches_python_reference_for_every_text() {
    let e = embedder();
    let refs = reference();
    assert!(refs.len() >= 20);
    // One call with every text: sorting, batching and padding must not change any vector.
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let vectors = e.embed_queries(&texts).unwrap();
    assert_eq!(vectors.len(), refs.len());
    for (r, v) in refs.iter().zip(&vectors) {
        let c = cosine(&r.vector, v);
        assert!(
            c >= 0.9999,
            "{}: cosine {c} to the Python reference",
            r.name
        );
        assert!((norm(v) - 1.0).abs() < 1e-4, "{}: norm {}", r.name, norm(v));
        assert_eq!(v.len(), 384);
    }
}

#[test]
fn token_ids_match_python_tokenizers() {
    let e = embedder();
    for r in reference() {
        assert_eq!(e.token_ids(&r.text).unwrap(), r.ids, "{}", r.name);
        let count = e.count_tokens(&r.text);
        if r.ids.len() < 256 {
            assert_eq!(count, r.ids.len(), "{}", r.name);
        } else {
            // Counting does not truncate: a chunker must see how long a text really is.
            assert!(count > 256, "{}: {count}", r.name);
        }
    }
}

#[test]
fn batch_of_32_equals_one_at_a_time() {
    let e = embedder();
    let refs = reference();
    let texts: Vec<String> = (0..32)
        .map(|i| format!("{} #{i}", refs[i % refs.len()].text))
        .collect();
    let refs_texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batched = e.embed_queries(&refs_texts).unwrap();
    for (t, b) in refs_texts.iter().zip(&batched) {
        let alone = e.embed_query(t).unwrap();
        let max_diff = alone
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        // Also the order: every position holds its own text's vector.
        assert!(max_diff < 1e-4, "{t:?}: max |diff| {max_diff}");
    }
}

#[test]
fn small_batch_budgets_give_the_same_vectors() {
    let spec = vault_rag_embed::ModelSpec {
        batch_tokens: Some(64),
        ..minilm_spec()
    };
    let small = OnnxEmbedder::load(&spec).unwrap();
    assert_eq!(small.batch_tokens(), 64);
    let refs = reference();
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    for (r, v) in refs.iter().zip(small.embed_queries(&texts).unwrap()) {
        assert!(cosine(&r.vector, &v) >= 0.9999, "{}", r.name);
    }
}

#[test]
fn documents_without_prompts_equal_queries() {
    let e = embedder();
    let docs = [
        DocumentText {
            title: Some("Ignored title"),
            text: "The quick brown fox jumps over the lazy dog.",
        },
        DocumentText {
            title: None,
            text: "",
        },
    ];
    let d = e.embed_documents(&docs).unwrap();
    let q = e.embed_queries(&[docs[0].text, docs[1].text]).unwrap();
    for (a, b) in d.iter().zip(&q) {
        assert!(cosine(a, b) > 0.99999);
    }
    assert!(e.embed_documents(&[]).unwrap().is_empty());
}

#[test]
fn similar_texts_score_higher() {
    let e = embedder();
    let v = e
        .embed_queries(&[
            "How do I back up my notes?",
            "Backing up the vault: copy the folder to another disk every night.",
            "Sourdough needs a starter, flour, water and salt.",
        ])
        .unwrap();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2);
}

#[test]
fn fingerprint_describes_the_vector_space() {
    let fp = embedder().fingerprint().clone();
    assert_eq!(fp.model, "all-minilm-l6-v2");
    assert!(fp.file.starts_with("model.onnx#"), "{}", fp.file);
    assert_eq!(fp.precision, Precision::Int8);
    assert_eq!((fp.dims, fp.max_tokens), (384, 256));
    assert_eq!(fp.pooling, "mean");
    assert!(fp.query_prompt.is_empty() && fp.document_prompt.is_empty());
    assert_eq!(embedder().dim(), 384);
    // Another load of the same files is the same vector space.
    let again = OnnxEmbedder::load(&minilm_spec()).unwrap();
    assert_eq!(again.fingerprint().id(), fp.id());
}

#[test]
fn concurrent_callers_get_their_own_vectors() {
    let e = embedder();
    let refs = Arc::new(reference());
    let handles: Vec<_> = (0..4)
        .map(|k| {
            let (e, refs) = (Arc::clone(e), Arc::clone(&refs));
            std::thread::spawn(move || {
                for _ in 0..2 {
                    let mine: Vec<&common::Reference> = refs.iter().skip(k).step_by(4).collect();
                    let texts: Vec<&str> = mine.iter().map(|r| r.text.as_str()).collect();
                    let docs = untitled(&texts);
                    let vectors = if k % 2 == 0 {
                        e.embed_queries(&texts).unwrap()
                    } else {
                        e.embed_documents(&docs).unwrap()
                    };
                    for (r, v) in mine.iter().zip(vectors) {
                        assert!(cosine(&r.vector, &v) >= 0.9999, "{}", r.name);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn a_query_is_not_queued_behind_a_long_document_run() {
    // One text per batch, so the document run is many batches long.
    let spec = vault_rag_embed::ModelSpec {
        batch_tokens: Some(128),
        ..minilm_spec()
    };
    let e = Arc::new(OnnxEmbedder::load(&spec).unwrap());
    let long = reference()
        .into_iter()
        .find(|r| r.name == "long_english")
        .unwrap()
        .text;
    let text: String = long.split(' ').take(90).collect::<Vec<_>>().join(" ");
    assert!(
        (100..=128).contains(&e.count_tokens(&text)),
        "{}",
        e.count_tokens(&text)
    );
    let texts: Vec<String> = (0..48).map(|i| format!("{i} {text}")).collect();
    let started = Instant::now();
    let docs = {
        let e = Arc::clone(&e);
        std::thread::spawn(move || {
            let docs = untitled(&texts);
            e.embed_documents(&docs).unwrap();
            started.elapsed()
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let asked = Instant::now();
    let q = e.embed_query("a quick question").unwrap();
    let query_took = asked.elapsed();
    assert_eq!(q.len(), 384);
    assert!(
        !docs.is_finished(),
        "the document run ended before the query did; the test needs a longer run"
    );
    let docs_took = docs.join().unwrap();
    assert!(
        query_took * 4 < docs_took,
        "query took {query_took:?} while the document run took {docs_took:?}"
    );
}
