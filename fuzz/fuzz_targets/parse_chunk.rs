//! Arbitrary bytes through `parse` and `chunk_note`: no panic, the chunk invariants hold, and
//! the output stays proportional to the input. Run with `-timeout=2` so that slow inputs count
//! as failures, and `-dict=parse_chunk.dict` to reach Obsidian syntax sooner.
//! The first byte picks the budget so that small budgets (every splitting level) are reached.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vault_rag_markdown::{chunk_note, parse, ChunkConfig};

fuzz_target!(|data: &[u8]| {
    let (knob, rest) = data.split_first().map_or((0, data), |(k, r)| (*k as usize, r));
    let text = String::from_utf8_lossy(rest);
    let note = parse(&text, "fuzz");
    let max_tokens = 1 + knob % 64;
    let cfg = ChunkConfig {
        max_tokens,
        overlap_tokens: max_tokens / 4,
        min_tokens: max_tokens / 8,
        max_chars: 8 + knob * 4,
    };
    let words = |s: &str| s.split_whitespace().count();
    let bytes = |s: &str| s.len();
    let counters: [&dyn Fn(&str) -> usize; 2] = [&words, &bytes];
    for count in counters {
        let mut prev_start = 0;
        let mut out = 0;
        for c in chunk_note(&note, &cfg, count) {
            out += c.text.len();
            assert!(!c.text.trim().is_empty(), "empty chunk");
            assert!(c.start_line >= prev_start, "chunks out of order");
            assert!(c.start_line <= c.end_line && c.end_line <= note.line_count, "bad lines");
            let single_char = c.text.chars().count() == 1;
            assert!(single_char || count(&c.text) <= cfg.max_tokens, "over budget");
            assert!(single_char || c.text.chars().count() <= cfg.max_chars, "over the character cap");
            prev_start = c.start_line;
        }
        // Overlap repeats part of a split section, never the whole note twice.
        assert!(out <= 2 * text.len() + 64, "output out of proportion");
    }
});
