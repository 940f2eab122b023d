//! `Engine::read_note`, which agents reach through MCP, serves exactly what the indexer may
//! index: no config, secrets, trash, excluded folders, attachments or links to them, and never
//! more than `max_note_bytes`.

use std::path::Path;
use std::sync::Arc;

use vault_rag_core::fake::HashEmbedder;
use vault_rag_core::NotePath;
use vault_rag_index::Engine;
use vault_rag_index::{IndexError, IndexSettings};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn engine(vault: &Path, data: &Path) -> Arc<Engine> {
    let mut settings = IndexSettings::new(vault);
    settings.data_dir = Some(data.to_path_buf());
    settings.exclude = vec!["Drafts/**".into()];
    settings.max_note_bytes = 4096;
    Engine::open(settings, Arc::new(HashEmbedder::new(32))).unwrap()
}

fn read(engine: &Engine, rel: &str) -> Result<String, IndexError> {
    engine.read_note(&NotePath::new(rel).unwrap())
}

#[test]
fn only_notes_the_indexer_would_index_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    write(&vault, "Notes/Plan.md", "# Plan\n\nThe plan.\n");
    write(
        &vault,
        ".obsidian/plugins/x/data.json",
        r#"{"apiKey":"sk-secret"}"#,
    );
    write(
        &vault,
        ".obsidian/app.json",
        r#"{"userIgnoreFilters":["Private/"]}"#,
    );
    write(&vault, ".obsidian/snippets/notes.md", "config note");
    write(&vault, ".env", "TOKEN=secret");
    write(
        &vault,
        ".git/config",
        "[remote] url = https://user:token@host/repo",
    );
    write(&vault, ".trash/Old.md", "deleted note");
    write(&vault, "Private/Diary.md", "excluded in Obsidian");
    write(&vault, "Drafts/Idea.md", "excluded by --exclude");
    write(&vault, "Files/report.pdf", "%PDF-1.4");
    write(&vault, "Files/notes.txt", "plain text");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(vault.join(".env"), vault.join("Notes/env.md")).unwrap();
        std::os::unix::fs::symlink(vault.join("Private/Diary.md"), vault.join("Notes/diary.md"))
            .unwrap();
    }
    let engine = engine(&vault, &dir.path().join("data"));
    assert_eq!(
        read(&engine, "Notes/Plan.md").unwrap(),
        "# Plan\n\nThe plan.\n"
    );
    let mut refused = vec![
        ".obsidian/plugins/x/data.json",
        ".obsidian/app.json",
        ".obsidian/snippets/notes.md",
        ".env",
        ".git/config",
        ".trash/Old.md",
        "Private/Diary.md",
        "Drafts/Idea.md",
        "Files/report.pdf",
        "Files/notes.txt",
    ];
    if cfg!(unix) {
        refused.extend(["Notes/env.md", "Notes/diary.md"]);
    }
    for rel in refused {
        match read(&engine, rel) {
            Err(IndexError::NoteNotFound { path }) => assert_eq!(path, rel),
            other => panic!("{rel}: {other:?}"),
        }
    }
}

#[test]
fn a_note_longer_than_the_indexer_reads_is_cut_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    // Multi-byte characters across the cut: the text stays valid and ends with the notice.
    let long = "é".repeat(10_000);
    write(&vault, "Big.md", &long);
    let engine = engine(&vault, &dir.path().join("data"));
    let text = read(&engine, "Big.md").unwrap();
    assert!(text.len() < 4096 + 200, "{} bytes", text.len());
    let (body, notice) = text.split_once("\n\n[vault-rag:").unwrap();
    assert!(body.chars().all(|c| c == 'é'));
    assert_eq!(body.len(), 4096);
    assert!(
        notice.contains("20000 bytes") && notice.contains("4096"),
        "{notice}"
    );
}

/// A folder swapped for a link to outside the vault while notes are read (3,000 reads against a
/// swapping thread) never serves the outside file: what is read is the file that was checked.
#[cfg(unix)]
#[test]
fn a_folder_swapped_for_a_link_never_leads_outside() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let outside = dir.path().join("outside");
    write(&outside, "Notes/n.md", "SECRET outside the vault\n");
    write(&vault, "Notes/n.md", "inside\n");
    let engine = engine(&vault, &dir.path().join("data"));
    let real = vault.join("Notes");
    let parked = vault.join("Notes-real");
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, real, parked) = (stop.clone(), real.clone(), parked.clone());
        let target = outside.join("Notes");
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // Folder → link to outside → folder again, as fast as possible.
                if std::fs::rename(&real, &parked).is_ok() {
                    let _ = std::os::unix::fs::symlink(&target, &real);
                    let _ = std::fs::remove_file(&real);
                    let _ = std::fs::rename(&parked, &real);
                }
            }
        })
    };
    let mut served = 0;
    for _ in 0..3000 {
        if let Ok(text) = read(&engine, "Notes/n.md") {
            assert!(!text.contains("SECRET"), "read a file outside the vault");
            served += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    assert!(served > 0, "the note was never readable");
}

/// A note replaced by a folder of the same name is no longer a note: a file event on it drops
/// it from the index, and the notes inside the folder are indexed.
#[test]
fn a_note_replaced_by_a_folder_is_not_left_as_a_ghost() {
    use vault_rag_core::SearchMode;
    use vault_rag_index::SearchRequest;
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    write(&vault, "Ideas.md", "# Ideas\n\nzanzibar quokka marmalade\n");
    let engine = engine(&vault, &dir.path().join("data"));
    engine.reconcile(&|_| {}).unwrap();
    let find = |q: &str| {
        engine
            .search(&SearchRequest {
                query: q.into(),
                top_k: 10,
                mode: SearchMode::Lexical,
                folder: None,
                tag: None,
                fusion: Default::default(),
            })
            .unwrap()
            .hits
            .into_iter()
            .map(|h| h.path.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(find("quokka"), ["Ideas.md"]);
    std::fs::remove_file(vault.join("Ideas.md")).unwrap();
    write(
        &vault,
        "Ideas.md/Inside.md",
        "# Inside\n\nplatypus lantern\n",
    );
    let canonical = vault.canonicalize().unwrap();
    engine.apply_paths(&[canonical.join("Ideas.md")]).unwrap();
    assert!(find("quokka").is_empty(), "the old note is still found");
    assert_eq!(find("platypus"), ["Ideas.md/Inside.md"]);
}
