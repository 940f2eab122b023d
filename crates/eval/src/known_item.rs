//! Known-item queries from a user's own vault: pick random notes (seeded, reproducible), take a
//! heading or the first sentence of each as the query, and count that note as the one relevant
//! document. Such queries share words with their note, so they favour lexical search; they suit
//! comparing models and settings against each other on the same vault, not absolute numbers.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use vault_rag_core::NotePath;

use crate::{EvalError, Qrels, Query};

/// Where a query was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemSource {
    Heading,
    FirstSentence,
}

/// One generated query and the note it should find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnownItem {
    pub query_id: String,
    pub query: String,
    pub note: String,
    pub source: ItemSource,
}

/// Settings of the generator.
#[derive(Debug, Clone)]
pub struct KnownItemSettings {
    /// How many queries to make (fewer when the vault has too few usable notes).
    pub count: usize,
    pub seed: u64,
    /// Folder names skipped besides dot-folders (the Obsidian config folder when renamed).
    pub skip_dirs: Vec<String>,
    /// Notes larger than this are not read.
    pub max_note_bytes: u64,
}

impl Default for KnownItemSettings {
    fn default() -> Self {
        Self {
            count: 100,
            seed: 42,
            skip_dirs: Vec::new(),
            max_note_bytes: 2 * 1024 * 1024,
        }
    }
}

/// Generated queries with their judgments (doc ids are [`run_doc_id`] of the note paths).
#[derive(Debug, Clone)]
pub struct KnownItemSet {
    pub items: Vec<KnownItem>,
    pub queries: Vec<Query>,
    pub qrels: Qrels,
    pub notes_scanned: usize,
}

/// A note path as a run-file document id: whitespace and `%` percent-encoded (TREC runs split on
/// whitespace).
pub fn run_doc_id(note_path: &str) -> String {
    let mut out = String::with_capacity(note_path.len());
    for c in note_path.chars() {
        if c == '%' || c.is_whitespace() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A small, version-independent PRNG (splitmix64) so that a seed means the same queries forever.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Reads the vault's notes (dot-folders and `skip_dirs` skipped) as `(path, text)`, sorted by path.
pub fn read_notes(
    vault: &Path,
    settings: &KnownItemSettings,
) -> Result<Vec<(String, String)>, EvalError> {
    let mut notes = Vec::new();
    let walker = walkdir::WalkDir::new(vault).into_iter().filter_entry(|e| {
        let name = e.file_name().to_string_lossy();
        e.depth() == 0 || !(name.starts_with('.') || settings.skip_dirs.iter().any(|d| *d == name))
    });
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(vault).to_path_buf();
            EvalError::read(path, std::io::Error::other(e.to_string()))
        })?;
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|x| x != "md") {
            continue;
        }
        let too_big = entry
            .metadata()
            .map(|m| m.len() > settings.max_note_bytes)
            .unwrap_or(true);
        let Ok(rel) = path.strip_prefix(vault) else {
            continue;
        };
        let Ok(note) = NotePath::new(&rel.to_string_lossy()) else {
            continue;
        };
        if too_big {
            continue;
        }
        match std::fs::read_to_string(path) {
            Ok(text) => notes.push((note.as_str().to_string(), text)),
            // Unreadable or not UTF-8: not a usable note for queries, not fatal.
            Err(e) => tracing::debug!(path = %path.display(), error = %e, "note skipped"),
        }
    }
    notes.sort();
    Ok(notes)
}

/// Makes up to `settings.count` known-item queries from `notes` (`(path, text)`). A candidate is
/// used only when its text occurs in no other note, so each query has exactly one right answer.
pub fn generate(notes: &[(String, String)], settings: &KnownItemSettings) -> KnownItemSet {
    let mut rng = SplitMix(settings.seed);
    let mut order: Vec<usize> = (0..notes.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let lowered: Vec<String> = notes.iter().map(|(_, t)| t.to_lowercase()).collect();
    let mut items = Vec::new();
    for &i in &order {
        if items.len() >= settings.count {
            break;
        }
        let (path, text) = &notes[i];
        let stem = NotePath::new(path)
            .map(|p| p.stem().to_lowercase())
            .unwrap_or_default();
        let mut candidates: Vec<(String, ItemSource)> = candidates(text)
            .into_iter()
            .filter(|(c, _)| c.to_lowercase() != stem)
            .collect();
        while !candidates.is_empty() {
            let (query, source) = candidates.swap_remove(rng.below(candidates.len()));
            let needle = query.to_lowercase();
            let unique = lowered
                .iter()
                .enumerate()
                .all(|(j, t)| j == i || !t.contains(&needle));
            if unique {
                items.push(KnownItem {
                    query_id: format!("ki{:04}", items.len() + 1),
                    query,
                    note: path.clone(),
                    source,
                });
                break;
            }
        }
    }
    let mut qrels = Qrels::default();
    let queries = items
        .iter()
        .map(|it| {
            qrels.insert(&it.query_id, &run_doc_id(&it.note), 1);
            Query {
                id: it.query_id.clone(),
                text: it.query.clone(),
            }
        })
        .collect();
    KnownItemSet {
        items,
        queries,
        qrels,
        notes_scanned: notes.len(),
    }
}

/// Query candidates of one note, in file order: headings of 3 to 12 words (found by the rules
/// the index chunks by, setext headings included), and the first sentence of the body (5 to 40
/// words, cut to its first 20 words).
pub fn candidates(text: &str) -> Vec<(String, ItemSource)> {
    let note = vault_rag_markdown::parse(text, "");
    let headings: HashMap<usize, String> = note
        .headings()
        .into_iter()
        .map(|h| (h.line, h.title))
        .collect();
    let mut out = Vec::new();
    let mut first_sentence_done = false;
    let mut in_fence = false;
    let mut in_comment = false;
    for (i, raw) in vault_rag_markdown::split_lines(text)
        .into_iter()
        .enumerate()
    {
        let number = i + 1;
        let line = strip_comments(raw, &mut in_comment);
        if number < note.body_start_line {
            continue;
        }
        if let Some(h) = headings.get(&number) {
            let h = clean_markup(h);
            if (3..=12).contains(&h.split_whitespace().count()) {
                out.push((h, ItemSource::Heading));
            }
            continue;
        }
        let t = line.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        // A setext underline belongs to the heading above it.
        let underline = headings.contains_key(&(number - 1))
            && t.len() >= 2
            && (t.bytes().all(|b| b == b'=') || t.bytes().all(|b| b == b'-'));
        if in_fence || t.is_empty() || underline || t.starts_with('#') {
            continue;
        }
        if first_sentence_done || t.starts_with(['|', '>', '<', '!', '-', '*', '+']) {
            continue;
        }
        first_sentence_done = true;
        let clean = clean_markup(t);
        let sentence = first_sentence(&clean);
        let words: Vec<&str> = sentence.split_whitespace().collect();
        if (5..=40).contains(&words.len()) {
            out.push((
                words[..words.len().min(20)].join(" "),
                ItemSource::FirstSentence,
            ));
        }
    }
    out
}

/// `line` without its `%%comments%%` (Obsidian comments are not content); `open` carries a
/// comment across lines.
fn strip_comments(line: &str, open: &mut bool) -> String {
    let mut out = String::with_capacity(line.len());
    for (i, part) in line.split("%%").enumerate() {
        if i > 0 {
            *open = !*open;
        }
        if !*open {
            out.push_str(part);
        }
    }
    out
}

fn first_sentence(text: &str) -> &str {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'.' | b'!' | b'?')
            && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace())
        {
            return &text[..=i];
        }
    }
    text
}

/// Plain text of a line: wiki links and markdown links become their shown text, emphasis marks,
/// inline code ticks and block ids go.
fn clean_markup(line: &str) -> String {
    let mut s = line.to_string();
    while let Some(start) = s.find("[[") {
        let Some(len) = s[start..].find("]]") else {
            break;
        };
        let inner = &s[start + 2..start + len];
        let shown = inner.rsplit('|').next().unwrap_or(inner);
        let shown = shown.split('#').next().unwrap_or(shown).to_string();
        s.replace_range(start..start + len + 2, &shown);
    }
    while let Some(start) = s.find('[') {
        let Some(mid) = s[start..].find("](") else {
            break;
        };
        let Some(end) = s[start + mid..].find(')') else {
            break;
        };
        let shown = s[start + 1..start + mid].to_string();
        s.replace_range(start..start + mid + end + 1, &shown);
    }
    for mark in ["**", "__", "==", "`"] {
        s = s.replace(mark, "");
    }
    let mut words: Vec<&str> = s.split_whitespace().collect();
    if words.last().is_some_and(|w| w.starts_with('^')) {
        words.pop();
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_and_first_sentence() {
        let text = "---\ntitle: x\ntags: [a]\n---\n# Plan for the garden shed\n\n%%hidden remark here today%%\nWe build the [[Shed|garden shed]] in **early** spring this year. More text.\n\n## Short\n```\n# not a heading in code\n```\n### Budget and materials list ^b1\n";
        let c = candidates(text);
        assert_eq!(
            c,
            vec![
                ("Plan for the garden shed".to_string(), ItemSource::Heading),
                (
                    "We build the garden shed in early spring this year.".to_string(),
                    ItemSource::FirstSentence
                ),
                ("Budget and materials list".to_string(), ItemSource::Heading),
            ]
        );
    }

    #[test]
    fn setext_headings_are_headings_not_sentences() {
        let text = "Plan for the garden shed\n========================\n\nWe build it in early spring this year.\n";
        assert_eq!(
            candidates(text),
            vec![
                ("Plan for the garden shed".to_string(), ItemSource::Heading),
                (
                    "We build it in early spring this year.".to_string(),
                    ItemSource::FirstSentence
                ),
            ]
        );
    }

    #[test]
    fn long_first_sentence_is_cut_and_short_one_dropped() {
        let long = (0..30)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let c = candidates(&format!("{long}."));
        assert_eq!(c[0].0.split_whitespace().count(), 20);
        assert!(candidates("Too short here.").is_empty());
    }

    #[test]
    fn generation_is_seeded_and_unique() {
        let notes: Vec<(String, String)> = (0..30)
            .map(|i| {
                (
                    format!("folder/note {i}.md"),
                    format!("# Shared heading in every note\n\nNote number {i} talks about topic {i} at length.\n"),
                )
            })
            .collect();
        let settings = KnownItemSettings {
            count: 10,
            seed: 7,
            ..Default::default()
        };
        let a = generate(&notes, &settings);
        let b = generate(&notes, &settings);
        assert_eq!(a.items, b.items);
        assert_eq!(a.items.len(), 10);
        // The shared heading is in every note, so only first sentences qualify.
        assert!(a
            .items
            .iter()
            .all(|i| i.source == ItemSource::FirstSentence));
        let first = &a.items[0];
        let judged = a.qrels.get(&first.query_id).unwrap();
        assert_eq!(judged.len(), 1);
        assert!(judged.contains_key(&run_doc_id(&first.note)));
        assert!(!run_doc_id(&first.note).contains(' '));
        let other = generate(
            &notes,
            &KnownItemSettings {
                seed: 8,
                ..settings
            },
        );
        assert_ne!(a.items, other.items);
    }

    #[test]
    fn reads_vault_skipping_dot_folders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".obsidian")).unwrap();
        std::fs::create_dir_all(dir.path().join("cfg")).unwrap();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join(".obsidian/x.md"), "no").unwrap();
        std::fs::write(dir.path().join("cfg/y.md"), "no").unwrap();
        std::fs::write(dir.path().join("a/n.md"), "yes").unwrap();
        std::fs::write(dir.path().join("a/n.txt"), "no").unwrap();
        let settings = KnownItemSettings {
            skip_dirs: vec!["cfg".into()],
            ..Default::default()
        };
        let notes = read_notes(dir.path(), &settings).unwrap();
        assert_eq!(notes, vec![("a/n.md".to_string(), "yes".to_string())]);
    }

    #[test]
    fn run_ids_escape_whitespace() {
        assert_eq!(run_doc_id("a b/100%.md"), "a%20b/100%25.md");
    }
}
