-- vault-rag index schema, version 2 (version 1 had no stemming in chunks_fts; `migrate.rs` upgrades it). `meta.schema_version` holds the version; an index with a newer
-- or unknown version is refused. All paths are vault-relative, `/`-separated, NFC.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- keys: schema_version ('3'), fingerprint (JSON of EmbedderFingerprint), fingerprint_id, vault (absolute path)

CREATE TABLE IF NOT EXISTS notes (
    id           INTEGER PRIMARY KEY,
    path         TEXT NOT NULL UNIQUE,
    mtime_ns     INTEGER NOT NULL,
    size         INTEGER NOT NULL,
    content_hash BLOB NOT NULL,          -- blake3 of the file bytes
    title        TEXT NOT NULL,
    tags         TEXT NOT NULL,          -- JSON array of strings, without '#'
    aliases      TEXT NOT NULL,          -- JSON array of strings
    links        TEXT NOT NULL,          -- JSON array of link targets (as written, without #heading/|alias)
    indexed_at   INTEGER NOT NULL        -- unix seconds
);

CREATE TABLE IF NOT EXISTS chunks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT, -- also the rowid of chunks_fts; never reused, so
                                         -- an id a search holds cannot come to mean another chunk
    note_id      INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    ord          INTEGER NOT NULL,       -- position in the note, from 0
    heading_path TEXT NOT NULL,          -- JSON array of headings
    start_line   INTEGER NOT NULL,       -- 1-based, inclusive, in the note file
    end_line     INTEGER NOT NULL,
    block_id     TEXT,
    text         TEXT NOT NULL,          -- clean chunk text (what FTS indexes and snippets show)
    content_hash BLOB NOT NULL           -- blake3 of the text that is embedded (Chunk::embed_text)
);
CREATE INDEX IF NOT EXISTS chunks_note ON chunks(note_id, ord);
-- Covers (content_hash, note_id), so that loading the vectors at open joins them to their
-- chunks without reading chunk rows (text included): 1.8 s -> 0.9 s for 312,454 vectors. It
-- replaces `chunks_hash` (content_hash alone), dropped once from files that have it.
DROP INDEX IF EXISTS chunks_hash;
CREATE INDEX IF NOT EXISTS chunks_by_hash ON chunks(content_hash, note_id);

-- One vector per embedded text and embedder. Keyed by content so that renames, moves and
-- unchanged sections reuse vectors; keyed by fingerprint so that two models never mix.
-- A rowid table, not WITHOUT ROWID: a table row keeps up to ~4,000 bytes in its page, an
-- index-tree row only ~1,000, so a 768-dimension vector (1,536 bytes) would spill into an
-- overflow page of its own (4 KiB for 0.5 KiB), tripling the file and the pages a re-score reads.
CREATE TABLE IF NOT EXISTS vectors (
    content_hash BLOB NOT NULL,
    fingerprint  TEXT NOT NULL,          -- EmbedderFingerprint::id()
    vec          BLOB NOT NULL,          -- f16 little-endian, `dims` values, unit length
    PRIMARY KEY (content_hash, fingerprint)
);

-- BM25. rowid = chunks.id. Columns hold fts::fts_document() of the text (CJK made searchable).
-- Contentless: the index keeps only the terms (the text is in `chunks`), which makes the whole
-- index file about a quarter smaller; column values read back as NULL. English words are stemmed
-- (`porter`), so "indexing" finds "indexed"; CJK bigrams and codes pass through unchanged.
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    title, headings, body,
    content = '', contentless_delete = 1,
    tokenize = "porter unicode61 remove_diacritics 2"
);

-- FTS rows follow their chunks, also when a note's deletion cascades to them.
CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN
    DELETE FROM chunks_fts WHERE rowid = old.id;
END;

-- Notes that could not be indexed (or only partly), with the reason. Cleared when a note indexes cleanly.
-- A note that was skipped entirely keeps the (mtime_ns, size) it had, so that it is retried only
-- once the file changes; a note indexed with a warning (partly, lossy UTF-8) has them NULL.
CREATE TABLE IF NOT EXISTS failures (
    path     TEXT PRIMARY KEY,
    reason   TEXT NOT NULL,
    at       INTEGER NOT NULL,
    mtime_ns INTEGER,
    size     INTEGER
);
