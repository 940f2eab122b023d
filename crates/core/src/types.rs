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
