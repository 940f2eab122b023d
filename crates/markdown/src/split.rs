//! Pieces: the units the packer puts into chunks.
//!
//! A block (paragraph, code fence, heading) is one piece when it fits the budget. Otherwise it is
//! cut into lines, a line that still does not fit into sentences, then words, then character
//! windows. Every level counts each of its parts once, so a note costs a bounded number of token
//! counts per byte, never a recount of growing strings.

use crate::note::BodyLine;

/// What goes between a piece and the one before it in a chunk's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sep {
    Paragraph = 0,
    Line = 1,
    /// The piece continues the previous one's line (the previous piece keeps its trailing space).
    Inline = 2,
}

impl Sep {
    pub fn as_str(self) -> &'static str {
        match self {
            Sep::Paragraph => "\n\n",
            Sep::Line => "\n",
            Sep::Inline => "",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Piece {
    pub text: String,
    pub first_line: usize,
    pub last_line: usize,
    pub tokens: usize,
    pub chars: usize,
    pub sep: Sep,
    pub block_id: Option<String>,
    /// Prose may be repeated at the start of the next chunk; code and headings are not.
    pub overlap_ok: bool,
    /// A heading line: it moves to the next chunk rather than end one.
    pub heading: bool,
    /// Index of the section the piece belongs to.
    pub section: usize,
}

/// The limits one piece must respect, and the token counter.
pub(crate) struct Budget<'a> {
    pub tokens: usize,
    pub chars: usize,
    pub count: &'a dyn Fn(&str) -> usize,
}

impl Budget<'_> {
    fn fits(&self, tokens: usize, chars: usize) -> bool {
        tokens <= self.tokens && chars <= self.chars
    }
}

/// How a block's pieces are labelled.
pub(crate) struct BlockInfo {
    pub sep: Sep,
    pub overlap_ok: bool,
    pub heading: bool,
    pub section: usize,
}

/// Appends the pieces of one block (its lines, all non-blank blocks have at least one).
pub(crate) fn block_pieces(
    lines: &[BodyLine],
    info: &BlockInfo,
    budget: &Budget<'_>,
    out: &mut Vec<Piece>,
) {
    let (Some(first), Some(last)) = (lines.first(), lines.last()) else {
        return;
    };
    let text = lines
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    if text.trim().is_empty() {
        return;
    }
    let tokens = (budget.count)(&text);
    let chars = text.chars().count();
    let piece = |text: String, tokens, chars, sep, first_line, last_line, block_id| Piece {
        text,
        first_line,
        last_line,
        tokens,
        chars,
        sep,
        block_id,
        overlap_ok: info.overlap_ok,
        heading: info.heading,
        section: info.section,
    };
    if budget.fits(tokens, chars) {
        let block_id = lines.iter().find_map(|l| l.block_id.clone());
        out.push(piece(
            text,
            tokens,
            chars,
            info.sep,
            first.number,
            last.number,
            block_id,
        ));
        return;
    }
    let mut sep = info.sep;
    for line in lines {
        // Blank lines inside a code fence that has to be cut carry nothing worth a piece.
        if line.text.trim().is_empty() {
            continue;
        }
        // A one-line block was just counted whole.
        let (tokens, chars) = if lines.len() == 1 {
            (tokens, chars)
        } else {
            ((budget.count)(&line.text), line.text.chars().count())
        };
        if budget.fits(tokens, chars) {
            out.push(piece(
                line.text.clone(),
                tokens,
                chars,
                sep,
                line.number,
                line.number,
                line.block_id.clone(),
            ));
        } else {
            let mut parts = Vec::new();
            split_text(&line.text, Level::Sentence, budget, &mut parts);
            let n = parts.len();
            for (k, part) in parts.into_iter().enumerate() {
                let part_sep = if k == 0 { sep } else { Sep::Inline };
                // The id marked the end of the line, so it goes with the line's last part.
                let id = if k + 1 == n {
                    line.block_id.clone()
                } else {
                    None
                };
                out.push(piece(
                    part.text,
                    part.tokens,
                    part.chars,
                    part_sep,
                    line.number,
                    line.number,
                    id,
                ));
            }
        }
        sep = Sep::Line;
    }
}

pub(crate) struct Part {
    pub text: String,
    pub tokens: usize,
    pub chars: usize,
}

#[derive(Clone, Copy)]
enum Level {
    Sentence,
    Word,
    Char,
}

/// Cuts `text` into parts that fit, at the coarsest boundaries that work.
fn split_text(text: &str, level: Level, budget: &Budget<'_>, out: &mut Vec<Part>) {
    let (cuts, finer) = match level {
        Level::Sentence => (sentence_cuts(text), Level::Word),
        Level::Word => (word_cuts(text), Level::Char),
        Level::Char => return char_windows(text, budget, out),
    };
    if cuts.is_empty() {
        return split_text(text, finer, budget, out);
    }
    let mut start = 0;
    for end in cuts.into_iter().chain(std::iter::once(text.len())) {
        let part = &text[start..end];
        start = end;
        if part.trim().is_empty() {
            continue;
        }
        let tokens = (budget.count)(part);
        let chars = part.chars().count();
        if budget.fits(tokens, chars) {
            out.push(Part {
                text: part.to_string(),
                tokens,
                chars,
            });
        } else {
            split_text(part, finer, budget, out);
        }
    }
}

fn is_sentence_end(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '。' | '！' | '？' | '…')
}

fn is_wide_sentence_end(c: char) -> bool {
    matches!(c, '。' | '！' | '？')
}

/// Byte offsets where a new sentence starts: after `.`/`!`/`?` and white space, or after a
/// full-width stop (which needs no space).
pub(crate) fn sentence_cuts(text: &str) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if !is_sentence_end(c) {
            continue;
        }
        let mut spaced = false;
        while let Some(&(_, n)) = chars.peek() {
            if !n.is_whitespace() {
                break;
            }
            spaced = true;
            chars.next();
        }
        if spaced || is_wide_sentence_end(c) {
            if let Some(&(k, _)) = chars.peek() {
                cuts.push(k);
            }
        }
    }
    cuts
}

/// Byte offsets where a word starts after white space (not the first word).
pub(crate) fn word_cuts(text: &str) -> Vec<usize> {
    let mut cuts = Vec::new();
    let (mut prev_space, mut seen_word) = (false, false);
    for (k, c) in text.char_indices() {
        let space = c.is_whitespace();
        // Leading white space stays with the first word.
        if prev_space && !space && seen_word {
            cuts.push(k);
        }
        seen_word |= !space;
        prev_space = space;
    }
    cuts
}

/// Character windows that fit. The window shrinks in proportion when a window has too many
/// tokens and never grows back, so the work stays linear in the text length.
fn char_windows(text: &str, budget: &Budget<'_>, out: &mut Vec<Part>) {
    let mut width = budget.chars.max(1);
    let mut start = 0;
    while start < text.len() {
        let end = text[start..]
            .char_indices()
            .nth(width)
            .map_or(text.len(), |(k, _)| start + k);
        let part = &text[start..end];
        let chars = part.chars().count();
        let tokens = (budget.count)(part);
        if tokens > budget.tokens && chars > 1 {
            width = (chars * budget.tokens / tokens).clamp(1, chars - 1);
            continue;
        }
        // A single character over the budget cannot be cut further: it is kept as it is.
        out.push(Part {
            text: part.to_string(),
            tokens,
            chars,
        });
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    #[test]
    fn sentence_and_word_cuts() {
        let t = "One. Two!  Three? four";
        let cuts = sentence_cuts(t);
        let parts: Vec<&str> = cuts
            .iter()
            .scan(0, |s, &c| Some(&t[std::mem::replace(s, c)..c]))
            .collect();
        assert_eq!(parts, ["One. ", "Two!  ", "Three? "]);
        assert_eq!(sentence_cuts("一。二。三"), [6, 12]);
        assert_eq!(word_cuts(" a b  c"), [3, 6]);
    }

    #[test]
    fn char_windows_respect_both_limits() {
        let text = "x".repeat(1000);
        let per_char = |s: &str| s.chars().count();
        let budget = Budget {
            tokens: 64,
            chars: 100,
            count: &per_char,
        };
        let mut out = Vec::new();
        char_windows(&text, &budget, &mut out);
        assert!(out.iter().all(|p| p.tokens <= 64 && p.chars <= 100));
        assert_eq!(
            out.iter().map(|p| p.text.as_str()).collect::<String>(),
            text
        );

        let budget = Budget {
            tokens: 5,
            chars: 4096,
            count: &words,
        };
        let mut out = Vec::new();
        split_text(&"word ".repeat(23), Level::Sentence, &budget, &mut out);
        assert_eq!(out.len(), 23, "each word is a part; the packer merges them");
    }
}
