//! From a changed note file to what gets written: read, parse, chunk, hash.

use std::collections::HashSet;

use vault_rag_core::Embedder;
use vault_rag_markdown::{chunk_note, parse, Chunk, ChunkConfig};

use crate::note_file::{read_note_file, NoteFile};
use crate::scan::ScannedNote;
use crate::store::embeddings::ContentHash;
use crate::store::NoteState;

/// A chunk with the text that is embedded and its hash (the vector's key).
#[derive(Debug, Clone)]
pub(crate) struct PreparedChunk {
    pub chunk: Chunk,
    pub embed_text: String,
    pub hash: ContentHash,
}

/// A note ready to be written.
#[derive(Debug, Clone)]
pub(crate) struct PreparedNote {
    pub file: ScannedNote,
    pub file_hash: [u8; 32],
    pub title: String,
    pub tags: Vec<String>,
    pub aliases: Vec<String>,
    pub links: Vec<String>,
    pub chunks: Vec<PreparedChunk>,
    /// Reported, but the note is indexed.
    pub warnings: Vec<String>,
}

/// What to do with a note whose (mtime, size) changed.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// Same bytes as indexed: only record the new (mtime, size).
    Touch { note_id: i64, file: ScannedNote },
    /// New or changed content.
    Index(Box<PreparedNote>),
    /// Cannot be indexed. `drop_indexed`: remove an older indexed version (the file is no
    /// longer a note); otherwise keep it (a read error may pass). `remember` stores the file's
    /// (mtime, size) so that it is not retried until it changes.
    Skip {
        file: ScannedNote,
        reason: String,
        drop_indexed: bool,
        remember: bool,
    },
    /// The file disappeared after the scan.
    Vanished { file: ScannedNote },
}

impl Prepared {
    /// Bytes of the note's file, for the progress of a pass.
    pub fn file_size(&self) -> u64 {
        match self {
            Self::Touch { file, .. } | Self::Skip { file, .. } | Self::Vanished { file } => {
                file.size
            }
            Self::Index(note) => note.file.size,
        }
    }
}

/// Chunking inputs that stay the same for a whole pass.
pub(crate) struct Chunker<'a> {
    pub embedder: &'a dyn Embedder,
    pub config: &'a ChunkConfig,
    pub max_note_bytes: u64,
    /// Tokens the embedder's counter adds to any text (special tokens); chunking wants content
    /// tokens only.
    pub special_tokens: usize,
}

impl Chunker<'_> {
    /// Reads and prepares `file`; `known` is what the index holds for its path.
    pub fn prepare(&self, file: ScannedNote, known: Option<&NoteState>) -> Prepared {
        let read = match read_note_file(&file.abs, self.max_note_bytes) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Prepared::Vanished { file };
            }
            Err(e) => {
                return Prepared::Skip {
                    reason: format!("cannot be read for now, retrying: {e}"),
                    file,
                    drop_indexed: false,
                    remember: false,
                }
            }
        };
        let (text, hash, warnings) = match read {
            NoteFile::Text {
                text,
                hash,
                warnings,
            } => (text, hash, warnings),
            NoteFile::Binary { reason } => {
                return Prepared::Skip {
                    file,
                    reason,
                    drop_indexed: true,
                    remember: true,
                }
            }
        };
        if let Some(k) = known {
            if k.content_hash == hash {
                return Prepared::Touch {
                    note_id: k.id,
                    file,
                };
            }
        }
        Prepared::Index(Box::new(self.chunk(file, hash, &text, warnings)))
    }

    fn chunk(
        &self,
        file: ScannedNote,
        file_hash: [u8; 32],
        text: &str,
        mut warnings: Vec<String>,
    ) -> PreparedNote {
        let parsed = parse(text, file.path.stem());
        if let Some(err) = &parsed.frontmatter_error {
            warnings.push(format!("frontmatter ignored: {err}"));
        }
        let special = self.special_tokens;
        let count = |s: &str| self.embedder.count_tokens(s).saturating_sub(special);
        let chunks = chunk_note(&parsed, self.config, &count)
            .into_iter()
            .map(|chunk| {
                let embed_text = chunk.embed_text();
                let hash = *blake3::hash(embed_text.as_bytes()).as_bytes();
                PreparedChunk {
                    chunk,
                    embed_text,
                    hash,
                }
            })
            .collect();
        let mut links: Vec<String> = parsed
            .links
            .iter()
            .filter(|l| !l.target.is_empty())
            .map(|l| l.target.clone())
            .collect();
        links.sort();
        links.dedup();
        PreparedNote {
            file,
            file_hash,
            title: parsed.title,
            tags: parsed.tags,
            aliases: parsed.aliases,
            links,
            chunks,
            warnings,
        }
    }
}

/// Texts to embed for a batch: each distinct chunk hash once, with the title of the first note
/// that has it.
pub(crate) fn texts_to_embed<'a>(
    notes: impl IntoIterator<Item = &'a PreparedNote>,
    stored: &HashSet<ContentHash>,
) -> Vec<(ContentHash, &'a str, &'a str)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for note in notes {
        for c in &note.chunks {
            if stored.contains(&c.hash) || !seen.insert(c.hash) {
                continue;
            }
            out.push((c.hash, note.title.as_str(), c.embed_text.as_str()));
        }
    }
    out
}
