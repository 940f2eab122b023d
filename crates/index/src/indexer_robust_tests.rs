//! Bad input and misuse: every problem is reported and the rest of the vault is indexed; the
//! index is never lost or overwritten.

use std::fs;

use super::tests::{count, open, pass, Fixture, TestEmbedder};
use crate::engine::Engine;
use crate::error::IndexError;
use crate::progress::IndexSummary;

/// A text the embedder refuses: with lexical-first passes (the default) its note stays in the
/// index for keyword search and the failure is reported; otherwise the note is left out.
#[test]
fn embedding_failure_fails_only_that_note() {
    for lexical_first in [true, false] {
        let f = Fixture::new();
        f.write("good.md", "# Good\n\nFine text.\n");
        f.write("bad.md", "# Bad\n\nThis has POISON in it.\n");
        let mut settings = f.settings();
        settings.lexical_first = lexical_first;
        let engine = Engine::open(settings, TestEmbedder::new(32)).unwrap();
        let s = pass(&engine);
        let (indexed, failed) = if lexical_first { (2, 0) } else { (1, 1) };
        assert_eq!((s.notes_indexed, s.notes_failed), (indexed, failed));
        assert_eq!(s.failures.len(), 1);
        assert_eq!(s.failures[0].path, "bad.md");
        assert!(
            s.failures[0].reason.contains("embedding failed"),
            "{:?}",
            s.failures
        );
        let keyword = engine
            .search(&vault_rag_core::SearchRequest {
                mode: vault_rag_core::SearchMode::Lexical,
                ..vault_rag_core::SearchRequest::new("POISON")
            })
            .unwrap();
        assert_eq!(keyword.hits.len(), usize::from(lexical_first));
        // Retried on the next pass (the model may have been the problem), still reported.
        let again = pass(&engine);
        assert_eq!(again.notes_failed, failed);
        assert_eq!(again.failures.len(), 1);
        f.write("bad.md", "# Bad\n\nFixed now.\n");
        let fixed = pass(&engine);
        assert_eq!((fixed.notes_indexed, fixed.notes_failed), (1, 0));
        assert!(fixed.failures.is_empty(), "{:?}", fixed.failures);
        assert_eq!(engine.status().vectors_missing, 0);
        engine.shutdown();
    }
}

#[test]
fn newer_schema_version_is_refused_with_the_file_named() {
    let f = Fixture::new();
    f.write("a.md", "x");
    drop(open(&f, TestEmbedder::new(16)));
    f.db()
        .execute(
            "UPDATE meta SET value = '9' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    let err = Engine::open(f.settings(), TestEmbedder::new(16))
        .err()
        .unwrap();
    assert!(matches!(err, IndexError::SchemaVersion { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("index.sqlite") && msg.contains("version 9"),
        "{msg}"
    );
    // Nothing was changed in the refused file.
    let v: String = f
        .db()
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, "9");
}

#[test]
fn second_process_is_refused() {
    // A damaged or foreign file: see `recovery_tests`.
    let f = Fixture::new();
    let first = open(&f, TestEmbedder::new(16));
    let err = Engine::open(f.settings(), TestEmbedder::new(16))
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    drop(first);
    open(&f, TestEmbedder::new(16));
}

#[test]
fn read_note_stays_inside_the_vault() {
    let f = Fixture::new();
    f.write("a.md", "hello");
    let engine = open(&f, TestEmbedder::new(16));
    let p = |s: &str| vault_rag_core::NotePath::new(s).unwrap();
    assert_eq!(engine.read_note(&p("a.md")).unwrap(), "hello");
    assert!(matches!(
        engine.read_note(&p("nope.md")),
        Err(IndexError::NoteNotFound { .. })
    ));
    #[cfg(unix)]
    {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("s.md"), "secret").unwrap();
        std::os::unix::fs::symlink(outside.path().join("s.md"), f.vault.path().join("link.md"))
            .unwrap();
        assert!(matches!(
            engine.read_note(&p("link.md")),
            Err(IndexError::OutsideVault { .. })
        ));
    }
    fs::create_dir(f.vault.path().join("d.md")).unwrap();
    assert!(matches!(
        engine.read_note(&p("d.md")),
        Err(IndexError::NoteNotFound { .. })
    ));
}

#[test]
fn missing_vault_is_an_error_not_a_mass_deletion() {
    let f = Fixture::new();
    f.write("a.md", "# A\n\ntext\n");
    let engine = open(&f, TestEmbedder::new(16));
    pass(&engine);
    let moved = f.vault.path().with_extension("away");
    fs::rename(f.vault.path(), &moved).unwrap();
    let err = engine.reconcile(&|_| {}).unwrap_err();
    assert!(matches!(err, IndexError::Vault { .. }), "{err:?}");
    fs::rename(&moved, f.vault.path()).unwrap();
    assert_eq!(count(&f.db(), "SELECT count(*) FROM notes"), 1);
}

#[test]
fn bad_notes_are_reported_and_the_rest_is_indexed() {
    let f = Fixture::new();
    f.write("good.md", "# Good\n\nplain text\n");
    fs::write(f.vault.path().join("latin1.md"), b"caf\xe9 cr\xe8me\n").unwrap();
    fs::write(f.vault.path().join("bin.md"), b"GIF89a\0\0\x01\0").unwrap();
    let headings: String = (0..10_000)
        .map(|i| format!("## Heading {i}\n\nline {i}\n\n"))
        .collect();
    f.write("headings.md", &headings);
    f.write("big.md", &"a line of text in a big note\n".repeat(10_000));
    let mut s = f.settings();
    s.max_note_bytes = 5_000;
    let engine = Engine::open(s, TestEmbedder::new(16)).unwrap();
    let started = std::time::Instant::now();
    let sum = pass(&engine);
    let reasons: std::collections::HashMap<&str, &str> = sum
        .failures
        .iter()
        .map(|f| (f.path.as_str(), f.reason.as_str()))
        .collect();
    assert!(reasons["bin.md"].contains("binary"), "{reasons:?}");
    assert!(reasons["latin1.md"].contains("UTF-8"), "{reasons:?}");
    assert!(reasons["big.md"].contains("only the first"), "{reasons:?}");
    // Capped, like any long note: the cap is what keeps one note from dominating.
    assert!(
        reasons["headings.md"].contains("only the first"),
        "{reasons:?}"
    );
    assert_eq!((sum.notes_indexed, sum.notes_failed), (4, 1), "{sum:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));

    // A binary note is not read again until it changes.
    let again = pass(&engine);
    assert_eq!((again.notes_indexed, again.notes_failed), (0, 1));
    // Once it is a real note, it indexes and its failure is forgotten.
    f.write("bin.md", "# Fixed\n\ntext\n");
    let fixed = pass(&engine);
    assert_eq!((fixed.notes_indexed, fixed.notes_failed), (1, 0));
    assert!(!fixed.failures.iter().any(|f| f.path == "bin.md"));
}

#[test]
fn ten_thousand_headings_are_chunked() {
    let f = Fixture::new();
    let headings: String = (0..10_000)
        .map(|i| format!("## Heading {i}\n\nline {i}\n\n"))
        .collect();
    f.write("headings.md", &headings);
    let engine = open(&f, TestEmbedder::new(16));
    let s = pass(&engine);
    assert_eq!(s.notes_indexed, 1, "{s:?}");
    let chunks = count(&f.db(), "SELECT count(*) FROM chunks");
    assert!(chunks >= 100, "{chunks}");
    let last: i64 = f
        .db()
        .query_row("SELECT max(end_line) FROM chunks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(last, 40_000 - 1, "every heading section is indexed");
}

#[test]
fn a_note_vanishing_mid_pass_is_reported_and_removed() {
    let f = Fixture::new();
    f.write("a.md", "# A\n\nalpha\n");
    f.write("b.md", "# B\n\nbeta\n");
    let engine = open(&f, TestEmbedder::new(16));
    pass(&engine);
    // What a pass does when a file disappears between the scan and the read.
    let core = engine.core_for_tests();
    let filter = core.filter.read().clone();
    let scanned = crate::scan::scan(&core.vault, &filter);
    let mut changed = scanned.notes.clone();
    for n in &mut changed {
        n.mtime_ns += 1; // looks modified, so it is read
    }
    fs::remove_file(f.vault.path().join("a.md")).unwrap();
    let known = {
        let r = core.searcher.store().reader().unwrap();
        crate::store::notes::note_states(&r).unwrap()
    };
    let mut summary = IndexSummary::default();
    let work = changed.into_iter().map(super::Work::Check).collect();
    core.execute(
        work,
        &known,
        &Default::default(),
        false,
        &mut summary,
        &|_| {},
    )
    .unwrap();
    assert_eq!(summary.notes_deleted, 1);
    assert!(summary
        .failures
        .iter()
        .any(|f| f.path == "a.md" && f.reason.contains("vanished")));
    assert_eq!(count(&f.db(), "SELECT count(*) FROM notes"), 1);
}
