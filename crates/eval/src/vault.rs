//! Turns a BEIR corpus into an Obsidian-style vault so that it goes through the real pipeline
//! (scan, parse, chunk, embed, index, search): one note per document, named after its id.
//!
//! File names keep `[A-Za-z0-9_-]` and `.` (not leading) and percent-encode every other byte, so
//! the id is recoverable from the note path and names are ASCII (no Unicode normalisation surprises).
//! The title goes into the frontmatter `title:`; the text is the note body.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{BeirDataset, Document, EvalError};

/// Bumped when the note format changes, so cached vaults are rewritten.
const FORMAT_VERSION: u32 = 1;

/// The note file name (`<encoded id>.md`) of a document id.
pub fn note_file_name(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 3);
    for (i, &b) in id.as_bytes().iter().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str(".md");
    out
}

/// The document id of a note path written by [`write_vault`], if it is one.
pub fn doc_id_from_note(path: &str) -> Option<String> {
    let name = path.strip_suffix(".md")?;
    if name.contains('/') {
        return None;
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = name.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The note text of a document: frontmatter with the title (JSON strings are valid YAML
/// double-quoted scalars) and the id, then the text.
pub fn note_text(doc: &Document) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let mut s = String::with_capacity(doc.text.len() + doc.title.len() + 64);
    s.push_str("---\n");
    if !doc.title.trim().is_empty() {
        s.push_str(&format!("title: {}\n", quote(doc.title.trim())));
    }
    s.push_str(&format!("beir_id: {}\n", quote(&doc.id)));
    s.push_str("---\n");
    s.push_str(&doc.text);
    if !doc.text.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// What [`write_vault`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultInfo {
    pub dir: PathBuf,
    pub documents: usize,
    /// Notes created or changed in this call (0 when the cache was current).
    pub written: usize,
    /// Stale notes removed.
    pub removed: usize,
}

/// Writes the corpus of `dataset` as notes into `vault_dir`. A stamp (corpus hash + format version)
/// next to the vault skips the work when nothing changed; otherwise only notes whose text differs
/// are rewritten (unchanged files keep their mtime, so re-indexing stays incremental) and notes of
/// documents no longer in the corpus are removed.
pub fn write_vault(dataset: &BeirDataset, vault_dir: &Path) -> Result<VaultInfo, EvalError> {
    let corpus_path = dataset.corpus_path();
    let bytes = std::fs::read(&corpus_path).map_err(|e| EvalError::read(&corpus_path, e))?;
    let stamp_value = format!("v{FORMAT_VERSION} {}", blake3::hash(&bytes).to_hex());
    drop(bytes);
    let stamp_path = stamp_path(vault_dir);
    let count_path = vault_dir.with_extension("count");
    if std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp_value.as_str()) {
        if let Some(documents) = std::fs::read_to_string(&count_path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return Ok(VaultInfo {
                dir: vault_dir.to_path_buf(),
                documents,
                written: 0,
                removed: 0,
            });
        }
    }

    std::fs::create_dir_all(vault_dir).map_err(|e| EvalError::write(vault_dir, e))?;
    let mut names = HashSet::new();
    let mut written = 0;
    for doc in dataset.corpus()? {
        let doc = doc?;
        let name = note_file_name(&doc.id);
        let path = vault_dir.join(&name);
        let text = note_text(&doc);
        if std::fs::read(&path).ok().as_deref() != Some(text.as_bytes()) {
            write_atomic(&path, text.as_bytes())?;
            written += 1;
        }
        names.insert(name);
    }
    let mut removed = 0;
    let entries = std::fs::read_dir(vault_dir).map_err(|e| EvalError::read(vault_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| EvalError::read(vault_dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") && !names.contains(&name) {
            std::fs::remove_file(entry.path()).map_err(|e| EvalError::write(entry.path(), e))?;
            removed += 1;
        }
    }
    write_atomic(&count_path, names.len().to_string().as_bytes())?;
    write_atomic(&stamp_path, stamp_value.as_bytes())?;
    tracing::info!(vault = %vault_dir.display(), documents = names.len(), written, removed, "evaluation vault ready");
    Ok(VaultInfo {
        dir: vault_dir.to_path_buf(),
        documents: names.len(),
        written,
        removed,
    })
}

fn stamp_path(vault_dir: &Path) -> PathBuf {
    vault_dir.with_extension("stamp")
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EvalError> {
    let tmp = path.with_extension("part");
    let mut f = std::fs::File::create(&tmp).map_err(|e| EvalError::write(&tmp, e))?;
    f.write_all(bytes).map_err(|e| EvalError::write(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| EvalError::write(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        for id in [
            "123",
            "doc-1_a.b",
            ".hidden",
            "a/b c",
            "100%",
            "Café",
            "x\ny",
            "MED-10",
        ] {
            let name = note_file_name(id);
            assert!(name.is_ascii(), "{name}");
            assert!(!name.starts_with('.'), "{name}");
            assert!(!name.contains('/') && !name.contains(' '), "{name}");
            assert_eq!(doc_id_from_note(&name).as_deref(), Some(id), "{name}");
        }
        assert_eq!(note_file_name("4983"), "4983.md");
        assert_eq!(doc_id_from_note("sub/x.md"), None);
        assert_eq!(doc_id_from_note("x.txt"), None);
        assert_eq!(doc_id_from_note("bad%G1.md"), None);
    }

    #[test]
    fn note_has_title_frontmatter_and_text() {
        let doc = Document {
            id: "7".into(),
            title: "Wing \"lift\": a study".into(),
            text: "Body text.".into(),
        };
        assert_eq!(
            note_text(&doc),
            "---\ntitle: \"Wing \\\"lift\\\": a study\"\nbeir_id: \"7\"\n---\nBody text.\n"
        );
        let untitled = Document {
            id: "8".into(),
            title: " ".into(),
            text: String::new(),
        };
        assert_eq!(note_text(&untitled), "---\nbeir_id: \"8\"\n---\n\n");
    }

    #[test]
    fn writes_once_then_reuses_and_prunes() {
        let ds_dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(ds_dir.path().join("qrels")).unwrap();
        std::fs::write(ds_dir.path().join("queries.jsonl"), "").unwrap();
        std::fs::write(ds_dir.path().join("qrels/test.tsv"), "").unwrap();
        let corpus = ds_dir.path().join("corpus.jsonl");
        std::fs::write(
            &corpus,
            "{\"_id\":\"a\",\"title\":\"A\",\"text\":\"x\"}\n{\"_id\":\"b\",\"text\":\"y\"}\n",
        )
        .unwrap();
        let ds = BeirDataset::open(ds_dir.path()).unwrap();
        let out = tempfile::tempdir().unwrap();
        let vault = out.path().join("vault");
        let info = write_vault(&ds, &vault).unwrap();
        assert_eq!((info.documents, info.written, info.removed), (2, 2, 0));
        let again = write_vault(&ds, &vault).unwrap();
        assert_eq!((again.documents, again.written), (2, 0));

        std::fs::write(
            &corpus,
            "{\"_id\":\"a\",\"title\":\"A\",\"text\":\"changed\"}\n",
        )
        .unwrap();
        let info = write_vault(&ds, &vault).unwrap();
        assert_eq!((info.documents, info.written, info.removed), (1, 1, 1));
        assert!(!vault.join("b.md").exists());
        let text = std::fs::read_to_string(vault.join("a.md")).unwrap();
        assert!(text.ends_with("changed\n"));
    }
}
