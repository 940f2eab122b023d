//! `vault-rag search` and `vault-rag similar` as a user runs them: the real binary, ONNX Runtime,
//! the MiniLM test model and a real index in a temporary data directory.

use crate::support;

use support::model_dir;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn vault() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/vaults/search")
}

/// `vault-rag <cmd> VAULT <args> --data-dir D <model flags>`.
fn run(cmd: &str, data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vault-rag"))
        .arg(cmd)
        .arg(vault())
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .args([
            "--model",
            "all-minilm-l6-v2",
            "--threads",
            "2",
            "--model-dir",
        ])
        .arg(model_dir())
        .env_remove("VAULT_RAG_LOG")
        .output()
        .expect("run vault-rag")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

#[test]
fn search_updates_the_index_then_answers() {
    let data = tempfile::tempdir().unwrap();
    // First run: the index is built (a summary on stderr), the answer is JSON on stdout.
    let out = run("search", data.path(), &["XR-7741b", "--json"]);
    let res = json(&out);
    assert!(
        text(&out.stderr).contains("index updated"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(res["index_complete"], true);
    let top = &res["hits"][0];
    assert_eq!(top["path"], "Work/Team meeting 2024-03-12.md");
    assert_eq!(top["retrievers"], serde_json::json!(["dense", "lexical"]));
    assert!(top["snippet"].as_str().unwrap().contains("**XR-7741b**"));
    assert!(top["line"].as_u64().unwrap() >= 1);
    // Why it ranked: both lists, the term it holds, and the keyword-led blend of an exact query.
    let why = &top["explain"];
    assert_eq!(why["fusion"], "convex", "{why}");
    assert_eq!(why["lexical_rank"], 1, "{why}");
    assert!(why["dense_rank"].as_u64().is_some(), "{why}");
    assert_eq!(
        why["matched_terms"],
        serde_json::json!(["xr 7741b"]),
        "{why}"
    );
    assert!(
        (why["dense_weight"].as_f64().unwrap() - 0.35).abs() < 1e-6,
        "{why}"
    );
    assert!(res["took_ms"].as_f64().unwrap() >= 0.0);

    // Second run: nothing to embed, nothing on stderr; the human table.
    let out = run(
        "search",
        data.path(),
        &["猫", "--mode", "lexical", "--top-k", "3"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let table = text(&out.stdout);
    assert!(
        table.starts_with("lexical search for \"猫\": 1 notes in "),
        "{table}"
    );
    assert!(table.contains("  1. "), "{table}");
    assert!(table.contains("中文/宠物.md:"), "{table}");
    assert!(table.contains("**猫**"), "{table}");

    // Filters.
    let res = json(&run(
        "search",
        data.path(),
        &["plan", "--tag", "#health", "--top-k", "5", "--json"],
    ));
    let paths: Vec<&str> = res["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["path"].as_str().unwrap())
        .collect();
    assert!(!paths.is_empty());
    assert!(
        paths.iter().all(|p| p.starts_with("Personal/")),
        "{paths:?}"
    );
    let res = json(&run(
        "search",
        data.path(),
        &["valve", "--folder", "Baking", "--json"],
    ));
    assert!(res["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["path"].as_str().unwrap().starts_with("Baking/")));

    // A quoted phrase keeps only the notes that hold it, in every mode; a starred word matches
    // word beginnings.
    let paths = |res: &Value| -> Vec<String> {
        let mut p: Vec<String> = res["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["path"].as_str().unwrap().to_string())
            .collect();
        p.sort();
        p
    };
    for mode in ["hybrid", "dense", "lexical"] {
        let res = json(&run(
            "search",
            data.path(),
            &["\"in the fridge\"", "--mode", mode, "--json"],
        ));
        assert_eq!(
            paths(&res),
            ["Baking/Sourdough starter.md", "Baking/Weekend bake plan.md"],
            "{mode}"
        );
    }
    let res = json(&run(
        "search",
        data.path(),
        &["\"with the lid\" bread", "--json"],
    ));
    assert_eq!(paths(&res), ["Baking/Weekend bake plan.md"]);
    let top = &res["hits"][0];
    assert!(
        top["snippet"]
            .as_str()
            .unwrap()
            .contains("**with the lid**"),
        "{top}"
    );
    let res = json(&run(
        "search",
        data.path(),
        &["doubl*", "--mode", "lexical", "--json"],
    ));
    assert_eq!(paths(&res), ["Baking/Sourdough starter.md"]);
    assert_eq!(
        res["hits"][0]["explain"]["matched_terms"],
        serde_json::json!(["doubl*"])
    );
    assert!(res["hits"][0]["snippet"]
        .as_str()
        .unwrap()
        .contains("**doubles**"));

    // Operators and stray quotes are text, not syntax.
    for q in ["\"", "NEAR(", "a\"b -x col:val", "((("] {
        let out = run("search", data.path(), &[q, "--mode", "lexical", "--json"]);
        json(&out);
    }
}

#[test]
fn similar_lists_related_notes() {
    let data = tempfile::tempdir().unwrap();
    let res = json(&run(
        "similar",
        data.path(),
        &["Baking/Weekend bake plan.md", "--top-k", "3", "--json"],
    ));
    let paths: Vec<&str> = res["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 3);
    assert_eq!(paths[0], "Baking/Sourdough starter.md");
    assert!(!paths.contains(&"Baking/Weekend bake plan.md"));
    // The plan links to the starter.
    let res = json(&run(
        "similar",
        data.path(),
        &["Baking/Weekend bake plan.md", "--exclude-linked", "--json"],
    ));
    assert!(res["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["path"] != "Baking/Sourdough starter.md"));
    let out = run("similar", data.path(), &["Baking/Weekend bake plan.md"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("notes similar to Baking/Weekend bake plan.md: 10 notes"));
}

#[test]
fn bad_requests_fail_with_a_clear_message() {
    let data = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str], &str); 5] = [
        ("search", &[], "no query given"),
        ("search", &["x", "--top-k", "0"], "top_k"),
        ("search", &["x", "--mode", "fuzzy"], "fuzzy"),
        ("similar", &["../outside.md"], "outside.md"),
        ("similar", &["Missing note.md"], "Missing note.md"),
    ];
    for (cmd, args, message) in cases {
        let out = run(cmd, data.path(), args);
        assert!(!out.status.success(), "{cmd} {args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(message), "{cmd} {args:?}: {err}");
    }
}
