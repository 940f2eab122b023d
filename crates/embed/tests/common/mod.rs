//! Shared helpers of the real-model tests: where the MiniLM test model is, and the Python
//! reference vectors made by `scripts/reference_vectors.py`.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;
use vault_rag_embed::{DocumentText, ModelSpec, Precision};

/// `VAULT_RAG_TEST_MODEL_DIR`, else the directory `make setup` fills. Panics (fails the test)
/// with instructions when the model is not there.
pub fn model_dir() -> PathBuf {
    vault_rag_embed::test_model_dir().unwrap_or_else(|e| panic!("{e}"))
}

pub fn minilm_spec() -> ModelSpec {
    ModelSpec {
        model: "all-minilm-l6-v2".into(),
        model_dir: Some(model_dir()),
        precision: Precision::Int8,
        threads: Some(2),
        ..ModelSpec::default()
    }
}

pub struct Reference {
    pub name: String,
    pub text: String,
    pub ids: Vec<u32>,
    pub vector: Vec<f32>,
}

pub fn reference() -> Vec<Reference> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm_reference.json");
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value = serde_json::from_str(&raw).unwrap();
    json["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| Reference {
            name: t["name"].as_str().unwrap().to_string(),
            text: t["text"].as_str().unwrap().to_string(),
            ids: t["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect(),
            vector: t["vector"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect(),
        })
        .collect()
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

pub fn norm(a: &[f32]) -> f32 {
    a.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// `texts` as documents without a title.
pub fn untitled<S: AsRef<str>>(texts: &[S]) -> Vec<DocumentText<'_>> {
    texts
        .iter()
        .map(|t| DocumentText {
            title: None,
            text: t.as_ref(),
        })
        .collect()
}
