//! Inline syntax of one line: `%%comments%%`, code spans, wikilinks, embeds, markdown links, tags.
//!
//! [`clean_inline`] turns a line into the words a reader sees (link aliases instead of link
//! syntax, no comments) and collects the links and tags it meets. Every search for a closing
//! delimiter either moves forward monotonically or uses a table built in one pass, so a line
//! costs time linear in its length even when it is a megabyte of `[` or backticks.

use std::collections::HashMap;

use crate::note::Link;

/// How deep link text is cleaned recursively (`[see [[Note]]](x.md)`); deeper text is kept as is.
const MAX_LINK_TEXT_DEPTH: u8 = 2;

/// Links and tags collected while cleaning lines.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub links: Vec<Link>,
    pub tags: Vec<String>,
}

/// Cleans one line. `in_comment` carries an open `%%` comment across lines.
pub(crate) fn clean_inline(
    src: &str,
    line: usize,
    in_comment: &mut bool,
    sink: &mut Sink,
) -> String {
    Scanner::new(src, line, sink, 0).run(in_comment)
}

/// The first position at or after `from` where `pat` occurs, remembering the last answer so that
/// queries with growing `from` scan the line once in total.
struct NextFinder {
    pat: &'static str,
    from: usize,
    found: Option<usize>,
    valid: bool,
}

impl NextFinder {
    fn new(pat: &'static str) -> Self {
        Self {
            pat,
            from: 0,
            found: None,
            valid: false,
        }
    }

    fn next(&mut self, hay: &str, from: usize) -> Option<usize> {
        if self.valid && from >= self.from {
            match self.found {
                None => return None,
                Some(f) if f >= from => return Some(f),
                Some(_) => {}
            }
        }
        let found = hay
            .get(from..)
            .and_then(|rest| rest.find(self.pat))
            .map(|k| k + from);
        self.from = from;
        self.found = found;
        self.valid = true;
        found
    }
}

/// Every position of one byte in the line, built on first use. Link destinations are looked up
/// from positions that can move backwards (nested brackets), so a cache of the last answer would
/// not keep the work linear; a binary search does.
struct Positions {
    byte: u8,
    at: Option<Vec<usize>>,
}

impl Positions {
    fn new(byte: u8) -> Self {
        Self { byte, at: None }
    }

    fn next(&mut self, hay: &str, from: usize) -> Option<usize> {
        let byte = self.byte;
        let at = self.at.get_or_insert_with(|| {
            hay.bytes()
                .enumerate()
                .filter(|&(_, b)| b == byte)
                .map(|(k, _)| k)
                .collect()
        });
        at.get(at.partition_point(|&k| k < from)).copied()
    }
}

/// Backtick runs of a line, indexed by length, to find the closer of a code span in O(1) amortised.
struct CodeRuns {
    /// (start byte, length) of every run, in order.
    runs: Vec<(usize, usize)>,
    /// Run indices by run length, ascending.
    by_len: HashMap<usize, Vec<usize>>,
    /// Per length: how far into `by_len[len]` earlier queries already moved.
    cursor: HashMap<usize, usize>,
    /// First run not yet passed by the scanner.
    next: usize,
}

impl CodeRuns {
    fn new(src: &str) -> Self {
        let b = src.as_bytes();
        let mut runs = Vec::new();
        let mut by_len: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'`' {
                let start = i;
                while i < b.len() && b[i] == b'`' {
                    i += 1;
                }
                by_len.entry(i - start).or_default().push(runs.len());
                runs.push((start, i - start));
            } else {
                i += 1;
            }
        }
        Self {
            runs,
            by_len,
            cursor: HashMap::new(),
            next: 0,
        }
    }

    /// The run starting at byte `at` and the end of the code span it opens, if it is closed.
    fn span_at(&mut self, at: usize) -> (usize, Option<usize>) {
        while self.next < self.runs.len() && self.runs[self.next].0 < at {
            self.next += 1;
        }
        let Some(&(start, len)) = self.runs.get(self.next) else {
            return (1, None);
        };
        if start != at {
            return (1, None);
        }
        let open = self.next;
        let list = self.by_len.get(&len).map(Vec::as_slice).unwrap_or(&[]);
        let cur = self.cursor.entry(len).or_insert(0);
        while *cur < list.len() && list[*cur] <= open {
            *cur += 1;
        }
        match list.get(*cur) {
            Some(&close) => {
                let (cstart, clen) = self.runs[close];
                self.next = close + 1;
                (len, Some(cstart + clen))
            }
            None => {
                self.next = open + 1;
                (len, None)
            }
        }
    }
}

struct Scanner<'a, 's> {
    src: &'a str,
    line: usize,
    sink: &'s mut Sink,
    depth: u8,
    out: String,
    wiki_open: NextFinder,
    wiki_close: NextFinder,
    /// Matching `]` of each `[` in the line, built on first use.
    brackets: Option<HashMap<usize, usize>>,
    rparen: Positions,
    rangle: Positions,
    comment: NextFinder,
    code: Option<CodeRuns>,
}

fn is_special(b: u8) -> bool {
    matches!(b, b'%' | b'\\' | b'`' | b'!' | b'[' | b'#')
}

impl<'a, 's> Scanner<'a, 's> {
    fn new(src: &'a str, line: usize, sink: &'s mut Sink, depth: u8) -> Self {
        Self {
            src,
            line,
            sink,
            depth,
            out: String::with_capacity(src.len()),
            wiki_open: NextFinder::new("[["),
            wiki_close: NextFinder::new("]]"),
            brackets: None,
            rparen: Positions::new(b')'),
            rangle: Positions::new(b'>'),
            comment: NextFinder::new("%%"),
            code: None,
        }
    }

    fn run(mut self, in_comment: &mut bool) -> String {
        let src = self.src;
        let b = src.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if *in_comment {
                match self.comment.next(src, i) {
                    Some(j) => {
                        i = j + 2;
                        *in_comment = false;
                        // `a %%note%% b` reads `a b`, not `a  b`.
                        if self.out.ends_with([' ', '\t']) {
                            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                                i += 1;
                            }
                        }
                    }
                    None => i = b.len(),
                }
                continue;
            }
            i = match b[i] {
                b'%' if b.get(i + 1) == Some(&b'%') => {
                    *in_comment = true;
                    i + 2
                }
                b'\\' if b.get(i + 1).is_some_and(u8::is_ascii_punctuation) => {
                    self.out.push(b[i + 1] as char);
                    i + 2
                }
                b'`' => self.code_span(i),
                b'!' if src[i..].starts_with("![[") => self.wikilink(i, true),
                b'[' if src[i..].starts_with("[[") => self.wikilink(i, false),
                b'!' if src[i..].starts_with("![") => self.markdown_link(i, true),
                b'[' => self.markdown_link(i, false),
                b'#' => self.tag(i),
                _ => {
                    let mut j = i + 1;
                    while j < b.len() && !is_special(b[j]) {
                        j += 1;
                    }
                    // Specials are ASCII, so `j` is a char boundary; a lone special byte is one char.
                    self.out.push_str(&src[i..j]);
                    j
                }
            };
        }
        self.out
    }

    fn code_span(&mut self, i: usize) -> usize {
        let src = self.src;
        let runs = self.code.get_or_insert_with(|| CodeRuns::new(src));
        let (len, end) = runs.span_at(i);
        let end = end.unwrap_or(i + len);
        self.out.push_str(&src[i..end]);
        end
    }

    /// `[[...]]` or `![[...]]` starting at `i`; falls back to a literal `[` or `!`.
    fn wikilink(&mut self, i: usize, embed: bool) -> usize {
        let open = if embed { i + 1 } else { i };
        let inner_start = open + 2;
        let close = self.wiki_close.next(self.src, inner_start);
        let nested = self.wiki_open.next(self.src, inner_start);
        let Some(close) = close.filter(|&c| c > inner_start && nested.is_none_or(|n| n >= c))
        else {
            self.out.push(self.src.as_bytes()[i] as char);
            return i + 1;
        };
        let (link, visible) = parse_wikilink(&self.src[inner_start..close], embed, self.line);
        self.out.push_str(&visible);
        self.sink.links.push(link);
        close + 2
    }

    /// `[text](dest)` or `![alt](dest)` starting at `i`; falls back to a literal `[` or `!`.
    fn markdown_link(&mut self, i: usize, image: bool) -> usize {
        let src = self.src;
        let text_start = if image { i + 2 } else { i + 1 };
        let literal = |s: &mut Self| {
            s.out.push(src.as_bytes()[i] as char);
            i + 1
        };
        let brackets = self.brackets.get_or_insert_with(|| match_brackets(src));
        let Some(&rb) = brackets.get(&(text_start - 1)) else {
            return literal(self);
        };
        if src.as_bytes().get(rb + 1) != Some(&b'(') {
            return literal(self);
        }
        let dest_start = rb + 2;
        let (dest, end) = if src.as_bytes().get(dest_start) == Some(&b'<') {
            match self.rangle.next(src, dest_start + 1) {
                Some(gt) => match self.rparen.next(src, gt + 1) {
                    Some(rp) => (&src[dest_start + 1..gt], rp + 1),
                    None => return literal(self),
                },
                None => return literal(self),
            }
        } else {
            match self.rparen.next(src, dest_start) {
                Some(rp) => {
                    let raw = src[dest_start..rp].trim();
                    // Drop an optional title: `(note.md "Title")`.
                    (
                        raw.split_once(char::is_whitespace).map_or(raw, |(d, _)| d),
                        rp + 1,
                    )
                }
                None => return literal(self),
            }
        };
        let text = &src[text_start..rb];
        let visible = if self.depth < MAX_LINK_TEXT_DEPTH {
            let mut comment = false;
            Scanner::new(text, self.line, self.sink, self.depth + 1).run(&mut comment)
        } else {
            text.to_string()
        };
        if let Some(mut link) = markdown_note_link(dest, image, self.line) {
            link.alias = Some(visible.trim().to_string()).filter(|a| !a.is_empty());
            self.sink.links.push(link);
        }
        self.out.push_str(&visible);
        end
    }

    /// `#tag` at `i` when it starts a word; otherwise a literal `#`.
    fn tag(&mut self, i: usize) -> usize {
        let src = self.src;
        let starts_word = src[..i].chars().next_back().is_none_or(char::is_whitespace);
        let end = src[i + 1..]
            .char_indices()
            .find(|&(_, c)| !is_tag_char(c))
            .map_or(src.len(), |(k, _)| i + 1 + k);
        let name = &src[i + 1..end];
        if starts_word && !name.is_empty() && !name.chars().all(|c| c.is_ascii_digit()) {
            self.sink.tags.push(name.to_string());
            self.out.push_str(&src[i..end]);
            end
        } else {
            self.out.push('#');
            i + 1
        }
    }
}

/// Pairs every `[` with its `]` in one pass (escaped brackets ignored), so link text may hold
/// wikilinks and nested brackets.
fn match_brackets(src: &str) -> HashMap<usize, usize> {
    let b = src.as_bytes();
    let mut open = Vec::new();
    let mut pairs = HashMap::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' => open.push(i),
            b']' => {
                if let Some(o) = open.pop() {
                    pairs.insert(o, i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    pairs
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '/') || is_combining(c)
}

fn is_combining(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// Splits the inside of `[[...]]` into a [`Link`] and the words a reader sees.
fn parse_wikilink(inner: &str, embed: bool, line: usize) -> (Link, String) {
    let (target_part, alias) = match inner.split_once('|') {
        // Inside tables the pipe is escaped: `[[Note\|alias]]`.
        Some((t, a)) => (t.strip_suffix('\\').unwrap_or(t), Some(a.trim())),
        None => (inner, None),
    };
    let alias = alias.filter(|a| !a.is_empty()).map(str::to_string);
    let (note, heading, block) = if let Some((n, f)) = target_part.split_once('#') {
        let f = f.trim();
        match f.strip_prefix('^') {
            Some(b) => (n, None, Some(b.trim())),
            None => (n, Some(f).filter(|f| !f.is_empty()), None),
        }
    } else if let Some((n, b)) = target_part.split_once('^') {
        // File names cannot contain `^`, so `[[Note^id]]` is a block reference too.
        (n, None, Some(b.trim()))
    } else {
        (target_part, None, None)
    };
    let note = note.trim();
    let heading = heading.map(str::to_string);
    let block = block.filter(|b| !b.is_empty()).map(str::to_string);
    let dimension_alias = alias.as_deref().is_some_and(is_dimension);
    let visible = match (&alias, &heading) {
        (Some(a), _) if !(embed && dimension_alias) => a.clone(),
        // `[[Note#A#B]]` names a sub-heading; a reader sees `Note > A > B`.
        (_, Some(h)) if note.is_empty() => h.replace('#', " > "),
        (_, Some(h)) => format!("{note} > {}", h.replace('#', " > ")),
        _ => note.to_string(),
    };
    let link = Link {
        target: note.to_string(),
        heading,
        block,
        alias,
        embed,
        line,
    };
    (link, visible)
}

/// `300` or `300x200`: an image size written in the alias slot of an embed.
fn is_dimension(s: &str) -> bool {
    let mut parts = s.splitn(2, 'x');
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    parts.next().is_some_and(all_digits) && parts.next().is_none_or(all_digits)
}

/// A markdown link that points at a note in the vault (`.md`, not a URL), URL-decoded.
fn markdown_note_link(dest: &str, embed: bool, line: usize) -> Option<Link> {
    if dest.contains("://") || dest.starts_with("mailto:") || dest.starts_with("obsidian:") {
        return None;
    }
    let (path, fragment) = match dest.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (dest, None),
    };
    let path = percent_decode(path);
    if !path.to_ascii_lowercase().ends_with(".md") {
        return None;
    }
    let fragment = fragment.map(percent_decode).filter(|f| !f.is_empty());
    let (heading, block) = match fragment {
        Some(f) => match f.strip_prefix('^') {
            Some(b) => (None, Some(b.to_string())),
            None => (Some(f), None),
        },
        None => (None, None),
    };
    Some(Link {
        target: path,
        heading,
        block,
        alias: None,
        embed,
        line,
    })
}

/// `%20` → space; invalid escapes and invalid UTF-8 are kept (lossily).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &str) -> (String, Sink) {
        let mut sink = Sink::default();
        let mut comment = false;
        let out = clean_inline(s, 1, &mut comment, &mut sink);
        (out, sink)
    }

    #[test]
    fn code_spans_hide_syntax() {
        let (out, sink) = clean("a ``x ` [[N]] #t`` b `c` d ` e");
        assert_eq!(out, "a ``x ` [[N]] #t`` b `c` d ` e");
        assert!(sink.links.is_empty() && sink.tags.is_empty());
    }

    #[test]
    fn link_text_is_cleaned_once_more() {
        let (out, sink) = clean("[see [[Inner|words]] and #t](Outer%20Note.md#^blk)");
        assert_eq!(out, "see words and #t");
        assert_eq!(sink.tags, ["t"]);
        let targets: Vec<_> = sink
            .links
            .iter()
            .map(|l| (l.target.as_str(), l.block.as_deref()))
            .collect();
        assert_eq!(targets, [("Inner", None), ("Outer Note.md", Some("blk"))]);
    }

    #[test]
    fn comments_across_calls() {
        let mut sink = Sink::default();
        let mut comment = false;
        assert_eq!(clean_inline("a %%b", 1, &mut comment, &mut sink), "a ");
        assert!(comment);
        assert_eq!(clean_inline("c %% d", 2, &mut comment, &mut sink), " d");
        assert!(!comment);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
        assert_eq!(percent_decode("%E6%97%A5"), "日");
        assert_eq!(percent_decode("%zz%"), "%zz%");
    }

    #[test]
    fn embed_sizes_are_not_words() {
        assert!(is_dimension("300") && is_dimension("300x200"));
        assert!(!is_dimension("x200") && !is_dimension("big"));
        let (out, _) = clean("![[a.png|640x480]] ![[b.png|a caption]]");
        assert_eq!(out, "a.png a caption");
    }
}
