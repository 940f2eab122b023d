//! [`parse`]: a note's metadata plus a cleaned, line-numbered body for the chunker.
//!
//! Each body line is classified once, top to bottom: inside a `%%` comment, inside a code fence,
//! heading, blank or text. Cleaning keeps what a reader sees (link aliases, callout titles, code)
//! and drops what they do not (comments, link syntax, quote markers, `^block-id` markers), while
//! every line keeps its number in the original file.

use serde::Serialize;

use crate::frontmatter;
use crate::inline::{clean_inline, Sink};

/// A link found in a note: `[[Note]]`, `[[Note#Heading|alias]]`, `[[#Heading]]`, `![[embed]]`,
/// `[[Note#^block]]`, or a markdown link to a `.md` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// The linked note as written, without heading or block: `Note`, `folder/Note`,
    /// `path/note.md` (markdown links, URL-decoded). Empty for links inside the same note.
    pub target: String,
    /// `[[Note#Heading]]` → `Heading` (`A#B` for a sub-heading, as written).
    pub heading: Option<String>,
    /// `[[Note#^id]]` or `[[Note^id]]` → `id`.
    pub block: Option<String>,
    /// `[[Note|alias]]` → `alias`; the visible text of a markdown link.
    pub alias: Option<String>,
    /// `![[...]]` or `![...](...)`.
    pub embed: bool,
    /// 1-based line in the file (frontmatter counted).
    pub line: usize,
}

/// What [`parse`] learns about a note. The cleaned body it keeps is what [`crate::chunk_note`] reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedNote {
    /// Frontmatter `title`, else the fallback (the file stem).
    pub title: String,
    /// Frontmatter `aliases`/`alias`: a list, or a comma-separated string.
    pub aliases: Vec<String>,
    /// Frontmatter `tags`/`tag` then inline `#tags`, without `#`, first spelling kept,
    /// deduplicated case-insensitively (Obsidian treats `#Tag` and `#tag` as one tag).
    pub tags: Vec<String>,
    /// Links in body order; wikilinks written in frontmatter values come first.
    pub links: Vec<Link>,
    /// Why the frontmatter could not be read (with its file line when known). The body is still
    /// parsed: an unclosed frontmatter is read as body.
    pub frontmatter_error: Option<String>,
    /// 1-based file line where the body starts (after the frontmatter).
    pub body_start_line: usize,
    /// Number of lines in the file (`\n`, `\r\n` and lone `\r` all end a line).
    pub line_count: usize,
    #[serde(skip)]
    pub(crate) body: Vec<BodyLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineKind {
    /// Nothing a reader sees: empty, a comment, a thematic break, a lone `^block-id`.
    Blank,
    Text,
    /// ATX or setext heading; `text` is rendered as `#`×level + title.
    Heading {
        level: u8,
        title: String,
    },
    /// A line of a fenced code block (fence lines included); the number identifies the block.
    Fence(u32),
}

/// One cleaned body line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BodyLine {
    /// 1-based line in the file.
    pub number: usize,
    pub kind: LineKind,
    pub text: String,
    pub block_id: Option<String>,
}

/// Splits on `\n`, `\r\n` and lone `\r`; a final line ending does not start another line.
pub fn split_lines(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'\n' => {
                out.push(&s[start..i]);
                i += 1;
                start = i;
            }
            b'\r' => {
                out.push(&s[start..i]);
                i += if b.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < b.len() {
        out.push(&s[start..]);
    }
    out
}

/// An open code fence.
struct Fence {
    marker: u8,
    len: usize,
    /// Indentation of the opening line, removed from the code lines (fences in list items).
    indent: usize,
    quote_depth: usize,
    id: u32,
}

/// Parses an Obsidian note. Never fails: problems are reported in
/// [`ParsedNote::frontmatter_error`] and the rest is read as well as it can be.
pub fn parse(source: &str, fallback_title: &str) -> ParsedNote {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let lines = split_lines(source);
    let fm = frontmatter::read(&lines);
    let mut sink = Sink::default();

    // Properties may hold links (`related: "[[Other]]"`); Obsidian counts them as links.
    for idx in fm.yaml_lines.clone() {
        let mut fm_sink = Sink::default();
        let mut comment = false;
        clean_inline(lines[idx], idx + 1, &mut comment, &mut fm_sink);
        sink.links.extend(fm_sink.links);
    }

    let mut body: Vec<BodyLine> = Vec::with_capacity(lines.len().saturating_sub(fm.body_start));
    let mut in_comment = false;
    let mut fence: Option<Fence> = None;
    let mut fences = 0u32;
    for (idx, raw) in lines.iter().enumerate().skip(fm.body_start) {
        let number = idx + 1;
        if in_comment {
            // A line that starts inside a comment opens nothing: no fence, no heading.
            let text = clean_inline(raw, number, &mut in_comment, &mut sink);
            push_text(&mut body, number, text.trim_start());
            continue;
        }
        if let Some(f) = &fence {
            let (depth, content) = strip_quotes(raw, f.quote_depth);
            if depth == f.quote_depth {
                let kind = LineKind::Fence(f.id);
                let closes = is_fence_close(content, f);
                let text = if closes {
                    content.trim()
                } else {
                    strip_indent(content, f.indent).trim_end()
                };
                body.push(BodyLine {
                    number,
                    kind,
                    text: text.to_string(),
                    block_id: None,
                });
                if closes {
                    fence = None;
                }
                continue;
            }
            // The quote holding the fence ended, and so did the fence.
            fence = None;
        }
        let (depth, content) = strip_quotes(raw, usize::MAX);
        let callout_title = if depth > 0 {
            callout_title(content)
        } else {
            None
        };
        let content = callout_title.as_deref().unwrap_or(content);
        if let Some((marker, len)) = fence_open(content) {
            fences += 1;
            let indent = content.len() - content.trim_start().len();
            fence = Some(Fence {
                marker,
                len,
                indent,
                quote_depth: depth,
                id: fences,
            });
            let kind = LineKind::Fence(fences);
            body.push(BodyLine {
                number,
                kind,
                text: content.trim().to_string(),
                block_id: None,
            });
            continue;
        }
        if depth == 0 {
            if let Some((level, raw_title)) = atx_heading(content) {
                let title = clean_inline(raw_title, number, &mut in_comment, &mut sink);
                push_heading(&mut body, number, level, title.trim());
                continue;
            }
            if let Some(level) = setext_underline(content) {
                if promote_to_setext(&mut body, level) {
                    body.push(blank(number));
                    continue;
                }
            }
            if is_thematic_break(content) {
                body.push(blank(number));
                continue;
            }
        }
        let text = clean_inline(content, number, &mut in_comment, &mut sink);
        push_text(&mut body, number, &text);
    }

    let mut tags: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for tag in fm.tags.into_iter().chain(sink.tags) {
        if seen.insert(tag.to_lowercase()) {
            tags.push(tag);
        }
    }
    let mut aliases: Vec<String> = Vec::new();
    for alias in fm.aliases {
        if !aliases.contains(&alias) {
            aliases.push(alias);
        }
    }
    ParsedNote {
        title: fm.title.unwrap_or_else(|| fallback_title.to_string()),
        aliases,
        tags,
        links: sink.links,
        frontmatter_error: fm.error,
        body_start_line: fm.body_start + 1,
        line_count: lines.len(),
        body,
    }
}

fn blank(number: usize) -> BodyLine {
    BodyLine {
        number,
        kind: LineKind::Blank,
        text: String::new(),
        block_id: None,
    }
}

fn push_heading(body: &mut Vec<BodyLine>, number: usize, level: u8, title: &str) {
    if title.is_empty() {
        body.push(blank(number));
        return;
    }
    let text = format!("{} {title}", "#".repeat(level as usize));
    let kind = LineKind::Heading {
        level,
        title: title.to_string(),
    };
    body.push(BodyLine {
        number,
        kind,
        text,
        block_id: None,
    });
}

/// A text line, with a trailing `^block-id` moved out of the text. A line holding only a block id
/// names the block above it.
fn push_text(body: &mut Vec<BodyLine>, number: usize, cleaned: &str) {
    let (text, block_id) = split_block_id(cleaned.trim_end());
    if text.trim().is_empty() {
        if let Some(id) = block_id {
            // Obsidian puts a block's id right after it, at most one blank line below.
            let above = body
                .iter_mut()
                .rev()
                .take(2)
                .find(|l| l.kind != LineKind::Blank);
            if let Some(prev) = above {
                prev.block_id.get_or_insert_with(|| id.to_string());
            }
        }
        body.push(blank(number));
        return;
    }
    let block_id = block_id.map(str::to_string);
    body.push(BodyLine {
        number,
        kind: LineKind::Text,
        text: text.to_string(),
        block_id,
    });
}

/// `text ^id` → (`text`, `id`); ids are ASCII letters, digits and `-`.
fn split_block_id(text: &str) -> (&str, Option<&str>) {
    let Some(k) = text.rfind('^') else {
        return (text, None);
    };
    let (head, id) = (&text[..k], &text[k + 1..]);
    let valid_id = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if valid_id && (head.is_empty() || head.ends_with(char::is_whitespace)) {
        (head.trim_end(), Some(id))
    } else {
        (text, None)
    }
}

/// Removes up to `max` leading `>` quote markers (each with one optional space after it).
fn strip_quotes(line: &str, max: usize) -> (usize, &str) {
    let mut depth = 0;
    let mut rest = line;
    while depth < max {
        let trimmed = rest.trim_start_matches([' ', '\t']);
        let Some(after) = trimmed.strip_prefix('>') else {
            break;
        };
        depth += 1;
        rest = after.strip_prefix(' ').unwrap_or(after);
    }
    (depth, if depth == 0 { line } else { rest })
}

/// `[!type]± Title` → `Title`, or the type when there is no title.
fn callout_title(content: &str) -> Option<String> {
    let rest = content.trim_start().strip_prefix("[!")?;
    let (kind, after) = rest.split_once(']')?;
    if kind.is_empty() || kind.contains(char::is_whitespace) {
        return None;
    }
    let title = after.trim_start_matches(['+', '-']).trim();
    Some(if title.is_empty() {
        kind.to_string()
    } else {
        title.to_string()
    })
}

/// An opening fence: three or more backticks or tildes (backtick info strings hold no backtick).
/// Any indentation is accepted, since fences inside nested list items are common in notes.
fn fence_open(content: &str) -> Option<(u8, usize)> {
    let t = content.trim_start();
    let marker = *t.as_bytes().first()?;
    if marker != b'`' && marker != b'~' {
        return None;
    }
    let len = t.bytes().take_while(|&b| b == marker).count();
    if len < 3 || (marker == b'`' && t[len..].contains('`')) {
        return None;
    }
    Some((marker, len))
}

/// Removes up to `n` bytes of leading spaces or tabs.
fn strip_indent(line: &str, n: usize) -> &str {
    let k = line
        .bytes()
        .take(n)
        .take_while(|&b| b == b' ' || b == b'\t')
        .count();
    &line[k..]
}

fn is_fence_close(content: &str, fence: &Fence) -> bool {
    let t = content.trim();
    t.len() >= fence.len && t.bytes().all(|b| b == fence.marker)
}

/// `## Title ##` → (2, `Title`): up to three spaces of indentation, then 1-6 `#` and a space.
fn atx_heading(content: &str) -> Option<(u8, &str)> {
    let indent = content.len() - content.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let t = &content[indent..];
    let level = t.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &t[level..];
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let rest = rest.trim();
    // A closing run of `#` is decoration when a space separates it from the title.
    let without_closing = rest.trim_end_matches('#');
    let title = if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        without_closing.trim_end()
    } else {
        rest
    };
    Some((level as u8, title))
}

/// `===` → level 1, `---` → level 2 (at least two characters, up to three spaces of indentation).
fn setext_underline(content: &str) -> Option<u8> {
    let indent = content.len() - content.trim_start_matches(' ').len();
    let t = content.trim();
    if indent > 3 || t.len() < 2 {
        return None;
    }
    if t.bytes().all(|b| b == b'=') {
        Some(1)
    } else if t.bytes().all(|b| b == b'-') {
        Some(2)
    } else {
        None
    }
}

/// Turns the previous line into a heading when it is a one-line plain paragraph.
fn promote_to_setext(body: &mut [BodyLine], level: u8) -> bool {
    let n = body.len();
    let Some(prev) = body.last() else {
        return false;
    };
    let plain = prev.kind == LineKind::Text
        && prev.block_id.is_none()
        && !is_list_item(&prev.text)
        && (n < 2
            || body[n - 2].kind == LineKind::Blank
            || matches!(body[n - 2].kind, LineKind::Heading { .. }));
    if !plain {
        return false;
    }
    let title = prev.text.trim().to_string();
    let last = &mut body[n - 1];
    last.text = format!("{} {title}", "#".repeat(level as usize));
    last.kind = LineKind::Heading { level, title };
    true
}

fn is_list_item(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("- ") || t.starts_with("* ") || t.starts_with("+ ") || {
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && (t[digits..].starts_with(". ") || t[digits..].starts_with(") "))
    }
}

/// `---`, `***`, `___`, also spaced (`- - -`): a rule, not content.
fn is_thematic_break(content: &str) -> bool {
    let t: Vec<u8> = content
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    t.len() >= 3 && matches!(t[0], b'-' | b'*' | b'_') && t.iter().all(|&b| b == t[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings() {
        assert_eq!(split_lines("a\r\nb\rc\nd"), ["a", "b", "c", "d"]);
        assert_eq!(split_lines("a\n"), ["a"]);
        assert_eq!(split_lines("a\n\n"), ["a", ""]);
        assert!(split_lines("").is_empty());
    }

    #[test]
    fn block_ids() {
        assert_eq!(split_block_id("text ^abc-1"), ("text", Some("abc-1")));
        assert_eq!(split_block_id("^abc"), ("", Some("abc")));
        assert_eq!(split_block_id("x^2"), ("x^2", None));
        assert_eq!(split_block_id("a ^b c"), ("a ^b c", None));
    }

    #[test]
    fn headings() {
        assert_eq!(atx_heading("## Title ##"), Some((2, "Title")));
        assert_eq!(atx_heading("# C#"), Some((1, "C#")));
        assert_eq!(atx_heading("#tag"), None);
        assert_eq!(atx_heading("####### seven"), None);
        assert_eq!(atx_heading("    # code"), None);
    }
}
