//! Vault-relative note paths.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Why a string is not a valid vault-relative path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path `{0}` is absolute; paths are relative to the vault")]
    Absolute(String),
    #[error("path `{0}` leaves the vault (`..`)")]
    Escapes(String),
    #[error("path `{0}` contains a NUL byte")]
    Nul(String),
}

/// A note's path relative to the vault root: `/`-separated, NFC-normalised, never absolute,
/// never containing `..`, `.` or empty segments. This is the identity of a note everywhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NotePath(String);

impl NotePath {
    /// Normalises `raw` (backslashes to `/`, NFC, `.` segments dropped) and validates it.
    pub fn new(raw: &str) -> Result<Self, PathError> {
        if raw.contains('\0') {
            return Err(PathError::Nul(raw.to_string()));
        }
        let unified: String = raw.replace('\\', "/").nfc().collect();
        if unified.starts_with('/') || has_drive_prefix(&unified) {
            return Err(PathError::Absolute(raw.to_string()));
        }
        let mut parts = Vec::new();
        for seg in unified.split('/') {
            match seg {
                "" | "." => continue,
                ".." => return Err(PathError::Escapes(raw.to_string())),
                s => parts.push(s),
            }
        }
        if parts.is_empty() {
            return Err(PathError::Empty);
        }
        Ok(Self(parts.join("/")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The folder part (`a/b` for `a/b/c.md`), empty for a note at the root.
    pub fn folder(&self) -> &str {
        self.0.rsplit_once('/').map(|(f, _)| f).unwrap_or("")
    }

    /// The file name without the `.md` extension: Obsidian's default note title.
    pub fn stem(&self) -> &str {
        let name = self.0.rsplit_once('/').map(|(_, n)| n).unwrap_or(&self.0);
        name.strip_suffix(".md").unwrap_or(name)
    }

    /// Whether this note lies in `folder` (a prefix of whole segments; empty matches all).
    pub fn is_in_folder(&self, folder: &str) -> bool {
        let folder = folder.trim_matches('/');
        folder.is_empty()
            || self
                .0
                .strip_prefix(folder)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

fn has_drive_prefix(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

impl fmt::Display for NotePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for NotePath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_separators_and_dots() {
        assert_eq!(NotePath::new("a\\b/./c.md").unwrap().as_str(), "a/b/c.md");
        assert_eq!(NotePath::new("a//b.md").unwrap().as_str(), "a/b.md");
    }

    #[test]
    fn nfc() {
        let decomposed = "Cafe\u{301}.md";
        assert_eq!(NotePath::new(decomposed).unwrap().as_str(), "Caf\u{e9}.md");
    }

    #[test]
    fn rejects_escapes() {
        assert!(matches!(
            NotePath::new("../x.md"),
            Err(PathError::Escapes(_))
        ));
        assert!(matches!(
            NotePath::new("a/../../x.md"),
            Err(PathError::Escapes(_))
        ));
        assert!(matches!(
            NotePath::new("/etc/passwd"),
            Err(PathError::Absolute(_))
        ));
        assert!(matches!(
            NotePath::new("C:/x.md"),
            Err(PathError::Absolute(_))
        ));
        assert!(matches!(NotePath::new(""), Err(PathError::Empty)));
        assert!(matches!(NotePath::new("a\0b"), Err(PathError::Nul(_))));
    }

    #[test]
    fn folder_and_stem() {
        let p = NotePath::new("Projects/Alpha/Plan.md").unwrap();
        assert_eq!(p.folder(), "Projects/Alpha");
        assert_eq!(p.stem(), "Plan");
        assert!(p.is_in_folder("Projects"));
        assert!(p.is_in_folder("Projects/Alpha/"));
        assert!(!p.is_in_folder("Proj"));
        assert!(p.is_in_folder(""));
    }
}
