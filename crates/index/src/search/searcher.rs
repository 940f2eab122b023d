//! The read side of an open index: the store's readers and the in-memory matrix of the active
//! embedder. The indexer keeps both current; searches only read them, never wait for a pass.

use std::sync::Arc;

use parking_lot::RwLock;
use vault_rag_core::{EmbedError, Embedder, Hit, SearchRequest, SimilarRequest};

use super::{finish, keywords, similar, validate, SearchContext, VectorMatrix};
use crate::error::IndexError;
use crate::list::{list, ListRequest, NoteList};
use crate::store::Store;

pub(crate) struct Searcher {
    store: Store,
    matrix: RwLock<VectorMatrix>,
    embedder: Arc<dyn Embedder>,
    fingerprint_id: String,
}

impl Searcher {
    pub(crate) fn new(store: Store, matrix: VectorMatrix, embedder: Arc<dyn Embedder>) -> Self {
        Self {
            fingerprint_id: embedder.fingerprint().id(),
            store,
            matrix: RwLock::new(matrix),
            embedder,
        }
    }

    /// The index file (the indexer writes through it).
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// The in-memory vectors (the indexer updates them after each commit).
    pub(crate) fn matrix(&self) -> &RwLock<VectorMatrix> {
        &self.matrix
    }

    pub(crate) fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The key of the active embedder's vectors in the store.
    pub(crate) fn fingerprint_id(&self) -> &str {
        &self.fingerprint_id
    }

    /// Validates and runs a search. The query is embedded on another thread while this one
    /// reads the filters and the lexical list, so a hybrid search waits for the slower of the
    /// two rather than their sum; the matrix is locked only once the vector is there.
    pub(crate) fn search(&self, req: &SearchRequest) -> Result<Vec<Hit>, IndexError> {
        let prepared = validate(self.embedder.as_ref(), req)?;
        let reader = self.store.reader()?;
        let embed = || self.embedder.embed_query(&req.query);
        let (keywords, vector) = std::thread::scope(|scope| {
            let embedding = prepared.needs_vector().then(|| {
                std::thread::Builder::new()
                    .name("query-embed".into())
                    .spawn_scoped(scope, embed)
            });
            let keywords = keywords(&reader, &prepared);
            let vector = embedding.map(|spawned| match spawned {
                Ok(handle) => handle.join().unwrap_or_else(|_| {
                    Err(EmbedError::Inference {
                        message: "embedding the query panicked".into(),
                    })
                }),
                // No thread to be had: embed here, after the keywords.
                Err(_) => embed(),
            });
            (keywords, vector)
        });
        // A failed embedding is the error to report (the model, not the index).
        let vector = vector.transpose()?;
        let keywords = keywords?;
        let matrix = self.matrix.read();
        finish(
            &self.context(&reader, &matrix),
            &prepared,
            keywords,
            vector.as_deref(),
        )
    }

    /// Notes related to a note.
    pub(crate) fn similar(&self, req: &SimilarRequest) -> Result<Vec<Hit>, IndexError> {
        let reader = self.store.reader()?;
        let matrix = self.matrix.read();
        similar(&self.context(&reader, &matrix), req)
    }

    /// A page of the indexed notes.
    pub(crate) fn list(&self, req: &ListRequest) -> Result<NoteList, IndexError> {
        list(&self.store.reader()?, req)
    }

    fn context<'a>(
        &'a self,
        reader: &'a crate::store::Reader<'a>,
        matrix: &'a VectorMatrix,
    ) -> SearchContext<'a> {
        SearchContext {
            reader,
            vectors: matrix,
            fingerprint_id: &self.fingerprint_id,
        }
    }
}

#[cfg(test)]
#[path = "searcher_tests.rs"]
mod tests;
