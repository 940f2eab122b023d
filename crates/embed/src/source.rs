//! Where a model's files come from: an explicit directory, the vault-rag cache, the Hugging Face
//! cache, or a download from the Hugging Face hub (only when asked: see [`download`]).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use vault_rag_core::EmbedError;

use crate::catalog::ModelEntry;
use crate::hub::{DownloadError, DownloadProgress, Hub, HubCache};
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

/// Where the small int8 MiniLM model that `make setup` fetches lives: `$VAULT_RAG_TEST_MODEL_DIR`,
/// else `models/all-MiniLM-L6-v2-int8` in [`vault_rag_cache`]. Every real-model test of the
/// workspace loads it from here; a missing file fails with what to run.
pub fn test_model_dir() -> Result<PathBuf, String> {
    let dir = std::env::var_os("VAULT_RAG_TEST_MODEL_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| vault_rag_cache().join("models/all-MiniLM-L6-v2-int8"));
    for file in ["model.onnx", "tokenizer.json"] {
        if !dir.join(file).is_file() {
            return Err(format!(
                "the MiniLM test model is missing ({} not found): run `make setup` \
                 (or set VAULT_RAG_TEST_MODEL_DIR)",
                dir.join(file).display()
            ));
        }
    }
    Ok(dir)
}

/// Whether the model of `spec` can be loaded without a network: its files are in the given
/// directory, the vault-rag cache or the Hugging Face cache. Unknown models are not available.
pub fn model_available_offline(spec: &ModelSpec) -> bool {
    crate::catalog::lookup(&spec.model)
        .and_then(|entry| locate(&entry, spec))
        .is_ok()
}

/// Finds the model's graph (with every weight file it refers to) and tokenizer on this machine:
/// `spec.model_dir` only when given, else the vault-rag cache, then the Hugging Face cache.
/// Never touches the network; [`download`] does.
pub fn locate(entry: &ModelEntry, spec: &ModelSpec) -> Result<ModelFiles, EmbedError> {
    let candidates = entry.files_for(spec.precision);
    if let Some(dir) = &spec.model_dir {
        if !dir.is_dir() {
            return Err(EmbedError::ModelFile {
                path: dir.clone(),
                message: format!(
                    "the model folder does not exist. {}",
                    how_to_get(entry, spec)
                ),
            });
        }
        return match in_dir(entry, dir, candidates) {
            Some(Ok(files)) => Ok(files),
            Some(Err(e)) => Err(e),
            None => Err(missing_in_dir(entry, spec, dir)),
        };
    }
    for name in &entry.cache_dirs {
        let dir = vault_rag_cache().join("models").join(name);
        if let Some(Ok(files)) = in_dir(entry, &dir, candidates) {
            return Ok(files);
        }
    }
    if let Some(files) = in_hf_cache(entry, candidates) {
        return Ok(files);
    }
    Err(not_available(entry, spec))
}

/// The graph files of `dir` that hold a candidate, with the tokenizer; `Some(Err)` when a graph
/// is there but a weight file it refers to is not.
fn in_dir(
    entry: &ModelEntry,
    dir: &Path,
    candidates: &[String],
) -> Option<Result<ModelFiles, EmbedError>> {
    let tokenizer = dir.join(&entry.tokenizer_file);
    if !tokenizer.is_file() {
        return None;
    }
    let rel = candidates.iter().find(|c| dir.join(c.as_str()).is_file())?;
    let model = dir.join(rel);
    Some(check_external(&model).map(|()| ModelFiles {
        model,
        model_rel: rel.clone(),
        tokenizer,
        origin: dir.display().to_string(),
    }))
}

fn in_hf_cache(entry: &ModelEntry, candidates: &[String]) -> Option<ModelFiles> {
    let cache = HubCache::from_env();
    let tokenizer = cache.get(&entry.repo, REVISION, &entry.tokenizer_file)?;
    candidates.iter().find_map(|rel| {
        let model = cache.get(&entry.repo, REVISION, rel)?;
        check_external(&model).ok()?;
        Some(ModelFiles {
            model,
            model_rel: rel.clone(),
            tokenizer: tokenizer.clone(),
            origin: format!("Hugging Face cache ({})", entry.repo),
        })
    })
}

/// Every external-data file the graph refers to is beside it. A graph that cannot be parsed
/// passes: ONNX Runtime reports what is wrong with it when it loads.
fn check_external(model: &Path) -> Result<(), EmbedError> {
    let Ok(refs) = crate::onnx_refs::external_files(model) else {
        return Ok(());
    };
    let folder = model.parent().unwrap_or(Path::new("."));
    match refs.iter().find(|r| !folder.join(r.as_str()).is_file()) {
        None => Ok(()),
        Some(missing) => Err(EmbedError::ModelFile {
            path: folder.join(missing),
            message: format!(
                "the graph {} keeps its weights in this file, which is missing",
                model.display()
            ),
        }),
    }
}

/// The branch downloads follow.
const REVISION: &str = "main";

/// Downloads the model of `spec` from the Hugging Face hub (`HF_ENDPOINT`) into its cache: the
/// graph, each weight file the graph refers to, and the tokenizer, reporting bytes to
/// `progress`. Files already there are not fetched again; a partial one continues.
pub fn download(
    entry: &ModelEntry,
    spec: &ModelSpec,
    progress: &DownloadProgress,
) -> Result<ModelFiles, EmbedError> {
    // The first candidate is the Hugging Face layout; the others are local layouts only.
    let Some(rel) = entry.files_for(spec.precision).first() else {
        return Err(not_available(entry, spec));
    };
    let hub = Hub::from_env();
    let failed = |e: DownloadError| EmbedError::Download {
        model: entry.name.clone(),
        message: e.to_string(),
    };
    tracing::info!(repo = %entry.repo, file = %rel, endpoint = hub.endpoint(), "downloading the model");
    let graph_meta = hub.meta(&entry.repo, REVISION, rel).map_err(failed)?;
    let tok_meta = hub
        .meta(&entry.repo, REVISION, &entry.tokenizer_file)
        .map_err(failed)?;
    progress.add_total(graph_meta.size + tok_meta.size);
    let model = hub
        .fetch(&entry.repo, REVISION, &graph_meta, progress)
        .map_err(failed)?;
    let refs = crate::onnx_refs::external_files(&model).map_err(|e| EmbedError::ModelFile {
        path: model.clone(),
        message: format!("the downloaded graph cannot be read: {e}"),
    })?;
    let folder = rel.rsplit_once('/').map_or("", |(f, _)| f);
    let mut metas = Vec::new();
    for data in &refs {
        let file = if folder.is_empty() {
            data.clone()
        } else {
            format!("{folder}/{data}")
        };
        let meta = hub
            .meta(&entry.repo, REVISION, &file)
            .map_err(|e| match e {
                DownloadError::NotFound { .. } => failed(DownloadError::MissingData {
                    graph: rel.clone(),
                    missing: file.clone(),
                }),
                e => failed(e),
            })?;
        progress.add_total(meta.size);
        metas.push(meta);
    }
    for meta in &metas {
        hub.fetch(&entry.repo, REVISION, meta, progress)
            .map_err(failed)?;
    }
    let tokenizer = hub
        .fetch(&entry.repo, REVISION, &tok_meta, progress)
        .map_err(failed)?;
    check_external(&model)?;
    Ok(ModelFiles {
        model,
        model_rel: rel.clone(),
        tokenizer,
        origin: format!("downloaded from {}/{}", hub.endpoint(), entry.repo),
    })
}

/// The files a model directory must hold for `spec`, for messages.
fn needed_files(entry: &ModelEntry, spec: &ModelSpec) -> String {
    let models = entry.files_for(spec.precision).join(" or ");
    format!("{} and {models}", entry.tokenizer_file)
}

/// The one next step that gets the model.
fn how_to_get(entry: &ModelEntry, spec: &ModelSpec) -> String {
    format!(
        "Download it with `--download` (about {} MB from huggingface.co/{}), or pass --model-dir \
         with a folder laid out like that repository",
        entry.approx_download_mb(spec.precision),
        entry.repo
    )
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
            "the model folder {} lacks it: `{}` at precision {} needs {}. {}",
            dir.display(),
            entry.name,
            spec.precision,
            needed_files(entry, spec),
            how_to_get(entry, spec),
        ),
    }
}

fn not_available(entry: &ModelEntry, spec: &ModelSpec) -> EmbedError {
    EmbedError::NotAvailable {
        model: entry.name.clone(),
        message: format!(
            "it has not been downloaded yet. {}.\n  (looked in the Hugging Face cache {} and \
             {}; needed: {} at precision {})",
            how_to_get(entry, spec),
            HubCache::from_env().root().display(),
            vault_rag_cache().join("models").display(),
            needed_files(entry, spec),
            spec.precision,
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
        std::fs::write(dir.path().join("model.onnx"), b"").unwrap();
        let flat = locate(&entry, &spec(dir.path(), Precision::Int8)).unwrap();
        assert_eq!(flat.model_rel, "model.onnx");
        // The Hugging Face layout wins when both are there.
        std::fs::create_dir(dir.path().join("onnx")).unwrap();
        std::fs::write(dir.path().join("onnx/model_quantized.onnx"), b"").unwrap();
        let hf = locate(&entry, &spec(dir.path(), Precision::Int8)).unwrap();
        assert_eq!(hf.model_rel, "onnx/model_quantized.onnx");
        // fp32 never takes the flat file, which is the int8 one.
        let err = locate(&entry, &spec(dir.path(), Precision::Fp32)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("onnx/model.onnx") && msg.contains("--model-dir"),
            "{msg}"
        );
    }

    #[test]
    fn missing_folder_and_missing_weights_are_named() {
        let entry = ModelEntry::all_minilm_l6_v2();
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("nope");
        let msg = locate(&entry, &spec(&gone, Precision::Int8))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("does not exist") && msg.contains("--download"),
            "{msg}"
        );
        // A graph whose weights live in a second file that is not there.
        std::fs::write(dir.path().join("tokenizer.json"), b"{}").unwrap();
        let mut graph = vec![0x3a, 0]; // field 7 (graph), length patched below
        let mut tensor = Vec::new();
        let mut entry_bytes = vec![0x0a, 8];
        entry_bytes.extend_from_slice(b"location");
        entry_bytes.extend_from_slice(&[0x12, 6]);
        entry_bytes.extend_from_slice(b"m.data");
        tensor.extend_from_slice(&[0x6a, entry_bytes.len() as u8]);
        tensor.extend_from_slice(&entry_bytes);
        tensor.extend_from_slice(&[0x70, 1]); // data_location = EXTERNAL
        graph.extend_from_slice(&[0x2a, tensor.len() as u8]);
        graph.extend_from_slice(&tensor);
        graph[1] = (graph.len() - 2) as u8;
        std::fs::write(dir.path().join("model.onnx"), &graph).unwrap();
        let err = locate(&entry, &spec(dir.path(), Precision::Int8)).unwrap_err();
        assert!(err.to_string().contains("m.data"), "{err}");
        std::fs::write(dir.path().join("m.data"), b"").unwrap();
        assert!(locate(&entry, &spec(dir.path(), Precision::Int8)).is_ok());
    }

    #[test]
    fn missing_tokenizer_is_named() {
        let entry = ModelEntry::embeddinggemma_300m();
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(dir.path(), Precision::Int8);
        s.model = entry.name.clone();
        let err = locate(&entry, &s).unwrap_err();
        match &err {
            EmbedError::ModelFile { path, message } => {
                assert!(path.ends_with("tokenizer.json"));
                assert!(message.contains("onnx/model_quantized.onnx"), "{message}");
                assert!(!message.contains("shared/"), "{message}");
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
