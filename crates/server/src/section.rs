//! One section of a note, by heading: what MCP `read_note {path, heading}` returns, so that an
//! agent can read a long note a part at a time.

use vault_rag_markdown::{find_section, parse, split_lines};

/// The section of `note` under `heading` (the heading up to the next heading of the same or a
/// higher level), found by the rules the index chunks by, so that every heading a search result
/// names can be read back (setext headings included). `heading` matches case-insensitively; a
/// `Parent#Child` link form matches its last part. Errors list the note's headings.
pub fn extract_section(note: &str, heading: &str) -> Result<String, Vec<String>> {
    let (start, end) = find_section(&parse(note, ""), heading)?;
    let lines = split_lines(note);
    let end = end.min(lines.len());
    let start = start.min(end.max(1));
    Ok(lines[start - 1..end].join("\n").trim_end().to_string())
}

/// Lines `start..=end` of `note` (1-based; either end may be left open, `end` past the note's
/// end stops there). Errors say why the range is empty.
pub fn extract_lines(note: &str, start: Option<u64>, end: Option<u64>) -> Result<String, String> {
    let lines = split_lines(note);
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
    fn setext_headings_are_sections_too() {
        let note = "Intro\n=====\nfirst\n\nSecond part\n-----------\nsecond\n";
        assert_eq!(
            extract_section(note, "Second part").unwrap(),
            "Second part\n-----------\nsecond"
        );
        assert_eq!(extract_section(note, "intro").unwrap(), note.trim_end());
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
