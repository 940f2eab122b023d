//! Lexical (BM25) search over the FTS5 table; the documents and query terms come from
//! [`crate::fts`].

use super::filter::NoteFilter;
use super::fusion::Scored;
use super::prune::plan;
use super::snippet::SnippetTerms;
use crate::error::IndexError;
use crate::fts::{fts_query_terms, has_prefix, match_expression, match_parts};
pub(crate) use crate::store::Bm25Weights;
use crate::store::Reader;

/// The `limit` best chunks for `query` by BM25 among the notes `filter` allows, best first, with
/// `score` = −bm25 (higher is better). A query without searchable terms returns nothing. With a
/// typed prefix, a chunk counts only if it holds a query term as written (a prefix is also
/// searched cut short, which can match other words).
pub(crate) fn bm25_top(
    reader: &Reader<'_>,
    query: &str,
    limit: usize,
    filter: &NoteFilter,
    weights: Bm25Weights,
) -> Result<Vec<Scored>, IndexError> {
    ranked_top(reader, query, limit, filter, weights, true)
}

/// [`bm25_top`]; `prune: false` ranks every match with FTS5's `bm25()`, what the shortcuts must
/// equal (for tests).
pub(crate) fn ranked_top(
    reader: &Reader<'_>,
    query: &str,
    limit: usize,
    filter: &NoteFilter,
    weights: Bm25Weights,
    prune: bool,
) -> Result<Vec<Scored>, IndexError> {
    let terms = fts_query_terms(query);
    let Some(expr) = match_expression(&terms) else {
        return Ok(Vec::new());
    };
    let check = has_prefix(&terms).then(|| SnippetTerms::from_query(query));
    if limit == 0 {
        return Ok(Vec::new());
    }
    let ranking = Ranking {
        reader,
        weights,
        limit,
        filter,
        check: check.as_ref(),
    };
    // A typed prefix is searched in several cut-short forms, each its own BM25 term with its own
    // count and bound. The counts and the rankings read one snapshot, so that the scores stay
    // those of the full query while the indexer commits.
    if prune && weights.positive() {
        let counted = reader.snapshot(|| {
            let Some(plan) = plan(reader, &match_parts(&terms))? else {
                return Ok(None);
            };
            if let Some(r) = &plan.restricted {
                match ranking.run(&r.expr, Some(&r.slots)) {
                    Ok(out) if r.holds(out.len(), limit, out.last().map(|s| s.score)) => {
                        return Ok(Some(out));
                    }
                    Ok(_) => tracing::debug!(expr = %r.expr, "restricted ranking fell short; ranking every match"),
                    Err(e) => tracing::debug!(error = %e, "restricted ranking failed; ranking every match"),
                }
            }
            match ranking.run(&expr, Some(&plan.full_slots)) {
                Ok(out) => Ok(Some(out)),
                Err(e) => {
                    tracing::debug!(error = %e, "counted ranking failed; ranking with bm25()");
                    Ok(None)
                }
            }
        })?;
        if let Some(out) = counted {
            return Ok(out);
        }
    }
    ranking.run(&expr, None)
}

/// One BM25 ranking of a search's expression, kept to its filter and its typed prefixes.
struct Ranking<'a> {
    reader: &'a Reader<'a>,
    weights: Bm25Weights,
    limit: usize,
    filter: &'a NoteFilter,
    check: Option<&'a SnippetTerms>,
}

impl Ranking<'_> {
    /// The `limit` best allowed chunks matching `expr`, scored by `bm25()` or, with `counted`,
    /// by that phrase list (see [`crate::store::fts_rank`]).
    fn run(&self, expr: &str, counted: Option<&[u8]>) -> Result<Vec<Scored>, IndexError> {
        // Without a filter SQLite can keep only the best `limit` rows while sorting; with one,
        // rows are streamed in rank order and skipped until `limit` allowed ones are found.
        let sql_limit =
            (matches!(self.filter, NoteFilter::All) && self.check.is_none()).then_some(self.limit);
        let mut out = Vec::with_capacity(self.limit.min(1024));
        let mut failed = None;
        self.reader.bm25(
            expr,
            counted,
            self.weights,
            sql_limit,
            |chunk_id, note_id, score| {
                if !self.filter.allows(note_id) {
                    return true;
                }
                if let Some(terms) = self.check {
                    match holds_term(self.reader, chunk_id, terms) {
                        Ok(true) => {}
                        Ok(false) => return true,
                        Err(e) => {
                            failed = Some(e);
                            return false;
                        }
                    }
                }
                out.push(Scored {
                    chunk_id,
                    note_id,
                    score,
                });
                out.len() < self.limit
            },
        )?;
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

/// Whether the chunk's title, aliases, headings or text hold any of `terms` as written.
fn holds_term(
    reader: &Reader<'_>,
    chunk_id: i64,
    terms: &SnippetTerms,
) -> Result<bool, IndexError> {
    Ok(reader
        .match_texts(chunk_id)?
        .is_some_and(|t| super::with_fields(&t, |fields| terms.coverage(fields)) > 0.0))
}

#[cfg(test)]
#[path = "lexical_tests.rs"]
pub(crate) mod sql_tests;
