//! Hostile notes: huge, deep, degenerate. Nothing may panic, and the work stays linear: the
//! text handed to the token counter is measured (no timing asserts) and must stay within a small
//! multiple of the note's size.

use std::cell::Cell;

use vault_rag_markdown::{chunk_note, parse, Chunk, ChunkConfig};

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Chunks `source`, returning the chunks and the bytes given to the counter.
fn chunk_counting(
    source: &str,
    cfg: &ChunkConfig,
    count: &dyn Fn(&str) -> usize,
) -> (Vec<Chunk>, usize) {
    let counted = Cell::new(0usize);
    let counter = |s: &str| {
        counted.set(counted.get() + s.len());
        count(s)
    };
    let note = parse(source, "note");
    let chunks = chunk_note(&note, cfg, &counter);
    for c in &chunks {
        assert!(!c.text.trim().is_empty());
        assert!(c.start_line <= c.end_line && c.end_line <= note.line_count.max(1));
    }
    (chunks, counted.get())
}

#[test]
fn ten_thousand_headings() {
    let mut source = String::new();
    for i in 0..10_000 {
        source.push_str(&format!(
            "{} Heading {i}\nText of section {i}.\n",
            "#".repeat(i % 6 + 1)
        ));
    }
    let cfg = ChunkConfig::default();
    let (chunks, counted) = chunk_counting(&source, &cfg, &words);
    assert!(chunks
        .iter()
        .any(|c| c.text.contains("Text of section 9999.")));
    assert!(chunks.iter().all(|c| c.heading_path.len() <= 6));
    assert!(chunks
        .windows(2)
        .all(|w| w[0].start_line <= w[1].start_line));
    // Heading paths are counted once per section: a handful of times the note size.
    assert!(
        counted < 10 * source.len(),
        "counted {counted} bytes for {}",
        source.len()
    );
}

#[test]
fn one_megabyte_line_without_spaces_is_cut_by_characters() {
    let line = "a".repeat(1 << 20);
    let cfg = ChunkConfig::default();
    // One "word" for the word counter: only the character cap can cut it.
    let (chunks, counted) = chunk_counting(&line, &cfg, &words);
    assert!(chunks.len() >= (1 << 20) / cfg.max_chars);
    assert!(chunks
        .iter()
        .all(|c| c.text.chars().count() <= cfg.max_chars));
    assert_eq!(
        chunks.iter().map(|c| c.text.as_str()).collect::<String>(),
        line,
        "no overlap without word boundaries"
    );
    assert!(counted <= 4 * line.len(), "counted {counted} bytes");

    // A counter that sees about one token per three characters: the token budget cuts it.
    let per_three = |s: &str| s.chars().count().div_ceil(3);
    let (chunks, counted) = chunk_counting(&line, &cfg, &per_three);
    assert!(chunks.iter().all(|c| per_three(&c.text) <= cfg.max_tokens));
    assert!(chunks.len() >= (1 << 20) / (3 * cfg.max_tokens));
    assert!(counted <= 6 * line.len(), "counted {counted} bytes");
}

#[test]
fn one_megabyte_of_words_on_one_line() {
    let line = "word ".repeat(200_000);
    let cfg = ChunkConfig::default();
    let (chunks, counted) = chunk_counting(&line, &cfg, &words);
    assert!(chunks.iter().all(|c| words(&c.text) <= cfg.max_tokens));
    let total: usize = chunks.iter().map(|c| words(&c.text)).sum();
    assert!(
        total >= 200_000,
        "every word is in a chunk, some twice (overlap)"
    );
    assert!(counted <= 6 * line.len(), "counted {counted} bytes");
}

#[test]
fn degenerate_lines_stay_linear() {
    let patterns = [
        "[",
        "[[",
        "]]",
        "![[",
        "[a](",
        "`",
        "``",
        "``` ",
        "~~~\n",
        "%%",
        "%",
        "#",
        "#a ",
        "> ",
        ">",
        "^",
        "^a ",
        "\0",
        "\r",
        "\r\n",
        "\n",
        "- ",
        "    ",
        "|",
        "\\",
        "[!note] ",
        "---\n",
        "é\u{301}",
        "\u{202e}",
    ];
    let cfg = ChunkConfig::default();
    for p in patterns {
        let source = p.repeat(128 * 1024 / p.len());
        let (_, counted) = chunk_counting(&source, &cfg, &words);
        assert!(
            counted <= 6 * source.len() + 4096,
            "{p:?}: counted {counted} bytes for {}",
            source.len()
        );
    }
    // Nested brackets whose destinations never close (`[ [ [ … ](](](`): each `[` looks up a
    // `)` from an earlier position than the one before it did.
    let nested = format!("{}{}", "[ ".repeat(32 * 1024), "](".repeat(32 * 1024));
    let (chunks, _) = chunk_counting(&nested, &cfg, &words);
    assert!(chunks.iter().any(|c| c.text.contains("[ [ [")));
}

#[test]
fn deep_quotes_and_lists() {
    let quotes = format!("{} deep quote\n", ">".repeat(100_000));
    let (chunks, _) = chunk_counting(&quotes, &ChunkConfig::default(), &words);
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].text, "deep quote");

    let list: String = (0..500)
        .map(|i| format!("{}- item {i}\n", "  ".repeat(i)))
        .collect();
    let (chunks, _) = chunk_counting(&list, &ChunkConfig::default(), &words);
    assert!(chunks.iter().any(|c| c.text.contains("item 499")));
}

#[test]
fn unclosed_fence_and_comment_run_to_the_end() {
    let source = "# A\n\n```\ncode\n# not a heading\n\nmore code\n";
    let note = parse(source, "n");
    let chunks = chunk_note(&note, &ChunkConfig::default(), &words);
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].heading_path, ["A"]);
    assert_eq!(
        chunks[0].text,
        "# A\n\n```\ncode\n# not a heading\n\nmore code"
    );

    let note = parse("visible %% hidden\n# hidden heading\nstill hidden", "n");
    let chunks = chunk_note(&note, &ChunkConfig::default(), &words);
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].text, "visible");
}

#[test]
fn a_counter_that_adds_special_tokens_still_fits_the_budget() {
    // Tokenizers often add two special tokens per call; sums of pieces over-count, never under.
    let with_specials = |s: &str| words(s) + 2;
    let cfg = ChunkConfig {
        max_tokens: 40,
        overlap_tokens: 8,
        min_tokens: 8,
        max_chars: 4096,
    };
    let text: String = (0..60)
        .map(|i| format!("Sentence number {i} has six words.\n"))
        .collect();
    let source = format!("# Title\n\n{text}");
    let (chunks, _) = chunk_counting(&source, &cfg, &with_specials);
    assert!(chunks.len() > 5);
    assert!(chunks
        .iter()
        .all(|c| with_specials(&c.embed_text()) <= cfg.max_tokens));
}

/// CPU time of this thread, so that a busy machine does not fail a time bound; wall time where
/// the kernel does not say (outside Linux).
fn cpu_time() -> std::time::Duration {
    let from_proc = std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|stat| {
            // Fields after the command name (which may hold spaces): utime and stime are the
            // 12th and 13th, in clock ticks of 1/100 s.
            let rest = &stat[stat.rfind(')')? + 1..];
            let mut fields = rest.split_whitespace().skip(11);
            let user: u64 = fields.next()?.parse().ok()?;
            let system: u64 = fields.next()?.parse().ok()?;
            Some(std::time::Duration::from_millis((user + system) * 10))
        });
    from_proc.unwrap_or_else(|| {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START.get_or_init(std::time::Instant::now).elapsed()
    })
}

/// One megabyte (about) of `unit`, repeated.
fn megabyte(unit: &str) -> String {
    unit.repeat((1 << 20) / unit.len().max(1) + 1)
}

/// Adversarial notes of about 1 MB each: parse and chunk take under 2 s of CPU each (a debug
/// build; linear work takes a fraction of that), and the output is bounded: chunk text, heading
/// paths and links stay within a small multiple of the input.
#[test]
fn adversarial_megabyte_notes_are_fast_and_bounded() {
    let rtl = "שָׁלוֹם עֲלֵיכֶם مرحبا بالعالم \u{202b}نص\u{202c} ";
    let combining = format!("e{} a\u{300}\u{301}\u{302} ", "\u{301}".repeat(40));
    let nested: String = (0..2000)
        .map(|i| {
            format!(
                "{}- {}> [!note] {}\n",
                "  ".repeat(i % 200),
                "> ".repeat(i % 50),
                "[[".repeat(i % 30)
            )
        })
        .collect();
    let notes: Vec<(&str, String)> = vec![
        (
            "unclosed frontmatter",
            format!("---\n{}", megabyte("key: [value, \"open\n")),
        ),
        (
            "frontmatter only",
            format!("---\n{}---\n", megabyte("tags: [a, b]\n")),
        ),
        (
            "unclosed fence",
            format!("# T\n```rust\n{}", megabyte("let x = 1; # not a heading\n")),
        ),
        ("fences opening fences", megabyte("```\n~~~\n````\n")),
        (
            "unclosed comment",
            format!("text %% {}", megabyte("hidden # words\n")),
        ),
        (
            "mixed line endings",
            megabyte("# H\r\nline one\rline two\n\r\n\n\rpara\r"),
        ),
        ("NUL bytes", megabyte("word\0\0 #tag\0[[li\0nk]]\0\n")),
        ("RTL text", megabyte(rtl)),
        ("combining marks", megabyte(&combining)),
        ("deep nesting", megabyte(&nested)),
        ("one line of links", megabyte("[[a|b]] ![[c#d]] [x](y) ")),
        (
            "heading ladder",
            megabyte("# a\n## b\n### c\n#### d\n##### e\n###### f\n"),
        ),
        ("block ids", megabyte("text ^id1\n^id2\n")),
    ];
    let cfg = ChunkConfig::default();
    for (what, source) in &notes {
        let started = cpu_time();
        let note = parse(source, "adversarial");
        let chunks = chunk_note(&note, &cfg, &words);
        let took = cpu_time() - started;
        assert!(
            took < std::time::Duration::from_secs(2),
            "{what}: {took:?} of CPU for {} bytes",
            source.len()
        );
        let text: usize = chunks.iter().map(|c| c.text.len()).sum();
        let headings: usize = chunks
            .iter()
            .flat_map(|c| &c.heading_path)
            .map(String::len)
            .sum();
        // Overlap repeats a little of each split section; headings repeat per chunk.
        assert!(
            text <= 2 * source.len(),
            "{what}: {text} bytes of chunk text"
        );
        assert!(
            headings <= 2 * source.len(),
            "{what}: {headings} bytes of headings"
        );
        assert!(
            note.links.len() <= source.len() / 4,
            "{what}: {} links",
            note.links.len()
        );
        assert!(
            chunks.len() <= source.len() / 4,
            "{what}: {} chunks",
            chunks.len()
        );
        for c in &chunks {
            assert!(!c.text.trim().is_empty(), "{what}: empty chunk");
            assert!(c.start_line <= c.end_line && c.end_line <= note.line_count.max(1));
            assert!(
                c.text.chars().count() <= cfg.max_chars,
                "{what}: over the cap"
            );
        }
    }
}
