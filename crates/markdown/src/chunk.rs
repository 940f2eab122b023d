//! [`chunk_note`]: heading sections packed into chunks under a token budget.
//!
//! The body is cut into sections at headings. Each section's blocks become pieces
//! ([`crate::split`]), and a packer fills chunks greedily, so a chunk breaks at a paragraph
//! boundary when one is near and only cuts lines, sentences or words when a block alone is too
//! big. A code fence that fits the budget is one piece and therefore never split.
//!
//! - A chunk never mixes sections, except that a chunk still below `min_tokens` takes in the
//!   next section when it is a sibling or a sub-section (not a parent's sibling) and fits.
//! - When a section needs several chunks, each chunk after the first starts with up to
//!   `overlap_tokens` of prose from the end of the previous one (never code or headings).
//! - The budget counts [`Chunk::embed_text`]: the heading context line is reserved up front
//!   (at most half the budget).

use serde::Serialize;

use crate::note::{BodyLine, LineKind, ParsedNote};
use crate::split::{block_pieces, sentence_cuts, word_cuts, BlockInfo, Budget, Piece, Sep};

/// Chunking budget, in tokens of the counter given to [`chunk_note`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChunkConfig {
    /// Upper bound of a chunk's [`Chunk::embed_text`] tokens.
    pub max_tokens: usize,
    /// Prose repeated from the previous chunk when a section is split.
    pub overlap_tokens: usize,
    /// A chunk smaller than this takes in the following sibling or sub-section while it fits.
    pub min_tokens: usize,
    /// Upper bound of a chunk's text in characters: a guard for counters that see one token in
    /// a long run without spaces.
    pub max_chars: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            overlap_tokens: 32,
            min_tokens: 24,
            max_chars: 4096,
        }
    }
}

/// A piece of a note that is embedded and searched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chunk {
    /// Titles of the headings above the chunk, outermost first. When a chunk spans sections
    /// (small sections merged), the path they share.
    pub heading_path: Vec<String>,
    /// First and last line of the chunk in the file: 1-based, inclusive, frontmatter counted.
    pub start_line: usize,
    pub end_line: usize,
    /// The first `^block-id` inside the chunk (the marker itself is not in `text`).
    pub block_id: Option<String>,
    /// The cleaned text: no comments, no link syntax, no quote markers; headings as `## Title`.
    pub text: String,
}

impl Chunk {
    /// What gets embedded and hashed: the heading path (`A > B`) on the first line, then the
    /// text. Headings the text already opens with are not repeated. Depends only on
    /// `heading_path` and `text`, so a chunk rebuilt from those two gives the same string.
    pub fn embed_text(&self) -> String {
        let path = &self.heading_path;
        let first_line = self.text.lines().next().unwrap_or_default();
        let opens_with_last = path
            .last()
            .is_some_and(|last| heading_title(first_line) == Some(last));
        let context = if opens_with_last {
            &path[..path.len() - 1]
        } else {
            &path[..]
        };
        if context.is_empty() {
            self.text.clone()
        } else {
            format!("{}\n{}", context.join(" > "), self.text)
        }
    }
}

/// `## Title` → `Title` (the form headings take in chunk text).
fn heading_title(line: &str) -> Option<&str> {
    let hashes = line.bytes().take_while(|&b| b == b'#').count();
    if (1..=6).contains(&hashes) {
        line[hashes..].strip_prefix(' ')
    } else {
        None
    }
}

/// Splits a parsed note into chunks (see the module docs for the rules). Empty notes give none.
///
/// `count_tokens` should count content tokens without special tokens: a block is counted once
/// and chunks add up their blocks' counts, so a counter that adds special tokens to every call
/// only makes chunks smaller. A chunk exceeds the budget only when it is a single character that
/// alone counts more tokens than the budget.
pub fn chunk_note(
    note: &ParsedNote,
    cfg: &ChunkConfig,
    count_tokens: &dyn Fn(&str) -> usize,
) -> Vec<Chunk> {
    let sections = sections(&note.body);
    let budgets: Vec<usize> = sections
        .iter()
        .map(|s| section_budget(s, cfg, count_tokens))
        .collect();
    let mut packer = Packer {
        cfg,
        count: count_tokens,
        sep_tokens: [count_tokens("\n\n"), count_tokens("\n"), 0],
        sections: &sections,
        budgets: &budgets,
        cur: Vec::new(),
        tokens: 0,
        chars: 0,
        budget: 0,
        group_level: 0,
        out: Vec::new(),
    };
    let mut pieces = Vec::new();
    for (index, section) in sections.iter().enumerate() {
        let budget = Budget {
            tokens: budgets[index],
            chars: cfg.max_chars.max(1),
            count: count_tokens,
        };
        packer.begin_section(section.level);
        for block in &section.blocks {
            let info = BlockInfo {
                sep: if block.blank_before {
                    Sep::Paragraph
                } else {
                    Sep::Line
                },
                overlap_ok: block.kind == BlockKind::Paragraph,
                heading: block.kind == BlockKind::Heading,
                section: index,
            };
            block_pieces(&note.body[block.lines.clone()], &info, &budget, &mut pieces);
            for piece in pieces.drain(..) {
                packer.push(piece);
            }
        }
    }
    packer.flush();
    packer.out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Heading,
    Paragraph,
    Fence,
}

#[derive(Debug)]
struct Block {
    /// Index range into the body lines.
    lines: std::ops::Range<usize>,
    kind: BlockKind,
    blank_before: bool,
}

#[derive(Debug)]
struct Section {
    /// Heading level; 0 for the text before the first heading.
    level: u8,
    path: Vec<String>,
    blocks: Vec<Block>,
}

/// Cuts the body at headings; blocks are runs of text lines, fences and heading lines.
fn sections(body: &[BodyLine]) -> Vec<Section> {
    let mut sections = vec![Section {
        level: 0,
        path: Vec::new(),
        blocks: Vec::new(),
    }];
    let mut stack: Vec<(u8, &str)> = Vec::new();
    let mut blank_before = false;
    let mut i = 0;
    while i < body.len() {
        let start = i;
        let kind = match &body[i].kind {
            LineKind::Blank => {
                blank_before = true;
                i += 1;
                continue;
            }
            LineKind::Heading { level, title } => {
                while stack.last().is_some_and(|&(l, _)| l >= *level) {
                    stack.pop();
                }
                stack.push((*level, title));
                let path = stack.iter().map(|&(_, t)| t.to_string()).collect();
                sections.push(Section {
                    level: *level,
                    path,
                    blocks: Vec::new(),
                });
                i += 1;
                BlockKind::Heading
            }
            LineKind::Fence(id) => {
                while i < body.len() && body[i].kind == LineKind::Fence(*id) {
                    i += 1;
                }
                BlockKind::Fence
            }
            LineKind::Text => {
                while i < body.len() && body[i].kind == LineKind::Text {
                    i += 1;
                }
                BlockKind::Paragraph
            }
        };
        if let Some(section) = sections.last_mut() {
            section.blocks.push(Block {
                lines: start..i,
                kind,
                blank_before,
            });
        }
        blank_before = false;
    }
    sections.retain(|s| !s.blocks.is_empty());
    sections
}

/// The tokens left for text once the heading context line is reserved (at most half).
fn section_budget(section: &Section, cfg: &ChunkConfig, count: &dyn Fn(&str) -> usize) -> usize {
    let reserve = if section.path.is_empty() {
        0
    } else {
        (count(&section.path.join(" > ")) + count("\n")).min(cfg.max_tokens / 2)
    };
    cfg.max_tokens.saturating_sub(reserve).max(1)
}

struct Packer<'a> {
    cfg: &'a ChunkConfig,
    count: &'a dyn Fn(&str) -> usize,
    /// Tokens of the text between pieces, by [`Sep`] (some tokenizers count line breaks).
    sep_tokens: [usize; 3],
    sections: &'a [Section],
    /// Token budget of each section's text.
    budgets: &'a [usize],
    cur: Vec<Piece>,
    tokens: usize,
    chars: usize,
    /// The smallest budget among the sections in `cur`.
    budget: usize,
    /// Level of the section the current chunk started in.
    group_level: u8,
    out: Vec<Chunk>,
}

impl Packer<'_> {
    /// A new section closes the current chunk unless that chunk is small and may take it in.
    fn begin_section(&mut self, level: u8) {
        if self.cur.is_empty() {
            return;
        }
        let may_merge = self.tokens < self.cfg.min_tokens && level >= self.group_level;
        if !may_merge {
            self.flush();
        }
    }

    fn push(&mut self, piece: Piece) {
        let budget = self.budgets[piece.section];
        if !self.cur.is_empty() {
            let limit = self.budget.min(budget);
            let chars = self.chars + piece.sep.as_str().len() + piece.chars;
            if self.tokens + self.sep_cost(piece.sep) + piece.tokens > limit
                || chars > self.cfg.max_chars
            {
                let carried = self.trailing_headings(&piece);
                let done = self.flush();
                let lead = if carried.is_empty() {
                    self.overlap(&done, &piece, budget)
                } else {
                    carried
                };
                for p in lead {
                    self.add(p);
                }
            }
        }
        self.add(piece);
    }

    /// Headings at the end of the current chunk, taken out of it to open the next chunk with
    /// `next`, when something else stays behind and they fit together.
    fn trailing_headings(&mut self, next: &Piece) -> Vec<Piece> {
        let keep = self
            .cur
            .iter()
            .rposition(|p| !p.heading)
            .map_or(0, |k| k + 1);
        if keep == 0 || keep == self.cur.len() {
            return Vec::new();
        }
        let tail = &self.cur[keep..];
        let tokens = tail
            .iter()
            .chain([next])
            .map(|p| p.tokens + self.sep_cost(p.sep))
            .sum::<usize>();
        let chars: usize = tail.iter().map(|p| p.chars + 2).sum::<usize>() + next.chars;
        let budget = tail
            .iter()
            .map(|p| self.budgets[p.section])
            .fold(self.budgets[next.section], usize::min);
        if tokens > budget || chars > self.cfg.max_chars {
            return Vec::new();
        }
        self.cur.split_off(keep)
    }

    fn sep_cost(&self, sep: Sep) -> usize {
        self.sep_tokens[sep as usize]
    }

    fn add(&mut self, piece: Piece) {
        let budget = self.budgets[piece.section];
        if self.cur.is_empty() {
            self.group_level = self.sections[piece.section].level;
            self.budget = budget;
            self.tokens = 0;
            self.chars = 0;
        } else {
            self.budget = self.budget.min(budget);
            self.chars += piece.sep.as_str().len();
            self.tokens += self.sep_cost(piece.sep);
        }
        self.tokens += piece.tokens;
        self.chars += piece.chars;
        self.cur.push(piece);
    }

    /// Emits the current chunk and returns its pieces.
    fn flush(&mut self) -> Vec<Piece> {
        let pieces = std::mem::take(&mut self.cur);
        if let Some(chunk) = assemble(&pieces, self.sections) {
            self.out.push(chunk);
        }
        pieces
    }

    /// Prose from the end of the previous chunk of the same section to repeat before `next`.
    fn overlap(&self, prev: &[Piece], next: &Piece, budget: usize) -> Vec<Piece> {
        let limit = self
            .cfg
            .overlap_tokens
            .min(budget / 2)
            .min(budget.saturating_sub(next.tokens + self.sep_cost(next.sep)));
        let char_limit = (self.cfg.max_chars / 2).saturating_sub(next.chars);
        let mut taken: Vec<Piece> = Vec::new();
        let (mut tokens, mut chars) = (0, 0);
        for p in prev.iter().rev() {
            if p.section != next.section || !p.overlap_ok {
                break;
            }
            let cost = p.tokens + self.sep_cost(p.sep);
            if tokens + cost <= limit && chars + p.chars + 2 <= char_limit {
                tokens += cost;
                chars += p.chars + 2;
                taken.push(p.clone());
                continue;
            }
            // Words cut from a paragraph would open the chunk mid-sentence for no gain when the
            // chunk starts a new paragraph anyway.
            if taken.is_empty() && next.sep != Sep::Paragraph {
                taken.extend(self.tail(p, limit, char_limit));
            }
            break;
        }
        taken.reverse();
        taken
    }

    /// The last words of a piece's last line that fit `limit`, starting at a sentence when one
    /// fits. Counts at most a few words past the limit.
    fn tail(&self, piece: &Piece, limit: usize, char_limit: usize) -> Option<Piece> {
        let line = piece.text.rsplit('\n').next().unwrap_or_default();
        let first_word = line.len() - line.trim_start().len();
        // Sentence cuts matter for scripts written without spaces.
        let mut starts: Vec<usize> = std::iter::once(first_word)
            .chain(word_cuts(line))
            .chain(sentence_cuts(line))
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let mut best: Option<usize> = None;
        let mut best_sentence: Option<usize> = None;
        let mut tokens = 0;
        for (k, &start) in starts.iter().enumerate().rev() {
            let end = starts.get(k + 1).copied().unwrap_or(line.len());
            tokens += (self.count)(&line[start..end]);
            if tokens > limit || line.len() - start > char_limit {
                break;
            }
            best = Some(start);
            if line[..start]
                .trim_end()
                .ends_with(['.', '!', '?', '。', '！', '？'])
            {
                best_sentence = Some(start);
            }
        }
        let start = best_sentence.or(best)?;
        let text = line[start..].to_string();
        if text.trim().is_empty() {
            return None;
        }
        Some(Piece {
            tokens: (self.count)(&text),
            chars: text.chars().count(),
            text,
            first_line: piece.last_line,
            last_line: piece.last_line,
            sep: Sep::Paragraph,
            block_id: None,
            overlap_ok: true,
            heading: false,
            section: piece.section,
        })
    }
}

/// The chunk made of `pieces`, if it holds any visible text.
fn assemble(pieces: &[Piece], sections: &[Section]) -> Option<Chunk> {
    let (first, last) = (pieces.first()?, pieces.last()?);
    let mut text = String::with_capacity(pieces.iter().map(|p| p.text.len() + 2).sum());
    for (k, p) in pieces.iter().enumerate() {
        if k > 0 {
            text.push_str(p.sep.as_str());
        }
        text.push_str(&p.text);
    }
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut path: &[String] = &sections[first.section].path;
    for p in pieces {
        let other = &sections[p.section].path;
        let shared = path.iter().zip(other).take_while(|(a, b)| a == b).count();
        path = &path[..shared];
    }
    Some(Chunk {
        heading_path: path.to_vec(),
        start_line: first.first_line,
        end_line: last.last_line,
        block_id: pieces.iter().find_map(|p| p.block_id.clone()),
        text: text.to_string(),
    })
}
