//! How to fuse dense and lexical results, measured on a BEIR-layout dataset with a real model:
//! reciprocal-rank fusion with several `k`, and a min-max convex combination of scores, against
//! each retriever alone. Documents become notes of a vault indexed through [`Engine`] (kept in
//! the data directory, so a second run embeds nothing). Prints nDCG@10 and recall@100.
//!
//! Run: `cargo run --release -p vault-rag-index --example fusion_eval -- DATASET DATA_DIR MODEL_DIR`
//! (MODEL_DIR: the MiniLM test model, `~/.cache/vault-rag/models/all-MiniLM-L6-v2-int8`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;
use vault_rag_core::{Embedder, Retriever};
use vault_rag_embed::{ModelSpec, OnnxEmbedder};
use vault_rag_index::engine::Engine;
use vault_rag_index::fusion::{fuse, group_by_note, NoteResult, RankedList};
use vault_rag_index::lexical::{bm25_top, Bm25Weights};
use vault_rag_index::search::{dense_top, SearchContext};
use vault_rag_index::snippet::SnippetTerms;
use vault_rag_index::vectors::Scored;
use vault_rag_index::{IndexSettings, NoteFilter, VectorMatrix};

type Error = Box<dyn std::error::Error>;

fn read_jsonl(path: &Path) -> Result<Vec<serde_json::Value>, Error> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?)
}

fn write_vault(dataset: &Path, vault: &Path) -> Result<(), Error> {
    if vault.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(vault)?;
    for doc in read_jsonl(&dataset.join("corpus.jsonl"))? {
        let id = doc["_id"].as_str().unwrap_or_default();
        let title = doc["title"].as_str().unwrap_or_default().replace('\n', " ");
        let text = doc["text"].as_str().unwrap_or_default();
        std::fs::write(
            vault.join(format!("d{id}.md")),
            format!("# {title}\n\n{text}\n"),
        )?;
    }
    Ok(())
}

fn qrels(dir: &Path) -> Result<HashMap<String, HashMap<String, f64>>, Error> {
    let mut out: HashMap<String, HashMap<String, f64>> = HashMap::new();
    for line in std::fs::read_to_string(dir.join("qrels/test.tsv"))?
        .lines()
        .skip(1)
    {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() == 3 {
            out.entry(f[0].to_string())
                .or_default()
                .insert(f[1].to_string(), f[2].parse()?);
        }
    }
    Ok(out)
}

fn ndcg10(ranked: &[String], rel: &HashMap<String, f64>) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, d)| rel.get(d).copied().unwrap_or(0.0) / (i as f64 + 2.0).log2())
        .sum();
    let mut ideal: Vec<f64> = rel.values().copied().collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, r)| r / (i as f64 + 2.0).log2())
        .sum();
    if idcg > 0.0 {
        dcg / idcg
    } else {
        0.0
    }
}

fn recall100(ranked: &[String], rel: &HashMap<String, f64>) -> f64 {
    let found = ranked
        .iter()
        .take(100)
        .filter(|d| rel.contains_key(*d))
        .count();
    found as f64 / rel.len().max(1) as f64
}

/// Min-max normalised scores of each list, combined as `alpha × dense + (1 − alpha) × lexical`
/// (a note missing from a list gets that list's minimum, i.e. 0).
fn convex(dense: &[NoteResult], lexical: &[NoteResult], alpha: f32) -> Vec<i64> {
    let norm = |list: &[NoteResult]| -> HashMap<i64, f32> {
        let max = list.iter().map(|n| n.score).fold(f32::MIN, f32::max);
        let min = list.iter().map(|n| n.score).fold(f32::MAX, f32::min);
        list.iter()
            .map(|n| {
                (
                    n.note_id,
                    if max > min {
                        (n.score - min) / (max - min)
                    } else {
                        1.0
                    },
                )
            })
            .collect()
    };
    let (d, l) = (norm(dense), norm(lexical));
    let mut all: HashMap<i64, f32> = HashMap::new();
    for (id, s) in &d {
        *all.entry(*id).or_default() += alpha * s;
    }
    for (id, s) in &l {
        *all.entry(*id).or_default() += (1.0 - alpha) * s;
    }
    let mut v: Vec<(i64, f32)> = all.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter().map(|x| x.0).collect()
}

/// The query without English function words (all of it when nothing else is left).
fn without_stop_words(query: &str) -> String {
    const STOP: &[&str] = &[
        "a", "about", "above", "after", "again", "all", "am", "an", "and", "any", "are", "as",
        "at", "be", "been", "before", "being", "between", "both", "but", "by", "can", "could",
        "did", "do", "does", "doing", "during", "each", "few", "for", "from", "further", "had",
        "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in",
        "into", "is", "it", "its", "just", "me", "more", "most", "my", "no", "nor", "not", "now",
        "of", "off", "on", "once", "only", "or", "other", "our", "out", "over", "own", "same",
        "she", "should", "so", "some", "such", "than", "that", "the", "their", "them", "then",
        "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up",
        "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
        "why", "will", "with", "would", "you", "your",
    ];
    let kept: Vec<&str> = query
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty() && !STOP.contains(&w.to_lowercase().as_str()))
        .collect();
    if kept.is_empty() {
        query.to_string()
    } else {
        kept.join(" ")
    }
}

/// Share of the query's terms in a chunk's title, headings and text.
fn coverage(conn: &Connection, terms: &SnippetTerms, chunk: i64) -> rusqlite::Result<f32> {
    conn.query_row(
        "SELECT n.title, c.heading_path, c.text FROM chunks c JOIN notes n ON n.id = c.note_id \
         WHERE c.id = ?1",
        [chunk],
        |r| {
            let (a, b, c): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            Ok(terms.coverage(&[&a, &b, &c]))
        },
    )
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dataset, data_dir, model_dir] = args.as_slice() else {
        return Err("usage: fusion_eval DATASET DATA_DIR MODEL_DIR".into());
    };
    let dataset = PathBuf::from(dataset);
    let data_dir = PathBuf::from(data_dir);
    let vault = data_dir.join("vault");
    write_vault(&dataset, &vault)?;
    let embedder = Arc::new(OnnxEmbedder::load(&ModelSpec {
        model: "all-minilm-l6-v2".into(),
        model_dir: Some(model_dir.into()),
        ..ModelSpec::default()
    })?);
    let mut settings = IndexSettings::new(&vault);
    settings.data_dir = Some(data_dir.join("index"));
    let engine = Engine::open(settings, embedder.clone())?;
    let summary = engine.reconcile(&|_| {})?;
    eprintln!("indexed: {summary:?}");
    let index_path = engine.index_path().to_path_buf();
    engine.shutdown();
    drop(engine);

    let conn = Connection::open(&index_path)?;
    let fp = embedder.fingerprint().id();
    let matrix = VectorMatrix::load(&conn, &fp, embedder.dim())?;
    let paths: HashMap<i64, String> = conn
        .prepare("SELECT id, path FROM notes")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let doc_of = |note: i64| -> String {
        paths[&note]
            .trim_start_matches('d')
            .trim_end_matches(".md")
            .to_string()
    };
    let qrels = qrels(&dataset)?;
    let queries: Vec<(String, String)> = read_jsonl(&dataset.join("queries.jsonl"))?
        .iter()
        .filter_map(|q| {
            let id = q["_id"].as_str()?.to_string();
            qrels
                .contains_key(&id)
                .then(|| (id, q["text"].as_str().unwrap_or_default().into()))
        })
        .collect();
    let ctx = SearchContext {
        conn: &conn,
        vectors: &matrix,
        embedder: embedder.as_ref(),
        fingerprint_id: &fp,
    };
    let mut systems: Vec<String> = vec!["dense".into(), "lexical".into()];
    for k in [5.0, 20.0, 60.0, 120.0] {
        systems.push(format!("rrf k={k}"));
    }
    for a in [0.3, 0.5, 0.7] {
        systems.push(format!("convex a={a}"));
    }
    systems.push("lexical-stop".into());
    for k in [20.0, 60.0] {
        systems.push(format!("rrf-stop k={k}"));
        systems.push(format!("rrf-cov k={k}"));
        systems.push(format!("rrf-cov2 k={k}"));
        systems.push(format!("rrf-rel k={k}"));
        systems.push(format!("rrf-rel2 k={k}"));
    }
    let mut totals: HashMap<String, (f64, f64)> = HashMap::new();
    for (qid, text) in &queries {
        let q = embedder.embed_query(text)?;
        let dense: Vec<Scored> = dense_top(&ctx, &q, 100, &NoteFilter::All)?;
        let lexical = bm25_top(&conn, text, 100, &NoteFilter::All, Bm25Weights::default())?;
        let dl = RankedList::new(Retriever::Dense, &dense);
        let ll = RankedList::new(Retriever::Lexical, &lexical);
        let (dn, ln) = (group_by_note(dl), group_by_note(ll));
        let lexical_stop = bm25_top(
            &conn,
            &without_stop_words(text),
            100,
            &NoteFilter::All,
            Bm25Weights::default(),
        )?;
        let ls = RankedList::new(Retriever::Lexical, &lexical_stop);
        let terms = SnippetTerms::from_query(text);
        let cov: Vec<f32> = lexical_stop
            .iter()
            .map(|h| coverage(&conn, &terms, h.chunk_id))
            .collect::<Result<_, _>>()?;
        let cov2: Vec<f32> = cov.iter().map(|c| c * c).collect();
        let lc = RankedList {
            weights: &cov,
            ..ls
        };
        let lc2 = RankedList {
            weights: &cov2,
            ..ls
        };
        let top = dense.first().map_or(1.0, |h| h.score).max(1e-6);
        let rel: Vec<f32> = dense
            .iter()
            .map(|h| (h.score / top).clamp(0.0, 1.0))
            .collect();
        let rel2: Vec<f32> = rel.iter().map(|r| r * r).collect();
        let dr = RankedList {
            weights: &rel,
            ..dl
        };
        let dr2 = RankedList {
            weights: &rel2,
            ..dl
        };
        for name in &systems {
            let ranked: Vec<i64> = if name == "dense" {
                dn.iter().map(|n| n.note_id).collect()
            } else if name == "lexical" {
                ln.iter().map(|n| n.note_id).collect()
            } else if name == "lexical-stop" {
                group_by_note(ls).iter().map(|n| n.note_id).collect()
            } else if let Some(k) = name.strip_prefix("rrf-stop k=") {
                fuse(&[dl, ls], k.parse()?)
                    .iter()
                    .map(|n| n.note_id)
                    .collect()
            } else if let Some(k) = name.strip_prefix("rrf-cov k=") {
                fuse(&[dl, lc], k.parse()?)
                    .iter()
                    .map(|n| n.note_id)
                    .collect()
            } else if let Some(k) = name.strip_prefix("rrf-rel k=") {
                fuse(&[dr, lc], k.parse()?)
                    .iter()
                    .map(|n| n.note_id)
                    .collect()
            } else if let Some(k) = name.strip_prefix("rrf-rel2 k=") {
                fuse(&[dr2, lc], k.parse()?)
                    .iter()
                    .map(|n| n.note_id)
                    .collect()
            } else if let Some(k) = name.strip_prefix("rrf-cov2 k=") {
                fuse(&[dl, lc2], k.parse()?)
                    .iter()
                    .map(|n| n.note_id)
                    .collect()
            } else if let Some(k) = name.strip_prefix("rrf k=") {
                fuse(&[dl, ll], k.parse()?)
                    .iter()
                    .map(|n| n.note_id)
                    .collect()
            } else {
                let a: f32 = name.trim_start_matches("convex a=").parse()?;
                convex(&dn, &ln, a)
            };
            let docs: Vec<String> = ranked.iter().map(|&n| doc_of(n)).collect();
            let t = totals.entry(name.clone()).or_default();
            t.0 += ndcg10(&docs, &qrels[qid]);
            t.1 += recall100(&docs, &qrels[qid]);
        }
    }
    let n = queries.len() as f64;
    println!("{} queries, {} vectors", queries.len(), matrix.len());
    for name in &systems {
        let (ndcg, recall) = totals[name];
        println!(
            "{name:<14} nDCG@10 {:.4}  recall@100 {:.4}",
            ndcg / n,
            recall / n
        );
    }
    Ok(())
}
