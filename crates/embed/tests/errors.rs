//! Bad input gives errors that name what is wrong, with the real runtime and model files.

mod common;

use std::path::Path;

use common::{minilm_spec, model_dir};
use vault_rag_embed::{EmbedError, ModelEntry, ModelSpec, OnnxEmbedder, Pooling};

fn load_err(spec: &ModelSpec) -> EmbedError {
    match OnnxEmbedder::load(spec) {
        Ok(_) => panic!("loading {spec:?} should fail"),
        Err(e) => e,
    }
}

/// A model directory with the real model file (linked) and the given tokenizer bytes.
fn dir_with(tokenizer: Option<&[u8]>, model: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    if model {
        link(
            &model_dir().join("model.onnx"),
            &dir.path().join("model.onnx"),
        );
    }
    match tokenizer {
        Some(bytes) => std::fs::write(dir.path().join("tokenizer.json"), bytes).unwrap(),
        None => link(
            &model_dir().join("tokenizer.json"),
            &dir.path().join("tokenizer.json"),
        ),
    }
    dir
}

/// A link where the platform allows one without privileges, else a copy.
fn link(from: &Path, to: &Path) {
    #[cfg(unix)]
    std::os::unix::fs::symlink(from, to).unwrap();
    #[cfg(not(unix))]
    std::fs::copy(from, to).map(|_| ()).unwrap();
}

fn spec_in(dir: &Path) -> ModelSpec {
    ModelSpec {
        model_dir: Some(dir.to_path_buf()),
        ..minilm_spec()
    }
}

#[test]
fn unknown_model() {
    let err = load_err(&ModelSpec {
        model: "bert-base-uncased".into(),
        ..minilm_spec()
    });
    assert!(matches!(err, EmbedError::UnknownModel { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("bert-base-uncased") && msg.contains("all-minilm-l6-v2"),
        "{msg}"
    );
}

#[test]
fn dim_larger_than_native() {
    let err = load_err(&ModelSpec {
        dim: Some(512),
        ..minilm_spec()
    });
    match &err {
        EmbedError::Dim {
            requested, native, ..
        } => assert_eq!((*requested, *native), (512, 384)),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("512"));
}

#[test]
fn missing_model_file_is_named() {
    let dir = dir_with(None, false);
    let err = load_err(&spec_in(dir.path()));
    match &err {
        EmbedError::ModelFile { path, message } => {
            assert!(path.starts_with(dir.path()), "{}", path.display());
            assert!(
                message.contains("model.onnx") && message.contains("--model-dir"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn corrupt_tokenizer_is_named() {
    let dir = dir_with(Some(b"{ this is not json"), true);
    let err = load_err(&spec_in(dir.path()));
    match &err {
        EmbedError::Tokenizer { path, .. } => assert_eq!(path, &dir.path().join("tokenizer.json")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn corrupt_model_file_is_named() {
    let dir = dir_with(None, false);
    std::fs::write(dir.path().join("model.onnx"), b"not an onnx graph").unwrap();
    let err = load_err(&spec_in(dir.path()));
    match &err {
        EmbedError::ModelFile { path, message } => {
            assert_eq!(path, &dir.path().join("model.onnx"));
            assert!(message.contains("ONNX Runtime"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_output_name_lists_the_real_outputs() {
    let entry = ModelEntry {
        pooling: Pooling::Output("sentence_embedding".into()),
        ..ModelEntry::all_minilm_l6_v2()
    };
    let err = match OnnxEmbedder::load_entry(entry, &minilm_spec()) {
        Ok(_) => panic!("should fail"),
        Err(e) => e,
    };
    match &err {
        EmbedError::Output {
            name, available, ..
        } => {
            assert_eq!(name, "sentence_embedding");
            assert!(available.contains("last_hidden_state"), "{available}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_input_declaration_is_caught() {
    // A catalogue entry that forgets `token_type_ids` would feed the graph too few inputs.
    let entry = ModelEntry {
        token_type_ids: false,
        ..ModelEntry::all_minilm_l6_v2()
    };
    let err = match OnnxEmbedder::load_entry(entry, &minilm_spec()) {
        Ok(_) => panic!("should fail"),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(msg.contains("token_type_ids"), "{msg}");
}

#[test]
fn offline_availability() {
    assert!(vault_rag_embed::model_available_offline(&minilm_spec()));
    let empty = tempfile::tempdir().unwrap();
    assert!(!vault_rag_embed::model_available_offline(&spec_in(
        empty.path()
    )));
    assert!(!vault_rag_embed::model_available_offline(&ModelSpec {
        model: "no-such-model".into(),
        ..minilm_spec()
    }));
}
