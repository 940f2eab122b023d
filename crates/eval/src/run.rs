//! TREC run files: `qid Q0 docid rank score tag`, one line per retrieved document.
//!
//! trec_eval (and so pytrec_eval) ignores the rank column and re-sorts by score, breaking ties by
//! document id descending. The writer therefore emits each query's documents already in that order
//! and prints scores with Rust's shortest round-trip formatting, so the file parses back to exactly
//! the `f64` values the metrics were computed from: both sides see the same ranking, ties included.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

use crate::metrics::{trec_sort, ScoredDoc};
use crate::EvalError;

/// A whole run: query id → retrieved documents (in any order; written in trec_eval's order).
pub type Run = BTreeMap<String, Vec<ScoredDoc>>;

fn check_id(id: &str) -> Result<(), EvalError> {
    if id.is_empty() {
        return Err(EvalError::RunId {
            id: id.into(),
            message: "empty id".into(),
        });
    }
    if id.chars().any(char::is_whitespace) {
        return Err(EvalError::RunId {
            id: id.into(),
            message: "ids in a run file cannot contain whitespace".into(),
        });
    }
    Ok(())
}

/// Writes `run` as a TREC run: at most `depth` documents per query, queries in `order` (ids missing
/// from `run` are skipped), ranks from 1, `tag` in the last column.
pub fn write_run(
    out: &mut dyn Write,
    run: &Run,
    order: &[String],
    depth: usize,
    tag: &str,
) -> Result<(), std::io::Error> {
    for qid in order {
        let Some(docs) = run.get(qid) else { continue };
        let mut docs = docs.clone();
        trec_sort(&mut docs);
        for (i, d) in docs.iter().take(depth).enumerate() {
            writeln!(out, "{qid} Q0 {} {} {} {tag}", d.doc_id, i + 1, d.score)?;
        }
    }
    Ok(())
}

/// Checks that every id and score of `run` can be written and read back unchanged.
pub fn validate_run(run: &Run) -> Result<(), EvalError> {
    for (qid, docs) in run {
        check_id(qid)?;
        for d in docs {
            check_id(&d.doc_id)?;
            if !d.score.is_finite() {
                return Err(EvalError::RunId {
                    id: d.doc_id.clone(),
                    message: format!("score {} for query `{qid}` is not finite", d.score),
                });
            }
        }
    }
    Ok(())
}

/// Writes `run` to `path` (see [`write_run`]) after [`validate_run`].
pub fn write_run_file(
    path: &Path,
    run: &Run,
    order: &[String],
    depth: usize,
    tag: &str,
) -> Result<(), EvalError> {
    validate_run(run)?;
    check_id(tag)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| EvalError::write(parent, e))?;
    }
    let file = std::fs::File::create(path).map_err(|e| EvalError::write(path, e))?;
    let mut w = std::io::BufWriter::new(file);
    write_run(&mut w, run, order, depth, tag).map_err(|e| EvalError::write(path, e))?;
    w.flush().map_err(|e| EvalError::write(path, e))
}

/// Reads a TREC run file back (six whitespace-separated fields per line).
pub fn read_run_file(path: &Path) -> Result<Run, EvalError> {
    let file = std::fs::File::open(path).map_err(|e| EvalError::read(path, e))?;
    let mut run = Run::new();
    for (idx, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| EvalError::read(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let bad = |message: String| EvalError::Line {
            path: path.to_path_buf(),
            line: idx + 1,
            message,
        };
        if f.len() != 6 {
            return Err(bad(format!(
                "expected `qid Q0 docid rank score tag`, found {} field(s)",
                f.len()
            )));
        }
        let score: f64 = f[4]
            .parse()
            .map_err(|_| bad(format!("score `{}` is not a number", f[4])))?;
        run.entry(f[0].to_string())
            .or_default()
            .push(ScoredDoc::new(f[2], score));
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_sorted_ranked_lines_and_reads_back_exactly() {
        let mut run = Run::new();
        let third = (0.1f32 + 0.2f32) as f64; // not a short decimal: must survive the round trip
        run.insert(
            "q1".into(),
            vec![
                ScoredDoc::new("a", 0.5),
                ScoredDoc::new("c", third),
                ScoredDoc::new("b", 0.5),
            ],
        );
        run.insert("q2".into(), vec![ScoredDoc::new("z", 1.0)]);
        let mut buf = Vec::new();
        write_run(&mut buf, &run, &["q2".into(), "q1".into()], 100, "test").unwrap();
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "q2 Q0 z 1 1 test");
        // Tie at 0.5: "b" before "a" (trec_eval order), ranks follow the written order.
        assert_eq!(lines[1], "q1 Q0 b 1 0.5 test");
        assert_eq!(lines[2], "q1 Q0 a 2 0.5 test");
        assert!(lines[3].starts_with("q1 Q0 c 3 "));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/run.trec");
        write_run_file(&path, &run, &["q1".into(), "q2".into()], 100, "t").unwrap();
        let back = read_run_file(&path).unwrap();
        assert_eq!(back["q1"][2].score, third);
        assert_eq!(back["q1"].len(), 3);
    }

    #[test]
    fn depth_limits_lines_per_query() {
        let mut run = Run::new();
        run.insert(
            "q".into(),
            (0..5)
                .map(|i| ScoredDoc::new(format!("d{i}"), i as f64))
                .collect(),
        );
        let mut buf = Vec::new();
        write_run(&mut buf, &run, &["q".into()], 2, "t").unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.starts_with("q Q0 d4 1 4 t\n"));
    }

    #[test]
    fn rejects_unwritable_ids_and_scores() {
        let mut run = Run::new();
        run.insert("q".into(), vec![ScoredDoc::new("has space", 1.0)]);
        assert!(validate_run(&run)
            .unwrap_err()
            .to_string()
            .contains("whitespace"));
        let mut run = Run::new();
        run.insert("q".into(), vec![ScoredDoc::new("d", f64::NAN)]);
        assert!(validate_run(&run)
            .unwrap_err()
            .to_string()
            .contains("not finite"));
    }

    #[test]
    fn malformed_run_line_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.trec");
        std::fs::write(&path, "q Q0 d 1 0.5 t\nq Q0 d2 2 x t\n").unwrap();
        let err = read_run_file(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
