//! Snapshots of every note in `fixtures/vaults/conventions`: what `parse` learns and the chunks
//! `chunk_note` makes. The `.snap` files are the reviewed specification of the conventions.
//!
//! Tokens are whitespace-separated words here, so the snapshots do not depend on a model; the
//! budget is small so that splitting, overlap and merging all show up.

use std::path::{Path, PathBuf};

use serde::Serialize;
use vault_rag_markdown::{chunk_note, parse, ChunkConfig, ParsedNote};

fn vault() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/vaults/conventions")
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "fixture vault {} is missing ({e}); it is part of the repository",
            dir.display()
        )
    });
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

fn config() -> ChunkConfig {
    ChunkConfig {
        max_tokens: 48,
        overlap_tokens: 8,
        min_tokens: 12,
        max_chars: 400,
    }
}

#[derive(Serialize)]
struct ChunkView {
    lines: String,
    heading_path: Vec<String>,
    block_id: Option<String>,
    tokens: usize,
    text: String,
    embed_text: String,
}

#[derive(Serialize)]
struct Snapshot<'a> {
    file: String,
    note: &'a ParsedNote,
    chunks: Vec<ChunkView>,
}

#[test]
fn every_fixture_note_matches_its_snapshot() {
    let root = vault();
    let mut files = Vec::new();
    markdown_files(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= 20,
        "expected the whole fixture vault, found {} notes",
        files.len()
    );
    let cfg = config();
    for path in files {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(&path).unwrap();
        let source = String::from_utf8_lossy(&bytes);
        let stem = path.file_stem().unwrap().to_string_lossy();
        let note = parse(&source, &stem);
        let chunks = chunk_note(&note, &cfg, &words);
        for c in &chunks {
            assert!(!c.text.trim().is_empty(), "{rel}: empty chunk");
            assert!(
                c.start_line <= c.end_line && c.end_line <= note.line_count,
                "{rel}: {c:?}"
            );
            assert!(
                words(&c.embed_text()) <= cfg.max_tokens,
                "{rel}: over budget: {c:?}"
            );
        }
        let chunks = chunks
            .into_iter()
            .map(|c| ChunkView {
                lines: format!("{}-{}", c.start_line, c.end_line),
                tokens: words(&c.embed_text()),
                embed_text: c.embed_text(),
                heading_path: c.heading_path,
                block_id: c.block_id,
                text: c.text,
            })
            .collect();
        let name = rel.trim_end_matches(".md").replace(['/', ' '], "_");
        insta::assert_yaml_snapshot!(
            name,
            Snapshot {
                file: rel.clone(),
                note: &note,
                chunks
            }
        );
    }
}
