//! Each first stage (binary and int8 codes) with f16 re-scoring against exact brute force over
//! the real MiniLM vectors of a real index (ONNX Runtime, the sample vault and the search
//! fixture vault).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vault_rag_core::Embedder;
use vault_rag_embed::{ModelSpec, OnnxEmbedder};

use super::testdb::stored_vectors;
use super::{dense_top, NoteFilter, SearchContext, VectorCodes, VectorMatrix};
use crate::store::Store;
use crate::{Engine, IndexSettings};

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn model_dir() -> PathBuf {
    vault_rag_embed::test_model_dir().unwrap_or_else(|e| panic!("{e}"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Each first stage + f16 re-scoring agrees with exact brute force over the real MiniLM vectors
/// of a vault (the sample vault plus the fixture vault), for real queries and for every chunk
/// used as a query: the compact stage returns the same top results as the exact scan.
#[test]
fn compact_search_agrees_with_brute_force_on_real_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    copy_dir(&repo("examples/sample-vault"), &vault.join("sample"));
    copy_dir(&repo("fixtures/vaults/search"), &vault.join("fixture"));
    let embedder = Arc::new(
        OnnxEmbedder::load(&ModelSpec {
            model: "all-minilm-l6-v2".into(),
            model_dir: Some(model_dir()),
            threads: Some(2),
            ..ModelSpec::default()
        })
        .unwrap(),
    );
    let mut settings = IndexSettings::new(&vault);
    settings.data_dir = Some(dir.path().join("data"));
    let engine = Engine::open(settings, embedder.clone()).unwrap();
    engine.reconcile(&|_| {}).unwrap();
    let index_path = engine.index_path().to_path_buf();
    engine.shutdown();
    drop(engine);

    let store = Store::open_read_only(&index_path).unwrap();
    let reader = store.reader().unwrap();
    let fp = embedder.fingerprint().id();
    let dims = 384;
    let stored = stored_vectors(&reader, &fp, dims);
    assert!(stored.len() >= 100, "only {} chunks", stored.len());

    let mut queries: Vec<Vec<f32>> = stored.iter().map(|(_, v)| v.clone()).collect();
    for q in [
        "how do I keep my data safe",
        "sourdough",
        "XR-7741b",
        "番茄工作法",
        "travel plans",
    ] {
        queries.push(embedder.embed_query(q).unwrap());
    }
    for codes in [VectorCodes::Binary, VectorCodes::Int8] {
        let matrix = VectorMatrix::load(&reader, &fp, dims, codes).unwrap();
        assert_eq!(matrix.len(), stored.len());
        let ctx = SearchContext {
            reader: &reader,
            vectors: &matrix,
            fingerprint_id: &fp,
        };
        let (mut found, mut same_first, mut found_scan) = (0usize, 0usize, 0usize);
        for q in &queries {
            let mut exact: Vec<(f32, i64)> = stored
                .iter()
                .map(|(id, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), *id))
                .collect();
            exact.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let truth: Vec<i64> = exact[..10].iter().map(|e| e.1).collect();
            // Depth 10: the binary shortlist (80) is well under the 190 chunks.
            let got = dense_top(&ctx, q, 10, &NoteFilter::All).unwrap();
            found += got[..10]
                .iter()
                .filter(|s| truth.contains(&s.chunk_id))
                .count();
            same_first += usize::from(got[0].chunk_id == truth[0]);
            let scan = matrix.top_k(q, 10, &NoteFilter::All);
            found_scan += scan.iter().filter(|s| truth.contains(&s.chunk_id)).count();
        }
        let n = queries.len();
        let recall = found as f64 / (n * 10) as f64;
        let recall_scan = found_scan as f64 / (n * 10) as f64;
        println!(
            "{codes}: {} chunks, {n} queries: recall@10 {recall:.4}, same first hit {same_first}/{n} \
             (scan alone: {recall_scan:.4})",
            stored.len(),
        );
        assert!(recall >= 0.99, "{codes}: recall@10 = {recall}");
        assert!(
            same_first * 100 >= n * 99,
            "{codes}: same first hit {same_first}/{n}"
        );
        if codes == VectorCodes::Int8 {
            assert!(recall_scan >= 0.9, "int8-only recall@10 = {recall_scan}");
        }
    }
}
