//! What callers ask of an index, and the one set of limits every entry point (HTTP, MCP, the
//! command line, the engine) checks: the shapes are defined once, validated once.

use serde::{Deserialize, Serialize};

use crate::{Fusion, NotePath, SearchMode};

/// Results when a caller gives no `top_k`.
pub const DEFAULT_TOP_K: usize = 10;
/// Largest `top_k` a search or similar-notes request may ask for.
pub const MAX_TOP_K: usize = 100;
/// Longest query, in characters. Longer text is still embedded within the model's window and
/// its first terms searched, so a pasted passage works as a query.
pub const MAX_QUERY_CHARS: usize = 32_768;
/// Notes in a page of a listing when a caller gives no limit.
pub const DEFAULT_LIST_LIMIT: usize = 50;
/// Most notes one page of a listing may hold.
pub const MAX_LIST_LIMIT: usize = 500;

/// A request field that is out of bounds, with what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {message}")]
pub struct RequestError {
    pub field: &'static str,
    pub message: String,
}

impl RequestError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

fn default_top_k() -> usize {
    DEFAULT_TOP_K
}

/// A search: free text, how many notes to return, which retrievers, optional filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRequest {
    pub query: String,
    #[serde(default = "default_top_k")]
    pub top_k: usize,
    #[serde(default)]
    pub mode: SearchMode,
    /// Only notes in this folder (whole path segments; `a` matches `a/x.md`, not `ab/x.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// Only notes with this tag (case-insensitive, `#` optional; `a` also matches `a/b`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// How a hybrid search merges its lists (ignored by the other modes).
    #[serde(default)]
    pub fusion: Fusion,
}

/// The filters of a valid search, in the form the index stores: a folder without surrounding
/// slashes, a tag without `#`, lower-cased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilters {
    pub folder: Option<String>,
    pub tag: Option<String>,
}

impl SearchRequest {
    /// A hybrid search for the 10 best notes.
    pub fn new(query: impl Into<String>) -> Self {
        Self {
            query: query.into(),
            top_k: DEFAULT_TOP_K,
            mode: SearchMode::default(),
            folder: None,
            tag: None,
            fusion: Fusion::default(),
        }
    }

    /// Checks every field against the limits; returns the normalised filters.
    pub fn validate(&self) -> Result<SearchFilters, RequestError> {
        check_top_k(self.top_k)?;
        check_query(&self.query)?;
        Ok(SearchFilters {
            folder: folder_filter(self.folder.as_deref())?,
            tag: tag_filter(self.tag.as_deref())?,
        })
    }
}

/// Notes related to a note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimilarRequest {
    pub path: NotePath,
    #[serde(default = "default_top_k")]
    pub top_k: usize,
    /// Leave out notes the note already links to.
    #[serde(default)]
    pub exclude_linked: bool,
}

impl SimilarRequest {
    /// Checks every field against the limits (the path is valid by construction).
    pub fn validate(&self) -> Result<(), RequestError> {
        check_top_k(self.top_k)
    }
}

/// Which part of a note a read asks for (MCP `read_note`, the plugin's previews).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotePart {
    Whole,
    /// The section under a heading (case-insensitive; `Parent#Child` also works).
    Section(String),
    /// Lines `start..=end` (1-based; no end: to the end of the note).
    Lines {
        start: u64,
        end: Option<u64>,
    },
}

/// The part of a note named by a heading or a line range (one or the other, lines from 1, the
/// end not before the start); neither is the whole note.
pub fn note_part(
    heading: Option<&str>,
    start_line: Option<u64>,
    end_line: Option<u64>,
) -> Result<NotePart, RequestError> {
    let heading = heading.map(str::trim).filter(|h| !h.is_empty());
    let lines = start_line.is_some() || end_line.is_some();
    match (heading, lines) {
        (Some(_), true) => Err(RequestError::new(
            "heading",
            "give a heading or a line range, not both",
        )),
        (Some(h), false) => Ok(NotePart::Section(h.to_string())),
        (None, false) => Ok(NotePart::Whole),
        (None, true) => {
            let start = start_line.unwrap_or(1);
            if start == 0 {
                return Err(RequestError::new("start_line", "lines are counted from 1"));
            }
            match end_line {
                Some(end) if end < start => Err(RequestError::new(
                    "end_line",
                    format!("end_line {end} is before start_line {start}"),
                )),
                end => Ok(NotePart::Lines { start, end }),
            }
        }
    }
}

/// `top_k` between 1 and [`MAX_TOP_K`].
pub fn check_top_k(top_k: usize) -> Result<(), RequestError> {
    if (1..=MAX_TOP_K).contains(&top_k) {
        Ok(())
    } else {
        Err(RequestError::new(
            "top_k",
            format!("must be between 1 and {MAX_TOP_K}, got {top_k}"),
        ))
    }
}

/// A caller's count (`top_k`, `limit`) as a `usize`: absent gives `default`; a number too large
/// for this machine is kept out of range so that the bounds check names it.
pub fn count_or(value: Option<u64>, default: usize) -> usize {
    value.map_or(default, |v| usize::try_from(v).unwrap_or(usize::MAX))
}

/// A query with something to search for, at most [`MAX_QUERY_CHARS`] long.
pub fn check_query(query: &str) -> Result<(), RequestError> {
    if query.trim().is_empty() {
        return Err(RequestError::new("query", "must not be empty"));
    }
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(RequestError::new(
            "query",
            format!("is {chars} characters long; the limit is {MAX_QUERY_CHARS}"),
        ));
    }
    Ok(())
}

/// A folder filter as a user writes it (`Projects/`, `\Projects`, ` Projects `) in the form paths
/// are stored in; `None` for the whole vault. Like a note path, it may not leave the vault.
pub fn folder_filter(raw: Option<&str>) -> Result<Option<String>, RequestError> {
    let Some(raw) = raw else { return Ok(None) };
    let folder = raw.trim().replace('\\', "/");
    let folder = folder.trim_matches('/');
    if folder.is_empty() {
        return Ok(None);
    }
    NotePath::new(folder)
        .map(|p| Some(p.to_string()))
        .map_err(|err| RequestError::new("folder", err.to_string()))
}

/// A tag filter without `#` and surrounding whitespace or slashes, lower-cased; `None` when
/// nothing is left.
pub fn tag_filter(raw: Option<&str>) -> Result<Option<String>, RequestError> {
    let Some(raw) = raw else { return Ok(None) };
    let tag = raw
        .trim()
        .trim_start_matches('#')
        .trim_matches('/')
        .to_lowercase();
    if tag.is_empty() {
        return Ok(None);
    }
    if tag.contains(char::is_whitespace) || tag.contains('\0') {
        return Err(RequestError::new("tag", format!("`{raw}` is not a tag")));
    }
    Ok(Some(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_set_of_limits() {
        let mut req = SearchRequest::new("x".repeat(5_000));
        assert!(req.validate().is_ok(), "a pasted passage is a query");
        req.query = "x".repeat(MAX_QUERY_CHARS + 1);
        assert_eq!(req.validate().unwrap_err().field, "query");
        req.query = "  ".into();
        assert_eq!(req.validate().unwrap_err().field, "query");
        req.query = "q".into();
        for (k, ok) in [
            (0, false),
            (1, true),
            (MAX_TOP_K, true),
            (MAX_TOP_K + 1, false),
        ] {
            req.top_k = k;
            assert_eq!(req.validate().is_ok(), ok, "top_k {k}");
        }
        assert_eq!(count_or(None, 7), 7);
        assert!(
            count_or(Some(u64::MAX), 7) > MAX_TOP_K,
            "too large stays out of range"
        );
    }

    #[test]
    fn note_parts() {
        assert_eq!(note_part(None, None, None), Ok(NotePart::Whole));
        assert_eq!(
            note_part(Some(" Plan "), None, None),
            Ok(NotePart::Section("Plan".into()))
        );
        assert_eq!(
            note_part(Some(""), None, Some(4)),
            Ok(NotePart::Lines {
                start: 1,
                end: Some(4)
            })
        );
        assert_eq!(
            note_part(Some("Plan"), Some(1), None).unwrap_err().field,
            "heading"
        );
        assert_eq!(
            note_part(None, Some(0), None).unwrap_err().field,
            "start_line"
        );
        assert_eq!(
            note_part(None, Some(5), Some(4)).unwrap_err().field,
            "end_line"
        );
    }

    #[test]
    fn filters_are_normalised() {
        assert_eq!(
            folder_filter(Some(" \\Projects/ ")).unwrap().as_deref(),
            Some("Projects")
        );
        assert_eq!(folder_filter(Some("/")).unwrap(), None);
        assert_eq!(folder_filter(Some("../x")).unwrap_err().field, "folder");
        assert_eq!(folder_filter(Some("a\0b")).unwrap_err().field, "folder");
        assert_eq!(
            tag_filter(Some(" #Project/ ")).unwrap().as_deref(),
            Some("project")
        );
        assert_eq!(tag_filter(Some("#")).unwrap(), None);
        assert_eq!(tag_filter(Some("two words")).unwrap_err().field, "tag");
    }
}
