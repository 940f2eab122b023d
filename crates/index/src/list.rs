//! Listing notes (by folder, tag and modification time, a page at a time): what an agent uses to
//! browse a vault instead of searching it.

use crate::error::IndexError;
use crate::search::tag_matches;
use crate::store::{self, ListedNote, Reader};
use vault_rag_core::{folder_filter, tag_filter, RequestError, MAX_LIST_LIMIT};

/// In which order notes are listed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// By path (folder by folder).
    #[default]
    Path,
    /// Most recently modified first (ties by path).
    Modified,
}

/// A page of the vault's notes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// Only notes in this folder (whole segments, as in searches).
    pub folder: Option<String>,
    /// Only notes with this tag (`a` also matches `a/b`).
    pub tag: Option<String>,
    /// Only notes modified at or after this time (ns since the Unix epoch).
    pub modified_since_ns: Option<i64>,
    pub order: ListOrder,
    /// Notes to skip (the previous pages).
    pub offset: usize,
    /// Notes in this page (1..=[`MAX_LIST_LIMIT`]).
    pub limit: usize,
}

/// One page, and how many notes match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteList {
    pub notes: Vec<ListedNote>,
    pub total: usize,
}

/// Lists the indexed notes that match `req`.
pub(crate) fn list(reader: &Reader<'_>, req: &ListRequest) -> Result<NoteList, IndexError> {
    if req.limit == 0 || req.limit > MAX_LIST_LIMIT {
        return Err(RequestError::new(
            "limit",
            format!("must be between 1 and {MAX_LIST_LIMIT}, got {}", req.limit),
        )
        .into());
    }
    let folder = folder_filter(req.folder.as_deref())?;
    let tag = tag_filter(req.tag.as_deref())?;
    let mut notes = store::notes::listed_notes(reader, folder.as_deref(), req.modified_since_ns)?;
    if let Some(tag) = &tag {
        notes.retain(|n| n.tags.iter().any(|t| tag_matches(t, tag)));
    }
    if req.order == ListOrder::Modified {
        // Stable: equal times keep path order.
        notes.sort_by_key(|n| std::cmp::Reverse(n.mtime_ns));
    }
    let total = notes.len();
    let page = notes.into_iter().skip(req.offset).take(req.limit).collect();
    Ok(NoteList { notes: page, total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NoteRecord, Store};
    use vault_rag_core::fake::HashEmbedder;
    use vault_rag_core::Embedder;

    fn store_with(notes: &[(&str, i64, &[&str])]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let fingerprint = HashEmbedder::new(8).fingerprint().clone();
        let (store, _) = Store::open(&dir.path().join("index.sqlite"), &fingerprint).unwrap();
        store
            .write("test", |tx| {
                for (path, mtime, tags) in notes {
                    let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
                    store::notes::write_note(
                        tx,
                        &NoteRecord {
                            path,
                            mtime_ns: *mtime,
                            size: 10,
                            content_hash: b"h",
                            title: path.trim_end_matches(".md"),
                            tags: &tags,
                            aliases: &[],
                            links: Vec::new(),
                        },
                        &[],
                    )?;
                }
                Ok(())
            })
            .unwrap();
        (dir, store)
    }

    fn paths(list: &NoteList) -> Vec<&str> {
        list.notes.iter().map(|n| n.path.as_str()).collect()
    }

    #[test]
    fn lists_by_folder_tag_time_and_page() {
        let (_dir, store) = store_with(&[
            ("a/one.md", 30, &["project/alpha"]),
            ("a/two.md", 10, &["misc"]),
            ("ab/three.md", 20, &["project"]),
            ("z.md", 40, &[]),
        ]);
        let reader = store.reader().unwrap();
        let all = |req: ListRequest| list(&reader, &ListRequest { limit: 10, ..req }).unwrap();

        let every = all(ListRequest::default());
        assert_eq!(
            paths(&every),
            ["a/one.md", "a/two.md", "ab/three.md", "z.md"]
        );
        assert_eq!(every.total, 4);
        // Whole segments: `a` is not `ab`.
        let folder = all(ListRequest {
            folder: Some("a/".into()),
            ..Default::default()
        });
        assert_eq!(paths(&folder), ["a/one.md", "a/two.md"]);
        // Nested tags match their parent; `#` and case do not matter.
        let tag = all(ListRequest {
            tag: Some("#Project".into()),
            ..Default::default()
        });
        assert_eq!(paths(&tag), ["a/one.md", "ab/three.md"]);
        let recent = all(ListRequest {
            modified_since_ns: Some(20),
            order: ListOrder::Modified,
            ..Default::default()
        });
        assert_eq!(paths(&recent), ["z.md", "a/one.md", "ab/three.md"]);

        let page = list(
            &reader,
            &ListRequest {
                offset: 1,
                limit: 2,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(paths(&page), ["a/two.md", "ab/three.md"]);
        assert_eq!(page.total, 4);
        let past = list(
            &reader,
            &ListRequest {
                offset: 9,
                limit: 2,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(past.notes.is_empty());

        for limit in [0, MAX_LIST_LIMIT + 1] {
            let err = list(
                &reader,
                &ListRequest {
                    limit,
                    ..Default::default()
                },
            )
            .unwrap_err();
            assert!(
                matches!(err, IndexError::InvalidRequest { field: "limit", .. }),
                "{err}"
            );
        }
        let err = list(
            &reader,
            &ListRequest {
                limit: 1,
                tag: Some("a b".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(
            matches!(err, IndexError::InvalidRequest { field: "tag", .. }),
            "{err}"
        );
    }
}
