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
}
