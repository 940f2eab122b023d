//! The one way a note path becomes a file: NFC names matched on disk, symlinks that lead out of
//! the vault refused, folders and missing files reported as missing notes.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use vault_rag_core::NotePath;

use crate::error::IndexError;
use crate::indexer::absolute;

/// The real file of `path` in the vault at `vault` (canonical). [`NotePath`] already excludes
/// `..` and absolute paths; this also refuses paths whose symlinks lead outside the vault
/// ([`IndexError::OutsideVault`], a dangling one included), and answers
/// [`IndexError::NoteNotFound`] for what is not a file.
pub fn resolve_in_vault(vault: &Path, path: &NotePath) -> Result<PathBuf, IndexError> {
    let not_found = || IndexError::NoteNotFound {
        path: path.to_string(),
    };
    let outside = || IndexError::OutsideVault {
        path: path.to_string(),
    };
    let root = vault.canonicalize().map_err(|source| match source.kind() {
        // The vault folder is gone (unmounted, moved): so are its notes, for now.
        ErrorKind::NotFound => not_found(),
        _ => IndexError::ReadNote {
            path: path.to_string(),
            source,
        },
    })?;
    let joined = find_on_disk(&root, path.as_str());
    let real = match joined.canonicalize() {
        Ok(real) => real,
        Err(err) if err.kind() == ErrorKind::NotFound => {
            // A dangling symlink that points outside is still an escape, not a missing note.
            if let Ok(target) = std::fs::read_link(&joined) {
                let target = joined.parent().unwrap_or(&root).join(target);
                if !lexically_inside(&root, &target) {
                    return Err(outside());
                }
            }
            return Err(not_found());
        }
        Err(source) => {
            return Err(IndexError::ReadNote {
                path: path.to_string(),
                source,
            })
        }
    };
    if !real.starts_with(&root) {
        return Err(outside());
    }
    if !real.is_file() {
        return Err(not_found());
    }
    Ok(real)
}

/// Whether `target` stays under `root` after resolving `.` and `..` without touching the disk.
fn lexically_inside(root: &Path, target: &Path) -> bool {
    let mut parts: Vec<Component<'_>> = Vec::new();
    for component in target.components() {
        match component {
            Component::ParentDir => {
                parts.pop();
            }
            Component::CurDir => {}
            other => parts.push(other),
        }
    }
    parts.iter().collect::<PathBuf>().starts_with(root)
}

/// `vault/rel`, or the entry whose name has the same NFC form (files created on macOS are
/// often stored decomposed, while note paths are NFC).
fn find_on_disk(vault: &Path, rel: &str) -> PathBuf {
    let direct = absolute(vault, rel);
    if direct.exists() {
        return direct;
    }
    let mut current = vault.to_path_buf();
    for seg in rel.split('/') {
        let exact = current.join(seg);
        if exact.exists() {
            current = exact;
            continue;
        }
        let found = std::fs::read_dir(&current).ok().and_then(|entries| {
            entries.flatten().map(|e| e.path()).find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| NotePath::new(n).ok())
                    .is_some_and(|n| n.as_str() == seg)
            })
        });
        match found {
            Some(p) => current = p,
            None => return direct,
        }
    }
    current
}

// Windows creates symbolic links only with extra privileges.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn resolves_inside_and_refuses_symlinks_out() {
        let outer = tempfile::tempdir().unwrap();
        let vault = outer.path().join("vault");
        std::fs::create_dir_all(vault.join("sub")).unwrap();
        std::fs::write(vault.join("sub/a.md"), "a").unwrap();
        std::fs::write(outer.path().join("secret.md"), "s").unwrap();
        std::os::unix::fs::symlink(outer.path().join("secret.md"), vault.join("evil.md")).unwrap();
        std::os::unix::fs::symlink("../../gone.md", vault.join("sub/dangling.md")).unwrap();
        std::os::unix::fs::symlink("a.md", vault.join("sub/inner.md")).unwrap();
        // Stored decomposed (as macOS often does), asked for in NFC.
        std::fs::write(vault.join("Cafe\u{301}.md"), "c").unwrap();

        let p = |s: &str| NotePath::new(s).unwrap();
        let ok = |s: &str| resolve_in_vault(&vault, &p(s)).unwrap();
        assert!(ok("sub/a.md").ends_with("sub/a.md"));
        assert!(ok("sub/inner.md").ends_with("sub/a.md"));
        assert!(ok("Caf\u{e9}.md").ends_with("Cafe\u{301}.md"));
        for (path, outside) in [
            ("evil.md", true),
            ("sub/dangling.md", true),
            ("missing.md", false),
            ("sub", false),
        ] {
            match resolve_in_vault(&vault, &p(path)) {
                Err(IndexError::OutsideVault { .. }) if outside => {}
                Err(IndexError::NoteNotFound { .. }) if !outside => {}
                other => panic!("{path}: {other:?}"),
            }
        }
    }
}
