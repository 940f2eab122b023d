use rusqlite::params;
use vault_rag_core::fake::HashEmbedder;
use vault_rag_core::Embedder;

use super::*;
use crate::store::notes::{ChunkRecord, NoteRecord};

fn fp(dims: usize) -> EmbedderFingerprint {
    HashEmbedder::new(dims).fingerprint().clone()
}

#[test]
fn open_is_idempotent_and_reports_a_changed_embedder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep/index.sqlite");
    let (s, prev) = Store::open(&path, &fp(8)).unwrap();
    assert!(prev.is_none());
    let mode: String = s
        .writer()
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(s);
    let (_, prev) = Store::open(&path, &fp(8)).unwrap();
    assert!(prev.is_none(), "same embedder");
    let (s, prev) = Store::open(&path, &fp(16)).unwrap();
    assert_eq!(prev.unwrap().dims, 8);
    assert_eq!(s.fingerprint().unwrap().unwrap().dims, 16);
}

#[test]
fn read_only_open_needs_an_existing_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.sqlite");
    let err = Store::open_read_only(&path).err().unwrap();
    assert!(
        err.to_string().contains("run `vault-rag index` first"),
        "{err}"
    );
    Store::open(&path, &fp(8)).unwrap();
    let ro = Store::open_read_only(&path).unwrap();
    assert!(ro.writer().is_err());
    assert_eq!(notes::counts(&ro.reader().unwrap()).unwrap(), (0, 0));
}

#[test]
fn foreign_database_is_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.sqlite");
    let c = Connection::open(&path).unwrap();
    c.execute_batch("CREATE TABLE mine(x); INSERT INTO mine VALUES (1);")
        .unwrap();
    drop(c);
    let err = Store::open(&path, &fp(8)).err().unwrap();
    assert!(matches!(err, IndexError::NotAnIndex { .. }), "{err:?}");
    let c = Connection::open(&path).unwrap();
    let tables: i64 = c
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1);
}

#[test]
fn writing_and_deleting_notes_keeps_fts_in_step() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Store::open(&dir.path().join("i.sqlite"), &fp(8)).unwrap();
    let mut conn = s.writer().unwrap();
    let tx = WriteTx {
        tx: conn.transaction().unwrap(),
        file: Path::new("test"),
    };
    let tags = vec!["t".to_string()];
    let aliases = vec!["Other name".to_string()];
    let heading = vec!["H".to_string()];
    let note = NoteRecord {
        path: "a.md",
        mtime_ns: 1,
        size: 2,
        content_hash: &[1; 32],
        title: "Title",
        tags: &tags,
        aliases: &aliases,
        links: vec!["b"],
    };
    let chunk = |text: &'static str| ChunkRecord {
        heading_path: &heading,
        start_line: 1,
        end_line: 2,
        block_id: None,
        text,
        content_hash: &[2; 32],
    };
    let w1 = notes::write_note(&tx, &note, &[chunk("学习机器学习"), chunk("second")]).unwrap();
    assert!(w1.removed_chunks.is_empty());
    let w2 = notes::write_note(&tx, &note, &[chunk("replaced")]).unwrap();
    assert_eq!(w2.note_id, w1.note_id, "a note keeps its id");
    assert_eq!(w2.removed_chunks, w1.chunk_ids);
    assert!(
        w2.chunk_ids[0] > w1.chunk_ids[1],
        "chunk ids are never reused"
    );
    let fts = |q: &str| -> i64 {
        tx.tx
            .query_row(
                "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1",
                [q],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(fts("replaced"), 1);
    assert_eq!(fts("second"), 0);
    assert_eq!(fts("title:other"), 1, "aliases are searchable as the title");
    notes::delete_note(&tx, "a.md").unwrap().unwrap();
    assert_eq!(fts("replaced"), 0);
    assert!(notes::delete_note(&tx, "a.md").unwrap().is_none());
    tx.tx.commit().unwrap();
}

#[test]
fn notes_under_matches_whole_folders() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Store::open(&dir.path().join("i.sqlite"), &fp(8)).unwrap();
    s.write("test", |tx| {
        for p in ["a/x.md", "a/b/y.md", "ab/z.md", "a.md"] {
            let note = NoteRecord {
                path: p,
                mtime_ns: 0,
                size: 0,
                content_hash: &[0; 32],
                title: p,
                tags: &[],
                aliases: &[],
                links: vec![],
            };
            notes::write_note(tx, &note, &[])?;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(
        notes::notes_under(&s.reader().unwrap(), "a").unwrap(),
        ["a/b/y.md", "a/x.md"]
    );
}

#[test]
fn reopening_an_unchanged_index_writes_nothing() {
    // A full disk must not stop a server from opening what it has.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.sqlite");
    drop(Store::open(&path, &fp(8)).unwrap());
    let wal = damage::with_suffix(&path, "-wal");
    assert!(!wal.exists(), "a clean close folds the log into the file");
    let (s, _) = Store::open(&path, &fp(8)).unwrap();
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0);
    drop(s);
    let (_s, _) = Store::open(&path, &fp(16)).unwrap();
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 0,
        "a new embedder is recorded"
    );
}

#[test]
fn a_clean_close_lets_the_next_open_skip_the_full_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.sqlite");
    let (s, _) = Store::open(&path, &fp(8)).unwrap();
    assert!(!s.full_check_skipped(), "a new file is checked");
    drop(s);
    for round in 0..2 {
        let (s, _) = Store::open(&path, &fp(8)).unwrap();
        assert!(
            s.full_check_skipped(),
            "round {round}: sealed at the clean close"
        );
        drop(s);
    }
    // A process that ends without closing (a crash) leaves no seal: the next open checks.
    let (s, _) = Store::open(&path, &fp(8)).unwrap();
    std::mem::forget(s);
    let (s, _) = Store::open(&path, &fp(8)).unwrap();
    assert!(!s.full_check_skipped());
}

#[test]
fn garbage_written_right_after_a_clean_close_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.sqlite");
    let (s, _) = Store::open(&path, &fp(8)).unwrap();
    let filler = "words ".repeat(2_000);
    s.writer()
        .unwrap()
        .execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS filler(x); \
             INSERT INTO filler SELECT '{filler}' FROM (SELECT 1 UNION SELECT 2 UNION SELECT 3);"
        ))
        .unwrap();
    drop(s);
    // Same length, right after the seal was written (possibly in the same clock tick), over
    // the filler's last pages, which nothing else at open reads.
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    let len = bytes.len();
    assert!(len >= 8 * page, "{len} bytes");
    for (i, x) in bytes[len - 2 * page..].iter_mut().enumerate() {
        *x = (i * 31 % 256) as u8;
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open(&path, &fp(8)).err().unwrap();
    assert!(damage::is_damage(&err), "{err:?}");
}

#[test]
fn a_version_1_index_is_upgraded_to_stemmed_full_text_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i.sqlite");
    let (s, _) = Store::open(&path, &fp(8)).unwrap();
    let (tags, aliases, heading) = (vec![], vec!["Indexers".to_string()], vec!["Running".into()]);
    s.write("test", |tx| {
        let note = NoteRecord {
            path: "a.md",
            mtime_ns: 1,
            size: 2,
            content_hash: &[1; 32],
            title: "Notes",
            tags: &tags,
            aliases: &aliases,
            links: vec![],
        };
        let chunk = ChunkRecord {
            heading_path: &heading,
            start_line: 1,
            end_line: 2,
            block_id: None,
            text: "The vaults were indexed overnight. 学习机器学习 XR-7741b",
            content_hash: &[2; 32],
        };
        notes::write_note(tx, &note, &[chunk]).map(drop)
    })
    .unwrap();
    drop(s);
    // What version 1 had: the same table without stemming, and version '1' in meta.
    let c = Connection::open(&path).unwrap();
    c.execute_batch(
        "DROP TABLE chunks_fts;
         CREATE VIRTUAL TABLE chunks_fts USING fts5(title, headings, body, content = '',
             contentless_delete = 1, tokenize = \"unicode61 remove_diacritics 2\");
         INSERT INTO chunks_fts(rowid, title, headings, body)
             SELECT id, 'Notes', 'Running', text FROM chunks;
         UPDATE meta SET value = '1' WHERE key = 'schema_version';",
    )
    .unwrap();
    let count = |c: &Connection, q: &str| -> i64 {
        c.query_row(
            "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1",
            [q],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(count(&c, "indexing"), 0, "version 1 does not stem");
    drop(c);

    // A read-only open uses it as it is; a writable one upgrades it.
    Store::open_read_only(&path).unwrap();
    let (s, _) = Store::open(&path, &fp(8)).unwrap();
    drop(s);
    let c = Connection::open(&path).unwrap();
    let version: String = c
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION.to_string());
    assert_eq!(count(&c, "indexing"), 1, "stemmed after the upgrade");
    assert_eq!(count(&c, "vault"), 1);
    assert_eq!(
        count(&c, "title:indexer"),
        1,
        "aliases rebuilt into the title"
    );
    assert_eq!(count(&c, "headings:run"), 1, "headings rebuilt");
    assert_eq!(count(&c, "\"机器\""), 1, "CJK bigrams rebuilt");
    assert_eq!(count(&c, "\"XR-7741b\""), 1, "codes match as before");
    assert_eq!(count(&c, "overnight"), 1);
}

#[test]
fn a_version_2_index_moves_its_vectors_out_of_overflow_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i.sqlite");
    let fingerprint = fp(768);
    let (s, _) = Store::open(&path, &fingerprint).unwrap();
    s.write("test", |tx| {
        let note = NoteRecord {
            path: "a.md",
            mtime_ns: 1,
            size: 2,
            content_hash: &[1; 32],
            title: "A",
            tags: &[],
            aliases: &[],
            links: vec![],
        };
        let chunk = ChunkRecord {
            heading_path: &[],
            start_line: 1,
            end_line: 2,
            block_id: None,
            text: "text",
            content_hash: &[0; 32],
        };
        notes::write_note(tx, &note, &[chunk]).map(drop)
    })
    .unwrap();
    let chunk_id: i64 = s
        .writer()
        .unwrap()
        .query_row("SELECT id FROM chunks", [], |r| r.get(0))
        .unwrap();
    drop(s);
    // Version 2's layout: WITHOUT ROWID, 300 vectors of 768 f16 values (1,536 bytes each).
    let c = Connection::open(&path).unwrap();
    c.execute_batch(
        "DROP TABLE vectors;
         CREATE TABLE vectors (content_hash BLOB NOT NULL, fingerprint TEXT NOT NULL,
             vec BLOB NOT NULL, PRIMARY KEY (content_hash, fingerprint)) WITHOUT ROWID;
         UPDATE meta SET value = '2' WHERE key = 'schema_version';",
    )
    .unwrap();
    let vector = |i: u8| -> Vec<u8> { (0..768u16).flat_map(|j| half_bits(i, j)).collect() };
    for i in 0..300u16 {
        let hash = [(i % 256) as u8, (i / 256) as u8].repeat(16);
        c.execute(
            "INSERT INTO vectors VALUES (?1, ?2, ?3)",
            params![hash, fingerprint.id(), vector((i % 256) as u8)],
        )
        .unwrap();
    }
    drop(c);
    let before = std::fs::metadata(&path).unwrap().len();

    let (s, _) = Store::open(&path, &fingerprint).unwrap();
    // The copy and the vacuum went through the write-ahead log: emptied, not left at the size
    // of the index for as long as the service runs.
    let wal = std::fs::metadata(dir.path().join("i.sqlite-wal")).map_or(0, |m| m.len());
    assert!(wal < before / 4, "{wal} bytes of log after the upgrade");
    let layout: String = s
        .writer()
        .unwrap()
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'vectors'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!layout.contains("WITHOUT ROWID"), "{layout}");
    let mut out = vec![0f32; 768];
    assert!(s
        .reader()
        .unwrap()
        .chunk_vector(chunk_id, &fingerprint.id(), &mut out)
        .unwrap());
    let expected = vector(0);
    let mut back = vec![0f32; 768];
    assert!(codec::decode_f16_into(&expected, &mut back));
    assert_eq!(out, back, "the vector of hash 0 survived the move");
    let rows: i64 = s
        .writer()
        .unwrap()
        .query_row("SELECT count(*) FROM vectors", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 300);
    drop(s);
    let after = std::fs::metadata(&path).unwrap().len();
    assert!(
        after * 3 < before * 2,
        "{before} bytes before, {after} after: overflow pages given back"
    );
}

/// The f16 bits of a small value that differs per vector and dimension, little-endian.
fn half_bits(i: u8, j: u16) -> [u8; 2] {
    let v = 0x3000u16 + u16::from(i) * 8 + (j % 8);
    v.to_le_bytes()
}
