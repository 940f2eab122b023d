//! SQL stays in the store: no source file of the workspace outside `crates/index/src/store/`
//! names `rusqlite` or holds SQL text, so a schema change touches one folder. Tests are exempt:
//! they open the index file with SQLite on purpose, to check what is on disk independently of
//! the code under test.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Test code: a crate's `tests/` folder, `*_tests.rs` and `tests.rs` files, and what follows a
/// `#[cfg(test)]` module in a source file.
fn production_text(path: &Path, text: &str) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if path.components().any(|c| c.as_os_str() == "tests")
        || name.ends_with("_tests.rs")
        || name == "tests.rs"
        || name == "testdb.rs"
    {
        return None;
    }
    Some(match text.find("#[cfg(test)]\nmod ") {
        Some(at) => text[..at].to_string(),
        None => text.to_string(),
    })
}

#[test]
fn no_sqlite_outside_the_store() {
    let crates = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let store = crates.join("index/src/store");
    let mut files = Vec::new();
    rust_files(&crates, &mut files);
    assert!(files.len() > 50, "found only {} files", files.len());
    let sql = [
        "SELECT ",
        "INSERT INTO",
        "UPDATE notes",
        "DELETE FROM",
        "PRAGMA ",
    ];
    let mut offenders = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&store)) {
        let text = std::fs::read_to_string(file).unwrap();
        let Some(code) = production_text(file, &text) else {
            continue;
        };
        if code.contains("rusqlite") || sql.iter().any(|s| code.contains(s)) {
            offenders.push(file.strip_prefix(&crates).unwrap().display().to_string());
        }
    }
    assert!(
        offenders.is_empty(),
        "SQLite used outside crates/index/src/store: {offenders:?}"
    );
}

#[test]
fn the_check_sees_sql() {
    let text = "fn f() {}\nconst Q: &str = \"SELECT 1\";\n#[cfg(test)]\nmod tests {}\n";
    let code = production_text(Path::new("crates/index/src/x.rs"), text).unwrap();
    assert!(code.contains("SELECT "));
    assert!(production_text(Path::new("crates/index/src/x_tests.rs"), text).is_none());
}
