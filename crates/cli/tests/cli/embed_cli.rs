//! `vault-rag embed` as a user runs it: the real binary, ONNX Runtime and the MiniLM test model,
//! against the Python reference vectors of `crates/embed/tests/fixtures/minilm_reference.json`.

use crate::support;

use support::model_dir;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// `vault-rag embed` with the MiniLM model flags and `extra` arguments.
fn embed(extra: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = model_dir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vault-rag"));
    cmd.args([
        "embed",
        "--model",
        "all-minilm-l6-v2",
        "--threads",
        "2",
        "--model-dir",
    ])
    .arg(&dir)
    .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run vault-rag")
}

fn reference() -> Vec<(String, String, Vec<f32>)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../embed/tests/fixtures/minilm_reference.json");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    json["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["text"].as_str().unwrap().to_string(),
                t["vector"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect(),
            )
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f32>().sqrt()
        * b.iter().map(|x| x * x).sum::<f32>().sqrt())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn json_vectors_match_the_python_reference() {
    let refs = reference();
    let mut args = vec!["--json", "--query", "--"];
    args.extend(refs.iter().map(|(_, text, _)| text.as_str()));
    let out = embed(&args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), refs.len(), "one line per text");
    for ((name, _, want), line) in refs.iter().zip(lines) {
        let got: Vec<f32> = serde_json::from_str(line).unwrap();
        assert_eq!(got.len(), 384, "{name}");
        let c = cosine(want, &got);
        assert!(c >= 0.9999, "{name}: cosine {c}");
    }
}

#[test]
fn readable_form_and_stdin() {
    let out = Command::new(env!("CARGO_BIN_EXE_vault-rag"))
        .args([
            "embed",
            "--model",
            "all-minilm-l6-v2",
            "--threads",
            "2",
            "--stdin",
            "--model-dir",
        ])
        .arg(model_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"first line\nsecond line\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2);
    for line in lines {
        assert!(
            line.starts_with('[') && line.ends_with("(384 dims)"),
            "{line}"
        );
    }
}

#[test]
fn bad_runtime_path_is_an_error_not_a_panic() {
    let out = embed(
        &["hello"],
        &[("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("ORT_DYLIB_PATH") && err.contains("next to the vault-rag executable"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // A file that is not a library at all.
    let out = embed(
        &["hello"],
        &[("ORT_DYLIB_PATH", env!("CARGO_BIN_EXE_vault-rag"))],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("ORT_DYLIB_PATH") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn bad_flags_are_named() {
    let out = embed(&["--dim", "512", "hello"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("512") && err.contains("384"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_vault-rag"))
        .args(["embed", "--model", "no-such-model", "hello"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no-such-model") && err.contains("embeddinggemma-300m"),
        "{err}"
    );
    let out = embed(&["--precision", "fp16", "hello"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("fp16"));
}
