//! A note named on the command line the way people name notes: a vault-relative path, with or
//! without `.md`, an absolute path inside the vault, or a title; close matches are suggested
//! when none fits.

use std::path::{Path, PathBuf};

use anyhow::bail;
use vault_rag_core::NotePath;

/// The vault-relative path of the note `arg` names in `vault`.
pub fn resolve(vault: &Path, arg: &str) -> anyhow::Result<NotePath> {
    let arg = arg.trim();
    if arg.is_empty() {
        bail!("no note given: vault-rag similar VAULT path/to/note.md (or a note title)");
    }
    let vault = vault.canonicalize().unwrap_or_else(|_| vault.to_path_buf());
    let mut rel = arg.replace('\\', "/");
    let as_path = Path::new(arg);
    if as_path.is_absolute() {
        let full = as_path
            .canonicalize()
            .unwrap_or_else(|_| as_path.to_path_buf());
        match full.strip_prefix(&vault) {
            Ok(inside) => rel = inside.to_string_lossy().replace('\\', "/"),
            Err(_) => bail!("{arg} is not inside the vault {}", vault.display()),
        }
    }
    for candidate in [rel.clone(), format!("{rel}.md")] {
        if vault.join(&candidate).is_file() {
            if let Ok(path) = NotePath::new(&candidate) {
                return Ok(path);
            }
        }
    }
    let notes = notes_of(&vault);
    let wanted = title_key(&rel);
    let by_title: Vec<&String> = notes
        .iter()
        .filter(|n| title_key(stem(n)) == wanted)
        .collect();
    match by_title.as_slice() {
        [one] => return Ok(NotePath::new(one.as_str())?),
        [] => {}
        many => bail!(
            "several notes are titled `{arg}`: {}; give the path of one",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    let close = suggestions(&notes, &rel);
    if close.is_empty() {
        bail!("no note `{arg}` in {}", vault.display());
    }
    bail!(
        "no note `{arg}` in the vault; did you mean: {}?",
        close.join(", ")
    )
}

fn stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".md").unwrap_or(name)
}

/// Titles compare without case and with runs of spaces, `-` and `_` alike.
fn title_key(s: &str) -> String {
    let s = s.strip_suffix(".md").unwrap_or(s);
    s.to_lowercase()
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Markdown files of the vault, vault-relative, skipping dot-folders (as the index does).
fn notes_of(vault: &Path) -> Vec<String> {
    fn walk(dir: &Path, vault: &Path, out: &mut Vec<String>, depth: usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path: PathBuf = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && depth < 64 {
                walk(&path, vault, out, depth + 1);
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "md") {
                if let Ok(rel) = path.strip_prefix(vault) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(vault, vault, &mut out, 0);
    out.sort();
    out
}

/// Up to five notes whose title or path is close to `arg` (contains it, or a few edits away).
fn suggestions(notes: &[String], arg: &str) -> Vec<String> {
    let wanted = title_key(stem(arg));
    let mut scored: Vec<(usize, &String)> = notes
        .iter()
        .filter_map(|n| {
            let title = title_key(stem(n));
            if !wanted.is_empty() && (title.contains(&wanted) || wanted.contains(&title)) {
                return Some((0, n));
            }
            let d = edit_distance(&title, &wanted);
            (d <= 2 + wanted.chars().count() / 5).then_some((d, n))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(5).map(|(_, n)| n.clone()).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for note in [
            "Projects/Plan.md",
            "Travel/Kyoto Trip 2026.md",
            "Recipes/Sourdough Bread.md",
            "Archive/Plan.md",
            ".obsidian/Hidden.md",
        ] {
            let path = dir.path().join(note);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "# x\n").unwrap();
        }
        dir
    }

    #[test]
    fn paths_with_or_without_md_and_absolute_ones() {
        let v = vault();
        let ok = |arg: &str| resolve(v.path(), arg).unwrap().to_string();
        assert_eq!(ok("Projects/Plan.md"), "Projects/Plan.md");
        assert_eq!(ok("Projects/Plan"), "Projects/Plan.md");
        let abs = v.path().join("Travel/Kyoto Trip 2026.md");
        assert_eq!(ok(abs.to_str().unwrap()), "Travel/Kyoto Trip 2026.md");
        let outside = resolve(v.path(), "/etc/hostname").unwrap_err().to_string();
        assert!(outside.contains("not inside the vault"), "{outside}");
    }

    #[test]
    fn a_unique_title_works_and_an_ambiguous_one_lists_the_paths() {
        let v = vault();
        assert_eq!(
            resolve(v.path(), "sourdough bread").unwrap().to_string(),
            "Recipes/Sourdough Bread.md"
        );
        let err = resolve(v.path(), "Plan").unwrap_err().to_string();
        assert!(
            err.contains("Archive/Plan.md") && err.contains("Projects/Plan.md"),
            "{err}"
        );
    }

    #[test]
    fn close_matches_are_suggested() {
        let v = vault();
        let err = resolve(v.path(), "Sourdogh Bread").unwrap_err().to_string();
        assert!(
            err.contains("did you mean: Recipes/Sourdough Bread.md"),
            "{err}"
        );
        let err = resolve(v.path(), "Kyoto").unwrap_err().to_string();
        assert!(err.contains("Travel/Kyoto Trip 2026.md"), "{err}");
        let err = resolve(v.path(), "Hidden").unwrap_err().to_string();
        assert!(!err.contains(".obsidian"), "{err}");
    }
}
