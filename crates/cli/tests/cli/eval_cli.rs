//! `vault-rag eval` end to end with the real MiniLM model: a small BEIR-layout dataset written here,
//! indexed through the real pipeline into a real SQLite index, searched, scored, and written as a run;
//! then known-item queries on a small vault.

use crate::support;

use support::model_dir;

use std::path::Path;
use std::process::Command;

const DOCS: &[(&str, &str, &str)] = &[
    ("d1", "Photosynthesis", "Green plants capture sunlight with chlorophyll and turn carbon dioxide and water into sugar and oxygen."),
    ("d2", "Volcanoes", "Magma rises through the crust and erupts as lava, ash and gas from a volcano."),
    ("d3", "Sourdough", "A sourdough starter of wild yeast and lactic bacteria leavens the bread dough overnight before baking."),
    ("d4", "Black holes", "A black hole is a region of spacetime where gravity is so strong that not even light escapes."),
    ("d5", "Marathon training", "Runners build weekly mileage with long slow runs and tempo sessions before a marathon race."),
    ("d/6:odd", "Tides", "The gravitational pull of the moon raises ocean tides twice a day."),
];

/// Only `q3` shares no word at all with its document (BM25 cannot find it); all three are
/// paraphrases a real embedding model ranks first.
const QUERIES: &[(&str, &str, &str)] = &[
    ("q1", "how do plants make food from light", "d1"),
    ("q2", "baking bread with natural fermentation", "d3"),
    ("q3", "what makes seawater go up and down", "d/6:odd"),
];

fn write_dataset(dir: &Path) {
    let corpus: String = DOCS
        .iter()
        .map(|(id, t, x)| serde_json::json!({"_id": id, "title": t, "text": x}).to_string() + "\n")
        .collect();
    let queries: String = QUERIES
        .iter()
        .map(|(id, q, _)| serde_json::json!({"_id": id, "text": q}).to_string() + "\n")
        .collect();
    let mut qrels = String::from("query-id\tcorpus-id\tscore\n");
    for (q, _, d) in QUERIES {
        qrels.push_str(&format!("{q}\t{d}\t1\n"));
    }
    std::fs::create_dir_all(dir.join("qrels")).unwrap();
    std::fs::write(dir.join("corpus.jsonl"), corpus).unwrap();
    std::fs::write(dir.join("queries.jsonl"), queries).unwrap();
    std::fs::write(dir.join("qrels/test.tsv"), qrels).unwrap();
}

fn eval(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vault-rag"))
        .arg("eval")
        .args(args)
        .args(["--model", "all-minilm-l6-v2", "--model-dir"])
        .arg(model_dir())
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "eval failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn beir_dataset_through_the_real_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("tiny");
    write_dataset(&ds);
    let data = tmp.path().join("data");
    let run_file = tmp.path().join("dense.trec");
    let ds_s = ds.to_str().unwrap();
    let data_s = data.to_str().unwrap();

    let dense = eval(&[
        "--dataset",
        ds_s,
        "--mode",
        "dense",
        "--data-dir",
        data_s,
        "--run-file",
        run_file.to_str().unwrap(),
    ]);
    assert_eq!(dense["queries"], 3);
    assert_eq!(dense["notes"], DOCS.len());
    assert_eq!(dense["system"]["model"], "all-minilm-l6-v2");
    assert!(dense["timings"]["chunks_embedded"].as_u64().unwrap() >= DOCS.len() as u64);
    // Paraphrased queries with no shared keywords: only a real embedding model finds these first.
    assert_eq!(dense["metrics"]["mrr_at_10"], 1.0, "{dense:#}");
    assert_eq!(dense["per_query"]["q3"]["ndcg_at_10"], 1.0);

    // The run file: every document for every query, ranks from 1, the odd id recovered intact.
    let run = std::fs::read_to_string(&run_file).unwrap();
    let lines: Vec<Vec<&str>> = run.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 3 * DOCS.len());
    assert_eq!(lines[0][..4], ["q1", "Q0", "d1", "1"]);
    let q3_first = lines.iter().find(|l| l[0] == "q3").unwrap();
    assert_eq!(q3_first[2], "d/6:odd");

    // Same configuration: the index is reused, nothing is embedded again.
    let hybrid = eval(&["--dataset", ds_s, "--mode", "hybrid", "--data-dir", data_s]);
    assert_eq!(hybrid["timings"]["chunks_embedded"], 0, "{hybrid:#}");
    assert_eq!(
        hybrid["system"]["fingerprint"],
        dense["system"]["fingerprint"]
    );

    // Another dense weight reuses the index and moves hybrid between the two sides: all dense
    // solves these paraphrases, all keywords does not.
    let weighted = |w: &str| {
        let r = eval(&[
            "--dataset",
            ds_s,
            "--mode",
            "hybrid",
            "--data-dir",
            data_s,
            "--dense-weight",
            w,
        ]);
        assert_eq!(r["timings"]["chunks_embedded"], 0, "{r:#}");
        r["metrics"]["ndcg_at_10"].as_f64().unwrap()
    };
    assert_eq!(weighted("1"), 1.0);
    assert!(weighted("0") < 1.0);
    let out = Command::new(env!("CARGO_BIN_EXE_vault-rag"))
        .args(["eval", "--dataset", ds_s, "--dense-weight", "1.5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--dense-weight") && err.contains("from 0 to 1"),
        "{err}"
    );

    // Lexical alone builds an index without vectors: its own fingerprint, no inference.
    let lexical = eval(&["--dataset", ds_s, "--mode", "lexical", "--data-dir", data_s]);
    assert_eq!(lexical["timings"]["chunks_embedded"], 0);
    assert_ne!(
        lexical["system"]["fingerprint"],
        dense["system"]["fingerprint"]
    );
    assert_eq!(lexical["notes"], DOCS.len());
    assert_eq!(lexical["system"]["mode"], "lexical");
    assert!(
        lexical["metrics"]["ndcg_at_10"].as_f64().unwrap() < 1.0,
        "keyword-free queries should not all be solved by BM25: {lexical:#}"
    );
}

#[test]
fn known_item_queries_on_a_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = tmp.path().join("vault");
    std::fs::create_dir_all(vault.join(".obsidian")).unwrap();
    std::fs::create_dir_all(vault.join("notes")).unwrap();
    std::fs::write(vault.join(".obsidian/app.json"), "{}").unwrap();
    for (i, (_, title, text)) in DOCS.iter().enumerate() {
        std::fs::write(
            vault.join(format!("notes/{title}.md")),
            format!("# About {title} and more, part {i}\n\n{text}\n"),
        )
        .unwrap();
    }
    let data = tmp.path().join("data");
    let report = eval(&[
        "--vault",
        vault.to_str().unwrap(),
        "--known-item",
        "4",
        "--seed",
        "3",
        "--mode",
        "hybrid",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(report["queries"], 4);
    assert!(report["dataset"]
        .as_str()
        .unwrap()
        .starts_with("known-item:"));
    // Each query is a heading or sentence of exactly one note: hybrid finds nearly all first.
    assert!(
        report["metrics"]["mrr_at_10"].as_f64().unwrap() >= 0.75,
        "{report:#}"
    );
}
