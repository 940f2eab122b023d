//! Finding and loading ONNX Runtime's shared library, once per process.
//!
//! `ort` is built with `load-dynamic`: nothing is linked at build time, and the library is opened
//! with `ort::init_from`, which reports a missing or too-old library as an error (the implicit
//! lookup inside `ort::init()` panics instead).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use vault_rag_core::EmbedError;

/// ONNX Runtime version the `ort` API feature, `make setup` and the release archives agree on.
/// Intel Macs stay on 1.23.2, the last release with a wheel for them (see crates/embed/Cargo.toml).
#[cfg(not(all(target_os = "macos", target_arch = "x86_64")))]
pub const ORT_VERSION: &str = "1.31.1";
#[cfg(all(target_os = "macos", target_arch = "x86_64"))]
pub const ORT_VERSION: &str = "1.23.2";

/// The library's file name in ONNX Runtime's wheels for this platform.
pub fn library_file_name() -> String {
    if cfg!(target_os = "windows") {
        "onnxruntime.dll".to_string()
    } else if cfg!(target_os = "macos") {
        format!("libonnxruntime.{ORT_VERSION}.dylib")
    } else {
        format!("libonnxruntime.so.{ORT_VERSION}")
    }
}

/// Environment variable naming the library file explicitly.
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";

struct Runtime {
    env: Environment,
    path: PathBuf,
}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// Loads ONNX Runtime (first call) and returns the path it was loaded from. Looks, in order, at
/// `ORT_DYLIB_PATH` (when set, only there), the library next to the executable (the release
/// archives put it there), and the cache `make setup` fills ([`cache_library`]). The outcome, success or failure,
/// is kept for the life of the process: a library cannot be unloaded and loaded again.
pub fn init_runtime() -> Result<&'static Path, EmbedError> {
    runtime().map(|rt| rt.path.as_path())
}

pub(crate) fn environment() -> Result<&'static Environment, EmbedError> {
    runtime().map(|rt| &rt.env)
}

fn runtime() -> Result<&'static Runtime, EmbedError> {
    RUNTIME
        .get_or_init(load)
        .as_ref()
        .map_err(|message| EmbedError::Runtime {
            message: message.clone(),
        })
}

fn load() -> Result<Runtime, String> {
    let explicit = std::env::var_os(ORT_DYLIB_ENV).filter(|v| !v.is_empty());
    let candidates = match &explicit {
        Some(path) => vec![absolute(Path::new(path))],
        None => default_candidates(),
    };
    let mut tried = Vec::new();
    for path in &candidates {
        match try_load(path) {
            Ok(env) => {
                tracing::info!(path = %path.display(), "loaded ONNX Runtime");
                return Ok(Runtime {
                    env,
                    path: path.clone(),
                });
            }
            Err(reason) => {
                tracing::debug!(path = %path.display(), %reason, "ONNX Runtime candidate rejected");
                tried.push(format!("{} ({reason})", path.display()));
            }
        }
    }
    let tried = if tried.is_empty() {
        "no candidate file exists".to_string()
    } else {
        format!("tried {}", tried.join("; "))
    };
    let name = library_file_name();
    Err(match explicit {
        Some(_) => format!(
            "{ORT_DYLIB_ENV} is set but unusable: {tried}. Point {ORT_DYLIB_ENV} at {name} \
             (ONNX Runtime {ORT_VERSION}), or unset it to use the copy next to the vault-rag \
             executable"
        ),
        None => format!(
            "ONNX Runtime {ORT_VERSION} was not found: {tried}. Reinstall vault-rag from its \
             release archive, which ships {name} next to the executable, or set {ORT_DYLIB_ENV} \
             to the library file (in a source checkout, `make setup` puts it at {})",
            cache_library().display()
        ),
    })
}

fn try_load(path: &Path) -> Result<Environment, String> {
    if !path.is_file() {
        return Err("no such file".into());
    }
    let builder = ort::init_from(path).map_err(|e| e.to_string())?;
    builder
        .with_name("vault-rag")
        .with_telemetry(false)
        .build()
        .map_err(|e| e.to_string())
}

/// Next to the executable first (a packaged install), then the cache `make setup` fills. The
/// installers link the executable into a `bin` folder: its real folder is looked at too.
fn default_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        let real = std::fs::canonicalize(&exe).ok();
        for path in [Some(exe), real].into_iter().flatten() {
            if let Some(dir) = path.parent() {
                for lib in libraries_in(dir) {
                    if !out.contains(&lib) {
                        out.push(lib);
                    }
                }
            }
        }
    }
    out.push(cache_library());
    out
}

/// `libonnxruntime.so*` (or the platform's equivalent) in `dir`, the unversioned name first.
fn libraries_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_library_name)
        })
        .collect();
    found.sort_by_key(|p| (p.as_os_str().len(), p.clone()));
    found
}

fn is_library_name(name: &str) -> bool {
    (name.starts_with("libonnxruntime.so") && !name.contains("providers"))
        || (name.starts_with("libonnxruntime") && name.ends_with(".dylib"))
        || name == "onnxruntime.dll"
}

/// `<vault-rag cache>/onnxruntime/<version>/<library>`, where `make setup` installs it.
pub fn cache_library() -> PathBuf {
    crate::source::vault_rag_cache()
        .join("onnxruntime")
        .join(ORT_VERSION)
        .join(library_file_name())
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names() {
        assert!(is_library_name("libonnxruntime.so"));
        assert!(is_library_name("libonnxruntime.so.1.31.1"));
        assert!(is_library_name("libonnxruntime.1.31.1.dylib"));
        assert!(is_library_name("onnxruntime.dll"));
        assert!(is_library_name(&library_file_name()));
        assert!(!is_library_name("onnxruntime_providers_shared.dll"));
        assert!(!is_library_name("libonnxruntime_providers_shared.so"));
        assert!(!is_library_name("libfoo.so"));
    }

    #[test]
    fn finds_libraries_next_to_a_file() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["libonnxruntime.so.1.31.1", "libonnxruntime.so", "other.so"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let found = libraries_in(dir.path());
        let names: Vec<_> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["libonnxruntime.so", "libonnxruntime.so.1.31.1"]);
    }

    #[test]
    fn cache_path_shape() {
        let p = cache_library();
        let want = Path::new("vault-rag")
            .join("onnxruntime")
            .join(ORT_VERSION)
            .join(library_file_name());
        assert!(p.ends_with(&want), "{}", p.display());
    }
}
