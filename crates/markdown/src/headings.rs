//! A note's headings and the section under one of them, by the same rules the chunker uses (ATX
//! and setext headings, never inside frontmatter, code fences or quotes), so that a heading a
//! search result names can always be found again.

use crate::note::{LineKind, ParsedNote};

/// A heading of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    /// 1 to 6 (`=` underlines are 1, `-` underlines 2).
    pub level: u8,
    /// The title as chunks' heading paths hold it (links shown as their text).
    pub title: String,
    /// 1-based file line of the title.
    pub line: usize,
}

impl ParsedNote {
    /// The note's headings in order.
    pub fn headings(&self) -> Vec<Heading> {
        self.body
            .iter()
            .filter_map(|l| match &l.kind {
                LineKind::Heading { level, title } => Some(Heading {
                    level: *level,
                    title: title.clone(),
                    line: l.number,
                }),
                _ => None,
            })
            .collect()
    }

    /// The file lines (1-based, inclusive) of the part of the note that holds `line`: from the
    /// last heading at or above it to the line before the next heading of any level (before the
    /// first heading: from the body's start). What a passage quoted around a search hit covers.
    pub fn section_around(&self, line: usize) -> (usize, usize) {
        let headings = self.headings();
        let start = headings
            .iter()
            .rev()
            .find(|h| h.line <= line)
            .map_or(self.body_start_line, |h| h.line);
        let end = headings
            .iter()
            .find(|h| h.line > line)
            .map_or(self.line_count, |h| h.line - 1);
        (start, end.max(start))
    }

    /// What a reader sees of file lines `start..=end`: the cleaned body lines (no comments, link
    /// syntax or block ids; headings as `#`s and their title; code kept), runs of blank lines
    /// folded into one. Frontmatter lines are never part of it.
    pub fn text_between(&self, start: usize, end: usize) -> String {
        let mut out = String::new();
        let mut blank = false;
        for line in self
            .body
            .iter()
            .filter(|l| (start..=end).contains(&l.number))
        {
            let text = line.text.trim_end();
            if text.trim().is_empty() && !matches!(line.kind, LineKind::Fence(_)) {
                blank = !out.is_empty();
                continue;
            }
            if blank {
                out.push('\n');
                blank = false;
            }
            out.push_str(text);
            out.push('\n');
        }
        out.truncate(out.trim_end().len());
        out
    }
}

fn normalise(heading: &str) -> String {
    heading.trim().trim_start_matches('#').trim().to_lowercase()
}

/// The file lines (1-based, inclusive) of the section under `heading`: from its title to the
/// line before the next heading of the same or a higher level. `heading` matches
/// case-insensitively; a `Parent#Child` link form matches its last part. The error lists the
/// note's headings.
pub fn find_section(note: &ParsedNote, heading: &str) -> Result<(usize, usize), Vec<String>> {
    let all = note.headings();
    let wanted = normalise(heading);
    let last_part = heading
        .rsplit('#')
        .next()
        .map(normalise)
        .unwrap_or_default();
    let found = all
        .iter()
        .position(|h| h.title.to_lowercase() == wanted)
        .or_else(|| {
            all.iter()
                .position(|h| !last_part.is_empty() && h.title.to_lowercase() == last_part)
        });
    let Some(index) = found else {
        return Err(all.into_iter().map(|h| h.title).collect());
    };
    let start = &all[index];
    let end = all[index + 1..]
        .iter()
        .find(|h| h.level <= start.level)
        .map_or(note.line_count, |h| h.line - 1);
    Ok((start.line, end.max(start.line)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn atx_and_setext_headings_outside_code_and_frontmatter() {
        let text = "---\ntitle: x\n---\nPlan\n====\nintro\n\n## Costs ##\n```\n# not a heading\n```\n\nSub part\n--------\nmore\n# [[Next|Last]] one\n";
        let note = parse(text, "n");
        let headings = note.headings();
        let got: Vec<(u8, &str, usize)> = headings
            .iter()
            .map(|h| (h.level, h.title.as_str(), h.line))
            .collect();
        assert_eq!(
            got,
            [
                (1, "Plan", 4),
                (2, "Costs", 8),
                (2, "Sub part", 13),
                (1, "Last one", 16)
            ]
        );
        assert_eq!(find_section(&note, "plan"), Ok((4, 15)));
        assert_eq!(find_section(&note, "Costs"), Ok((8, 12)));
        assert_eq!(find_section(&note, "Plan#Sub part"), Ok((13, 15)));
        assert_eq!(find_section(&note, "## last one"), Ok((16, 16)));
        assert_eq!(
            find_section(&note, "missing").unwrap_err(),
            ["Plan", "Costs", "Sub part", "Last one"]
        );
    }

    #[test]
    fn section_around_a_line_and_its_reader_text() {
        let text = "---\ntags: [a]\n---\nintro %% secret %% here\n\n\n# Top\nsee [[Other|the other]] ^id\n## Sub\n```\n# code\n```\nend\n";
        let note = parse(text, "n");
        assert_eq!(note.section_around(4), (4, 6));
        assert_eq!(note.section_around(8), (7, 8));
        assert_eq!(note.section_around(13), (9, 13));
        assert_eq!(
            note.text_between(4, 8),
            "intro here\n\n# Top\nsee the other"
        );
        assert_eq!(note.text_between(9, 13), "## Sub\n```\n# code\n```\nend");
        assert_eq!(note.text_between(1, 3), "");
    }
}
