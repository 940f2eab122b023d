//! Embedding what a lexical-first pass (or a model change) left without vectors: the notes the
//! user has open first, then the most recently modified, in committed groups.

use std::sync::atomic::Ordering::Relaxed;

use super::{Indexer, ProgressFn};
use crate::error::IndexError;
use crate::progress::{IndexState, IndexSummary};
use crate::store::embeddings;

/// Groups grow from 32 to 256 texts: the first vectors are searchable within seconds, later
/// commits are few.
const FIRST_GROUP: usize = 32;
const GROUP: usize = 256;

impl Indexer {
    /// Embeds chunk texts that have no vector of the active embedder, in committed groups, then
    /// makes them searchable. Before each group, the notes the user opened since the last one
    /// go first; then the most recently modified notes: they are the likeliest to be looked
    /// for, and each note's chunks go together so that it is whole as soon as possible.
    pub(super) fn fill_missing(
        &self,
        summary: &mut IndexSummary,
        report: ProgressFn<'_>,
    ) -> Result<(), IndexError> {
        let fingerprint = self.searcher.fingerprint_id();
        let order = embeddings::missing_by_recency(&self.searcher.store().reader()?, fingerprint)?;
        if order.is_empty() {
            return Ok(());
        }
        tracing::info!(
            chunks = order.len(),
            "embedding chunks that have no vector of this embedder, newest notes first"
        );
        self.counters
            .vectors_missing
            .store(order.len() as u64, Relaxed);
        self.counters.set_state(IndexState::Indexing);
        self.bulk_work();
        let mut start = 0;
        let mut size = FIRST_GROUP;
        while start < order.len() {
            if !self.fill_focused(summary, report)? {
                summary.interrupted = true;
                break;
            }
            let group = &order[start..(start + size).min(order.len())];
            start += group.len();
            size = (size * 2).min(GROUP);
            // Hashes embedded meanwhile (a focused note, a live change) are left out here.
            let rows =
                embeddings::missing_chunks(&self.searcher.store().reader()?, fingerprint, group)?;
            if rows.is_empty() {
                continue;
            }
            if !self.fill_group(&rows, summary, report)? {
                summary.interrupted = true;
                break;
            }
        }
        Ok(())
    }

    /// Embeds the missing chunks of the notes opened since the last group; false if stopped.
    fn fill_focused(
        &self,
        summary: &mut IndexSummary,
        report: ProgressFn<'_>,
    ) -> Result<bool, IndexError> {
        let open = self.control.take_focus();
        if open.is_empty() {
            return Ok(true);
        }
        let fingerprint = self.searcher.fingerprint_id();
        let rows = {
            let reader = self.searcher.store().reader()?;
            let hashes = embeddings::missing_in_notes(&reader, fingerprint, &open)?;
            embeddings::missing_chunks(&reader, fingerprint, &hashes)?
        };
        if rows.is_empty() {
            return Ok(true);
        }
        tracing::debug!(
            notes = open.len(),
            chunks = rows.len(),
            "embedding open notes first"
        );
        self.fill_group(&rows, summary, report)
    }
}
