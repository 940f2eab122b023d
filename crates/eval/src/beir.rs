//! BEIR-layout datasets: `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`, `text`) and
//! `qrels/<split>.tsv`. The corpus is streamed line by line; every error names the file and line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{EvalError, Qrels};

/// One corpus document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub title: String,
    pub text: String,
}

/// One query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: String,
    pub text: String,
}

/// BEIR ids are strings, but some exports write numbers.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawId {
    Str(String),
    Int(i64),
}

#[derive(Deserialize)]
struct RawRecord {
    #[serde(rename = "_id")]
    id: Option<RawId>,
    title: Option<String>,
    text: Option<String>,
}

/// Streams the records of a JSON-lines file as `(line number, record)`.
struct JsonLines {
    path: PathBuf,
    lines: std::io::Lines<BufReader<std::fs::File>>,
    line_no: usize,
}

impl JsonLines {
    fn open(path: &Path) -> Result<Self, EvalError> {
        let file = std::fs::File::open(path).map_err(|e| EvalError::read(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            lines: BufReader::new(file).lines(),
            line_no: 0,
        })
    }

    fn next_record(&mut self) -> Option<Result<(usize, Document), EvalError>> {
        loop {
            let line = match self.lines.next()? {
                Ok(line) => line,
                Err(e) => return Some(Err(EvalError::read(&self.path, e))),
            };
            self.line_no += 1;
            if line.trim().is_empty() {
                continue;
            }
            return Some(self.parse(&line));
        }
    }

    fn parse(&self, line: &str) -> Result<(usize, Document), EvalError> {
        let raw: RawRecord = serde_json::from_str(line).map_err(|source| EvalError::Json {
            path: self.path.clone(),
            line: self.line_no,
            source,
        })?;
        let field = |field: &'static str, message: &str| EvalError::Field {
            path: self.path.clone(),
            line: self.line_no,
            field,
            message: message.into(),
        };
        let id = match raw.id {
            Some(RawId::Str(s)) => s,
            Some(RawId::Int(i)) => i.to_string(),
            None => return Err(field("_id", "missing")),
        };
        if id.trim().is_empty() {
            return Err(field("_id", "empty"));
        }
        let text = raw.text.ok_or_else(|| field("text", "missing"))?;
        Ok((
            self.line_no,
            Document {
                id,
                title: raw.title.unwrap_or_default(),
                text,
            },
        ))
    }
}

/// Iterator over the documents of `corpus.jsonl`, in file order.
pub struct CorpusReader {
    inner: JsonLines,
    seen: std::collections::HashSet<String>,
}

impl Iterator for CorpusReader {
    type Item = Result<Document, EvalError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (line, doc) = match self.inner.next_record()? {
            Ok(rec) => rec,
            Err(e) => return Some(Err(e)),
        };
        if !self.seen.insert(doc.id.clone()) {
            return Some(Err(EvalError::Field {
                path: self.inner.path.clone(),
                line,
                field: "_id",
                message: format!("duplicate document id `{}`", doc.id),
            }));
        }
        Some(Ok(doc))
    }
}

/// A BEIR dataset folder.
#[derive(Debug, Clone)]
pub struct BeirDataset {
    pub dir: PathBuf,
    /// The folder's name, used to key caches and in reports.
    pub name: String,
}

impl BeirDataset {
    /// Checks that `dir` has `corpus.jsonl`, `queries.jsonl` and `qrels/test.tsv`.
    pub fn open(dir: &Path) -> Result<Self, EvalError> {
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "dataset".into());
        let ds = Self {
            dir: dir.to_path_buf(),
            name,
        };
        for path in [ds.corpus_path(), ds.queries_path(), ds.qrels_path("test")] {
            if !path.is_file() {
                return Err(EvalError::Dataset {
                    dir: dir.to_path_buf(),
                    message: format!("`{}` is missing (BEIR layout expected)", path.display()),
                });
            }
        }
        Ok(ds)
    }

    pub fn corpus_path(&self) -> PathBuf {
        self.dir.join("corpus.jsonl")
    }

    pub fn queries_path(&self) -> PathBuf {
        self.dir.join("queries.jsonl")
    }

    pub fn qrels_path(&self, split: &str) -> PathBuf {
        self.dir.join("qrels").join(format!("{split}.tsv"))
    }

    /// Streams the corpus.
    pub fn corpus(&self) -> Result<CorpusReader, EvalError> {
        Ok(CorpusReader {
            inner: JsonLines::open(&self.corpus_path())?,
            seen: Default::default(),
        })
    }

    /// Reads all queries (a few thousand at most in BEIR sets).
    pub fn queries(&self) -> Result<Vec<Query>, EvalError> {
        let mut lines = JsonLines::open(&self.queries_path())?;
        let mut out = Vec::new();
        while let Some(rec) = lines.next_record() {
            let (_, doc) = rec?;
            out.push(Query {
                id: doc.id,
                text: doc.text,
            });
        }
        Ok(out)
    }

    /// The test queries: those with judgments in `qrels/test.tsv`, in the order of `queries.jsonl`,
    /// at most `limit`; the returned qrels hold only those queries. A judged query missing from
    /// `queries.jsonl` is an error.
    pub fn test_queries(&self, limit: Option<usize>) -> Result<(Vec<Query>, Qrels), EvalError> {
        self.split_queries("test", limit)
    }

    /// The queries judged in `qrels/<split>.tsv` (e.g. `train` to tune on, `test` to report), as
    /// [`BeirDataset::test_queries`] gives those of `test`.
    pub fn split_queries(
        &self,
        split: &str,
        limit: Option<usize>,
    ) -> Result<(Vec<Query>, Qrels), EvalError> {
        let mut qrels = Qrels::read_tsv(&self.qrels_path(split))?;
        let queries = self.queries()?;
        let known: std::collections::HashSet<&str> =
            queries.iter().map(|q| q.id.as_str()).collect();
        if let Some(missing) = qrels
            .query_ids()
            .iter()
            .find(|q| !known.contains(q.as_str()))
        {
            return Err(EvalError::Dataset {
                dir: self.dir.clone(),
                message: format!(
                    "query `{missing}` is judged in `{}` but not in `{}`",
                    self.qrels_path(split).display(),
                    self.queries_path().display()
                ),
            });
        }
        let mut selected: Vec<Query> = queries
            .into_iter()
            .filter(|q| qrels.get(&q.id).is_some())
            .collect();
        if let Some(limit) = limit {
            selected.truncate(limit);
        }
        let keep: std::collections::HashSet<String> =
            selected.iter().map(|q| q.id.clone()).collect();
        qrels.retain(|q| keep.contains(q));
        Ok((selected, qrels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(corpus: &str, queries: &str, qrels: &str) -> (tempfile::TempDir, BeirDataset) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("corpus.jsonl"), corpus).unwrap();
        std::fs::write(dir.path().join("queries.jsonl"), queries).unwrap();
        std::fs::create_dir(dir.path().join("qrels")).unwrap();
        std::fs::write(dir.path().join("qrels/test.tsv"), qrels).unwrap();
        let ds = BeirDataset::open(dir.path()).unwrap();
        (dir, ds)
    }

    const QRELS: &str = "query-id\tcorpus-id\tscore\nq2\td1\t1\nq1\td2\t2\n";

    #[test]
    fn streams_corpus_and_selects_judged_queries() {
        let (_dir, ds) = dataset(
            "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"one\"}\n\n{\"_id\": 2, \"text\": \"two\"}\n",
            "{\"_id\": \"q1\", \"text\": \"first\"}\n{\"_id\": \"q0\", \"text\": \"unjudged\"}\n{\"_id\": \"q2\", \"text\": \"second\"}\n",
            QRELS,
        );
        let docs: Vec<Document> = ds.corpus().unwrap().map(Result::unwrap).collect();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].id, "2");
        assert_eq!(docs[1].title, "");
        let (qs, qrels) = ds.test_queries(None).unwrap();
        // queries.jsonl order, unjudged q0 left out
        assert_eq!(
            qs.iter().map(|q| q.id.as_str()).collect::<Vec<_>>(),
            ["q1", "q2"]
        );
        assert_eq!(qrels.len(), 2);
        let (qs, qrels) = ds.test_queries(Some(1)).unwrap();
        assert_eq!(qs.len(), 1);
        assert_eq!(qrels.query_ids(), &["q1".to_string()]);
    }

    #[test]
    fn bad_corpus_line_names_file_and_line() {
        let (_dir, ds) = dataset(
            "{\"_id\": \"d1\", \"text\": \"ok\"}\n{\"_id\": \"d2\", \"text\": \"ok\"\n",
            "",
            QRELS,
        );
        let err = ds
            .corpus()
            .unwrap()
            .nth(1)
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("corpus.jsonl") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn missing_fields_and_duplicates_are_named() {
        let (_dir, ds) = dataset("{\"_id\": \"d1\", \"title\": \"no text\"}\n", "", QRELS);
        let err = ds
            .corpus()
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(err.contains("`text`") && err.contains("line 1"), "{err}");
        let (_dir, ds) = dataset(
            "{\"_id\": \"d1\", \"text\": \"a\"}\n{\"_id\": \"d1\", \"text\": \"b\"}\n",
            "",
            QRELS,
        );
        let err = ds
            .corpus()
            .unwrap()
            .nth(1)
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(err.contains("duplicate") && err.contains("line 2"), "{err}");
    }

    #[test]
    fn judged_query_without_text_is_an_error() {
        let (_dir, ds) = dataset("", "{\"_id\": \"q1\", \"text\": \"first\"}\n", QRELS);
        let err = ds.test_queries(None).unwrap_err().to_string();
        assert!(err.contains("`q2`"), "{err}");
    }

    #[test]
    fn missing_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let err = BeirDataset::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("corpus.jsonl"), "{err}");
    }
}
