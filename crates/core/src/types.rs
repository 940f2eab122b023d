//! What a search returns.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which retrievers a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Reciprocal-rank fusion of dense and lexical results.
    #[default]
    Hybrid,
    /// Vector similarity only.
    Dense,
    /// BM25 over the full-text index only.
    Lexical,
}

impl FromStr for SearchMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "hybrid" => Ok(Self::Hybrid),
            "dense" => Ok(Self::Dense),
            "lexical" => Ok(Self::Lexical),
            other => Err(format!(
                "unknown search mode `{other}` (expected hybrid, dense or lexical)"
            )),
        }
    }
}

impl fmt::Display for SearchMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hybrid => "hybrid",
            Self::Dense => "dense",
            Self::Lexical => "lexical",
        })
    }
}

/// A retriever that contributed to a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Retriever {
    Dense,
    Lexical,
}

/// One note in a result list, represented by its best chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Vault-relative path of the note.
    pub path: String,
    /// The note's title (frontmatter `title`, else the file stem).
    pub title: String,
    /// Headings from the top of the note down to the best chunk's section.
    pub heading_path: Vec<String>,
    /// 1-based first line of the best chunk in the note file (to open the note there).
    pub line: usize,
    /// 1-based last line of the best chunk.
    pub end_line: usize,
    /// Block id (`^id`) of the chunk, when it has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub block_id: Option<String>,
    /// A short excerpt of the chunk; matched query terms are wrapped in `**`.
    pub snippet: String,
    /// Higher is better. Cosine similarity for dense, BM25-derived for lexical, RRF for hybrid.
    pub score: f32,
    /// Which retrievers found this note.
    pub retrievers: Vec<Retriever>,
}

impl Hit {
    /// An Obsidian link to the hit's place: the block when the chunk has an id, else its
    /// deepest heading, else the note (see [`wikilink`]).
    pub fn wikilink(&self) -> String {
        match &self.block_id {
            Some(id) => wikilink(&self.path, Some(&format!("^{id}"))),
            None => wikilink(&self.path, self.heading_path.last().map(String::as_str)),
        }
    }
}

/// An Obsidian wikilink that opens `path` (vault-relative), at `anchor` (a heading or `^block`)
/// when given: `[[Folder/Note#Heading]]`. Markdown notes drop their `.md`, as Obsidian writes
/// them; characters that would end the link early (`[`, `]`, `|`, `#` in a heading) become
/// spaces, which Obsidian's heading matching ignores as it does them.
pub fn wikilink(path: &str, anchor: Option<&str>) -> String {
    let target = path.strip_suffix(".md").unwrap_or(path);
    let clean = |s: &str| {
        s.chars()
            .map(|c| if matches!(c, '[' | ']' | '|') { ' ' } else { c })
            .collect::<String>()
    };
    match anchor.map(str::trim).filter(|a| !a.is_empty()) {
        Some(block) if block.starts_with('^') => format!("[[{}#{}]]", clean(target), clean(block)),
        Some(heading) => {
            let heading: String = clean(heading).replace('#', " ");
            let heading = heading.split_whitespace().collect::<Vec<_>>().join(" ");
            format!("[[{}#{heading}]]", clean(target))
        }
        None => format!("[[{}]]", clean(target)),
    }
}

#[cfg(test)]
mod wikilink_tests {
    use super::wikilink;

    #[test]
    fn links_name_the_note_without_md_and_the_place() {
        assert_eq!(wikilink("Projects/Plan.md", None), "[[Projects/Plan]]");
        assert_eq!(
            wikilink("Projects/Plan.md", Some("Risks")),
            "[[Projects/Plan#Risks]]"
        );
        assert_eq!(wikilink("a.md", Some("^abc1")), "[[a#^abc1]]");
        assert_eq!(wikilink("a.md", Some("C# [draft] | x")), "[[a#C draft x]]");
        assert_eq!(wikilink("a.md", Some("  ")), "[[a]]");
        assert_eq!(wikilink("data.canvas", None), "[[data.canvas]]");
    }
}
