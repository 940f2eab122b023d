//! Searching the index: requests, validation, the dense / lexical / hybrid pipeline, and the hits
//! it returns (one per note, represented by its best chunk).
//!
//! Pipeline of a search:
//! 1. validate the request ([`validate`]) and embed the query on another thread, the slowest
//!    step, while step 2 and the lexical half of step 3 run ([`keywords`]); the matrix is locked
//!    only once the vector is there;
//! 2. turn folder and tag filters, and the query's quoted phrases (notes that hold them), into a
//!    set of allowed notes, applied inside both retrievers so that filtered searches still return
//!    `top_k` notes;
//! 3. dense: scan the compact [`VectorMatrix`] for a shortlist of `max(4 × top_k, 50)` chunks
//!    (8 × that for binary codes), re-score them exactly from the f16 vectors in SQLite;
//!    lexical: FTS5 BM25 ([`crate::lexical`]);
//! 4. hybrid: convex fusion at note level ([`fusion::convex`]: a weighted sum of the two
//!    normalised scores), or reciprocal-rank fusion ([`fusion::fuse`], each dense hit weighted by
//!    its similarity relative to the best one, each lexical hit by the share of query terms its
//!    chunk holds) when the request asks for it; single modes group by note;
//! 5. load path, title, heading path, lines and a snippet for the best chunk of each note, and
//!    what each retriever made of it ([`vault_rag_core::Explain`]).

mod codes;
mod filter;
mod fusion;
pub(crate) mod lexical;
mod prune;
mod searcher;
mod similar;
mod snippet;
#[cfg(test)]
pub(crate) mod testdb;
mod typo;
mod vectors;

use std::time::Instant;

use serde::{Deserialize, Serialize};
use vault_rag_core::{
    Embedder, Explain, Fusion, FusionWeights, Hit, Retriever, SearchFilters, SearchMode,
    SearchRequest, SimilarRequest,
};

use crate::error::IndexError;
use crate::store::{MatchTexts, Reader};
use fusion::{
    convex, fuse, group_by_note, sort_notes, NoteResult, RankedList, RRF_K, TITLE_WEIGHT,
};
use lexical::{bm25_top, Bm25Weights};
use snippet::{snippet, Anchor, SnippetTerms};

pub use codes::VectorCodes;
#[cfg(test)]
pub(crate) use filter::NoteSet;
pub(crate) use filter::{tag_matches, NoteFilter};
pub(crate) use fusion::Scored;
pub(crate) use searcher::Searcher;
use similar::similar;
pub use vectors::VectorMatrix;

/// Fewest chunks each retriever contributes before fusion and grouping.
const MIN_CANDIDATES: usize = 50;

/// What a search returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    pub hits: Vec<Hit>,
    /// False while the index is still being built: results may be missing notes.
    pub index_complete: bool,
    /// Share of the indexed chunks that dense search sees (0–1): below 1 while a first pass
    /// embeds what keyword search already covers.
    pub dense_coverage: f64,
    pub took_ms: f64,
}

/// What a search reads: the index (through a store reader), the in-memory vectors of the active
/// embedder and its fingerprint id (the key of its stored vectors).
#[derive(Clone, Copy)]
pub(crate) struct SearchContext<'a> {
    pub reader: &'a Reader<'a>,
    pub vectors: &'a VectorMatrix,
    pub fingerprint_id: &'a str,
}

/// A validated search.
#[derive(Debug, Clone)]
pub(crate) struct PreparedSearch {
    request: SearchRequest,
    weights: FusionWeights,
    tag: Option<String>,
    folder: Option<String>,
}

/// Validates `req`; its query vector is left for the caller to add ([`PreparedSearch::needs_vector`]).
pub(crate) fn validate(
    embedder: &dyn Embedder,
    req: &SearchRequest,
) -> Result<PreparedSearch, IndexError> {
    let SearchFilters { folder, tag } = req.validate()?;
    Ok(PreparedSearch {
        request: req.clone(),
        weights: embedder.fusion_weights(),
        tag,
        folder,
    })
}

impl PreparedSearch {
    /// Whether the mode needs the query's vector (dense and hybrid).
    pub(crate) fn needs_vector(&self) -> bool {
        self.request.mode != SearchMode::Lexical
    }
}

/// What a search takes from the index before it needs the query vector: the query without its
/// quoted phrases, the notes it may return, and the lexical list. Built while the query is
/// embedded ([`Searcher::search`]): neither waits for the other.
pub(crate) struct Keywords<'q> {
    query: std::borrow::Cow<'q, str>,
    filter: NoteFilter,
    /// The filter allows no note: the search has no hits.
    none: bool,
    lexical: Vec<Scored>,
    started: Instant,
    lexical_ms: f64,
}

/// Chunks each retriever contributes before fusion and grouping.
fn depth(req: &SearchRequest) -> usize {
    (req.top_k * 4).max(MIN_CANDIDATES)
}

/// The filters and the lexical list of `p` (see [`Keywords`]).
pub(crate) fn keywords<'q>(
    reader: &Reader<'_>,
    p: &'q PreparedSearch,
) -> Result<Keywords<'q>, IndexError> {
    let started = Instant::now();
    let req = &p.request;
    let (query, holding) = filter::phrase_notes(reader, &req.query)?;
    let filter = filter::note_filter(reader, p.folder.as_deref(), p.tag.as_deref(), holding)?;
    let none = matches!(&filter, NoteFilter::Only(set) if set.is_empty());
    let stage = Instant::now();
    let lexical = if none || req.mode == SearchMode::Dense {
        Vec::new()
    } else {
        bm25_top(reader, &query, depth(req), &filter, Bm25Weights::default())?
    };
    Ok(Keywords {
        query,
        filter,
        none,
        lexical,
        started,
        lexical_ms: stage.elapsed().as_secs_f64() * 1e3,
    })
}

/// Validates, embeds and runs `req`, one step after the other.
#[cfg(test)]
pub(crate) fn search(
    ctx: &SearchContext<'_>,
    embedder: &dyn Embedder,
    req: &SearchRequest,
) -> Result<Vec<Hit>, IndexError> {
    let prepared = validate(embedder, req)?;
    let vector = prepared
        .needs_vector()
        .then(|| embedder.embed_query(&req.query))
        .transpose()?;
    let keywords = keywords(ctx.reader, &prepared)?;
    finish(ctx, &prepared, keywords, vector.as_deref())
}

/// Completes a search from its [`Keywords`] and query vector: the dense list, fusion, the hits.
pub(crate) fn finish(
    ctx: &SearchContext<'_>,
    p: &PreparedSearch,
    keywords: Keywords<'_>,
    query_vector: Option<&[f32]>,
) -> Result<Vec<Hit>, IndexError> {
    let Keywords {
        query,
        filter,
        none,
        lexical,
        started,
        lexical_ms,
    } = keywords;
    if none {
        return Ok(Vec::new());
    }
    let req = &p.request;
    let depth = depth(req);
    let ms = |since: Instant| since.elapsed().as_secs_f64() * 1e3;
    let stage = Instant::now();
    let dense = match query_vector {
        Some(q) if req.mode != SearchMode::Lexical => dense_top(ctx, q, depth, &filter)?,
        _ => Vec::new(),
    };
    let dense_ms = ms(stage);
    let dense_list = RankedList::new(Retriever::Dense, &dense);
    let lexical_list = RankedList::new(Retriever::Lexical, &lexical);
    let terms = SnippetTerms::from_query(&query);
    let fusion = match (req.mode, req.fusion) {
        (SearchMode::Hybrid, Fusion::Convex) => {
            let (dense_weight, lexical_confidence) =
                convex_weights(ctx.reader, &lexical, &terms, p.weights)?;
            Some(Blend::Convex {
                dense_weight,
                lexical_confidence,
            })
        }
        (SearchMode::Hybrid, Fusion::Rrf) => Some(Blend::Rrf),
        _ => None,
    };
    let mut notes = match fusion {
        None if req.mode == SearchMode::Dense => group_by_note(dense_list),
        None => group_by_note(lexical_list),
        Some(Blend::Convex {
            dense_weight,
            lexical_confidence,
        }) => {
            let mut notes = convex(&dense, &lexical, dense_weight, lexical_confidence, depth);
            boost_titles(ctx.reader, &mut notes, &terms, TITLE_WEIGHT)?;
            notes
        }
        Some(Blend::Rrf) => {
            let similarity = relative_similarity(&dense);
            let coverage = lexical_coverage(ctx.reader, &lexical, &terms)?;
            fuse(
                &[
                    RankedList {
                        weights: &similarity,
                        ..dense_list
                    },
                    RankedList {
                        weights: &coverage,
                        ..lexical_list
                    },
                ],
                RRF_K,
            )
        }
    };
    if req.mode == SearchMode::Lexical {
        // BM25 is unbounded: shown relative to the best hit, so that 1 is the best match.
        let top = notes.first().map_or(1.0, |n| n.score).max(f32::EPSILON);
        for n in &mut notes {
            n.score /= top;
        }
    }
    notes.truncate(req.top_k);

    let stage = Instant::now();
    let hits = notes
        .iter()
        .map(|n| {
            let anchor = if n.retrievers.contains(&Retriever::Lexical) {
                Anchor::BestMatch
            } else {
                Anchor::Start
            };
            let hit = load_hit(ctx.reader, n, &terms, anchor)?;
            hit.map(|h| explain(ctx.reader, h, n, &terms, fusion))
                .transpose()
        })
        .collect::<Result<Vec<_>, _>>()?;
    tracing::debug!(
        mode = %req.mode,
        dense = dense.len(),
        lexical = lexical.len(),
        hits = hits.len(),
        dense_ms,
        lexical_ms,
        hits_ms = ms(stage),
        took_ms = ms(started),
        "search"
    );
    Ok(hits.into_iter().flatten().collect())
}

/// How a hybrid search merged its lists, as reported in [`Explain`].
#[derive(Debug, Clone, Copy)]
enum Blend {
    Convex {
        dense_weight: f32,
        lexical_confidence: f32,
    },
    Rrf,
}

/// The dense side's weight in convex fusion for this query, and the lexical list's confidence: the
/// share of the query's terms its best chunk holds. When that chunk holds every term (the query
/// names something the vault spells out, such as a part number or a title, and keyword evidence
/// is the surer guide) the model's exact-match weight applies, else its usual one.
fn convex_weights(
    reader: &Reader<'_>,
    lexical: &[Scored],
    terms: &SnippetTerms,
    weights: FusionWeights,
) -> Result<(f32, f32), IndexError> {
    if terms.is_empty() || lexical.is_empty() {
        return Ok((weights.dense, 1.0));
    }
    let best = lexical_coverage(reader, &lexical[..1], terms)?;
    Ok(match best.first() {
        Some(c) if *c >= 1.0 => (weights.exact_dense, 1.0),
        Some(c) => (weights.dense, *c),
        None => (weights.dense, 1.0),
    })
}

/// Adds to `hit` why it ranked: each list's rank and score, the query terms its chunk holds, and
/// how the lists were merged.
fn explain(
    reader: &Reader<'_>,
    mut hit: Hit,
    note: &NoteResult,
    terms: &SnippetTerms,
    fusion: Option<Blend>,
) -> Result<Hit, IndexError> {
    let texts = reader.match_texts(note.chunk_id)?;
    let (matched_terms, title_match) = texts.map_or((Vec::new(), None), |t| {
        let matched = with_fields(&t, |fields| terms.matched(fields));
        let title =
            (!terms.is_empty()).then(|| terms.title_match(&[&t.title, &t.aliases.join(" ")]));
        (matched, title)
    });
    let (dense_weight, lexical_weight, title_weight) = match fusion {
        Some(Blend::Convex {
            dense_weight,
            lexical_confidence,
        }) => (
            Some(dense_weight),
            Some((1.0 - dense_weight) * lexical_confidence),
            Some(TITLE_WEIGHT),
        ),
        _ => (None, None, None),
    };
    hit.explain = Explain {
        dense_rank: note.dense.map(|e| e.rank),
        dense_similarity: note.dense.map(|e| e.score),
        lexical_rank: note.lexical.map(|e| e.rank),
        lexical_score: note.lexical.map(|e| e.score),
        matched_terms,
        title_match,
        fusion: fusion.map(|b| match b {
            Blend::Convex { .. } => Fusion::Convex,
            Blend::Rrf => Fusion::Rrf,
        }),
        dense_weight,
        lexical_weight,
        title_weight,
    };
    Ok(hit)
}

/// Adds `weight ×` the title match of each note (the share of the query's terms in its title or
/// aliases, typos of a word forgiven: [`SnippetTerms::title_match`]) to its score, rescaled by `1 + weight` so that scores stay within 0–1, and re-sorts.
fn boost_titles(
    reader: &Reader<'_>,
    notes: &mut [NoteResult],
    terms: &SnippetTerms,
    weight: f32,
) -> Result<(), IndexError> {
    if terms.is_empty() || weight <= 0.0 {
        return Ok(());
    }
    for note in notes.iter_mut() {
        let title = reader.match_texts(note.chunk_id)?.map_or(0.0, |t| {
            terms.title_match(&[&t.title, &t.aliases.join(" ")])
        });
        note.score = (note.score + weight * title) / (1.0 + weight);
    }
    sort_notes(notes);
    Ok(())
}

/// For each dense hit (best first), its similarity relative to the best one: the weight of its
/// vote in fusion, so that a distant second does not count nearly as much as a clear first.
fn relative_similarity(hits: &[Scored]) -> Vec<f32> {
    let top = hits.first().map_or(1.0, |h| h.score);
    if top <= 0.0 {
        return vec![1.0; hits.len()];
    }
    hits.iter()
        .map(|h| (h.score / top).clamp(0.0, 1.0))
        .collect()
}

/// For each lexical hit, the share of the query's terms its chunk holds (title, aliases, headings,
/// text): the weight of its vote in fusion. A chunk that BM25 ranked first for one common word
/// of a long question then counts for little, one holding the whole name or code fully.
fn lexical_coverage(
    reader: &Reader<'_>,
    hits: &[Scored],
    terms: &SnippetTerms,
) -> Result<Vec<f32>, IndexError> {
    hits.iter()
        .map(|hit| {
            Ok(reader
                .match_texts(hit.chunk_id)?
                .map_or(0.0, |t| with_fields(&t, |fields| terms.coverage(fields))))
        })
        .collect()
}

/// Calls `f` with the fields of a chunk that BM25 reads: title, aliases, headings, text.
pub(crate) fn with_fields<R>(t: &MatchTexts, f: impl FnOnce(&[&str]) -> R) -> R {
    let (aliases, headings) = (t.aliases.join(" "), t.heading_path.join(" "));
    f(&[&t.title, &aliases, &headings, &t.text])
}

/// The `depth` chunks nearest to `query`: a scan of the compact codes shortlists candidates,
/// f16 vectors from SQLite re-score them exactly.
pub(crate) fn dense_top(
    ctx: &SearchContext<'_>,
    query: &[f32],
    depth: usize,
    filter: &NoteFilter,
) -> Result<Vec<Scored>, IndexError> {
    let candidates = ctx
        .vectors
        .top_k(query, ctx.vectors.shortlist(depth), filter);
    let mut scored = rescore_max(ctx.reader, ctx.fingerprint_id, &[query], candidates)?;
    scored.truncate(depth);
    Ok(scored)
}

/// Replaces approximate scores by exact dot products with the stored f16 vectors, best first,
/// a candidate scoring its best similarity to any of `queries`. Candidates whose vector has gone
/// (deleted since the scan) are dropped.
pub(crate) fn rescore_max(
    reader: &Reader<'_>,
    fingerprint_id: &str,
    queries: &[&[f32]],
    candidates: Vec<Scored>,
) -> Result<Vec<Scored>, IndexError> {
    let Some(dims) = queries.first().map(|q| q.len()) else {
        return Ok(Vec::new());
    };
    let mut buf = vec![0f32; dims];
    let mut out = Vec::with_capacity(candidates.len());
    for mut cand in candidates {
        if !reader.chunk_vector(cand.chunk_id, fingerprint_id, &mut buf)? {
            continue;
        }
        cand.score = queries
            .iter()
            .map(|q| buf.iter().zip(*q).map(|(a, b)| a * b).sum::<f32>())
            .fold(f32::NEG_INFINITY, f32::max);
        out.push(cand);
    }
    out.sort_by(Scored::rank_cmp);
    Ok(out)
}

/// Builds the hit of a note from its chosen chunk. `None` when the chunk vanished meanwhile.
pub(crate) fn load_hit(
    reader: &Reader<'_>,
    note: &NoteResult,
    terms: &SnippetTerms,
    anchor: Anchor,
) -> Result<Option<Hit>, IndexError> {
    Ok(reader.hit_row(note.chunk_id)?.map(|row| Hit {
        snippet: snippet(&row.text, terms, anchor),
        path: row.path,
        title: row.title,
        heading_path: row.heading_path,
        line: row.start_line,
        end_line: row.end_line,
        block_id: row.block_id,
        score: note.score,
        retrievers: note.retrievers.clone(),
        explain: Explain::default(),
    }))
}

#[cfg(test)]
mod real_vectors_tests;
#[cfg(test)]
mod syntax_tests;
#[cfg(test)]
#[path = "tests.rs"]
mod tests;
