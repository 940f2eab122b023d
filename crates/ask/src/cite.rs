//! `[n]` markers in an answer → the passages they name. Markers that name no passage are taken
//! out of the text, so every citation a reader sees opens a place that was really sent.

use serde::{Deserialize, Serialize};

use crate::Passage;

/// A passage the answer cites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    /// The marker number, as in the answer.
    pub n: usize,
    pub path: String,
    /// The heading the passage sits under, when it has one.
    pub heading: Option<String>,
    /// 1-based file lines of the passage: open the note at `line`.
    pub line: usize,
    pub end_line: usize,
    /// `[[Note#Heading]]`.
    pub link: String,
}

/// An answer with its citations resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Cited {
    /// The answer with markers that name no passage removed.
    pub text: String,
    /// The same answer with each marker as a wikilink (`[[Note#Heading|1]]`), to paste into a note.
    pub markdown: String,
    /// Cited passages in order of first mention, each once.
    pub citations: Vec<Citation>,
    /// Numbers the model used that name no passage.
    pub dropped: Vec<usize>,
}

/// Resolves the markers of `answer` against `passages`. A marker is `[3]`, `[1, 2]` or `[1,2]`;
/// `[[links]]` and other bracketed text are left alone.
pub fn resolve_citations(answer: &str, passages: &[Passage]) -> Cited {
    let mut out = Cited {
        text: String::with_capacity(answer.len()),
        markdown: String::with_capacity(answer.len()),
        citations: Vec::new(),
        dropped: Vec::new(),
    };
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        let (before, from) = rest.split_at(open);
        out.text.push_str(before);
        out.markdown.push_str(before);
        let Some((numbers, len)) = marker(from) else {
            out.text.push('[');
            out.markdown.push('[');
            rest = &from[1..];
            continue;
        };
        let kept: Vec<&Passage> = numbers
            .iter()
            .filter_map(|n| {
                let found = passages.iter().find(|p| p.n == *n);
                if found.is_none() && !out.dropped.contains(n) {
                    out.dropped.push(*n);
                }
                found
            })
            .collect();
        if kept.is_empty() {
            // Drop the space before a marker that goes away, not the word.
            if out.text.ends_with(' ') && from[len..].starts_with(['.', ',', ';', ':', ' ', '\n']) {
                out.text.pop();
                out.markdown.pop();
            }
        } else {
            let list: Vec<String> = kept.iter().map(|p| p.n.to_string()).collect();
            out.text.push_str(&format!("[{}]", list.join(", ")));
            for p in &kept {
                let link = p.link.trim_end_matches("]]");
                out.markdown.push_str(&format!("{link}|{}]]", p.n));
                if !out.citations.iter().any(|c| c.n == p.n) {
                    out.citations.push(Citation {
                        n: p.n,
                        path: p.path.clone(),
                        heading: p.heading_path.last().cloned(),
                        line: p.line,
                        end_line: p.end_line,
                        link: p.link.clone(),
                    });
                }
            }
        }
        rest = &from[len..];
    }
    out.text.push_str(rest);
    out.markdown.push_str(rest);
    out
}

/// `[1]`, `[1, 2]` at the start of `s`: the numbers and the marker's length in bytes.
fn marker(s: &str) -> Option<(Vec<usize>, usize)> {
    let close = s.find(']')?;
    let inner = &s[1..close];
    if inner.is_empty() || inner.len() > 40 || s[..close].starts_with("[[") {
        return None;
    }
    let numbers: Option<Vec<usize>> = inner
        .split(',')
        .map(|part| part.trim().parse::<usize>().ok())
        .collect();
    numbers.map(|n| (n, close + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(n: usize, path: &str, heading: &str) -> Passage {
        Passage {
            n,
            id: format!("{path}#L1-2"),
            path: path.into(),
            title: path.into(),
            heading_path: vec![heading.into()],
            start_line: 10 * n,
            line: 10 * n,
            end_line: 10 * n + 2,
            link: vault_rag_core::wikilink(path, Some(heading)),
            text: String::new(),
            tokens: 0,
        }
    }

    #[test]
    fn markers_map_to_passages_and_unknown_ones_go() {
        let passages = [
            passage(1, "Pump.md", "Fix"),
            passage(2, "Budget.md", "Saving"),
        ];
        let got = resolve_citations(
            "The part is XR-7741b [1]. It cost €38 [7]. Budget [2, 1] and [[Other]] [x].",
            &passages,
        );
        assert_eq!(
            got.text,
            "The part is XR-7741b [1]. It cost €38. Budget [2, 1] and [[Other]] [x]."
        );
        assert_eq!(got.dropped, [7]);
        let ns: Vec<usize> = got.citations.iter().map(|c| c.n).collect();
        assert_eq!(ns, [1, 2]);
        assert_eq!(got.citations[0].link, "[[Pump#Fix]]");
        assert_eq!(got.citations[0].line, 10);
        assert_eq!(got.citations[1].heading.as_deref(), Some("Saving"));
        assert!(got.markdown.contains("XR-7741b [[Pump#Fix|1]]."));
        assert!(got.markdown.contains("[[Budget#Saving|2]][[Pump#Fix|1]]"));
    }

    #[test]
    fn no_markers_no_citations() {
        let got = resolve_citations("I could not find this in your notes.", &[]);
        assert!(got.citations.is_empty());
        assert_eq!(got.text, "I could not find this in your notes.");
    }
}
