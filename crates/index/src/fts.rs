//! How text becomes FTS5 documents and queries: the same tokenisation for the rows the index
//! writes and the terms a search looks for.
//!
//! FTS5's `unicode61` tokenizer splits on spaces and punctuation, so a run of Chinese or Japanese
//! characters would become one giant token that no query word matches. [`fts_document`] therefore
//! rewrites CJK runs as overlapping character bigrams followed by the single characters before
//! they go into the index, and [`fts_query_terms`] turns a query's CJK runs into the same bigrams
//! (a one-character run into that character), so a one-character query finds its character
//! anywhere in a run.
//!
//! Any user text is a valid query: [`match_expression`] never passes FTS5 syntax through. Two
//! pieces of syntax are the user's own, not FTS5's: text in paired double quotes is one phrase
//! that every result note must hold ([`required_expression`]), and `word*` matches word
//! beginnings. Otherwise words are split at spaces and at punctuation other than connectors
//! (`title:x` gives `title`, `x`); each word becomes one double-quoted FTS5 string (a phrase of the tokens inside, so `XR-7741b`
//! must match `xr` followed by `7741b`), each CJK bigram one quoted term, and the terms are
//! OR-combined. BM25 already ranks chunks holding more (and rarer) terms higher; a strict
//! AND would return nothing for the long natural-language questions people type, and an
//! AND-then-OR fallback (every-term matches first) measured no better on Cranfield: nDCG@10
//! 0.3384 against 0.3373 for OR, the same recall@100 (0.6912), for a second query per search.
//! The BM25 column weights (title 2, headings 1.5, body 1) scored 0.3373 there against 0.3335
//! for equal weights.
//!
//! The full-text table stems English words (FTS5's `porter` tokenizer around `unicode61`), so
//! "indexing" matches "indexed"; [`stem`] gives the same kind of stem in Rust for what FTS5 does not
//! report back: which query terms a chunk holds, and which words a snippet highlights.

use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

/// Most terms a query contributes to the MATCH expression; the rest are ignored so that a pasted
/// page cannot make one search scan the whole index thousands of times.
pub(crate) const MAX_QUERY_TERMS: usize = 64;

static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// The stem of a lower-cased word, as far as matching needs it: English words lose their
/// inflection (`indexing` → `index`); anything with a character outside ASCII letters (codes,
/// numbers, other scripts) stays as it is, as FTS5's `porter` leaves such tokens too. Snowball's
/// English stemmer differs from FTS5's Porter stemmer on a few rare words; both sides of every
/// comparison here use this one, so a mismatch only costs a highlight.
pub(crate) fn stem(word: &str) -> String {
    if word.len() < 3 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return word.to_string();
    }
    ENGLISH.stem(word).into_owned()
}

/// Whether `c` belongs to a script written without spaces between words.
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF     // Hiragana, Katakana
        | 0x3400..=0x4DBF   // CJK Extension A
        | 0x4E00..=0x9FFF   // CJK Unified Ideographs
        | 0xAC00..=0xD7AF   // Hangul syllables
        | 0xF900..=0xFAFF   // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F // CJK Extensions B..F, Compatibility Supplement
    )
}

/// The text that goes into an FTS5 column: unchanged, except that each CJK run becomes its
/// space-separated bigrams followed by its single characters (the bigrams stay adjacent, so a
/// phrase of bigrams still matches; the characters let a one-character query match anywhere).
pub(crate) fn fts_document(text: &str) -> String {
    cjk_as_grams(text, true)
}

/// `text` with each CJK run replaced by its bigrams (then, with `unigrams`, its characters).
fn cjk_as_grams(text: &str, unigrams: bool) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut run: Vec<char> = Vec::new();
    for c in text.chars() {
        if is_cjk(c) {
            run.push(c);
        } else {
            flush_cjk_run(&mut run, &mut out, unigrams);
            out.push(c);
        }
    }
    flush_cjk_run(&mut run, &mut out, unigrams);
    out
}

fn flush_cjk_run(run: &mut Vec<char>, out: &mut String, unigrams: bool) {
    if run.is_empty() {
        return;
    }
    out.push(' ');
    for gram in cjk_grams(run, unigrams) {
        out.push_str(&gram);
        out.push(' ');
    }
    run.clear();
}

/// Bigrams of a CJK run (a one-character run is its own gram), then, with `unigrams`, every
/// character of a longer run.
fn cjk_grams(run: &[char], unigrams: bool) -> Vec<String> {
    if run.len() == 1 {
        return vec![run[0].to_string()];
    }
    let mut grams: Vec<String> = run.windows(2).map(|p| p.iter().collect()).collect();
    if unigrams {
        grams.extend(run.iter().map(|c| c.to_string()));
    }
    grams
}

/// One searchable unit of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QueryTerm {
    /// A run of non-CJK text, searched as an FTS5 phrase of its tokens (`XR-7741b`, `don't`).
    Phrase(String),
    /// A CJK bigram, or a single CJK character.
    Cjk(String),
    /// Text the user put in double quotes: an FTS5 phrase (CJK runs as bigrams) that every
    /// result must hold, stop words included.
    Quoted(String),
    /// A word typed with a trailing `*` (`migrat*`): any word starting with it.
    Prefix(String),
}

impl QueryTerm {
    pub(crate) fn text(&self) -> &str {
        match self {
            Self::Phrase(s) | Self::Cjk(s) | Self::Quoted(s) | Self::Prefix(s) => s,
        }
    }

    /// What makes two terms the same: `"word"`, `word*` and `word` are three different terms.
    fn key(&self) -> String {
        let tag = match self {
            Self::Phrase(_) | Self::Cjk(_) => "",
            Self::Quoted(_) => "\"",
            Self::Prefix(_) => "*",
        };
        format!("{tag}{}", self.text().to_lowercase())
    }
}

/// English function words. Dropped from a query that has other words (BM25 alone gained 1.2
/// points of nDCG@10 on Cranfield, hybrid search was unchanged), so that "what should I do when
/// …" does not match every note containing "should"; kept when they are all there is.
pub(crate) const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "all", "am", "an", "and", "any", "are", "as", "at",
    "be", "been", "before", "being", "between", "both", "but", "by", "can", "could", "did", "do",
    "does", "doing", "during", "each", "few", "for", "from", "further", "had", "has", "have",
    "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is",
    "it", "its", "just", "me", "more", "most", "my", "no", "nor", "not", "now", "of", "off", "on",
    "once", "only", "or", "other", "our", "out", "over", "own", "same", "she", "should", "so",
    "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were",
    "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would",
    "you", "your",
];

/// Whether `word` (any case) is in [`STOP_WORDS`].
pub(crate) fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word.to_lowercase().as_str())
}

/// The terms of a user query, in order, without duplicates (compared case-insensitively) and
/// without [`STOP_WORDS`] unless nothing else is left, at most [`MAX_QUERY_TERMS`]. Text between
/// a pair of double quotes (`"…"`, `“…”`, `„…“`) is one [`QueryTerm::Quoted`] phrase; a word
/// followed by `*` is a [`QueryTerm::Prefix`]. Text without letters or digits (`*`, `"`, `(((`)
/// contributes nothing, and an unpaired quote is only a separator.
pub(crate) fn fts_query_terms(query: &str) -> Vec<QueryTerm> {
    let mut terms: Vec<QueryTerm> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut push = |t: QueryTerm| {
        if seen.insert(t.key()) {
            terms.push(t);
        }
    };
    for (text, quoted) in split_quoted(query) {
        if quoted {
            push(QueryTerm::Quoted(quoted_phrase(text)));
        } else {
            free_terms(text, &mut push);
        }
    }
    let stop = |t: &QueryTerm| matches!(t, QueryTerm::Phrase(p) if is_stop_word(p));
    if terms.iter().any(|t| !stop(t)) {
        terms.retain(|t| !stop(t));
    }
    terms.truncate(MAX_QUERY_TERMS);
    terms
}

/// The query cut into free text and quoted text (`true`), in order. A quote opens a phrase only
/// when a closing quote follows and something searchable lies between them.
fn split_quoted(query: &str) -> Vec<(&str, bool)> {
    const OPEN: &[char] = &['"', '“', '„'];
    const CLOSE: &[char] = &['"', '”', '“'];
    let mut out = Vec::new();
    let mut free_from = 0;
    let mut i = 0;
    while let Some(off) = query[i..].find(OPEN) {
        let open = i + off;
        let inner = open + query[open..].chars().next().map_or(1, char::len_utf8);
        let Some(len) = query[inner..].find(CLOSE) else {
            break;
        };
        let text = &query[inner..inner + len];
        let close_len = query[inner + len..]
            .chars()
            .next()
            .map_or(1, char::len_utf8);
        if text.chars().any(char::is_alphanumeric) {
            out.push((&query[free_from..open], false));
            out.push((text.trim(), true));
            i = inner + len + close_len;
            free_from = i;
        } else {
            i = inner;
        }
    }
    out.push((&query[free_from..], false));
    out
}

/// A quoted phrase as the index spells it: CJK runs become their bigrams (no single characters,
/// so the phrase's grams stay adjacent, as in [`fts_document`]).
fn quoted_phrase(text: &str) -> String {
    cjk_as_grams(text, false)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The terms of unquoted text: words split at spaces and breaking punctuation, CJK runs as
/// bigrams, a word directly followed by `*` as a prefix.
fn free_terms(text: &str, push: &mut dyn FnMut(QueryTerm)) {
    let separates = |c: char| c.is_whitespace() || c.is_control() || breaks_word(c);
    for piece in text.split_inclusive(separates) {
        let (word, starred) = match piece.strip_suffix('*') {
            Some(w) => (w, true),
            None => (piece.trim_end_matches(separates), false),
        };
        if starred
            && word.chars().count() >= MIN_PREFIX_CHARS
            && word.chars().all(|c| c.is_alphanumeric() && !is_cjk(c))
        {
            push(QueryTerm::Prefix(word.to_lowercase()));
            continue;
        }
        let mut latin = String::new();
        let mut run: Vec<char> = Vec::new();
        for c in word.chars() {
            if is_cjk(c) {
                flush_phrase(&mut latin, push);
                run.push(c);
            } else {
                for g in cjk_grams(&run, false) {
                    push(QueryTerm::Cjk(g));
                }
                run.clear();
                latin.push(c);
            }
        }
        flush_phrase(&mut latin, push);
        for g in cjk_grams(&run, false) {
            push(QueryTerm::Cjk(g));
        }
    }
}

/// Shortest prefix a `*` applies to: one letter would match a large part of the vocabulary.
const MIN_PREFIX_CHARS: usize = 2;

/// Punctuation that separates query words: FTS5 syntax (`:`, `(`, `"`, `*`, `^`) and the like.
/// Connectors that hold names and codes together (`XR-7741b`, `v1.2`, `snake_case`, `don't`,
/// `a/b`) do not; a word with them is searched as a phrase.
fn breaks_word(c: char) -> bool {
    const CONNECTORS: &[char] = &['-', '.', '_', '/', '\'', '’', '+', '#', '@', '&'];
    (c.is_ascii_punctuation() && !CONNECTORS.contains(&c))
        || matches!(c, '“' | '”' | '«' | '»' | '„' | '‘' | '…' | '–' | '—')
}

fn flush_phrase(latin: &mut String, push: &mut dyn FnMut(QueryTerm)) {
    if latin.chars().any(char::is_alphanumeric) {
        push(QueryTerm::Phrase(std::mem::take(latin)));
    }
    latin.clear();
}

/// The FTS5 MATCH expression for `terms`: each quoted (quotes doubled), OR-combined. `None` when
/// there is nothing to search for. Quoted phrases are OR-ed like the rest: that every result
/// holds them is a note filter ([`required_expression`]), so a note's best chunk may be another.
pub(crate) fn match_expression(terms: &[QueryTerm]) -> Option<String> {
    if terms.is_empty() {
        return None;
    }
    Some(match_parts(terms).join(" OR "))
}

/// The OR-ed parts of [`match_expression`], one per FTS5 phrase: a term, or each cut-short form
/// of a typed prefix (each is its own term to BM25).
pub(crate) fn match_parts(terms: &[QueryTerm]) -> Vec<String> {
    terms
        .iter()
        .flat_map(|t| match t {
            QueryTerm::Prefix(p) => prefix_stems(p)
                .iter()
                .map(|v| format!("{}*", fts_string(v)))
                .collect::<Vec<_>>(),
            _ => vec![fts_string(t.text())],
        })
        .collect()
}

/// The FTS5 expression every result note must match (its quoted phrases, AND-combined), if the
/// query has any.
pub(crate) fn required_expression(terms: &[QueryTerm]) -> Option<String> {
    let quoted: Vec<String> = terms
        .iter()
        .filter(|t| matches!(t, QueryTerm::Quoted(_)))
        .map(|t| fts_string(t.text()))
        .collect();
    (!quoted.is_empty()).then(|| quoted.join(" AND "))
}

/// Whether a search for `terms` must check its lexical matches against the words themselves:
/// a prefix is also searched cut short (see [`prefix_stems`]), which can over-match.
pub(crate) fn has_prefix(terms: &[QueryTerm]) -> bool {
    terms.iter().any(|t| matches!(t, QueryTerm::Prefix(_)))
}

/// The prefixes searched for a typed prefix. The index holds stems, and a prefix typed past a
/// word's stem finds nothing (`migrati*`: "migration" is stored as `migrat`), so an English
/// prefix is also searched without its last one and two letters (at least four kept); matches
/// are then checked against the words as written.
fn prefix_stems(prefix: &str) -> Vec<String> {
    let p = prefix.to_lowercase();
    let mut out = vec![p.clone()];
    if p.bytes().all(|b| b.is_ascii_lowercase()) {
        for cut in 1..=2 {
            if p.len() >= 4 + cut {
                out.push(p[..p.len() - cut].to_string());
            }
        }
    }
    out
}

/// `text` as one FTS5 string (a phrase of its tokens): double-quoted, inner quotes doubled.
fn fts_string(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_english_words_only() {
        assert_eq!(stem("indexing"), "index");
        assert_eq!(stem("indexed"), "index");
        assert_eq!(stem("notes"), "note");
        assert_eq!(stem("7741b"), "7741b");
        assert_eq!(stem("xr"), "xr");
        assert_eq!(stem("größe"), "größe");
    }

    #[test]
    fn latin_text_unchanged() {
        assert_eq!(fts_document("Hello, world"), "Hello, world");
    }

    #[test]
    fn cjk_becomes_bigrams_then_characters() {
        let d = fts_document("学习机器学习");
        let toks: Vec<&str> = d.split_whitespace().collect();
        assert_eq!(
            toks,
            [
                "学习", "习机", "机器", "器学", "学习", "学", "习", "机", "器", "学", "习"
            ]
        );
        assert_eq!(
            fts_document("a猫b").split_whitespace().collect::<Vec<_>>(),
            ["a", "猫", "b"]
        );
    }
}
