//! The vault index: scan the vault, chunk notes, embed chunks, store everything in SQLite
//! (WAL, FTS5), and search it (dense + BM25 + reciprocal-rank fusion).

pub mod lexical;

/// The SQL that creates a version-1 index.
pub const SCHEMA_SQL: &str = include_str!("schema.sql");
/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;
