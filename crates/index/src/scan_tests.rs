use std::fs;
use std::path::Path;

use super::*;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn vault() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    (dir, root)
}

fn paths(result: &ScanResult) -> Vec<&str> {
    result.notes.iter().map(|n| n.path.as_str()).collect()
}

fn filter_for(root: &Path, f: impl FnOnce(&mut IndexSettings)) -> VaultFilter {
    let mut s = IndexSettings::new(root);
    f(&mut s);
    VaultFilter::load(&s, root).unwrap()
}

#[test]
fn skips_config_trash_and_dot_entries() {
    let (_d, root) = vault();
    for rel in [
        "a.md",
        "sub/b.md",
        ".obsidian/x.md",
        ".trash/old.md",
        ".hidden/c.md",
        "sub/.dot.md",
        "notes.txt",
        "sub/deeper/d.md",
    ] {
        write(&root, rel, "x");
    }
    let r = scan(&root, &filter_for(&root, |_| {}));
    assert_eq!(paths(&r), ["a.md", "sub/b.md", "sub/deeper/d.md"]);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
}

#[test]
fn renamed_config_folder_is_skipped() {
    let (_d, root) = vault();
    write(&root, "config/app.md", "x");
    write(&root, "configuration/keep.md", "x");
    write(&root, ".obsidian/ok-now-hidden.md", "x");
    let r = scan(
        &root,
        &filter_for(&root, |s| s.config_dir = "config".into()),
    );
    assert_eq!(paths(&r), ["configuration/keep.md"]);
}

#[test]
fn user_ignore_filters_prefix_and_regex() {
    let (_d, root) = vault();
    write(
        &root,
        ".obsidian/app.json",
        r#"{"userIgnoreFilters": ["Archive/", "Templates", "/^Daily/\\d{4}-/", "/([/"]}"#,
    );
    for rel in [
        "Archive/a.md",
        "ArchiveNot/b.md",
        "Templates/t.md",
        "Templates2.md",
        "Daily/2024-01-01.md",
        "Daily/index.md",
        "keep.md",
    ] {
        write(&root, rel, "x");
    }
    let f = filter_for(&root, |_| {});
    let r = scan(&root, &f);
    // `Templates` is a plain prefix, as in Obsidian: it also covers `Templates2.md`.
    // The invalid regex `([` is ignored with a warning.
    assert_eq!(paths(&r), ["ArchiveNot/b.md", "Daily/index.md", "keep.md"]);
    assert!(f.skips_dir("Archive"));
    assert!(!f.skips_dir("ArchiveNot"));
}

#[test]
fn include_and_exclude_globs() {
    let (_d, root) = vault();
    for rel in ["work/a.md", "work/drafts/b.md", "home/c.md"] {
        write(&root, rel, "x");
    }
    let r = scan(
        &root,
        &filter_for(&root, |s| {
            s.include = vec!["work/**".into()];
            s.exclude = vec!["**/drafts/**".into()];
        }),
    );
    assert_eq!(paths(&r), ["work/a.md"]);
    let mut s = IndexSettings::new(&root);
    s.exclude = vec!["[".into()];
    let err = VaultFilter::load(&s, &root).unwrap_err().to_string();
    assert!(err.contains("exclude") && err.contains('['), "{err}");
}

#[test]
fn records_mtime_and_size_and_nfc_paths() {
    let (_d, root) = vault();
    write(&root, "Cafe\u{301}.md", "hello");
    let r = scan(&root, &filter_for(&root, |_| {}));
    assert_eq!(r.notes.len(), 1);
    let n = &r.notes[0];
    assert_eq!(n.path.as_str(), "Caf\u{e9}.md");
    assert!(n.abs.exists(), "the on-disk name is kept for reading");
    assert_eq!(n.size, 5);
    assert!(n.mtime_ns > 1_000_000_000_000_000_000);
}

#[cfg(unix)]
#[test]
fn names_that_differ_only_in_normalisation_are_reported_not_dropped() {
    let (_d, root) = vault();
    let nfc = "Caf\u{e9} notes.md";
    let nfd = "Cafe\u{301} notes.md";
    write(&root, nfc, "composed");
    write(&root, nfd, "decomposed");
    let r = scan(&root, &filter_for(&root, |_| {}));
    assert_eq!(paths(&r), [nfc]);
    let collisions: Vec<_> = r
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::NameCollision)
        .collect();
    assert_eq!(collisions.len(), 1, "{:?}", r.problems);
    // The composed name is indexed; the other is reported under its own name on disk.
    assert!(r.notes[0].abs.ends_with(nfc));
    assert_eq!(collisions[0].path, nfd);
    assert!(
        collisions[0].reason.contains("Unicode"),
        "{:?}",
        collisions[0]
    );
}

#[cfg(unix)]
#[test]
fn symlinks_stay_inside_and_loops_are_reported() {
    use std::os::unix::fs::symlink;
    let (_d, root) = vault();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.md", "x");
    write(&root, "real/a.md", "x");
    symlink(outside.path(), root.join("out")).unwrap();
    symlink(outside.path().join("secret.md"), root.join("leak.md")).unwrap();
    symlink(root.join("real"), root.join("alias")).unwrap();
    symlink(root.join("real"), root.join("real/loop")).unwrap();
    symlink(root.join("nothing.md"), root.join("dangling.md")).unwrap();
    let r = scan(&root, &filter_for(&root, |_| {}));
    assert_eq!(paths(&r), ["alias/a.md", "real/a.md"]);
    let kinds: Vec<(&str, ProblemKind)> = r
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.kind))
        .collect();
    assert!(
        kinds.contains(&("out", ProblemKind::OutsideVault)),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("leak.md", ProblemKind::OutsideVault)),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|(_, k)| *k == ProblemKind::Loop),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("dangling.md", ProblemKind::Vanished)),
        "{kinds:?}"
    );
}

#[cfg(unix)]
#[test]
fn fifo_named_like_a_note_is_reported_not_opened() {
    let (_d, root) = vault();
    write(&root, "ok.md", "x");
    let fifo = root.join("pipe.md");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    fs::create_dir(root.join("folder.md")).unwrap();
    write(&root, "folder.md/inner.md", "x");
    let f = filter_for(&root, |_| {});
    let r = scan(&root, &f);
    assert_eq!(paths(&r), ["folder.md/inner.md", "ok.md"]);
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].kind, ProblemKind::NotRegular);
    assert!(matches!(classify(&root, &f, &fifo), PathState::Problem(_)));
}

#[test]
fn classify_paths_for_the_watcher() {
    let (_d, root) = vault();
    write(&root, "a/b.md", "x");
    write(&root, ".obsidian/c.md", "x");
    let f = filter_for(&root, |_| {});
    assert!(matches!(classify(&root, &f, &root.join("a/b.md")), PathState::Note(n) if n.size == 1));
    assert!(matches!(classify(&root, &f, &root.join("a")), PathState::Dir(p) if p.as_str() == "a"));
    assert!(matches!(
        classify(&root, &f, &root.join(".obsidian/c.md")),
        PathState::Absent(None)
    ));
    assert!(
        matches!(classify(&root, &f, &root.join("gone.md")), PathState::Absent(Some(p)) if p.as_str() == "gone.md")
    );
    assert!(matches!(
        classify(&root, &f, Path::new("/elsewhere/x.md")),
        PathState::Absent(None)
    ));
}

#[test]
fn uncertain_prefixes() {
    let r = ScanResult {
        uncertain: vec!["locked".into()],
        ..ScanResult::default()
    };
    assert!(r.is_uncertain("locked/a.md"));
    assert!(r.is_uncertain("locked"));
    assert!(!r.is_uncertain("locked2/a.md"));
}
