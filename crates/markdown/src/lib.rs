//! Obsidian-flavoured markdown for vault-rag: note metadata and token-budgeted chunks.
//!
//! Pure functions, no IO. [`parse`] reads a note's frontmatter (`title`, `aliases`, `tags`),
//! inline `#tags`, links and embeds, and keeps a cleaned body in which every line still knows
//! its number in the file. [`chunk_note`] cuts that body into heading sections under a token
//! budget measured by the caller's counter (the embedding model's tokenizer in production).
//! [`ParsedNote::headings`] and [`find_section`] find a heading (and the lines under it) by the
//! same rules, for callers that read a note back by heading.
//!
//! Obsidian conventions handled:
//! - frontmatter between leading `---` lines; broken YAML is reported in
//!   [`ParsedNote::frontmatter_error`] and the body is still read;
//! - `%%comments%%` (inline and across lines) are not content;
//! - `[[Note#Heading|alias]]`, `[[#Heading]]`, `![[embed]]`, `[[Note#^block]]` and markdown
//!   links to `.md` files: collected as [`Link`]s, kept in chunk text as the words a reader sees;
//! - `^block-id` markers name blocks ([`Chunk::block_id`]) and are removed from the text;
//! - callouts `> [!type] Title` and quotes: markers removed, title and body kept;
//! - code fences (backticks or tildes) are text, never headings, and never split when they fit.
//!
//! Any input is accepted: arbitrary (lossily decoded) bytes, NUL, `\r\n`/`\r`/mixed line endings,
//! unclosed fences and frontmatter. Work is linear in the note size.
//!
//! ```
//! use vault_rag_markdown::{chunk_note, parse, ChunkConfig};
//!
//! let note = parse("---\ntags: [idea]\n---\n# Plan\nSee [[Roadmap#Q3|the roadmap]]. ^p1\n", "plan");
//! assert_eq!(note.tags, ["idea"]);
//! assert_eq!(note.links[0].target, "Roadmap");
//! let words = |s: &str| s.split_whitespace().count();
//! let chunks = chunk_note(&note, &ChunkConfig::default(), &words);
//! assert_eq!(chunks[0].text, "# Plan\nSee the roadmap.");
//! assert_eq!((chunks[0].start_line, chunks[0].end_line), (4, 5));
//! assert_eq!(chunks[0].block_id.as_deref(), Some("p1"));
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod chunk;
mod frontmatter;
mod headings;
mod inline;
mod note;
mod split;

pub use chunk::{chunk_note, Chunk, ChunkConfig};
pub use headings::{find_section, Heading};
pub use note::{parse, split_lines, Link, ParsedNote};
