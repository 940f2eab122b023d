//! Lexical (BM25) search over the FTS5 table; the documents and query terms come from
//! [`crate::fts`].

use super::filter::NoteFilter;
use super::fusion::Scored;
use crate::error::IndexError;
use crate::fts::{fts_query_terms, match_expression};
pub(crate) use crate::store::Bm25Weights;
use crate::store::Reader;

/// The `limit` best chunks for `query` by BM25 among the notes `filter` allows, best first, with
/// `score` = −bm25 (higher is better). A query without searchable terms returns nothing.
pub(crate) fn bm25_top(
    reader: &Reader<'_>,
    query: &str,
    limit: usize,
    filter: &NoteFilter,
    weights: Bm25Weights,
) -> Result<Vec<Scored>, IndexError> {
    let Some(expr) = match_expression(&fts_query_terms(query)) else {
        return Ok(Vec::new());
    };
    if limit == 0 {
        return Ok(Vec::new());
    }
    // Without a filter SQLite can keep only the best `limit` rows while sorting; with one, rows
    // are streamed in rank order and skipped until `limit` allowed ones are found.
    let sql_limit = matches!(filter, NoteFilter::All).then_some(limit);
    let mut out = Vec::with_capacity(limit.min(1024));
    reader.bm25(&expr, weights, sql_limit, |chunk_id, note_id, score| {
        if filter.allows(note_id) {
            out.push(Scored {
                chunk_id,
                note_id,
                score,
            });
        }
        out.len() < limit
    })?;
    Ok(out)
}

#[cfg(test)]
#[path = "lexical_tests.rs"]
pub(crate) mod sql_tests;
