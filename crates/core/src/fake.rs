//! A deterministic embedder for fast unit tests: hashed word and character-trigram features,
//! L2-normalised. Texts sharing words land close together; it knows no synonyms, so tests of
//! semantic behaviour must use the real ONNX model.

use crate::{l2_normalize, DocumentText, EmbedError, Embedder, EmbedderFingerprint, Precision};

pub struct HashEmbedder {
    fingerprint: EmbedderFingerprint,
}

impl HashEmbedder {
    pub fn new(dims: usize) -> Self {
        Self {
            fingerprint: EmbedderFingerprint {
                model: "hash-test".into(),
                file: "none".into(),
                precision: Precision::Fp32,
                dims,
                query_prompt: String::new(),
                document_prompt: "{title} {text}".into(),
                pooling: "hash".into(),
                max_tokens: 512,
            },
        }
    }

    fn embed_one(&self, text: &str) -> Vec<f32> {
        let dims = self.fingerprint.dims;
        let mut v = vec![0f32; dims];
        let lower = text.to_lowercase();
        for word in lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            add_feature(&mut v, word.as_bytes(), 1.0);
            let chars: Vec<char> = word.chars().collect();
            for tri in chars.windows(3) {
                let s: String = tri.iter().collect();
                add_feature(&mut v, s.as_bytes(), 0.3);
            }
        }
        l2_normalize(&mut v);
        v
    }
}

fn add_feature(v: &mut [f32], key: &[u8], weight: f32) {
    let h = blake3::hash(key);
    let b = h.as_bytes();
    let idx =
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as usize % v.len();
    let sign = if b[8] & 1 == 0 { 1.0 } else { -1.0 };
    v[idx] += sign * weight;
}

impl Embedder for HashEmbedder {
    fn fingerprint(&self) -> &EmbedderFingerprint {
        &self.fingerprint
    }

    fn count_tokens(&self, text: &str) -> usize {
        // Roughly a word-piece tokenizer: words plus punctuation, plus two special tokens.
        text.split_whitespace().count()
            + text.chars().filter(|c| c.is_ascii_punctuation()).count()
            + 2
    }

    fn embed_queries(&self, queries: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(queries.iter().map(|q| self.embed_one(q)).collect())
    }

    fn embed_documents(&self, docs: &[DocumentText<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(docs
            .iter()
            .map(|d| self.embed_one(&format!("{} {}", d.title.unwrap_or(""), d.text)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_unit_vectors() {
        let e = HashEmbedder::new(64);
        let a = e.embed_query("hello world").unwrap();
        let b = e.embed_query("hello world").unwrap();
        assert_eq!(a, b);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn shared_words_are_closer() {
        let e = HashEmbedder::new(256);
        let q = e.embed_query("rust borrow checker").unwrap();
        let near = e.embed_query("the borrow checker in rust").unwrap();
        let far = e.embed_query("baking sourdough bread").unwrap();
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert!(dot(&q, &near) > dot(&q, &far));
    }
}
