//! Hits → numbered passages: the part of the note around each hit (its heading's text, widened
//! line by line while it fits), de-duplicated, packed under a token budget.

use serde::{Deserialize, Serialize};
use vault_rag_core::Hit;
use vault_rag_markdown::parse;

/// One quoted part of a note, as sent to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    /// Its number in the prompt, from 1: the model cites it as `[n]`.
    pub n: usize,
    /// `path#Lstart-end`: what a client sends back in `exclude` to leave it out.
    pub id: String,
    pub path: String,
    pub title: String,
    /// Headings from the top of the note down to the passage.
    pub heading_path: Vec<String>,
    /// 1-based file lines the passage quotes (inclusive).
    pub start_line: usize,
    pub end_line: usize,
    /// Where the matching section starts (within the passage, which may also hold its
    /// neighbours): a citation opens the note here.
    pub line: usize,
    /// An Obsidian wikilink to the matching section's heading.
    pub link: String,
    /// What a reader sees of those lines (no comments, no link syntax).
    pub text: String,
    /// Estimated tokens of `text` ([`estimate_tokens`]).
    pub tokens: usize,
}

/// How much text goes to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackSettings {
    /// All passages together, in estimated tokens.
    pub budget_tokens: usize,
    /// One passage at most: a long section is cut to the lines around the hit.
    pub passage_tokens: usize,
}

impl PackSettings {
    /// A passage may take a third of the budget (at least 200 tokens), so that a 4k-token model
    /// still sees several notes.
    pub fn for_budget(budget_tokens: usize) -> Self {
        Self {
            budget_tokens,
            passage_tokens: (budget_tokens / 3).max(200).min(budget_tokens),
        }
    }
}

/// Tokens of `text` for a typical LLM tokenizer, erring high: about four characters of ASCII
/// per token, one token per other character (CJK, accents split by byte-level BPE).
pub fn estimate_tokens(text: &str) -> usize {
    let (ascii, other) = text.chars().fold((0usize, 0usize), |(a, o), c| {
        if c.is_ascii() {
            (a + 1, o)
        } else {
            (a, o + 1)
        }
    });
    ascii.div_ceil(4) + other
}

/// Passages for `hits` in their order. `read` gives a note's text (a note it cannot read is
/// skipped: the hit came from the index, the file may have just gone). `exclude` holds passage
/// ids or whole note paths the user took out.
pub fn pack(
    hits: &[Hit],
    read: &mut dyn FnMut(&str) -> Option<String>,
    exclude: &[String],
    settings: PackSettings,
) -> Vec<Passage> {
    let mut out: Vec<Passage> = Vec::new();
    let mut used = 0usize;
    for hit in hits {
        if exclude.iter().any(|e| e == &hit.path) {
            continue;
        }
        let Some(source) = read(&hit.path) else {
            continue;
        };
        let stem = hit.path.rsplit('/').next().unwrap_or(&hit.path);
        let note = parse(&source, stem.strip_suffix(".md").unwrap_or(stem));
        let (section_start, section_end) = note.section_around(hit.line);
        let cap = settings
            .passage_tokens
            .min(settings.budget_tokens.saturating_sub(used));
        if cap == 0 {
            break;
        }
        let (start, end) = widen(&note, hit, (section_start, section_end), cap);
        let overlaps = out
            .iter()
            .any(|p| p.path == hit.path && p.start_line <= end && start <= p.end_line);
        let id = format!("{}#L{start}-{end}", hit.path);
        if overlaps || exclude.contains(&id) {
            continue;
        }
        let mut text = note.text_between(start, end);
        if text.trim().is_empty() {
            continue;
        }
        if estimate_tokens(&text) > cap {
            // Only the best passage is cut to fit; a later one that does not fit gives way.
            if !out.is_empty() {
                continue;
            }
            text = cut_to_tokens(&text, cap);
        }
        let tokens = estimate_tokens(&text);
        used += tokens;
        let focus = section_start.clamp(start, end);
        let heading_path = heading_path_at(&note, focus, hit);
        out.push(Passage {
            n: out.len() + 1,
            id,
            path: hit.path.clone(),
            title: hit.title.clone(),
            link: vault_rag_core::wikilink(&hit.path, heading_path.last().map(String::as_str)),
            heading_path,
            start_line: start,
            end_line: end,
            line: focus,
            text,
            tokens,
        });
    }
    out
}

/// The whole section when it fits in `cap`; otherwise the hit's own lines, widened one line at a
/// time (below, then above) while the text still fits.
fn widen(
    note: &vault_rag_markdown::ParsedNote,
    hit: &Hit,
    (section_start, section_end): (usize, usize),
    cap: usize,
) -> (usize, usize) {
    if estimate_tokens(&note.text_between(section_start, section_end)) <= cap {
        return with_neighbours(note, (section_start, section_end), cap);
    }
    let mut start = hit.line.clamp(section_start, section_end);
    let mut end = hit.end_line.clamp(start, section_end);
    loop {
        let mut grew = false;
        if end < section_end && estimate_tokens(&note.text_between(start, end + 1)) <= cap {
            end += 1;
            grew = true;
        }
        if start > section_start && estimate_tokens(&note.text_between(start - 1, end)) <= cap {
            start -= 1;
            grew = true;
        }
        if !grew {
            return (start, end);
        }
    }
}

/// The heading path of the passage's first line: the hit's, unless the passage starts at a
/// heading of its own that the hit's path does not end with.
/// Adds whole neighbouring sections, the next one first (what follows a heading usually
/// continues it), while the passage stays within `cap`: a short note is sent whole.
fn with_neighbours(
    note: &vault_rag_markdown::ParsedNote,
    (mut start, mut end): (usize, usize),
    cap: usize,
) -> (usize, usize) {
    let first = note.body_start_line;
    let last = note.line_count;
    loop {
        let mut grew = false;
        if end < last {
            let (_, next_end) = note.section_around(end + 1);
            if estimate_tokens(&note.text_between(start, next_end)) <= cap {
                end = next_end;
                grew = true;
            }
        }
        if start > first {
            let (prev_start, _) = note.section_around(start - 1);
            if prev_start < start && estimate_tokens(&note.text_between(prev_start, end)) <= cap {
                start = prev_start;
                grew = true;
            }
        }
        if !grew {
            return (start, end);
        }
    }
}

fn heading_path_at(note: &vault_rag_markdown::ParsedNote, start: usize, hit: &Hit) -> Vec<String> {
    let mut path: Vec<(u8, String)> = Vec::new();
    for h in note.headings().into_iter().take_while(|h| h.line <= start) {
        while path.last().is_some_and(|(level, _)| *level >= h.level) {
            path.pop();
        }
        path.push((h.level, h.title));
    }
    if path.is_empty() {
        return hit.heading_path.clone();
    }
    path.into_iter().map(|(_, title)| title).collect()
}

/// The first `cap` estimated tokens of `text`, cut at a character boundary, marked as cut.
fn cut_to_tokens(text: &str, cap: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        out.push(c);
        if estimate_tokens(&out) >= cap.saturating_sub(2) {
            break;
        }
    }
    out.push_str(" …");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(path: &str, line: usize, end_line: usize, headings: &[&str]) -> Hit {
        Hit {
            path: path.into(),
            title: path.trim_end_matches(".md").into(),
            heading_path: headings.iter().map(|h| h.to_string()).collect(),
            line,
            end_line,
            block_id: None,
            snippet: String::new(),
            score: 1.0,
            retrievers: vec![],
            explain: Default::default(),
        }
    }

    const NOTE: &str = "---\ntags: [x]\n---\n# Pump\nintro line\n## Fix\nPart number XR-1. %% private %%\nTook 25 minutes.\n## After\nRan a cycle.\n";

    #[test]
    fn packs_the_section_around_each_hit_once() {
        let hits = [
            hit("Pump.md", 7, 8, &["Pump", "Fix"]),
            hit("Pump.md", 7, 7, &["Pump", "Fix"]),
            hit("Other.md", 1, 1, &[]),
        ];
        let mut read = |p: &str| match p {
            "Pump.md" => Some(NOTE.to_string()),
            "Other.md" => Some("Just text.\n".to_string()),
            _ => None,
        };
        // A short note goes whole; the citation opens the matching section.
        let got = pack(&hits, &mut read, &[], PackSettings::for_budget(1000));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].n, 1);
        assert_eq!(
            (got[0].start_line, got[0].end_line, got[0].line),
            (4, 10, 6)
        );
        assert_eq!(
            got[0].text,
            "# Pump\nintro line\n## Fix\nPart number XR-1.\nTook 25 minutes.\n## After\nRan a cycle."
        );
        assert_eq!(got[0].heading_path, ["Pump", "Fix"]);
        assert_eq!(got[0].link, "[[Pump#Fix]]");
        assert_eq!(got[0].id, "Pump.md#L4-10");
        assert_eq!(got[1].n, 2);
        assert_eq!(got[1].link, "[[Other]]");
        // Less room: the section, then whole neighbours (the next one first) while they fit.
        let section = PackSettings {
            budget_tokens: 1000,
            passage_tokens: 12,
        };
        let got = pack(&hits[..1], &mut read, &[], section);
        assert_eq!((got[0].start_line, got[0].end_line), (6, 8));
        assert_eq!(got[0].text, "## Fix\nPart number XR-1.\nTook 25 minutes.");
        let more = PackSettings {
            budget_tokens: 1000,
            passage_tokens: 18,
        };
        let got = pack(&hits[..1], &mut read, &[], more);
        assert_eq!(
            (got[0].start_line, got[0].end_line, got[0].line),
            (6, 10, 6)
        );
    }

    #[test]
    fn exclusions_budget_and_unreadable_notes() {
        let hits = [
            hit("Gone.md", 1, 1, &[]),
            hit("Pump.md", 7, 8, &["Pump", "Fix"]),
            hit("Pump.md", 10, 10, &["Pump", "After"]),
        ];
        let mut read = |p: &str| (p == "Pump.md").then(|| NOTE.to_string());
        let sections = PackSettings {
            budget_tokens: 1000,
            passage_tokens: 12,
        };
        let all = pack(&hits, &mut read, &[], sections);
        assert_eq!(all.len(), 2);
        let without = pack(&hits, &mut read, &["Pump.md#L6-8".to_string()], sections);
        assert_eq!(without.len(), 1);
        assert_eq!(without[0].start_line, 9);
        assert!(pack(&hits, &mut read, &["Pump.md".into()], sections).is_empty());
        // A budget that fits one passage stops there.
        let tight = PackSettings {
            budget_tokens: 12,
            passage_tokens: 12,
        };
        let one = pack(&hits, &mut read, &[], tight);
        assert_eq!(one.len(), 1);
        assert!(one.iter().map(|p| p.tokens).sum::<usize>() <= 12);
    }

    #[test]
    fn a_long_section_is_cut_around_the_hit() {
        let mut note = String::from("# Log\n");
        for i in 1..=200 {
            note.push_str(&format!("line number {i} of the log\n"));
        }
        let hits = [hit("Log.md", 101, 101, &["Log"])];
        let mut read = |_: &str| Some(note.clone());
        let got = pack(&hits, &mut read, &[], PackSettings::for_budget(300));
        assert_eq!(got.len(), 1);
        let p = &got[0];
        assert!(p.start_line < 101 && p.end_line > 101, "{p:?}");
        assert!(p.text.contains("line number 100 of"));
        assert!(p.tokens <= 200, "{}", p.tokens);
        assert_eq!(p.heading_path, ["Log"]);
    }

    #[test]
    fn token_estimate_counts_cjk_per_character() {
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("日本語"), 3);
    }
}
