//! Model-card check of EmbeddingGemma-300m through this crate's embedder (`make check-embeddinggemma`).
//!
//! Embeds the card's query "Which planet is known as the Red Planet?" and its four documents with
//! the query and document prompts, at every precision: fp32 must reproduce the card's cosine
//! similarities [0.3011, 0.6359, 0.4930, 0.4889] within 0.005; int8 and q4 must rank the Mars
//! document first. Every Matryoshka width must give unit vectors that still rank Mars first.
//!
//! usage: check_embeddinggemma [DIR]   (default $GEMMA_DIR, else
//!        ~/.cache/vault-rag-dev/embeddinggemma-300m-onnx; a directory in the Hugging Face layout)

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use vault_rag_embed::{DocumentText, Embedder, ModelSpec, OnnxEmbedder, Precision};

const QUERY: &str = "Which planet is known as the Red Planet?";
const DOCS: [&str; 4] = [
    "Venus is often called Earth's twin because of its similar size and proximity.",
    "Mars, known for its reddish appearance, is often referred to as the Red Planet.",
    "Jupiter, the largest planet in our solar system, has a prominent red spot.",
    "Saturn, famous for its rings, is sometimes mistaken for the Red Planet.",
];
const CARD: [f32; 4] = [0.3011, 0.6359, 0.4930, 0.4889];
const MARS: usize = 1;
const TOLERANCE: f32 = 0.005;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .or_else(|| std::env::var_os("GEMMA_DIR").filter(|v| !v.is_empty()))
        .map(PathBuf::from)
        .or_else(|| dirs_home().map(|h| h.join(".cache/vault-rag-dev/embeddinggemma-300m-onnx")))
        .unwrap_or_default();
    println!(
        "model-card check of {} with the vault-rag embedder",
        dir.display()
    );
    println!("  {:<6} {:>4}  {}", "card", "dim", fmt(&CARD));
    let mut ok = true;
    for precision in [Precision::Fp32, Precision::Int8, Precision::Q4] {
        match check(&dir, precision) {
            Ok(passed) => ok &= passed,
            Err(e) => {
                println!("  {precision:<6} FAIL: {e}");
                ok = false;
            }
        }
    }
    println!("model-card check: {}", if ok { "PASS" } else { "FAIL" });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn check(dir: &std::path::Path, precision: Precision) -> Result<bool, vault_rag_embed::EmbedError> {
    let mut passed = true;
    for dim in [768, 512, 256, 128] {
        let spec = ModelSpec {
            model: "embeddinggemma-300m".into(),
            model_dir: Some(dir.to_path_buf()),
            precision,
            dim: Some(dim),
            ..ModelSpec::default()
        };
        let started = Instant::now();
        let e = OnnxEmbedder::load(&spec)?;
        let loaded = started.elapsed().as_secs_f64();
        let q = e.embed_query(QUERY)?;
        let docs: Vec<DocumentText<'_>> = DOCS
            .iter()
            .map(|text| DocumentText { title: None, text })
            .collect();
        let d = e.embed_documents(&docs)?;
        let sims: Vec<f32> = d.iter().map(|v| dot(&q, v)).collect();
        let unit = d
            .iter()
            .chain([&q])
            .all(|v| (dot(v, v).sqrt() - 1.0).abs() < 1e-3 && v.len() == dim);
        let best = (0..sims.len())
            .max_by(|&a, &b| sims[a].total_cmp(&sims[b]))
            .unwrap_or(0);
        let mut verdict = Vec::new();
        if !unit {
            verdict.push("vectors are not unit length / wrong width".to_string());
        }
        if best != MARS {
            verdict.push("Mars does NOT rank first".to_string());
        }
        let mut note = if best == MARS {
            "Mars first".to_string()
        } else {
            String::new()
        };
        if precision == Precision::Fp32 && dim == 768 {
            let diff = sims
                .iter()
                .zip(CARD)
                .map(|(s, c)| (s - c).abs())
                .fold(0f32, f32::max);
            note = format!("max|diff| to the card {diff:.4} (tol {TOLERANCE})");
            if diff > TOLERANCE {
                verdict.push("differs from the card".to_string());
            }
        }
        let status = if verdict.is_empty() { "PASS" } else { "FAIL" };
        println!(
            "  {:<6} {dim:>4}  {}  {status} {note} {}  [{}, load {loaded:.1}s, run {:.1}s]",
            precision.to_string(),
            fmt(&sims),
            verdict.join("; "),
            e.files().model_rel,
            started.elapsed().as_secs_f64() - loaded
        );
        passed &= verdict.is_empty();
    }
    Ok(passed)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn fmt(v: &[f32]) -> String {
    v.iter()
        .map(|x| format!("{x:.4}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn dirs_home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}
