//! Snippets: a short excerpt of a chunk around the query terms it contains, with each matched
//! term wrapped in `**`.
//!
//! Matching mirrors the FTS5 tokenizer closely enough for display: words compare after
//! lower-casing, removing diacritics (`remove_diacritics 2`) and stemming ([`crate::fts::stem`]:
//! a search for "indexing" highlights "indexed"), CJK text by the query's bigrams
//! and single characters, multi-word terms (`XR-7741b`) only where their words follow each other,
//! as in an FTS5 phrase. English function words ([`crate::fts::STOP_WORDS`]) are not
//! highlighted, so that "what is the boiling point" marks `boiling` and `point`, not every `the`.

use std::collections::{HashMap, HashSet};

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::fts::{fts_query_terms, is_cjk, stem, QueryTerm};

/// Target snippet length in characters.
pub const SNIPPET_CHARS: usize = 200;
/// Characters of context kept before the first match.
const LEAD_CHARS: usize = 40;
/// How far a cut may move to land on a space instead of inside a word.
const BOUNDARY_SLACK: usize = 20;
/// Where the excerpt is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// Around the densest cluster of matched terms (the chunk start when nothing matches).
    BestMatch,
    /// The start of the chunk (for hits only the dense retriever found).
    Start,
}

/// The query terms a snippet highlights: the same terms the lexical search looks for
/// ([`fts_query_terms`]), so stop words are left out exactly when the search leaves them out.
#[derive(Debug, Clone, Default)]
pub struct SnippetTerms {
    /// Word sequences (folded, stemmed) that must appear as consecutive words: `XR-7741b` is
    /// `[xr, 7741b]`.
    phrases: Vec<Vec<String>>,
    /// CJK bigrams and single characters.
    cjk: HashSet<String>,
    /// Typed prefixes (folded, without the `*`): a word starting with one matches it.
    prefixes: Vec<String>,
    /// Each phrase (stems joined by spaces) as the query spelled it (folded): what a user is shown.
    spelled: HashMap<String, String>,
}

impl SnippetTerms {
    pub fn from_query(query: &str) -> Self {
        let mut terms = Self::default();
        for term in fts_query_terms(query) {
            match term {
                QueryTerm::Cjk(g) => {
                    terms.cjk.insert(g);
                }
                QueryTerm::Prefix(p) => terms.prefixes.push(fold(&p)),
                QueryTerm::Phrase(p) => terms.add_phrase(&p),
                QueryTerm::Quoted(p) => {
                    // CJK inside quotes arrives as bigrams; they are highlighted as grams.
                    for token in p.split_whitespace() {
                        if token.chars().any(is_cjk) {
                            terms
                                .cjk
                                .insert(token.chars().filter(|c| is_cjk(*c)).collect());
                        }
                    }
                    terms.add_phrase(&p);
                }
            }
        }
        // Longer phrases first, so that `XR-7741b` wins over a separate `xr`.
        terms.phrases.sort_by_key(|p| std::cmp::Reverse(p.len()));
        terms
    }

    fn add_phrase(&mut self, phrase: &str) {
        let folded: Vec<String> = phrase
            .split(|c: char| !c.is_alphanumeric() || is_cjk(c))
            .filter(|w| !w.is_empty())
            .map(fold)
            .collect();
        let words: Vec<String> = folded.iter().map(|w| stem(w)).collect();
        if !words.is_empty() && !self.phrases.contains(&words) {
            self.spelled
                .entry(words.join(" "))
                .or_insert_with(|| folded.join(" "));
            self.phrases.push(words);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty() && self.cjk.is_empty() && self.prefixes.is_empty()
    }

    /// Number of distinct terms.
    pub fn len(&self) -> usize {
        self.phrases.len() + self.cjk.len() + self.prefixes.len()
    }

    /// The share of the terms (0 to 1) that occur in any of `texts`: how completely a chunk
    /// matches the query, whatever BM25 made of it.
    pub fn coverage(&self, texts: &[&str]) -> f32 {
        if self.is_empty() {
            return 0.0;
        }
        self.found(texts).len() as f32 / self.len() as f32
    }

    /// How fully the query names a note whose title and aliases are `texts`: the share of the terms
    /// they hold, where a one-word term may also be a typo of one of their words
    /// ([`super::typo::near`]: `git rebse` names "Git Rebase Cheatsheet").
    pub fn title_match(&self, texts: &[&str]) -> f32 {
        if self.is_empty() {
            return 0.0;
        }
        let found = self.found(texts);
        let words: Vec<String> = texts
            .iter()
            .flat_map(|t| t.split(|c: char| !c.is_alphanumeric()))
            .filter(|w| !w.is_empty())
            .map(fold)
            .collect();
        let typos = self
            .phrases
            .iter()
            .filter(|p| p.len() == 1 && !found.contains(&p[0]))
            .filter_map(|p| self.spelled.get(&p[0]))
            .filter(|typed| words.iter().any(|w| super::typo::near(typed, w)))
            .count();
        (found.len() + typos) as f32 / self.len() as f32
    }

    /// The terms that occur in any of `texts`, longer terms first, then in query order (words as
    /// the query spelled them, folded, joined by spaces for a multi-word term; CJK grams as they are).
    pub fn matched(&self, texts: &[&str]) -> Vec<String> {
        let found = self.found(texts);
        let mut out: Vec<String> = self
            .phrases
            .iter()
            .map(|p| p.join(" "))
            .filter(|t| found.contains(t))
            .map(|t| self.spelled.get(&t).cloned().unwrap_or(t))
            .collect();
        out.extend(
            self.prefixes
                .iter()
                .map(|p| format!("{p}*"))
                .filter(|t| found.contains(t)),
        );
        let mut cjk: Vec<&String> = self.cjk.iter().filter(|g| found.contains(*g)).collect();
        cjk.sort();
        out.extend(cjk.into_iter().cloned());
        out
    }

    fn found(&self, texts: &[&str]) -> HashSet<String> {
        let mut found: HashSet<String> = HashSet::new();
        for text in texts {
            let chars = normalise(text);
            found.extend(phrase_marks(&chars, self).into_iter().map(|m| m.term));
            found.extend(
                self.cjk
                    .iter()
                    .filter(|g| text.contains(g.as_str()))
                    .cloned(),
            );
        }
        found
    }
}

/// Lower-case without diacritics: how FTS5's `unicode61 remove_diacritics 2` compares words.
fn fold(word: &str) -> String {
    word.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A highlighted range of characters and the distinct term it matched.
#[derive(Debug, Clone)]
struct Mark {
    start: usize,
    end: usize,
    term: String,
}

/// An excerpt of `text` of about [`SNIPPET_CHARS`] characters, whitespace collapsed, matched
/// terms wrapped in `**`, `…` where text was cut. Literal `**` in the text is dropped so that the
/// markers stay unambiguous.
pub fn snippet(text: &str, terms: &SnippetTerms, anchor: Anchor) -> String {
    let chars = normalise(text);
    let marks = find_marks(&chars, terms);
    let (begin, end) = window(&chars, &marks, anchor);
    let mut out = String::with_capacity((end - begin) * 2 + 8);
    if begin > 0 {
        out.push('…');
    }
    let mut pos = begin;
    for m in marks.iter().filter(|m| m.start >= begin && m.end <= end) {
        out.extend(&chars[pos..m.start]);
        out.push_str("**");
        out.extend(&chars[m.start..m.end]);
        out.push_str("**");
        pos = m.end;
    }
    out.extend(&chars[pos..end]);
    if end < chars.len() {
        out.push('…');
    }
    out
}

/// Collapses whitespace runs to one space and drops `**`.
fn normalise(text: &str) -> Vec<char> {
    let cleaned = text.replace("**", "");
    let mut chars = Vec::with_capacity(cleaned.len());
    for c in cleaned.chars() {
        if c.is_whitespace() || c.is_control() {
            if chars.last().is_some_and(|&l: &char| l != ' ') {
                chars.push(' ');
            }
        } else {
            chars.push(c);
        }
    }
    while chars.last() == Some(&' ') {
        chars.pop();
    }
    chars
}

fn find_marks(chars: &[char], terms: &SnippetTerms) -> Vec<Mark> {
    let mut marks: Vec<Mark> = Vec::new();
    if terms.is_empty() {
        return marks;
    }
    for i in (0..chars.len()).filter(|&i| is_cjk(chars[i])) {
        // Every character covered by a query bigram or single character is marked; adjacent
        // marked characters merge into one span.
        if let Some(term) = cjk_term_at(chars, i, terms) {
            match marks.last_mut() {
                Some(last) if last.end == i => last.end = i + 1,
                _ => marks.push(Mark {
                    start: i,
                    end: i + 1,
                    term,
                }),
            }
        }
    }
    marks.extend(phrase_marks(chars, terms));
    marks.sort_by_key(|m| m.start);
    marks
}

/// Where the query's phrases occur: runs of consecutive words equal to a phrase (a CJK character
/// between two words separates them, as it does in the index).
fn phrase_marks(chars: &[char], terms: &SnippetTerms) -> Vec<Mark> {
    // (start, end, stem, folded word)
    let mut words: Vec<(usize, usize, String, String)> = Vec::new();
    let mut breaks: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if is_cjk(chars[i]) {
            breaks.push(words.len());
            i += 1;
        } else if chars[i].is_alphanumeric() {
            let start = i;
            while i < chars.len() && chars[i].is_alphanumeric() && !is_cjk(chars[i]) {
                i += 1;
            }
            let word = fold(&chars[start..i].iter().collect::<String>());
            words.push((start, i, stem(&word), word));
        } else {
            i += 1;
        }
    }
    let mut marks = Vec::new();
    let mut w = 0;
    while w < words.len() {
        let matched = terms.phrases.iter().find(|p| {
            w + p.len() <= words.len()
                && p.iter().zip(&words[w..]).all(|(a, b)| *a == b.2)
                && !breaks.iter().any(|&b| b > w && b < w + p.len())
        });
        match matched {
            Some(p) => {
                marks.push(Mark {
                    start: words[w].0,
                    end: words[w + p.len() - 1].1,
                    term: p.join(" "),
                });
                w += p.len();
            }
            None => {
                if let Some(p) = terms.prefixes.iter().find(|p| words[w].3.starts_with(*p)) {
                    marks.push(Mark {
                        start: words[w].0,
                        end: words[w].1,
                        term: format!("{p}*"),
                    });
                }
                w += 1;
            }
        }
    }
    marks
}

/// The query bigram or character that covers the CJK character at `j`, if any.
fn cjk_term_at(chars: &[char], j: usize, terms: &SnippetTerms) -> Option<String> {
    let uni = chars[j].to_string();
    if terms.cjk.contains(&uni) {
        return Some(uni);
    }
    for (a, b) in [(j.wrapping_sub(1), j), (j, j + 1)] {
        if a < chars.len() && b < chars.len() && is_cjk(chars[a]) && is_cjk(chars[b]) {
            let gram: String = [chars[a], chars[b]].iter().collect();
            if terms.cjk.contains(&gram) {
                return Some(gram);
            }
        }
    }
    None
}

/// The `[begin, end)` character range to show.
fn window(chars: &[char], marks: &[Mark], anchor: Anchor) -> (usize, usize) {
    let len = chars.len();
    if len <= SNIPPET_CHARS {
        return (0, len);
    }
    let mut begin = 0;
    if anchor == Anchor::BestMatch && !marks.is_empty() {
        // The window that holds the most distinct terms (then the most marks), earliest first.
        let mut best = (0usize, 0usize, usize::MAX);
        for (i, m) in marks.iter().enumerate() {
            let start = m.start.saturating_sub(LEAD_CHARS);
            let stop = start + SNIPPET_CHARS;
            let inside: Vec<&Mark> = marks[i..].iter().take_while(|m| m.end <= stop).collect();
            let distinct: HashSet<&str> = inside.iter().map(|m| m.term.as_str()).collect();
            let key = (distinct.len(), inside.len());
            if key.0 > best.0 || (key.0 == best.0 && key.1 > best.1) {
                best = (key.0, key.1, start);
            }
        }
        begin = best.2.min(len - SNIPPET_CHARS);
    }
    let mut end = begin + SNIPPET_CHARS;
    let first_mark = marks.iter().find(|m| m.start >= begin).map(|m| m.start);
    let last_mark = marks
        .iter()
        .filter(|m| m.end <= end)
        .map(|m| m.end)
        .max()
        .unwrap_or(begin);
    if begin > 0 {
        let limit = (begin + BOUNDARY_SLACK)
            .min(first_mark.unwrap_or(end))
            .min(end);
        if let Some(space) = (begin..limit).find(|&j| chars[j] == ' ') {
            begin = space + 1;
        }
    }
    if end < len {
        let floor = end.saturating_sub(BOUNDARY_SLACK).max(last_mark).max(begin);
        if let Some(space) = (floor..end).rev().find(|&j| chars[j] == ' ') {
            end = space;
        }
    }
    (begin, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snip(text: &str, query: &str) -> String {
        snippet(text, &SnippetTerms::from_query(query), Anchor::BestMatch)
    }

    #[test]
    fn short_text_is_kept_whole_with_marks() {
        assert_eq!(
            snip("The  Quick\nbrown fox", "quick FOX"),
            "The **Quick** brown **fox**"
        );
    }

    #[test]
    fn stop_words_and_partial_words_are_not_marked() {
        assert_eq!(
            snip("What is the foxglove of the fox", "what is the fox"),
            "What is the foxglove of the **fox**"
        );
    }

    #[test]
    fn diacritics_and_case_fold() {
        assert_eq!(
            snip("Un café à Paris", "CAFE paris"),
            "Un **café** à **Paris**"
        );
    }

    #[test]
    fn long_text_is_cut_around_the_match() {
        let filler = "lorem ipsum dolor sit amet ".repeat(30);
        let text = format!("{filler}the reactor code XR-7741b overheats {filler}");
        let s = snip(&text, "XR-7741b");
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("**XR-7741b**"), "{s}");
        assert!(
            s.replace("**", "").chars().count() <= SNIPPET_CHARS + 2,
            "{s}"
        );
        // Cuts land between words.
        assert!(s
            .trim_start_matches('…')
            .starts_with(|c: char| c.is_alphanumeric()));
    }

    #[test]
    fn window_prefers_more_distinct_terms() {
        let filler = "nothing to see here ".repeat(20);
        let text = format!("alpha {filler} alpha beta gamma {filler}");
        let s = snip(&text, "alpha beta gamma");
        assert!(s.contains("**alpha** **beta** **gamma**"), "{s}");
    }

    #[test]
    fn dense_anchor_takes_the_start() {
        let filler = "words without the term ".repeat(20);
        let text = format!("Opening line. {filler} needle");
        let s = snippet(&text, &SnippetTerms::from_query("needle"), Anchor::Start);
        assert!(s.starts_with("Opening line."), "{s}");
        assert!(!s.contains("**"), "{s}");
    }

    #[test]
    fn cjk_runs_are_marked_as_one_span() {
        assert_eq!(
            snip("今天学习机器学习的方法", "机器学习"),
            "今天**学习机器学习**的方法"
        );
        assert_eq!(snip("我的猫很可爱", "猫"), "我的**猫**很可爱");
    }

    #[test]
    fn phrases_are_marked_only_where_their_words_follow_each_other() {
        assert_eq!(
            snip(
                "XR and 7741b apart, XR-7741b together, xr 7741b spaced",
                "XR-7741b"
            ),
            "XR and 7741b apart, **XR-7741b** together, **xr 7741b** spaced"
        );
        // `can't` is the phrase `can t`: a lone `t` is not marked.
        assert_eq!(
            snip("don't fold; I can't sleep", "why can't I sleep"),
            "don't fold; I **can't** **sleep**"
        );
        // Stop words are marked when they are the whole query.
        assert_eq!(snip("The Who played", "the who"), "**The** **Who** played");
    }

    #[test]
    fn coverage_counts_distinct_terms_found() {
        let t = SnippetTerms::from_query("homemade bread yeast XR-7741b 机器学习");
        assert_eq!(t.len(), 7); // 4 phrases + 3 bigrams
        assert_eq!(t.coverage(&["nothing here"]), 0.0);
        assert_eq!(
            t.coverage(&["Bread, bread and YEAST", "xr 7741b"]),
            3.0 / 7.0
        );
        assert_eq!(t.coverage(&["xr and 7741b"]), 0.0);
        assert_eq!(t.coverage(&["homemade bread yeast XR-7741b 机器学习"]), 1.0);
        assert_eq!(SnippetTerms::default().coverage(&["x"]), 0.0);
        assert_eq!(
            t.matched(&["Bread, bread and YEAST", "xr 7741b 机器"]),
            ["xr 7741b", "bread", "yeast", "机器"]
        );
    }

    #[test]
    fn a_title_match_forgives_one_typo_per_word() {
        let t = SnippetTerms::from_query("git rebse cheatsheet");
        assert_eq!(t.title_match(&["Git Rebase Cheatsheet", ""]), 1.0);
        assert_eq!(t.coverage(&["Git Rebase Cheatsheet"]), 2.0 / 3.0);
        assert_eq!(t.title_match(&["Git Rebel Cheatsheet"]), 2.0 / 3.0);
        let t = SnippetTerms::from_query("sourdugh");
        assert_eq!(t.title_match(&["Bread", "Sourdough, Levain"]), 1.0);
        assert_eq!(t.title_match(&["Dough"]), 0.0);
    }

    #[test]
    fn stemmed_words_match_and_highlight() {
        let t = SnippetTerms::from_query("indexing notes");
        assert_eq!(t.coverage(&["The vault was indexed; one note"]), 1.0);
        // Shown as the query spelled it, not as its stem.
        assert_eq!(t.matched(&["indexes"]), ["indexing"]);
        assert_eq!(
            snip("We indexed every note.", "indexing notes"),
            "We **indexed** every **note**."
        );
    }

    #[test]
    fn literal_markers_are_dropped() {
        assert_eq!(snip("a **bold** word", "word"), "a bold **word**");
    }

    #[test]
    fn empty_inputs() {
        assert_eq!(snip("", "x"), "");
        assert_eq!(snip("plain text", ""), "plain text");
    }
}
