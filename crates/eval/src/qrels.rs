//! Relevance judgments (qrels): which documents are relevant to which query, and how much.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::Path;

use crate::EvalError;

/// Graded judgments per query. A grade above zero means relevant (trec_eval's relevance level 1);
/// the grade itself is the gain in nDCG.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Qrels {
    judgments: HashMap<String, BTreeMap<String, i64>>,
    /// Query ids in order of first appearance, so that `--queries-limit` is reproducible.
    order: Vec<String>,
}

impl Qrels {
    /// Adds one judgment. A second grade for the same pair replaces the first.
    pub fn insert(&mut self, query: &str, doc: &str, grade: i64) {
        let entry = self.judgments.entry(query.to_string()).or_insert_with(|| {
            self.order.push(query.to_string());
            BTreeMap::new()
        });
        entry.insert(doc.to_string(), grade);
    }

    /// The judgments of one query (doc id → grade), if it has any.
    pub fn get(&self, query: &str) -> Option<&BTreeMap<String, i64>> {
        self.judgments.get(query)
    }

    /// Query ids in file order.
    pub fn query_ids(&self) -> &[String] {
        &self.order
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Keeps only the queries for which `keep` returns true (order preserved).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.order.retain(|q| keep(q));
        let kept: std::collections::HashSet<&String> = self.order.iter().collect();
        self.judgments.retain(|q, _| kept.contains(q));
    }

    /// Reads a BEIR qrels file: `query-id<TAB>corpus-id<TAB>score` with a header line. Blank lines and
    /// CRLF line ends are accepted; anything else that does not parse is an error naming the line.
    pub fn read_tsv(path: &Path) -> Result<Self, EvalError> {
        let file = std::fs::File::open(path).map_err(|e| EvalError::read(path, e))?;
        let mut qrels = Self::default();
        let mut seen = std::collections::HashSet::new();
        for (idx, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line_no = idx + 1;
            let line = line.map_err(|e| EvalError::read(path, e))?;
            let line = line.trim_end_matches(['\r', '\n']);
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = if line.contains('\t') {
                line.split('\t').map(str::trim).collect()
            } else {
                line.split_whitespace().collect()
            };
            if line_no == 1 && fields.first() == Some(&"query-id") {
                continue;
            }
            // TREC qrels (`qid 0 docid grade`) have four fields; BEIR's have three.
            let (q, d, g) = match fields.as_slice() {
                [q, d, g] | [q, _, d, g] => (*q, *d, *g),
                _ => {
                    return Err(EvalError::Line {
                        path: path.to_path_buf(),
                        line: line_no,
                        message: format!(
                            "expected `query-id corpus-id score` (3 fields), found {} field(s)",
                            fields.len()
                        ),
                    })
                }
            };
            let grade: i64 = g.parse().map_err(|_| EvalError::Field {
                path: path.to_path_buf(),
                line: line_no,
                field: "score",
                message: format!("`{g}` is not an integer relevance grade"),
            })?;
            if q.is_empty() || d.is_empty() {
                return Err(EvalError::Line {
                    path: path.to_path_buf(),
                    line: line_no,
                    message: "empty query or document id".into(),
                });
            }
            if !seen.insert((q.to_string(), d.to_string())) {
                return Err(EvalError::Line {
                    path: path.to_path_buf(),
                    line: line_no,
                    message: format!("duplicate judgment for query `{q}` and document `{d}`"),
                });
            }
            qrels.insert(q, d, grade);
        }
        Ok(qrels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, content.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_beir_tsv_with_header_and_crlf() {
        let f = write("query-id\tcorpus-id\tscore\r\n1\td1\t2\r\n1\td2\t0\r\n\r\n7\td1\t1\r\n");
        let q = Qrels::read_tsv(f.path()).unwrap();
        assert_eq!(q.query_ids(), &["1".to_string(), "7".to_string()]);
        assert_eq!(q.get("1").unwrap().get("d1"), Some(&2));
        assert_eq!(q.get("1").unwrap().get("d2"), Some(&0));
        assert_eq!(q.get("7").unwrap().len(), 1);
    }

    #[test]
    fn reads_trec_four_column_qrels() {
        let f = write("3 0 doc-a 1\n3 0 doc-b 4\n");
        let q = Qrels::read_tsv(f.path()).unwrap();
        assert_eq!(q.get("3").unwrap().get("doc-b"), Some(&4));
    }

    #[test]
    fn bad_grade_names_file_line_and_field() {
        let f = write("query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\thigh\n");
        let err = Qrels::read_tsv(f.path()).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("score"), "{err}");
        assert!(err.contains(&f.path().display().to_string()), "{err}");
    }

    #[test]
    fn duplicates_and_short_lines_are_errors() {
        let f = write("1\td1\t1\n1\td1\t2\n");
        assert!(Qrels::read_tsv(f.path())
            .unwrap_err()
            .to_string()
            .contains("duplicate"));
        let f = write("1\td1\n");
        assert!(Qrels::read_tsv(f.path())
            .unwrap_err()
            .to_string()
            .contains("3 fields"));
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let err = Qrels::read_tsv(Path::new("/nonexistent/qrels.tsv")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/qrels.tsv"));
    }

    #[test]
    fn retain_keeps_order() {
        let mut q = Qrels::default();
        q.insert("a", "x", 1);
        q.insert("b", "x", 1);
        q.insert("c", "x", 1);
        q.retain(|id| id != "b");
        assert_eq!(q.query_ids(), &["a".to_string(), "c".to_string()]);
        assert!(q.get("b").is_none());
    }
}
