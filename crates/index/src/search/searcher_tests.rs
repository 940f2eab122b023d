//! The searcher embeds the query on another thread while it reads the lexical side: it must
//! return what the same steps return one after the other, and report a failed embedding.

use std::sync::Arc;

use vault_rag_core::fake::HashEmbedder;
use vault_rag_core::{
    DocumentText, EmbedError, Embedder, EmbedderFingerprint, SearchMode, SearchRequest,
};

use super::super::testdb::{NoteSpec, TestDb};
use super::super::{search, NoteFilter, SearchContext};
use super::Searcher;
use crate::error::IndexError;

const DIMS: usize = 32;

fn notes() -> Vec<NoteSpec<'static>> {
    let note = NoteSpec::plain;
    vec![
        note(
            "Reactor.md",
            "# Parts\n\nThe XR-7741b pump moves coolant through the reactor.",
        ),
        note(
            "Pumps.md",
            "Pumps move coolant. A pump needs maintenance every month.",
        ),
        note(
            "Garden.md",
            "Tomatoes and basil grow in the garden. The water pump waters it.",
        ),
        note(
            "Bread.md",
            "Sourdough needs a starter, flour, water and patience.",
        ),
    ]
}

/// Documents embed; queries fail, as when the model breaks after the index was built.
struct QueriesFail(HashEmbedder);

impl Embedder for QueriesFail {
    fn fingerprint(&self) -> &EmbedderFingerprint {
        self.0.fingerprint()
    }
    fn count_tokens(&self, text: &str) -> usize {
        self.0.count_tokens(text)
    }
    fn embed_queries(&self, _queries: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Err(EmbedError::Inference {
            message: "the query model broke".into(),
        })
    }
    fn embed_documents(&self, docs: &[DocumentText<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.0.embed_documents(docs)
    }
}

#[test]
fn the_overlapped_search_returns_what_the_sequential_one_returns() {
    let db = TestDb::new();
    let embedder = HashEmbedder::new(DIMS);
    let matrix = db.index_notes(&embedder, &notes());
    let fp = embedder.fingerprint().id();
    let mut expected = Vec::new();
    let requests: Vec<SearchRequest> = [
        ("coolant pump", SearchMode::Hybrid),
        ("coolant pump", SearchMode::Dense),
        ("coolant pump", SearchMode::Lexical),
        ("\"water pump\" garden", SearchMode::Hybrid),
        ("\"zebra crossing\"", SearchMode::Hybrid),
        ("starter flour", SearchMode::Hybrid),
    ]
    .into_iter()
    .map(|(query, mode)| SearchRequest {
        mode,
        ..SearchRequest::new(query)
    })
    .chain([SearchRequest {
        tag: Some("nowhere".into()),
        ..SearchRequest::new("coolant pump")
    }])
    .collect();
    {
        let reader = db.reader();
        let ctx = SearchContext {
            reader: &reader,
            vectors: &matrix,
            fingerprint_id: &fp,
        };
        for req in &requests {
            expected.push(search(&ctx, &embedder, req).unwrap());
        }
    }
    assert!(expected.iter().filter(|hits| !hits.is_empty()).count() >= 4);
    assert!(expected[6].is_empty(), "a tag no note has finds nothing");
    let (_dir, store) = db.into_store();
    let searcher = Searcher::new(store, matrix, Arc::new(embedder));
    for (req, want) in requests.iter().zip(&expected) {
        assert_eq!(&searcher.search(req).unwrap(), want, "{req:?}");
    }
}

#[test]
fn a_failed_query_embedding_is_the_error_and_keyword_search_still_works() {
    let db = TestDb::new();
    let embedder = QueriesFail(HashEmbedder::new(DIMS));
    let matrix = db.index_notes(&embedder, &notes());
    assert!(!matrix.top_k(&[0.1; DIMS], 1, &NoteFilter::All).is_empty());
    let (_dir, store) = db.into_store();
    let searcher = Searcher::new(store, matrix, Arc::new(embedder));
    for mode in [SearchMode::Hybrid, SearchMode::Dense] {
        let err = searcher
            .search(&SearchRequest {
                mode,
                ..SearchRequest::new("coolant pump")
            })
            .unwrap_err();
        assert!(matches!(err, IndexError::Embed { .. }), "{mode}: {err:?}");
        assert!(err.to_string().contains("the query model broke"), "{err}");
    }
    let lexical = searcher
        .search(&SearchRequest {
            mode: SearchMode::Lexical,
            ..SearchRequest::new("coolant pump")
        })
        .unwrap();
    assert!(lexical.iter().any(|h| h.path == "Pumps.md"));
}
