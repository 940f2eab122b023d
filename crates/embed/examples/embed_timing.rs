//! Times the embedder and reads its memory on texts read from a file (one per line), as documents.
//! Used for the measurements in docs/benchmarks.md (`bench/levers.sh` runs it once per setting):
//!
//! `cargo run --release -p vault-rag-embed --example embed_timing -- FILE [MODEL] [DIR]`
//!
//! Environment: `PRECISION` (int8, q4, fp32), `BATCH_TOKENS`, `THREADS`, plus the session
//! settings `VAULT_RAG_ORT_*` and `VAULT_RAG_MALLOC_TRIM`. Prints one JSON object on stdout.
use std::time::Instant;

use vault_rag_embed::{DocumentText, Embedder, ModelSpec, OnnxEmbedder, Precision};

/// (VmRSS, VmHWM, RssAnon, RssFile) of this process in MiB.
fn memory() -> (f64, f64, f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let read = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| (kb / 1024.0 * 10.0).round() / 10.0)
    };
    (
        read("VmRSS:"),
        read("VmHWM:"),
        read("RssAnon:"),
        read("RssFile:"),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_default())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or("usage: embed_timing FILE [MODEL] [DIR]")?;
    let text = std::fs::read_to_string(path)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let env_num = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    let precision = match std::env::var("PRECISION").as_deref() {
        Ok("q4") => Precision::Q4,
        Ok("fp32") => Precision::Fp32,
        _ => Precision::Int8,
    };
    let spec = ModelSpec {
        model: args
            .get(2)
            .cloned()
            .unwrap_or_else(|| "all-minilm-l6-v2".into()),
        model_dir: args.get(3).map(Into::into),
        precision,
        batch_tokens: env_num("BATCH_TOKENS"),
        threads: env_num("THREADS"),
        ..ModelSpec::default()
    };
    let before = memory();
    let t0 = Instant::now();
    let e = OnnxEmbedder::load(&spec)?;
    let load = t0.elapsed().as_secs_f64();
    let loaded = memory();
    let tokens: usize = lines
        .iter()
        .map(|l| e.count_tokens(l).min(e.fingerprint().max_tokens))
        .sum();
    let docs: Vec<DocumentText<'_>> = lines
        .iter()
        .map(|l| DocumentText {
            title: None,
            text: l,
        })
        .collect();
    let t1 = Instant::now();
    let v = e.embed_documents(&docs)?;
    let took = t1.elapsed().as_secs_f64();
    let end = memory();
    // The worker drops mapped pages and returns freed heap once it has been idle a while.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let idle = memory();
    println!(
        "{{\"texts\": {}, \"tokens\": {tokens}, \"load_seconds\": {load:.2}, \"embed_seconds\": {took:.2}, \
         \"tokens_per_second\": {:.1}, \"rss_start_mib\": {}, \"rss_after_load_mib\": {}, \
         \"peak_after_load_mib\": {}, \"rss_end_mib\": {}, \"peak_rss_mib\": {}, \"anon_after_load_mib\": {}, \"file_after_load_mib\": {}, \
         \"anon_end_mib\": {}, \"file_end_mib\": {}, \"rss_idle_mib\": {}, \"anon_idle_mib\": {}, \
         \"file_idle_mib\": {}, \"dim\": {}}}",
        v.len(),
        tokens as f64 / took,
        before.0,
        loaded.0,
        loaded.1,
        end.0,
        end.1,
        loaded.2,
        loaded.3,
        end.2,
        end.3,
        idle.0,
        idle.2,
        idle.3,
        v.first().map_or(0, Vec::len)
    );
    Ok(())
}
