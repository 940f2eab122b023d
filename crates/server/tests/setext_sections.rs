//! Every heading a search result names can be read back with `read_note {heading}`, setext
//! headings (`Title` over `====` or `----`) included: both sides use the markdown crate's rules.
//! A real index (SQLite, the engine) with the deterministic hash embedder.

use std::sync::Arc;

use vault_rag_core::fake::HashEmbedder;
use vault_rag_core::{NotePath, SearchMode, SearchRequest};
use vault_rag_index::{Engine, IndexSettings};
use vault_rag_server::extract_section;

#[test]
fn setext_headings_from_search_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    std::fs::create_dir_all(&vault).unwrap();
    // Sections long enough to be chunks of their own.
    let filler = |word: &str| format!("{word} ").repeat(400);
    let note = format!(
        "Greenhouse plan\n===============\n\nWe grow peppers. {}\n\nWatering schedule\n-----------------\n\nDrip irrigation every morning at six. {}\n\nHarvest\n-------\n\nPick when red. {}\n",
        filler("tomato"),
        filler("water"),
        filler("basket")
    );
    std::fs::write(vault.join("Greenhouse.md"), &note).unwrap();
    let mut settings = IndexSettings::new(&vault);
    settings.data_dir = Some(dir.path().join("data"));
    let engine = Engine::open(settings, Arc::new(HashEmbedder::new(32))).unwrap();
    engine.reconcile(&|_| {}).unwrap();

    let hits = engine
        .search(&SearchRequest {
            mode: SearchMode::Lexical,
            ..SearchRequest::new("drip irrigation")
        })
        .unwrap()
        .hits;
    let hit = hits.first().expect("the note is found");
    assert_eq!(
        hit.heading_path.last().unwrap(),
        "Watering schedule",
        "{hit:?}"
    );
    let text = engine
        .read_note(&NotePath::new(&hit.path).unwrap())
        .unwrap();
    for heading in &hit.heading_path {
        let section = extract_section(&text, heading)
            .unwrap_or_else(|found| panic!("`{heading}` not found among {found:?}"));
        assert!(section.starts_with(heading.as_str()), "{section}");
    }
    let watering = extract_section(&text, "Watering schedule").unwrap();
    assert!(watering.starts_with("Watering schedule\n-----------------\n\nDrip irrigation"));
    assert!(watering.ends_with("water") && !watering.contains("Harvest"));
}
