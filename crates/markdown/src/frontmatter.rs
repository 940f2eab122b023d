//! YAML frontmatter: the block between a first line `---` and the next line `---`.
//!
//! Only the properties search needs are read: `title`, `aliases`/`alias`, `tags`/`tag` (keys
//! compared case-insensitively, as Obsidian does). Broken YAML is reported, never fatal.

use serde_yaml::Value;

/// What the frontmatter says, and where the body starts.
#[derive(Debug, Default)]
pub(crate) struct Frontmatter {
    pub title: Option<String>,
    pub aliases: Vec<String>,
    pub tags: Vec<String>,
    pub error: Option<String>,
    /// Index (0-based) of the first body line in the line list.
    pub body_start: usize,
    /// Index range of the YAML lines (between the fences), when there is frontmatter.
    pub yaml_lines: std::ops::Range<usize>,
}

fn is_fence(line: &str) -> bool {
    line.trim_end() == "---"
}

/// Reads the frontmatter at the top of `lines` (already split, BOM removed).
pub(crate) fn read(lines: &[&str]) -> Frontmatter {
    let mut fm = Frontmatter::default();
    if !lines.first().is_some_and(|l| is_fence(l)) {
        return fm;
    }
    let Some(close) = lines
        .iter()
        .skip(1)
        .position(|l| is_fence(l))
        .map(|k| k + 1)
    else {
        fm.error =
            Some("frontmatter is not closed: no second `---` line, read as body".to_string());
        return fm;
    };
    fm.body_start = close + 1;
    fm.yaml_lines = 1..close;
    let yaml = lines[1..close].join("\n");
    if yaml.trim().is_empty() {
        return fm;
    }
    match serde_yaml::from_str::<Value>(&yaml) {
        Ok(Value::Mapping(map)) => {
            for (key, value) in &map {
                let Some(key) = key.as_str() else { continue };
                match key.to_ascii_lowercase().as_str() {
                    "title" => fm.title = scalar_string(value).filter(|t| !t.is_empty()),
                    "aliases" | "alias" => fm.aliases.extend(string_list(value, &[','])),
                    "tags" | "tag" => fm.tags.extend(
                        string_list(value, &[',', ' ', '\t'])
                            .into_iter()
                            .map(|t| t.trim_start_matches('#').to_string())
                            .filter(|t| !t.is_empty()),
                    ),
                    _ => {}
                }
            }
        }
        Ok(Value::Null) => {}
        Ok(_) => {
            // Plain text or a list between two rules is a note that opens with a rule, not
            // properties: keep every line as body.
            fm.body_start = 0;
            fm.yaml_lines = 0..0;
            fm.error = Some(
                "the lines between the leading `---` lines are not `key: value` properties: read as body"
                    .to_string(),
            );
        }
        Err(err) => fm.error = Some(describe_yaml_error(&err)),
    }
    fm
}

/// The error with its lines counted in the file (the YAML starts on file line 2).
fn describe_yaml_error(err: &serde_yaml::Error) -> String {
    format!(
        "invalid frontmatter YAML: {}",
        to_file_lines(&err.to_string())
    )
}

/// Rewrites serde_yaml's "at line L column C" (counted inside the YAML) as "at line L+1".
fn to_file_lines(text: &str) -> String {
    const MARK: &str = " at line ";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(k) = rest.find(MARK) {
        out.push_str(&rest[..k + MARK.len()]);
        rest = &rest[k + MARK.len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(line) => out.push_str(&(line + 1).to_string()),
            Err(_) => continue,
        }
        rest = &rest[digits..];
        if let Some(after) = rest.strip_prefix(" column ") {
            rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
        }
    }
    out.push_str(rest);
    out
}

fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A string (split on `separators`) or a list of scalars.
fn string_list(value: &Value, separators: &[char]) -> Vec<String> {
    let items: Vec<String> = match value {
        Value::Sequence(seq) => seq.iter().filter_map(scalar_string).collect(),
        other => scalar_string(other)
            .map(|s| s.split(separators).map(str::to_string).collect())
            .unwrap_or_default(),
    };
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_error_names_the_file_line() {
        let lines = ["---", "title: ok", "tags: [a, b", "---", "body"];
        let fm = read(&lines);
        let err = fm.error.unwrap();
        assert_eq!(
            err,
            "invalid frontmatter YAML: did not find expected ',' or ']' at line 4, \
             while parsing a flow sequence at line 3"
        );
        assert_eq!(fm.body_start, 4);
    }

    #[test]
    fn tag_and_alias_shapes() {
        let lines = ["---", "Tags: '#one, two three'", "alias: Solo", "---"];
        let fm = read(&lines);
        assert_eq!(fm.tags, ["one", "two", "three"]);
        assert_eq!(fm.aliases, ["Solo"]);
        let lines = [
            "---",
            "tags:",
            "  - x/y",
            "  - 2024",
            "aliases: [A, B]",
            "---",
        ];
        let fm = read(&lines);
        assert_eq!(fm.tags, ["x/y", "2024"]);
        assert_eq!(fm.aliases, ["A", "B"]);
    }

    #[test]
    fn unclosed_and_non_mapping() {
        let fm = read(&["---", "title: x", "body"]);
        assert_eq!(fm.body_start, 0);
        assert!(fm.error.unwrap().contains("not closed"));
        let fm = read(&["---", "- a", "- b", "---"]);
        assert_eq!(fm.body_start, 0);
        assert!(fm.error.unwrap().contains("read as body"));
        let fm = read(&["---", "---", "text"]);
        assert_eq!((fm.body_start, fm.error), (2, None));
    }
}
