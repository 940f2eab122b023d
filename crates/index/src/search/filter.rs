//! Folder and tag filters (as sets of allowed notes), and Obsidian-style link resolution.

use std::borrow::Cow;

use crate::error::IndexError;
use crate::fts::{fts_query_terms, required_expression};
use crate::store::Reader;

/// Whether a note's tag matches a normalised filter: equal ignoring case and `#`, or nested
/// under it (`a/b` matches `a`).
pub fn tag_matches(note_tag: &str, filter: &str) -> bool {
    let tag = note_tag.trim_start_matches('#').to_lowercase();
    tag == filter
        || tag
            .strip_prefix(filter)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The notes a search may return, given a normalised folder and tag and the notes holding the
/// query's quoted phrases ([`phrase_notes`]).
pub(crate) fn note_filter(
    reader: &Reader<'_>,
    folder: Option<&str>,
    tag: Option<&str>,
    holding: Option<NoteSet>,
) -> Result<NoteFilter, IndexError> {
    if folder.is_none() && tag.is_none() {
        return Ok(holding.map_or(NoteFilter::All, NoteFilter::Only));
    }
    let set = reader
        .notes_in_folder(folder)?
        .into_iter()
        .filter(|(_, tags)| tag.is_none_or(|tag| tags.iter().any(|t| tag_matches(t, tag))))
        .map(|(id, _)| id)
        .filter(|id| holding.as_ref().is_none_or(|h| h.contains(*id)))
        .collect();
    Ok(NoteFilter::Only(set))
}

/// The notes holding every quoted phrase of `query` (`None` when it has none), and the query to
/// search with. When no note holds them, the quotes are taken for quotation marks (common in a
/// pasted sentence) and the query is searched without them: an empty answer would hide the notes
/// its words find.
pub(crate) fn phrase_notes<'q>(
    reader: &Reader<'_>,
    query: &'q str,
) -> Result<(Cow<'q, str>, Option<NoteSet>), IndexError> {
    let Some(expr) = required_expression(&fts_query_terms(query)) else {
        return Ok((Cow::Borrowed(query), None));
    };
    let ids = reader.notes_matching(&expr)?;
    if ids.is_empty() {
        let unquoted = query.replace(['"', '“', '”', '„'], " ");
        return Ok((Cow::Owned(unquoted), None));
    }
    Ok((Cow::Borrowed(query), Some(ids.into_iter().collect())))
}

/// Resolves a link target as written in `source` (`Note`, `folder/Note`, `Note.md`, `../x.md`,
/// `My%20Note.md`) to one of `notes` (id, path), the way Obsidian does: a path relative to the
/// source's folder first, then a path from the vault root, then the shortest path whose trailing
/// segments match (case-insensitively), then alphabetical order.
pub fn resolve_link(target: &str, source: &str, notes: &[(i64, String)]) -> Option<i64> {
    let target = percent_decode(target.trim());
    let target = target.trim_start_matches("./");
    if target.is_empty() {
        return None;
    }
    let with_ext = |p: &str| {
        if p.to_lowercase().ends_with(".md") {
            p.to_lowercase()
        } else {
            format!("{}.md", p.to_lowercase())
        }
    };
    let folder = source.rsplit_once('/').map(|(f, _)| f).unwrap_or("");
    let relative = join_relative(folder, target).map(|p| with_ext(&p));
    let absolute = with_ext(target.trim_start_matches('/'));
    let suffix = format!("/{absolute}");
    let mut best: Option<(u8, usize, &str, i64)> = None;
    for (id, path) in notes {
        let lower = path.to_lowercase();
        let class = if relative.as_deref() == Some(lower.as_str()) {
            0
        } else if lower == absolute {
            1
        } else if lower.ends_with(&suffix) {
            2
        } else {
            continue;
        };
        let key = (class, path.len(), path.as_str(), *id);
        if best.is_none_or(|b| key < b) {
            best = Some(key);
        }
    }
    best.map(|b| b.3)
}

/// `folder` joined with a relative `target`; `None` when it climbs out of the vault.
fn join_relative(folder: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = folder.split('/').filter(|s| !s.is_empty()).collect();
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Decodes `%XX` escapes (markdown links to names with spaces); leaves anything else as is.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// Which notes a scan may return. Checked for every row inside the scan, so filters apply before
/// the top-k cut, never after it.
#[derive(Debug, Clone, Default)]
pub enum NoteFilter {
    /// Every note.
    #[default]
    All,
    /// Only the notes in the set.
    Only(NoteSet),
    /// Every note except those in the set.
    Except(NoteSet),
}

impl NoteFilter {
    /// Whether rows of `note_id` pass the filter.
    pub fn allows(&self, note_id: i64) -> bool {
        match self {
            Self::All => true,
            Self::Only(set) => set.contains(note_id),
            Self::Except(set) => !set.contains(note_id),
        }
    }
}

/// A set of note ids as a bitmap (note ids are small, dense integers): one bit per id up to the
/// largest member, so a lookup in the scan costs a shift and a mask.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoteSet {
    bits: Vec<u64>,
    len: usize,
}

impl NoteSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, note_id: i64) {
        let Ok(id) = usize::try_from(note_id) else {
            return;
        };
        let word = id / 64;
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let mask = 1u64 << (id % 64);
        if self.bits[word] & mask == 0 {
            self.bits[word] |= mask;
            self.len += 1;
        }
    }

    pub fn contains(&self, note_id: i64) -> bool {
        usize::try_from(note_id)
            .ok()
            .and_then(|id| self.bits.get(id / 64).map(|w| w & (1u64 << (id % 64)) != 0))
            .unwrap_or(false)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl FromIterator<i64> for NoteSet {
    fn from_iter<I: IntoIterator<Item = i64>>(iter: I) -> Self {
        let mut set = Self::new();
        for id in iter {
            set.insert(id);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_match_case_insensitively_and_nested() {
        assert!(tag_matches("Project", "project"));
        assert!(tag_matches("#project/alpha", "project"));
        assert!(tag_matches("project/alpha", "project/alpha"));
        assert!(!tag_matches("projects", "project"));
        assert!(!tag_matches("project", "project/alpha"));
    }

    #[test]
    fn links_resolve_like_obsidian() {
        let notes: Vec<(i64, String)> = [
            (1, "Inbox/Plan.md"),
            (2, "Projects/Plan.md"),
            (3, "Projects/Alpha/Plan.md"),
            (4, "My Note.md"),
            (5, "Projects/Alpha/Spec.md"),
        ]
        .iter()
        .map(|(i, p)| (*i, p.to_string()))
        .collect();
        let from_alpha = "Projects/Alpha/Spec.md";
        // Same folder wins for a bare name.
        assert_eq!(resolve_link("Plan", from_alpha, &notes), Some(3));
        // From elsewhere: the shortest path, then alphabetical.
        assert_eq!(resolve_link("Plan", "Other.md", &notes), Some(1));
        assert_eq!(resolve_link("projects/plan", "Other.md", &notes), Some(2));
        assert_eq!(resolve_link("Alpha/Plan.md", "Other.md", &notes), Some(3));
        assert_eq!(resolve_link("../Plan.md", from_alpha, &notes), Some(2));
        assert_eq!(resolve_link("My%20Note.md", "x.md", &notes), Some(4));
        assert_eq!(resolve_link("./Spec", from_alpha, &notes), Some(5));
        assert_eq!(resolve_link("Missing", from_alpha, &notes), None);
        assert_eq!(resolve_link("../../../x", from_alpha, &notes), None);
        assert_eq!(resolve_link("100%", "x.md", &notes), None);
    }
}
