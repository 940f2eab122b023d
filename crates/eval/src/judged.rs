//! Hand-written known-item queries for a vault: a tab-separated file of `note path<TAB>query`, one
//! right note per query (e.g. the names users type to find a note). Unlike [`crate::known_item`],
//! nothing is drawn: the same file gives the same queries on every machine.

use std::path::Path;

use crate::known_item::run_doc_id;
use crate::{EvalError, Qrels, Query};

/// The queries of a file and their one right note each.
#[derive(Debug, Clone, Default)]
pub struct JudgedQueries {
    pub queries: Vec<Query>,
    pub qrels: Qrels,
}

/// Reads `path`: blank lines and lines starting with `#` are skipped; every other line is
/// `note path<TAB>query`, the path relative to `vault` and `/`-separated. A missing note, an empty
/// query or a line without a tab is an error naming the line. Query ids are `L<line number>`.
pub fn read_judged_queries(path: &Path, vault: &Path) -> Result<JudgedQueries, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::read(path, e))?;
    let mut out = JudgedQueries::default();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let trimmed = raw.trim_end_matches('\r');
        if trimmed.trim().is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let field_err = |field: &'static str, message: String| EvalError::Field {
            path: path.to_path_buf(),
            line,
            field,
            message,
        };
        let Some((note, query)) = trimmed.split_once('\t') else {
            return Err(EvalError::Line {
                path: path.to_path_buf(),
                line,
                message: "expected `note path<TAB>query`".into(),
            });
        };
        let (note, query) = (note.trim(), query.trim());
        if query.is_empty() {
            return Err(field_err("query", "is empty".into()));
        }
        if note.is_empty() || note.starts_with('/') || note.split('/').any(|p| p == "..") {
            return Err(field_err(
                "note path",
                format!("`{note}` is not a path inside the vault"),
            ));
        }
        if !vault.join(note).is_file() {
            return Err(field_err(
                "note path",
                format!("`{note}` is not a note of `{}`", vault.display()),
            ));
        }
        let id = format!("L{line}");
        out.qrels.insert(&id, &run_doc_id(note), 1);
        out.queries.push(Query {
            id,
            text: query.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(lines: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("vault/Recipes")).unwrap();
        std::fs::write(dir.path().join("vault/Recipes/Miso Soup.md"), "# Miso").unwrap();
        let file = dir.path().join("queries.tsv");
        std::fs::write(&file, lines).unwrap();
        (dir, file)
    }

    #[test]
    fn reads_queries_and_their_note() {
        let (dir, file) = setup("# title-style\n\nRecipes/Miso Soup.md\tmiso soup\r\n");
        let judged = read_judged_queries(&file, &dir.path().join("vault")).unwrap();
        assert_eq!(judged.queries.len(), 1);
        assert_eq!(judged.queries[0].id, "L3");
        assert_eq!(judged.queries[0].text, "miso soup");
        let rel = judged.qrels.get("L3").unwrap();
        assert_eq!(rel.get("Recipes/Miso%20Soup.md"), Some(&1));
    }

    #[test]
    fn names_the_line_of_a_bad_entry() {
        for (text, expect) in [
            ("Recipes/Miso Soup.md miso", "line 1: expected"),
            ("Recipes/Miso Soup.md\t  ", "line 1: field `query`"),
            ("x\nRecipes/Dal.md\tdal", "line 1: expected"),
            (
                "Recipes/Dal.md\tdal",
                "line 1: field `note path`: `Recipes/Dal.md` is not a note",
            ),
            (
                "../secret.md\tsecret",
                "line 1: field `note path`: `../secret.md` is not a path",
            ),
        ] {
            let (dir, file) = setup(text);
            let err = read_judged_queries(&file, &dir.path().join("vault"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expect), "{text:?}: {err}");
        }
    }
}
