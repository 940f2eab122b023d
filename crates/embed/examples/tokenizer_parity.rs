//! Compares the compact BPE tokenizer with the `tokenizers` library on one `tokenizer.json`:
//! id for id on every text, load time, resident memory after load (each backend in a fresh
//! process of this example), and encoding speed. Prints one JSON object.
//!
//! `cargo run --release -p vault-rag-embed --example tokenizer_parity -- TOKENIZER_JSON INPUT...`
//!
//! An INPUT is a `.jsonl` corpus (each record's `title`, its `text`, and the two in the document
//! prompt form), a directory (its `.md` files, recursively), or any other text file; a file's
//! whole content is one text and each of its non-empty lines another. `MAX_TOKENS` (default
//! 2048) is the truncation limit of `encode`; `count` is compared untruncated.
use std::path::{Path, PathBuf};
use std::time::Instant;

use vault_rag_embed::{ProcessMemory, TextTokenizer, TokenizerBackend};

const MEMORY_ONLY: &str = "TOKENIZER_PARITY_MEMORY_ONLY";

fn backend_named(name: &str) -> Option<TokenizerBackend> {
    match name {
        "compact" => Some(TokenizerBackend::CompactBpe),
        "hf" => Some(TokenizerBackend::HuggingFace),
        _ => None,
    }
}

fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's heaps; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn mib() -> (f64, f64) {
    ProcessMemory::current().map_or((0.0, 0.0), |m| (m.rss_mib(), m.peak_mib()))
}

/// In a child process: load one backend and report its memory.
fn memory_only(path: &Path, backend: TokenizerBackend) -> Result<(), Box<dyn std::error::Error>> {
    let start = mib();
    let t0 = Instant::now();
    let tok = TextTokenizer::load_with(path, 2048, backend)?;
    let load = t0.elapsed().as_secs_f64();
    let loaded = mib();
    trim();
    let trimmed = mib();
    // Keep the tokenizer alive until after the readings.
    let probe = tok.count("memory probe")?;
    println!(
        "{{\"load_seconds\": {load:.3}, \"rss_start_mib\": {}, \"rss_after_load_mib\": {}, \
         \"rss_after_trim_mib\": {}, \"peak_mib\": {}, \"probe_tokens\": {probe}}}",
        start.0, loaded.0, trimmed.0, loaded.1
    );
    Ok(())
}

fn md_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            md_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
    Ok(())
}

fn file_texts(text: String, out: &mut Vec<String>) {
    out.extend(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned),
    );
    out.push(text);
}

fn read_inputs(inputs: &[String]) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut texts = Vec::new();
    for input in inputs {
        let path = Path::new(input);
        if path.is_dir() {
            let mut files = Vec::new();
            md_files(path, &mut files)?;
            for f in files {
                file_texts(std::fs::read_to_string(f)?, &mut texts);
            }
        } else if input.ends_with(".jsonl") {
            for line in std::fs::read_to_string(path)?.lines() {
                let v: serde_json::Value = serde_json::from_str(line)?;
                let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
                let (title, text) = (field("title"), field("text"));
                let title_or_none = if title.is_empty() { "none" } else { &title };
                texts.push(format!("title: {title_or_none} | text: {text}"));
                texts.push(title);
                texts.push(text);
            }
        } else {
            file_texts(std::fs::read_to_string(path)?, &mut texts);
        }
    }
    Ok(texts)
}

fn child_memory(path: &str, name: &str) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .arg(path)
        .env(MEMORY_ONLY, name)
        .output()?;
    if !out.status.success() {
        return Err(format!("{name}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or("usage: tokenizer_parity TOKENIZER_JSON INPUT...")?;
    if let Ok(name) = std::env::var(MEMORY_ONLY) {
        let backend = backend_named(&name).ok_or("unknown backend")?;
        return memory_only(Path::new(path), backend);
    }
    let max_tokens: usize = std::env::var("MAX_TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048);
    let texts = read_inputs(&args[1..])?;
    let memory = [child_memory(path, "compact")?, child_memory(path, "hf")?];
    let compact =
        TextTokenizer::load_with(Path::new(path), max_tokens, TokenizerBackend::CompactBpe)?;
    let hf = TextTokenizer::load_with(Path::new(path), max_tokens, TokenizerBackend::HuggingFace)?;
    let auto = TextTokenizer::load(Path::new(path), max_tokens)?.backend();

    // Speed: untruncated counts of every text, one backend after the other.
    let mut speed = Vec::new();
    let mut counts = Vec::new();
    for tok in [&compact, &hf] {
        let t0 = Instant::now();
        let c: Vec<usize> = texts
            .iter()
            .map(|t| tok.count(t))
            .collect::<Result<_, _>>()?;
        let secs = t0.elapsed().as_secs_f64();
        speed.push(c.iter().sum::<usize>() as f64 / secs);
        counts.push(c);
    }
    let (mut mismatches, mut examples) = (0usize, Vec::new());
    for (i, text) in texts.iter().enumerate() {
        let (a, b) = (compact.encode(text)?.ids, hf.encode(text)?.ids);
        if a != b || counts[0][i] != counts[1][i] {
            mismatches += 1;
            if examples.len() < 5 {
                let at = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
                examples.push(serde_json::json!({
                    "text": text.chars().take(200).collect::<String>(),
                    "first_difference": at,
                    "compact": &a[at.saturating_sub(3)..(at + 5).min(a.len())],
                    "hf": &b[at.saturating_sub(3)..(at + 5).min(b.len())],
                    "counts": [counts[0][i], counts[1][i]],
                }));
            }
        }
    }
    let tokens: usize = counts[1].iter().sum();
    let report = serde_json::json!({
        "tokenizer": path,
        "auto_backend": format!("{auto:?}"),
        "texts": texts.len(),
        "tokens": tokens,
        "max_tokens": max_tokens,
        "mismatches": mismatches,
        "mismatch_examples": examples,
        "compact": { "memory": memory[0], "tokens_per_second": speed[0].round() },
        "hf": { "memory": memory[1], "tokens_per_second": speed[1].round() },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
