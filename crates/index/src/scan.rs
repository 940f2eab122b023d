//! Reading a vault the way Obsidian does: which files are notes, and their (mtime, size).
//!
//! Skipped: the configuration folder (renamable, hence a setting), `.trash/`, every dot-file and
//! dot-folder, Obsidian's "Excluded files" (`userIgnoreFilters` in `<config>/app.json`: a path
//! prefix, or a regular expression written `/.../`), and the user's include/exclude globs.
//! Symlinks are followed only while they stay inside the vault; loops are detected. Problems
//! (a loop, a file that vanished, a FIFO named `.md`) are reported and never stop the scan.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use globset::{Glob, GlobSet, GlobSetBuilder};
use vault_rag_core::NotePath;

use crate::error::IndexError;
use crate::settings::IndexSettings;

/// A note found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedNote {
    pub path: NotePath,
    /// Where to read it (may differ from `vault/path` in Unicode normalisation).
    pub abs: PathBuf,
    pub mtime_ns: i64,
    pub size: u64,
}

/// Why a file or folder was not scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// It disappeared between listing and reading: it is gone, so nothing is kept about it.
    Vanished,
    /// A symlink that leads back into one of its own ancestors.
    Loop,
    /// A symlink that leads out of the vault (never followed, so notes cannot leak in).
    OutsideVault,
    /// A FIFO, socket or device named like a note: opening it could block forever.
    NotRegular,
    /// A file name that is not valid UTF-8 (a note path must be text).
    BadName,
    /// A folder or file that could not be listed or inspected.
    Unreadable,
    /// A second file whose name is the same note path once normalised (NFC and NFD forms).
    NameCollision,
}

/// A path the scan could not use, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanProblem {
    /// Vault-relative, `/`-separated (lossy for names that are not UTF-8).
    pub path: String,
    pub kind: ProblemKind,
    pub reason: String,
}

/// Result of a full scan.
#[derive(Debug, Default)]
pub struct ScanResult {
    /// Notes, sorted by path.
    pub notes: Vec<ScannedNote>,
    pub problems: Vec<ScanProblem>,
    /// Vault-relative paths whose content is unknown (unreadable folders): notes under them
    /// must not be taken for deleted.
    pub uncertain: Vec<String>,
}

impl ScanResult {
    /// Whether a note at `path` may be missing from `notes` only because the scan could not look.
    pub fn is_uncertain(&self, path: &str) -> bool {
        self.uncertain.iter().any(|p| {
            p.is_empty()
                || path == p
                || path
                    .strip_prefix(p.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        })
    }
}

/// One entry of Obsidian's `userIgnoreFilters`.
#[derive(Debug, Clone)]
enum UserFilter {
    Prefix(String),
    Regex(regex::Regex),
}

/// Decides which vault-relative paths are notes.
#[derive(Debug, Clone)]
pub struct VaultFilter {
    config_dir: String,
    user: Vec<UserFilter>,
    /// Why Obsidian's excluded files could not be read (a half-written `app.json`): such a
    /// filter admits nothing, so that no note the user excluded is ever indexed or served.
    unreadable: Option<String>,
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl VaultFilter {
    /// Builds the filter from the settings and `<vault>/<config_dir>/app.json`. A missing
    /// `app.json` means no user filters; one that cannot be read or parsed (Obsidian may be
    /// writing it) makes a filter that admits nothing (see [`VaultFilter::rules_unreadable`]);
    /// bad globs are errors.
    pub fn load(settings: &IndexSettings, vault: &Path) -> Result<Self, IndexError> {
        let config_dir = settings.config_dir.trim_matches('/').to_string();
        let app_json = vault.join(&config_dir).join("app.json");
        let (user, unreadable) = match read_user_filters(&app_json) {
            Ok(user) => (user, None),
            Err(why) => (Vec::new(), Some(why)),
        };
        Ok(Self {
            config_dir,
            user,
            unreadable,
            include: if settings.include.is_empty() {
                None
            } else {
                Some(glob_set("include", &settings.include)?)
            },
            exclude: glob_set("exclude", &settings.exclude)?,
        })
    }

    /// Why Obsidian's excluded files could not be read, when they could not: the filter then
    /// admits no note at all (it fails closed).
    pub fn rules_unreadable(&self) -> Option<&str> {
        self.unreadable.as_deref()
    }

    /// Whether a folder (vault-relative, no trailing `/`) is skipped with everything in it.
    pub fn skips_dir(&self, rel: &str) -> bool {
        if rel.is_empty() {
            return false;
        }
        if hidden_or_config(rel, &self.config_dir) {
            return true;
        }
        // A prefix filter prunes a folder only when it covers all of it (`Archive/` or `Archive`).
        let with_slash = format!("{rel}/");
        self.user.iter().any(|f| match f {
            UserFilter::Prefix(p) => with_slash.starts_with(p.as_str()),
            UserFilter::Regex(_) => false,
        })
    }

    /// Whether a file (vault-relative) is a note to index.
    /// Whether the indexer would index the file at `rel`: a note by [`VaultFilter::is_note`] in
    /// no folder the scan skips. Everything that serves note text to callers asks this.
    pub fn admits(&self, rel: &str) -> bool {
        let in_skipped_dir = rel
            .rsplit_once('/')
            .is_some_and(|(dir, _)| ancestors(dir).any(|a| self.skips_dir(a)));
        !in_skipped_dir && self.is_note(rel)
    }

    pub fn is_note(&self, rel: &str) -> bool {
        if self.unreadable.is_some()
            || !rel.ends_with(".md")
            || hidden_or_config(rel, &self.config_dir)
        {
            return false;
        }
        let ignored = self.user.iter().any(|f| match f {
            UserFilter::Prefix(p) => rel.starts_with(p.as_str()),
            UserFilter::Regex(r) => r.is_match(rel),
        });
        if ignored || self.exclude.is_match(rel) {
            return false;
        }
        self.include.as_ref().is_none_or(|inc| inc.is_match(rel))
    }
}

/// Whether any segment is a dot-name or the path lies in the configuration folder.
fn hidden_or_config(rel: &str, config_dir: &str) -> bool {
    rel.split('/').any(|seg| seg.starts_with('.'))
        || rel == config_dir
        || rel
            .strip_prefix(config_dir)
            .is_some_and(|r| r.starts_with('/'))
}

fn glob_set(field: &'static str, patterns: &[String]) -> Result<GlobSet, IndexError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|source| IndexError::Glob {
            field,
            pattern: pattern.clone(),
            source,
        })?;
        builder.add(glob);
    }
    builder.build().map_err(|source| IndexError::Glob {
        field,
        pattern: patterns.join(", "),
        source,
    })
}

/// The user's excluded files from `app.json`: none when it does not exist, an error when it
/// exists but cannot be read or parsed.
fn read_user_filters(app_json: &Path) -> Result<Vec<UserFilter>, String> {
    let text = match std::fs::read_to_string(app_json) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot be read: {e}")),
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("is not valid JSON: {e}"))?;
    let filters = match value.get("userIgnoreFilters") {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items,
        Some(_) => return Err("`userIgnoreFilters` is not a list".into()),
    };
    Ok(filters
        .iter()
        .filter_map(|f| f.as_str())
        .filter(|f| !f.is_empty())
        .filter_map(|f| parse_user_filter(f, app_json))
        .collect())
}

fn parse_user_filter(filter: &str, app_json: &Path) -> Option<UserFilter> {
    if filter.len() > 2 && filter.starts_with('/') && filter.ends_with('/') {
        let inner = &filter[1..filter.len() - 1];
        return match regex::Regex::new(inner) {
            Ok(r) => Some(UserFilter::Regex(r)),
            Err(e) => {
                tracing::warn!(file = %app_json.display(), filter, error = %e, "excluded-files pattern is not a valid regular expression; ignored");
                None
            }
        };
    }
    Some(UserFilter::Prefix(filter.to_string()))
}

/// Walks the vault. `vault` must be canonical (see [`IndexSettings::canonical_vault`]).
pub fn scan(vault: &Path, filter: &VaultFilter) -> ScanResult {
    scan_dir(vault, vault, filter)
}

/// Walks the folder `start` inside the (canonical) vault.
pub fn scan_dir(vault: &Path, start: &Path, filter: &VaultFilter) -> ScanResult {
    let mut result = ScanResult::default();
    let mut skipped_links: Vec<ScanProblem> = Vec::new();
    let walker = walkdir::WalkDir::new(start)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 {
                return true;
            }
            let Some(rel) = relative(vault, e.path()) else {
                return true; // reported below as a bad name
            };
            if e.file_type().is_dir() && filter.skips_dir(&rel) {
                return false;
            }
            if e.path_is_symlink() && !link_stays_inside(vault, e.path()) {
                // Reported only when it would have been a note or a scanned folder.
                if e.file_type().is_dir() || filter.is_note(&rel) {
                    skipped_links.push(ScanProblem {
                        reason: "symlink points outside the vault; not followed".into(),
                        path: rel,
                        kind: ProblemKind::OutsideVault,
                    });
                }
                return false;
            }
            true
        });
    for entry in walker {
        match entry {
            Ok(e) => visit(vault, filter, &e, &mut result),
            Err(err) => walk_error(vault, &err, &mut result),
        }
    }
    result.problems.extend(skipped_links);
    // The file whose name is the note path exactly (NFC) comes first among equal paths.
    let exact = |n: &ScannedNote| lossy_relative(vault, &n.abs) == n.path.as_str();
    result.notes.sort_by(|a, b| {
        a.path
            .cmp(&b.path)
            .then_with(|| exact(b).cmp(&exact(a)))
            .then_with(|| a.abs.cmp(&b.abs))
    });
    // Two files whose names differ only in Unicode normalisation (NFC and NFD `Café.md`) make
    // one note path: the first is indexed, the other is reported under its own name, never
    // silently dropped.
    let mut kept: Vec<ScannedNote> = Vec::with_capacity(result.notes.len());
    for note in std::mem::take(&mut result.notes) {
        match kept.last() {
            Some(prev) if prev.path == note.path => {
                if prev.abs != note.abs {
                    result.problems.push(ScanProblem {
                        path: lossy_relative(vault, &note.abs),
                        kind: ProblemKind::NameCollision,
                        reason: format!(
                            "`{}` has the same name in another Unicode form; only that one is indexed",
                            lossy_relative(vault, &prev.abs)
                        ),
                    });
                }
            }
            _ => kept.push(note),
        }
    }
    result.notes = kept;
    result
}

fn visit(vault: &Path, filter: &VaultFilter, e: &walkdir::DirEntry, out: &mut ScanResult) {
    if e.file_type().is_dir() {
        return;
    }
    let Some(rel) = relative(vault, e.path()) else {
        if e.path().extension().is_some_and(|x| x == "md") {
            out.problems.push(ScanProblem {
                path: lossy_relative(vault, e.path()),
                kind: ProblemKind::BadName,
                reason: "file name is not valid UTF-8; skipped".into(),
            });
        }
        return;
    };
    if !filter.is_note(&rel) {
        return;
    }
    if !e.file_type().is_file() {
        out.problems.push(ScanProblem {
            path: rel,
            kind: ProblemKind::NotRegular,
            reason: "not a regular file (FIFO, socket or device); skipped".into(),
        });
        return;
    }
    match e.metadata() {
        Ok(meta) => match NotePath::new(&rel) {
            Ok(path) => out.notes.push(ScannedNote {
                path,
                abs: e.path().to_path_buf(),
                mtime_ns: mtime_ns(&meta),
                size: meta.len(),
            }),
            Err(err) => out.problems.push(ScanProblem {
                path: rel,
                kind: ProblemKind::BadName,
                reason: format!("unusable note path: {err}"),
            }),
        },
        Err(err) => walk_error(vault, &err, out),
    }
}

fn walk_error(vault: &Path, err: &walkdir::Error, out: &mut ScanResult) {
    let path = err
        .path()
        .map(|p| lossy_relative(vault, p))
        .unwrap_or_default();
    if let Some(ancestor) = err.loop_ancestor() {
        out.problems.push(ScanProblem {
            reason: format!(
                "symlink loop back to `{}`; not followed",
                lossy_relative(vault, ancestor)
            ),
            path,
            kind: ProblemKind::Loop,
        });
        return;
    }
    let vanished = err
        .io_error()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound);
    if vanished {
        let dangling = err
            .path()
            .and_then(|p| std::fs::symlink_metadata(p).ok())
            .is_some_and(|m| m.file_type().is_symlink());
        if dangling && !path.ends_with(".md") {
            return;
        }
        out.problems.push(ScanProblem {
            path,
            kind: ProblemKind::Vanished,
            reason: if dangling {
                "symlink to nothing; skipped".into()
            } else {
                "vanished during the scan".into()
            },
        });
        return;
    }
    tracing::warn!(path = %path, error = %err, "cannot scan");
    out.uncertain.push(path.clone());
    // The I/O error alone: walkdir's own message carries the absolute path.
    let why = err
        .io_error()
        .map_or_else(|| "unknown error".to_string(), ToString::to_string);
    out.problems.push(ScanProblem {
        path,
        kind: ProblemKind::Unreadable,
        reason: format!("cannot be read for now, retrying: {why}"),
    });
}

/// What one path (from a file event) is, seen through the filter.
#[derive(Debug)]
pub enum PathState {
    /// A note to (re)index.
    Note(ScannedNote),
    /// A folder inside the vault that is not skipped: its notes need a scan.
    Dir(NotePath),
    /// Nothing there (deleted or moved away), or something that is not a note.
    Absent(Option<NotePath>),
    /// Something named like a note that cannot be indexed.
    Problem(ScanProblem),
}

/// Classifies one absolute path under the (canonical) vault for the watcher.
pub fn classify(vault: &Path, filter: &VaultFilter, abs: &Path) -> PathState {
    let Some(rel) = relative(vault, abs) else {
        return PathState::Absent(None);
    };
    let Ok(path) = NotePath::new(&rel) else {
        return PathState::Absent(None);
    };
    let parent_skipped = rel
        .rsplit_once('/')
        .is_some_and(|(dir, _)| ancestors(dir).any(|a| filter.skips_dir(a)));
    if parent_skipped {
        return PathState::Absent(None);
    }
    let meta = match std::fs::metadata(abs) {
        Ok(m) => m,
        Err(_) => return PathState::Absent(Some(path)),
    };
    if std::fs::symlink_metadata(abs).is_ok_and(|m| m.file_type().is_symlink())
        && !link_stays_inside(vault, abs)
    {
        return PathState::Absent(Some(path));
    }
    if meta.is_dir() {
        return if filter.skips_dir(&rel) {
            PathState::Absent(None)
        } else {
            PathState::Dir(path)
        };
    }
    if !filter.is_note(&rel) {
        return PathState::Absent(Some(path));
    }
    if !meta.is_file() {
        return PathState::Problem(ScanProblem {
            path: rel,
            kind: ProblemKind::NotRegular,
            reason: "not a regular file (FIFO, socket or device); skipped".into(),
        });
    }
    PathState::Note(ScannedNote {
        path,
        abs: abs.to_path_buf(),
        mtime_ns: mtime_ns(&meta),
        size: meta.len(),
    })
}

/// `a`, `a/b`, `a/b/c` for `a/b/c`.
fn ancestors(dir: &str) -> impl Iterator<Item = &str> {
    dir.match_indices('/')
        .map(move |(i, _)| &dir[..i])
        .chain(std::iter::once(dir))
}

/// Modification time in nanoseconds since the epoch (0 when the platform has none).
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

fn link_stays_inside(vault: &Path, link: &Path) -> bool {
    link.canonicalize()
        .is_ok_and(|target| target.starts_with(vault))
}

/// The vault-relative `/` path of `abs`, when it is valid UTF-8.
pub(crate) fn relative(vault: &Path, abs: &Path) -> Option<String> {
    let rel = abs.strip_prefix(vault).ok()?;
    let mut out = String::new();
    for part in rel.components() {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(part.as_os_str().to_str()?);
    }
    Some(out)
}

fn lossy_relative(vault: &Path, abs: &Path) -> String {
    abs.strip_prefix(vault)
        .unwrap_or(abs)
        .to_string_lossy()
        .replace('\\', "/")
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
