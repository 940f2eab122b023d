//! `Engine::read_note`, which agents reach through MCP, serves exactly what the indexer may
//! index: no config, secrets, trash, excluded folders, attachments or links to them, and never
//! more than `max_note_bytes`.

use std::path::Path;
use std::sync::Arc;

use vault_rag_core::fake::HashEmbedder;
use vault_rag_core::NotePath;
use vault_rag_index::engine::Engine;
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
