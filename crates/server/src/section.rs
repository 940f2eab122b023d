//! One section of a note, by heading: what MCP `read_note {path, heading}` returns, so that an
//! agent can read a long note a part at a time.

/// A heading found in a note.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Heading {
    line: usize,
    level: usize,
    text: String,
}

/// ATX headings (`#` to `######`) outside frontmatter and fenced code blocks.
fn headings(lines: &[&str]) -> Vec<Heading> {
    let mut found = Vec::new();
    let mut start = 0;
    if lines.first().is_some_and(|l| l.trim_end() == "---") {
        if let Some(end) = lines[1..]
            .iter()
            .position(|l| matches!(l.trim_end(), "---" | "..."))
        {
            start = end + 2;
        }
    }
    let mut fence: Option<(char, usize)> = None;
    for (i, line) in lines.iter().enumerate().skip(start) {
        let trimmed = line.trim_start();
        if line.len() - trimmed.len() > 3 {
            continue;
        }
        let fence_char = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        if let Some(c) = fence_char {
            let run = trimmed.chars().take_while(|x| *x == c).count();
            if run >= 3 {
                match fence {
                    None => fence = Some((c, run)),
                    Some((open, len))
                        if open == c && run >= len && trimmed[run..].trim().is_empty() =>
                    {
                        fence = None
                    }
                    Some(_) => {}
                }
                continue;
            }
        }
        if fence.is_some() {
            continue;
        }
        let level = trimmed.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&level) {
            continue;
        }
        let rest = &trimmed[level..];
        if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
            continue;
        }
        let text = rest.trim().trim_end_matches('#').trim_end().to_string();
        found.push(Heading {
            line: i,
            level,
            text,
        });
    }
    found
}

fn normalise(heading: &str) -> String {
    heading.trim().trim_start_matches('#').trim().to_lowercase()
}

/// The section of `note` under `heading` (the heading line up to the next heading of the same or
/// a higher level). `heading` matches case-insensitively; a `Parent#Child` link form matches its
/// last part. Errors list the note's headings.
pub fn extract_section(note: &str, heading: &str) -> Result<String, Vec<String>> {
    let lines: Vec<&str> = note.lines().collect();
    let all = headings(&lines);
    let wanted = normalise(heading);
    let last_part = heading
        .rsplit('#')
        .next()
        .map(normalise)
        .unwrap_or_default();
    let found = all
        .iter()
        .position(|h| h.text.to_lowercase() == wanted)
        .or_else(|| {
            all.iter()
                .position(|h| !last_part.is_empty() && h.text.to_lowercase() == last_part)
        });
    let Some(index) = found else {
        return Err(all.into_iter().map(|h| h.text).collect());
    };
    let start = &all[index];
    let end = all[index + 1..]
        .iter()
        .find(|h| h.level <= start.level)
        .map(|h| h.line)
        .unwrap_or(lines.len());
    Ok(lines[start.line..end].join("\n").trim_end().to_string())
}

/// Lines `start..=end` of `note` (1-based; either end may be left open, `end` past the note's
/// end stops there). Errors say why the range is empty.
pub fn extract_lines(note: &str, start: Option<u64>, end: Option<u64>) -> Result<String, String> {
    let lines: Vec<&str> = note.lines().collect();
    let count = lines.len() as u64;
    let start = start.unwrap_or(1);
    let end = end.unwrap_or(count).min(count);
    if start == 0 {
        return Err("lines are counted from 1".into());
    }
    if start > count {
        return Err(format!("the note has {count} lines; start_line is {start}"));
    }
    if end < start {
        return Err(format!("end_line {end} is before start_line {start}"));
    }
    Ok(lines[(start - 1) as usize..end as usize].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTE: &str = "---\ntitle: x\n# not a heading\n---\n# Top\nintro\n## Setup\nsteps\n```\n# code, not a heading\n```\n### Detail\nmore\n## Usage\nuse it\n# Next top\nend\n";

    #[test]
    fn section_runs_to_next_heading_of_same_or_higher_level() {
        let s = extract_section(NOTE, "Setup").unwrap();
        assert_eq!(
            s,
            "## Setup\nsteps\n```\n# code, not a heading\n```\n### Detail\nmore"
        );
        assert_eq!(extract_section(NOTE, "usage").unwrap(), "## Usage\nuse it");
        assert_eq!(
            extract_section(NOTE, "## Detail").unwrap(),
            "### Detail\nmore"
        );
        assert_eq!(
            extract_section(NOTE, "Next top").unwrap(),
            "# Next top\nend"
        );
        assert_eq!(
            extract_section(NOTE, "Top#Setup#Detail").unwrap(),
            "### Detail\nmore"
        );
    }

    #[test]
    fn line_ranges() {
        let note = "one\ntwo\nthree\n";
        assert_eq!(extract_lines(note, Some(2), Some(3)).unwrap(), "two\nthree");
        assert_eq!(extract_lines(note, Some(2), None).unwrap(), "two\nthree");
        assert_eq!(extract_lines(note, None, Some(1)).unwrap(), "one");
        assert_eq!(extract_lines(note, Some(3), Some(99)).unwrap(), "three");
        assert!(extract_lines(note, Some(0), None).is_err());
        assert!(extract_lines(note, Some(4), None)
            .unwrap_err()
            .contains("3 lines"));
        assert!(extract_lines(note, Some(3), Some(2)).is_err());
    }

    #[test]
    fn missing_heading_lists_headings() {
        let err = extract_section(NOTE, "code, not a heading").unwrap_err();
        assert_eq!(err, vec!["Top", "Setup", "Detail", "Usage", "Next top"]);
        assert!(extract_section(NOTE, "not a heading").is_err());
    }

    #[test]
    fn hashtags_are_not_headings() {
        assert!(extract_section("#tag line\n# Real\nx", "tag line").is_err());
        assert_eq!(
            extract_section("#tag line\n# Real #\nx", "Real").unwrap(),
            "# Real #\nx"
        );
    }
}
