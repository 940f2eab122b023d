//! Measures `parse` + `chunk_note` on a BEIR-layout corpus (`corpus.jsonl`, one
//! `{"_id","title","text"}` per line), each document written as a note `# title\n\ntext`.
//!
//! ```sh
//! cargo run --release -p vault-rag-markdown --example throughput -- fixtures/beir/cranfield/corpus.jsonl
//! ```
//!
//! Tokens are whitespace-separated words; the report also gives the bytes handed to the counter
//! per input byte, which is what a real tokenizer's cost scales with.

use std::cell::Cell;
use std::time::Instant;

use vault_rag_markdown::{chunk_note, parse, ChunkConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: throughput CORPUS.jsonl [REPEAT]")?;
    let repeat: usize = std::env::args().nth(2).map_or(Ok(3), |r| r.parse())?;
    let mut notes = Vec::new();
    for line in std::fs::read_to_string(&path)?.lines() {
        let doc: serde_json::Value = serde_json::from_str(line)?;
        let title = doc["title"].as_str().unwrap_or_default();
        let text = doc["text"].as_str().unwrap_or_default();
        notes.push(format!("# {title}\n\n{text}\n"));
    }
    let bytes: usize = notes.iter().map(String::len).sum();
    let cfg = ChunkConfig::default();
    let counted = Cell::new(0usize);
    let words = |s: &str| {
        counted.set(counted.get() + s.len());
        s.split_whitespace().count()
    };
    let mut best = f64::MAX;
    let mut chunks = 0;
    for _ in 0..repeat {
        counted.set(0);
        chunks = 0;
        let start = Instant::now();
        for note in &notes {
            let parsed = parse(note, "note");
            chunks += chunk_note(&parsed, &cfg, &words).len();
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{} notes, {:.1} MB, {chunks} chunks: best of {repeat} {:.3} s = {:.1} MB/s, {:.0} notes/s; \
         counter saw {:.2} bytes per input byte",
        notes.len(),
        bytes as f64 / 1e6,
        best,
        bytes as f64 / 1e6 / best,
        notes.len() as f64 / best,
        counted.get() as f64 / bytes as f64,
    );
    Ok(())
}
