//! How to combine query terms for BM25, measured on a BEIR-layout dataset (Cranfield by default):
//! OR of all terms (what [`vault_rag_index::lexical`] does) against AND-then-OR (chunks with every
//! term first, then the OR list), and a few column weightings. Prints nDCG@10 and recall@100.
//!
//! Run: `cargo run --release -p vault-rag-index --example lexical_eval -- fixtures/beir/cranfield`

use std::collections::HashMap;
use std::path::Path;

use rusqlite::Connection;
use vault_rag_index::lexical::{
    bm25_top, fts_document, fts_query_terms, match_expression, Bm25Weights,
};
use vault_rag_index::{NoteFilter, SCHEMA_SQL};

type Qrels = HashMap<String, HashMap<String, f64>>;

fn read_jsonl(path: &Path) -> Result<Vec<serde_json::Value>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?)
}

fn load(dir: &Path, conn: &Connection) -> Result<HashMap<i64, String>, Box<dyn std::error::Error>> {
    conn.execute_batch(SCHEMA_SQL)?;
    conn.execute_batch("BEGIN")?;
    let mut ids = HashMap::new();
    for doc in read_jsonl(&dir.join("corpus.jsonl"))? {
        let id = doc["_id"].as_str().unwrap_or_default().to_string();
        let title = doc["title"].as_str().unwrap_or_default();
        let text = doc["text"].as_str().unwrap_or_default();
        conn.execute(
            "INSERT INTO notes (path, mtime_ns, size, content_hash, title, tags, aliases, links, \
             indexed_at) VALUES (?1, 0, 0, x'00', ?2, '[]', '[]', '[]', 0)",
            rusqlite::params![format!("{id}.md"), title],
        )?;
        let note = conn.last_insert_rowid();
        conn.execute(
            "INSERT INTO chunks (note_id, ord, heading_path, start_line, end_line, text, content_hash) \
             VALUES (?1, 0, '[]', 1, 1, ?2, x'00')",
            rusqlite::params![note, text],
        )?;
        let chunk = conn.last_insert_rowid();
        conn.execute(
            "INSERT INTO chunks_fts (rowid, title, headings, body) VALUES (?1, ?2, '', ?3)",
            rusqlite::params![chunk, fts_document(title), fts_document(text)],
        )?;
        ids.insert(chunk, id);
    }
    conn.execute_batch("COMMIT")?;
    Ok(ids)
}

fn qrels(dir: &Path) -> Result<Qrels, Box<dyn std::error::Error>> {
    let mut out: Qrels = HashMap::new();
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

/// Chunks matching every term first (BM25 order), then the rest of the OR list.
fn and_then_or(conn: &Connection, query: &str, w: Bm25Weights) -> rusqlite::Result<Vec<i64>> {
    let terms = fts_query_terms(query);
    let Some(or_expr) = match_expression(&terms) else {
        return Ok(Vec::new());
    };
    let and_expr = or_expr.replace(" OR ", " AND ");
    let mut out: Vec<i64> = Vec::new();
    for expr in [and_expr, or_expr] {
        let mut stmt = conn.prepare_cached(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?1 \
             ORDER BY bm25(chunks_fts, ?2, ?3, ?4) LIMIT 100",
        )?;
        let ids = stmt
            .query_map(rusqlite::params![expr, w.title, w.headings, w.body], |r| {
                r.get(0)
            })?
            .collect::<Result<Vec<i64>, _>>()?;
        for id in ids {
            if !out.contains(&id) && out.len() < 100 {
                out.push(id);
            }
        }
    }
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fixtures/beir/cranfield".into());
    let dir = Path::new(&dir);
    let conn = Connection::open_in_memory()?;
    let ids = load(dir, &conn)?;
    let qrels = qrels(dir)?;
    let queries: Vec<(String, String)> = read_jsonl(&dir.join("queries.jsonl"))?
        .iter()
        .filter_map(|q| {
            let id = q["_id"].as_str()?.to_string();
            qrels
                .contains_key(&id)
                .then(|| (id, q["text"].as_str().unwrap_or_default().into()))
        })
        .collect();
    println!("{} documents, {} judged queries", ids.len(), queries.len());
    let weightings = [
        ("title 2, headings 1.5, body 1", Bm25Weights::default()),
        (
            "all 1",
            Bm25Weights {
                title: 1.0,
                headings: 1.0,
                body: 1.0,
            },
        ),
        (
            "title 4",
            Bm25Weights {
                title: 4.0,
                headings: 1.5,
                body: 1.0,
            },
        ),
    ];
    for (name, w) in weightings {
        for strategy in ["OR", "AND-then-OR"] {
            let (mut ndcg, mut recall) = (0.0, 0.0);
            for (qid, text) in &queries {
                let ranked: Vec<i64> = if strategy == "OR" {
                    bm25_top(&conn, text, 100, &NoteFilter::All, w)?
                        .iter()
                        .map(|s| s.chunk_id)
                        .collect()
                } else {
                    and_then_or(&conn, text, w)?
                };
                let docs: Vec<String> = ranked.iter().filter_map(|c| ids.get(c).cloned()).collect();
                ndcg += ndcg10(&docs, &qrels[qid]);
                recall += recall100(&docs, &qrels[qid]);
            }
            let n = queries.len() as f64;
            println!(
                "{strategy:<12} {name:<32} nDCG@10 {:.4}  recall@100 {:.4}",
                ndcg / n,
                recall / n
            );
        }
    }
    Ok(())
}
