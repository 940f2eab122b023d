//! What a search returns.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which retrievers a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Dense and lexical results merged (see [`Fusion`]).
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

/// How a hybrid search merges its dense and lexical lists of notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fusion {
    /// A weighted sum of the two scores, each normalised to 0–1.
    #[default]
    Convex,
    /// Reciprocal-rank fusion, each vote weighted by relative similarity or term coverage.
    Rrf,
}

impl FromStr for Fusion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "convex" => Ok(Self::Convex),
            "rrf" => Ok(Self::Rrf),
            other => Err(format!("unknown fusion `{other}` (expected convex or rrf)")),
        }
    }
}

impl fmt::Display for Fusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Convex => "convex",
            Self::Rrf => "rrf",
        })
    }
}

/// Why a hit ranked where it did: what each retriever made of its note.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Explain {
    /// The note's rank (1-based) in the dense list, when that list holds it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dense_rank: Option<usize>,
    /// Cosine similarity of the note's best chunk to the query (−1 to 1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dense_similarity: Option<f32>,
    /// The note's rank (1-based) in the lexical list, when that list holds it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lexical_rank: Option<usize>,
    /// BM25 score of the note's best chunk (higher is better; not bounded).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lexical_score: Option<f32>,
    /// Query terms found in the shown chunk's title, aliases, headings or text.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub matched_terms: Vec<String>,
    /// Whether the query names the note: the share (0–1) of its terms in the title or an alias.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub title_match: Option<f32>,
    /// How the lists were merged (hybrid searches only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fusion: Option<Fusion>,
    /// The dense side's weight in a convex fusion.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dense_weight: Option<f32>,
    /// The lexical side's weight in a convex fusion: 1 − `dense_weight`, times the share of the
    /// query's terms that the best lexical match holds (a weak keyword match counts for less).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lexical_weight: Option<f32>,
    /// The weight of [`Explain::title_match`] added to a convex score.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub title_weight: Option<f32>,
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
    /// Higher is better. Dense: cosine similarity. Lexical: the BM25 score relative to the best
    /// hit's (0–1). Hybrid (convex): the fused score, 0–1, where 1 is the best hit of both lists.
    pub score: f32,
    /// Which retrievers found this note.
    pub retrievers: Vec<Retriever>,
    /// Why it ranked: each retriever's rank and score, the terms it matched, the fusion weight.
    #[serde(default)]
    pub explain: Explain,
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
