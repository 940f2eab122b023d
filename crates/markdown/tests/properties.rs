//! Property tests of the chunker on generated Obsidian-style notes, and of the parser on
//! arbitrary input.
//!
//! Generated notes mark their words: `cwN` is content that must reach a chunk on its own line,
//! `hiddenN` sits in a `%%comment%%` and `fmN` in frontmatter, and neither may reach any chunk.

use proptest::prelude::*;
use vault_rag_markdown::{chunk_note, parse, ChunkConfig};

/// One generated word.
#[derive(Debug, Clone)]
enum Word {
    Content,
    /// Ends a sentence: `cwN.`
    SentenceEnd,
    /// `[[Target|cwN]]` (alias) or `[[cwN]]` (target).
    Link(bool),
    /// `#tagN`, also content.
    Tag,
    /// `%%hiddenN%%` inside a line.
    Comment,
    /// A run of `x` without spaces: `Lxxx…`.
    Long(usize),
}

/// A line inside a code fence: words, a `# words` line that must not become a heading, or blank.
#[derive(Debug, Clone)]
enum FenceLine {
    Words(usize),
    Hash(usize),
    Blank,
}

#[derive(Debug, Clone)]
enum Element {
    Heading(u8, Vec<Word>),
    Paragraph(Vec<Vec<Word>>),
    /// Backticks or tildes, and lines of content words.
    Fence(bool, Vec<FenceLine>),
    BlockComment(usize),
    Callout(Vec<Vec<Word>>),
    List(Vec<(usize, Vec<Word>)>),
    Blank,
}

fn word() -> impl Strategy<Value = Word> {
    prop_oneof![
        8 => Just(Word::Content),
        2 => Just(Word::SentenceEnd),
        1 => any::<bool>().prop_map(Word::Link),
        1 => Just(Word::Tag),
        1 => Just(Word::Comment),
        1 => (1usize..120).prop_map(Word::Long),
    ]
}

fn fence_line() -> impl Strategy<Value = FenceLine> {
    prop_oneof![
        4 => (1usize..10).prop_map(FenceLine::Words),
        1 => (1usize..4).prop_map(FenceLine::Hash),
        1 => Just(FenceLine::Blank),
    ]
}

fn line() -> impl Strategy<Value = Vec<Word>> {
    prop::collection::vec(word(), 1..14)
}

fn element() -> impl Strategy<Value = Element> {
    prop_oneof![
        2 => (1u8..=6, prop::collection::vec(Just(Word::Content), 1..4)).prop_map(|(l, w)| Element::Heading(l, w)),
        5 => prop::collection::vec(line(), 1..7).prop_map(Element::Paragraph),
        2 => (any::<bool>(), prop::collection::vec(fence_line(), 1..12)).prop_map(|(t, l)| Element::Fence(t, l)),
        1 => (1usize..4).prop_map(Element::BlockComment),
        1 => prop::collection::vec(line(), 1..4).prop_map(Element::Callout),
        1 => prop::collection::vec((0usize..4, line()), 1..6).prop_map(Element::List),
        1 => Just(Element::Blank),
    ]
}

/// A rendered note and what the checks need to know about it.
#[derive(Debug, Default)]
struct Doc {
    text: String,
    line: usize,
    next: usize,
    /// (word, 1-based line) of every content word.
    content: Vec<(String, usize)>,
    /// Words that must not reach any chunk.
    hidden: Vec<String>,
    /// Code fences as they appear in chunk text, with their word count.
    fences: Vec<(String, usize)>,
}

impl Doc {
    fn push_line(&mut self, s: &str) {
        self.text.push_str(s);
        self.text.push('\n');
        self.line += 1;
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next)
    }

    fn words(&mut self, words: &[Word]) -> String {
        let line = self.line + 1;
        let mut parts = Vec::new();
        for w in words {
            let part = match w {
                Word::Content | Word::SentenceEnd | Word::Link(_) | Word::Tag => {
                    let id = self.fresh("cw");
                    self.content.push((id.clone(), line));
                    match w {
                        Word::SentenceEnd => format!("{id}."),
                        Word::Link(true) => format!("[[Target|{id}]]"),
                        Word::Link(false) => format!("[[{id}]]"),
                        Word::Tag => format!("#{id}"),
                        _ => id,
                    }
                }
                Word::Comment => {
                    let id = self.fresh("hidden");
                    self.hidden.push(id.clone());
                    format!("%%{id}%%")
                }
                Word::Long(n) => format!("L{}", "x".repeat(*n)),
            };
            parts.push(part);
        }
        parts.join(" ")
    }

    fn render(elements: &[Element], frontmatter: bool) -> Doc {
        let mut doc = Doc::default();
        if frontmatter {
            let id = doc.fresh("fm");
            doc.hidden.push(id.clone());
            doc.push_line("---");
            doc.push_line(&format!("title: {id}"));
            doc.push_line("---");
        }
        for el in elements {
            match el {
                Element::Heading(level, words) => {
                    let text = doc.words(words);
                    doc.push_line(&format!("{} {text}", "#".repeat(*level as usize)));
                }
                Element::Paragraph(lines) => {
                    for l in lines {
                        let text = doc.words(l);
                        doc.push_line(&text);
                    }
                    doc.push_line("");
                }
                Element::Fence(tilde, lines) => {
                    let marker = if *tilde { "~~~" } else { "```" };
                    let mut fence = vec![marker.to_string()];
                    doc.push_line(marker);
                    let mut count = 0;
                    for l in lines {
                        let text = match l {
                            FenceLine::Words(n) => doc.words(&vec![Word::Content; *n]),
                            FenceLine::Hash(n) => {
                                format!("# {}", doc.words(&vec![Word::Content; *n]))
                            }
                            FenceLine::Blank => String::new(),
                        };
                        count += words(&text);
                        fence.push(text.clone());
                        doc.push_line(&text);
                    }
                    doc.push_line(marker);
                    fence.push(marker.to_string());
                    doc.fences.push((fence.join("\n"), count));
                    doc.push_line("");
                }
                Element::BlockComment(n) => {
                    doc.push_line("%%");
                    for _ in 0..*n {
                        let id = doc.fresh("hidden");
                        doc.hidden.push(id.clone());
                        doc.push_line(&format!("{id} # {id}"));
                    }
                    doc.push_line("%%");
                }
                Element::Callout(lines) => {
                    let id = doc.fresh("cw");
                    doc.content.push((id.clone(), doc.line + 1));
                    doc.push_line(&format!("> [!note] {id}"));
                    for l in lines {
                        let text = doc.words(l);
                        doc.push_line(&format!("> {text}"));
                    }
                    doc.push_line("");
                }
                Element::List(items) => {
                    for (indent, words) in items {
                        let text = doc.words(words);
                        doc.push_line(&format!("{}- {text}", "  ".repeat(*indent)));
                    }
                    doc.push_line("");
                }
                Element::Blank => doc.push_line(""),
            }
        }
        doc
    }
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

fn config() -> impl Strategy<Value = ChunkConfig> {
    (8usize..80, 0usize..16, 0usize..24, 60usize..800).prop_map(
        |(max_tokens, overlap, min, max_chars)| ChunkConfig {
            max_tokens,
            overlap_tokens: overlap.min(max_tokens / 2),
            min_tokens: min,
            max_chars,
        },
    )
}

fn check_invariants(doc: &Doc, cfg: &ChunkConfig) -> Result<(), TestCaseError> {
    let note = parse(&doc.text, "generated");
    let chunks = chunk_note(&note, cfg, &words);
    let mut prev_start = 0;
    for c in &chunks {
        prop_assert!(!c.text.trim().is_empty(), "empty chunk {:?}", c);
        prop_assert!(
            c.start_line >= note.body_start_line && c.start_line <= c.end_line,
            "{:?}",
            c
        );
        prop_assert!(
            c.end_line <= note.line_count,
            "{:?} beyond {} lines",
            c,
            note.line_count
        );
        prop_assert!(c.start_line >= prev_start, "chunks out of order at {:?}", c);
        prev_start = c.start_line;
        prop_assert!(words(&c.text) <= cfg.max_tokens, "over budget: {:?}", c);
        prop_assert!(
            c.text.chars().count() <= cfg.max_chars,
            "over the character cap: {:?}",
            c
        );
        let embed = c.embed_text();
        let ctx_words = words(&embed[..embed.len() - c.text.len()]);
        if ctx_words <= cfg.max_tokens / 2 {
            prop_assert!(
                words(&embed) <= cfg.max_tokens,
                "embed text over budget: {:?}",
                c
            );
        }
    }
    for (word, line) in &doc.content {
        let found = chunks.iter().any(|c| {
            c.start_line <= *line
                && *line <= c.end_line
                && c.text
                    .split(|ch: char| !ch.is_alphanumeric())
                    .any(|t| t == word)
        });
        prop_assert!(
            found,
            "content word {} of line {} is in no chunk covering that line",
            word,
            line
        );
    }
    for word in &doc.hidden {
        let leaked = chunks.iter().find(|c| {
            c.text
                .split(|ch: char| !ch.is_alphanumeric())
                .any(|t| t == word)
        });
        prop_assert!(leaked.is_none(), "{} leaked into {:?}", word, leaked);
    }
    for (fence, count) in &doc.fences {
        // The heading context takes at most half the budget; the two marker lines count too.
        if *count + 2 <= cfg.max_tokens / 2 && fence.chars().count() <= cfg.max_chars / 2 {
            prop_assert!(
                chunks.iter().any(|c| c.text.contains(fence.as_str())),
                "fence split although it fits: {}",
                fence
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn chunks_cover_the_body_within_budget(
        elements in prop::collection::vec(element(), 0..30),
        frontmatter in any::<bool>(),
        cfg in config(),
    ) {
        let doc = Doc::render(&elements, frontmatter);
        check_invariants(&doc, &cfg)?;
    }

    /// Tokens = UTF-8 bytes, a counter for which one character can exceed a tiny budget: a chunk
    /// is over the budget only when it is a single character.
    #[test]
    fn only_a_single_character_may_exceed_the_budget(
        text in "(\\PC|[ \n#>`%\\[\\]]){0,300}",
        max_tokens in 1usize..24,
        max_chars in 1usize..64,
    ) {
        let bytes = |s: &str| s.len();
        let cfg = ChunkConfig { max_tokens, overlap_tokens: max_tokens / 4, min_tokens: 2, max_chars };
        let note = parse(&text, "t");
        for c in chunk_note(&note, &cfg, &bytes) {
            let single = c.text.chars().count() == 1;
            prop_assert!(single || c.text.len() <= max_tokens, "{:?}", c);
            prop_assert!(single || c.text.chars().count() <= max_chars, "{:?}", c);
        }
    }

    #[test]
    fn parse_and_chunk_accept_any_string(text in "\\PC*|(.|\r|\n|\0)*") {
        let note = parse(&text, "any");
        let chunks = chunk_note(&note, &ChunkConfig { max_tokens: 16, overlap_tokens: 4, min_tokens: 4, max_chars: 64 }, &words);
        for c in chunks {
            prop_assert!(!c.text.trim().is_empty());
            prop_assert!(c.start_line <= c.end_line && c.end_line <= note.line_count);
        }
    }

    #[test]
    fn parse_accepts_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let text = String::from_utf8_lossy(&bytes);
        let note = parse(&text, "bytes");
        let _ = chunk_note(&note, &ChunkConfig::default(), &words);
    }
}

/// Pieces of Obsidian syntax that open something (and may never close), line endings of every
/// kind, NUL, right-to-left and combining characters.
fn hostile_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("---\n".to_string()),
        Just("```".to_string()),
        Just("~~~\n".to_string()),
        Just("%%".to_string()),
        Just("[[".to_string()),
        Just("]]".to_string()),
        Just("![[".to_string()),
        Just("|".to_string()),
        Just("#".to_string()),
        Just("> [!note] ".to_string()),
        Just("^block ".to_string()),
        Just("- ".to_string()),
        Just("\r\n".to_string()),
        Just("\r".to_string()),
        Just("\n".to_string()),
        Just("\0".to_string()),
        Just("\u{202e}\u{200f}עברית ".to_string()),
        Just("e\u{301}\u{302}\u{303} ".to_string()),
        Just("tags: [a, \"b\n".to_string()),
        (1usize..40).prop_map(|n| ">".repeat(n)),
        (1usize..40).prop_map(|n| "  ".repeat(n)),
        "[a-z ]{1,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Hostile syntax in any order: no panic, the chunk invariants hold, and the output stays
    /// within a small multiple of the input.
    #[test]
    fn hostile_fragments_keep_the_invariants(
        fragments in prop::collection::vec(hostile_fragment(), 0..200),
        max_tokens in 4usize..64,
    ) {
        let text: String = fragments.concat();
        let cfg = ChunkConfig { max_tokens, overlap_tokens: max_tokens / 4, min_tokens: 2, max_chars: 256 };
        let note = parse(&text, "hostile");
        let chunks = chunk_note(&note, &cfg, &words);
        let mut prev_start = 0;
        let mut out = 0;
        for c in &chunks {
            prop_assert!(!c.text.trim().is_empty());
            prop_assert!(c.start_line >= prev_start && c.start_line <= c.end_line);
            prop_assert!(c.end_line <= note.line_count);
            prop_assert!(c.text.chars().count() <= cfg.max_chars);
            prev_start = c.start_line;
            out += c.text.len();
        }
        prop_assert!(out <= 2 * text.len() + 64, "{} bytes out of {}", out, text.len());
    }
}
