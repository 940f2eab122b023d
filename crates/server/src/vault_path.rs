//! Resolving a note path to a file that is really inside the vault.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use vault_rag_core::NotePath;

use crate::ServerError;

/// The real file of `path` in the vault at `vault_root`. [`NotePath`] already excludes `..` and
/// absolute paths; this also refuses paths whose symlinks lead outside the vault.
pub fn resolve_in_vault(vault_root: &Path, path: &NotePath) -> Result<PathBuf, ServerError> {
    let root = vault_root
        .canonicalize()
        .map_err(|err| ServerError::IndexUnavailable {
            message: format!("vault `{}` is not readable: {err}", vault_root.display()),
        })?;
    let joined = root.join(path.as_str());
    let real = match joined.canonicalize() {
        Ok(real) => real,
        Err(err) if err.kind() == ErrorKind::NotFound => {
            // A dangling symlink that points outside is still an escape, not a missing note.
            if let Ok(target) = std::fs::read_link(&joined) {
                let target = joined.parent().unwrap_or(&root).join(target);
                if !lexically_inside(&root, &target) {
                    return Err(outside(path, "its symlink points outside the vault"));
                }
            }
            return Err(ServerError::NoteNotFound {
                path: path.to_string(),
            });
        }
        Err(err) => {
            return Err(ServerError::Internal {
                message: format!("cannot resolve `{path}`: {err}"),
            })
        }
    };
    if !real.starts_with(&root) {
        return Err(outside(
            path,
            "it resolves (through a symlink) outside the vault",
        ));
    }
    if !real.is_file() {
        return Err(ServerError::NoteNotFound {
            path: path.to_string(),
        });
    }
    Ok(real)
}

fn outside(path: &NotePath, reason: &str) -> ServerError {
    ServerError::PathOutsideVault {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

/// Whether `target` stays under `root` after resolving `.` and `..` without touching the disk.
fn lexically_inside(root: &Path, target: &Path) -> bool {
    let mut parts: Vec<std::path::Component<'_>> = Vec::new();
    for component in target.components() {
        match component {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::CurDir => {}
            other => parts.push(other),
        }
    }
    parts.iter().collect::<PathBuf>().starts_with(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Windows creates symbolic links only with extra privileges.
    #[cfg(unix)]
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

        let p = |s: &str| NotePath::new(s).unwrap();
        assert!(resolve_in_vault(&vault, &p("sub/a.md"))
            .unwrap()
            .ends_with("sub/a.md"));
        assert!(resolve_in_vault(&vault, &p("sub/inner.md"))
            .unwrap()
            .ends_with("sub/a.md"));
        assert!(matches!(
            resolve_in_vault(&vault, &p("evil.md")),
            Err(ServerError::PathOutsideVault { .. })
        ));
        assert!(matches!(
            resolve_in_vault(&vault, &p("sub/dangling.md")),
            Err(ServerError::PathOutsideVault { .. })
        ));
        assert!(matches!(
            resolve_in_vault(&vault, &p("missing.md")),
            Err(ServerError::NoteNotFound { .. })
        ));
        assert!(matches!(
            resolve_in_vault(&vault, &p("sub")),
            Err(ServerError::NoteNotFound { .. })
        ));
    }
}
