//! Snippets: a short excerpt of a chunk around the query terms it contains, with each matched
//! term wrapped in `**`.
//!
//! Matching mirrors the FTS5 tokenizer closely enough for display: words compare after
//! lower-casing and removing diacritics (`remove_diacritics 2`), CJK text by the query's bigrams
//! and single characters. A handful of English function words are not highlighted, so that a
//! question like "what is the boiling point" marks `boiling` and `point`, not every `the`.

use std::collections::HashSet;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::lexical::is_cjk;

/// Target snippet length in characters.
pub const SNIPPET_CHARS: usize = 200;
/// Characters of context kept before the first match.
const LEAD_CHARS: usize = 40;
/// How far a cut may move to land on a space instead of inside a word.
const BOUNDARY_SLACK: usize = 20;
/// Words never highlighted on their own.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how",
    "i", "in", "is", "it", "of", "on", "or", "that", "the", "this", "to", "was", "what", "when",
    "where", "which", "who", "why", "with",
];

/// Where the excerpt is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// Around the densest cluster of matched terms (the chunk start when nothing matches).
    BestMatch,
    /// The start of the chunk (for hits only the dense retriever found).
    Start,
}

/// The query terms a snippet highlights.
#[derive(Debug, Clone, Default)]
pub struct SnippetTerms {
    words: HashSet<String>,
    cjk: HashSet<String>,
}

impl SnippetTerms {
    pub fn from_query(query: &str) -> Self {
        let mut terms = Self::default();
        let chars: Vec<char> = query.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if is_cjk(c) {
                let start = i;
                while i < chars.len() && is_cjk(chars[i]) {
                    i += 1;
                }
                let run = &chars[start..i];
                if run.len() == 1 {
                    terms.cjk.insert(run[0].to_string());
                }
                for pair in run.windows(2) {
                    terms.cjk.insert(pair.iter().collect());
                }
            } else if c.is_alphanumeric() {
                let start = i;
                while i < chars.len() && chars[i].is_alphanumeric() && !is_cjk(chars[i]) {
                    i += 1;
                }
                let word = fold(&chars[start..i].iter().collect::<String>());
                if !STOP_WORDS.contains(&word.as_str()) {
                    terms.words.insert(word);
                }
            } else {
                i += 1;
            }
        }
        terms
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.cjk.is_empty()
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
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_cjk(c) {
            // Mark every character covered by a query bigram or single character; adjacent
            // marked characters merge into one highlighted span.
            let covered = |j: usize| -> Option<String> {
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
            };
            if let Some(term) = covered(i) {
                match marks.last_mut() {
                    Some(last) if last.end == i && is_cjk(chars[last.start]) => last.end = i + 1,
                    _ => marks.push(Mark {
                        start: i,
                        end: i + 1,
                        term,
                    }),
                }
            }
            i += 1;
        } else if c.is_alphanumeric() {
            let start = i;
            while i < chars.len() && chars[i].is_alphanumeric() && !is_cjk(chars[i]) {
                i += 1;
            }
            let word = fold(&chars[start..i].iter().collect::<String>());
            if terms.words.contains(&word) {
                marks.push(Mark {
                    start,
                    end: i,
                    term: word,
                });
            }
        } else {
            i += 1;
        }
    }
    marks
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
        assert!(s.contains("**XR**-**7741b**"), "{s}");
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
    fn literal_markers_are_dropped() {
        assert_eq!(snip("a **bold** word", "word"), "a bold **word**");
    }

    #[test]
    fn empty_inputs() {
        assert_eq!(snip("", "x"), "");
        assert_eq!(snip("plain text", ""), "plain text");
    }
}
