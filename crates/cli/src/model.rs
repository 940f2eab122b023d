//! The embedding model a command runs with: settings checked before anything else (a bad one is a
//! [`ConfigError`] with its own exit code), the model an existing index records used unless told
//! otherwise, and the first download, only with the user's consent and with progress.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vault_rag_core::{EmbedderFingerprint, Precision};
use vault_rag_embed::{DownloadProgress, ModelEntry, ModelSpec, DEFAULT_MODEL};
use vault_rag_index::IndexSettings;

use crate::settings::ModelArgs;

/// Exit code of a configuration error (sysexits' EX_CONFIG): retrying cannot help.
pub const EXIT_CONFIG: u8 = 78;
/// Exit code when the model must be downloaded and no one said it may be (EX_NOPERM).
pub const EXIT_DOWNLOAD_NEEDED: u8 = 77;

/// A setting that cannot work, named as the plugin's settings name it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    /// `model`, `dim`, `precision`, `modelDir` or `vault`.
    pub setting: &'static str,
    pub message: String,
}

impl ConfigError {
    /// The stdout line a supervisor reads before the process exits.
    pub fn event(&self) -> String {
        serde_json::json!({"event": "config_error", "setting": self.setting, "message": self.message})
            .to_string()
    }
}

/// The model is not on this machine and nobody agreed to download it.
#[derive(Debug, thiserror::Error)]
#[error(
    "the model `{model}` ({precision}) has not been downloaded yet.\n  Next step: run again with \
     --download to fetch it (about {mb} MB from huggingface.co/{repo}; licence: {licence}), or \
     pass --model-dir with a folder laid out like that repository"
)]
pub struct DownloadNeeded {
    pub model: String,
    pub precision: Precision,
    pub repo: String,
    pub mb: u32,
    pub licence: String,
    pub licence_url: String,
}

impl DownloadNeeded {
    pub fn new(entry: &ModelEntry, spec: &ModelSpec) -> Self {
        Self {
            model: entry.name.clone(),
            precision: spec.precision,
            repo: entry.repo.clone(),
            mb: entry.approx_download_mb(spec.precision),
            licence: entry.licence.clone(),
            licence_url: entry.licence_url.clone(),
        }
    }

    /// The stdout line the plugin turns into its consent question.
    pub fn event(&self) -> String {
        serde_json::json!({
            "event": "download_required",
            "model": self.model,
            "precision": self.precision.to_string(),
            "repo": self.repo,
            "approx_mb": self.mb,
            "licence": self.licence,
            "licence_url": self.licence_url,
        })
        .to_string()
    }
}

/// A checked model: the spec to load, its catalogue entry, and whether its files are here.
pub struct Checked {
    pub spec: ModelSpec,
    pub entry: ModelEntry,
    pub available: bool,
}

/// Resolves the spec (flags, else what the index records, else the defaults) and checks it
/// without loading anything: unknown model, width, missing folder, missing files in a folder.
pub fn check(args: &ModelArgs, index: Option<&IndexSettings>) -> anyhow::Result<Checked> {
    if let Some(settings) = index {
        if !settings.vault.is_dir() {
            return Err(ConfigError {
                setting: "vault",
                message: format!(
                    "the vault folder {} does not exist",
                    settings.vault.display()
                ),
            }
            .into());
        }
    }
    let recorded = match index {
        Some(settings) => vault_rag_index::recorded_embedder(settings).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the model the index records");
            None
        }),
        None => None,
    };
    let spec = resolve(args, recorded.as_ref());
    let entry = vault_rag_embed::lookup(&spec.model).map_err(|e| ConfigError {
        setting: "model",
        message: e.to_string(),
    })?;
    entry.resolve_dim(spec.dim).map_err(|e| ConfigError {
        setting: "dim",
        message: e.to_string(),
    })?;
    let available = match vault_rag_embed::locate(&entry, &spec) {
        Ok(_) => true,
        Err(e) => match &spec.model_dir {
            Some(dir) => {
                let other_precision = [Precision::Fp32, Precision::Int8, Precision::Q4]
                    .iter()
                    .filter(|&&p| p != spec.precision)
                    .flat_map(|&p| entry.files_for(p))
                    .any(|f| dir.join(f).is_file());
                let setting = if dir.is_dir() && other_precision {
                    "precision"
                } else {
                    "modelDir"
                };
                return Err(ConfigError {
                    setting,
                    message: e.to_string(),
                }
                .into());
            }
            None => false,
        },
    };
    Ok(Checked {
        spec,
        entry,
        available,
    })
}

/// Flags win; a flag left out takes the index's recorded value (same model only), then the
/// default. Says so when the flags mean embedding the whole index again.
fn resolve(args: &ModelArgs, recorded: Option<&EmbedderFingerprint>) -> ModelSpec {
    let model = args
        .model
        .clone()
        .or_else(|| recorded.map(|r| r.model.clone()))
        .unwrap_or_else(|| DEFAULT_MODEL.to_string());
    let same = recorded.filter(|r| r.model.eq_ignore_ascii_case(&model));
    let spec = ModelSpec {
        precision: args
            .precision
            .or(same.map(|r| r.precision))
            .unwrap_or(Precision::Int8),
        dim: args.dim.or(same.map(|r| r.dims)),
        model,
        ..args.to_spec()
    };
    if let Some(r) = recorded {
        let changed = same.is_none()
            || r.precision != spec.precision
            || spec.dim.is_some_and(|d| d != r.dims);
        if changed {
            eprintln!(
                "note: the index holds vectors of {} ({}, {} dims); with {} ({}{}) every note is \
                 embedded again",
                r.model,
                r.precision,
                r.dims,
                spec.model,
                spec.precision,
                spec.dim.map(|d| format!(", {d} dims")).unwrap_or_default()
            );
        }
    }
    spec
}

/// For commands that load the model now: checks, then downloads it when it is missing and the
/// user agreed (`--download`, or a yes on a terminal).
pub fn ready(args: &ModelArgs, index: Option<&IndexSettings>) -> anyhow::Result<ModelSpec> {
    let checked = check(args, index)?;
    if checked.available {
        return Ok(checked.spec);
    }
    let needed = DownloadNeeded::new(&checked.entry, &checked.spec);
    if !(args.download || ask(&needed)?) {
        return Err(needed.into());
    }
    download(
        &checked.entry,
        &checked.spec,
        &Arc::new(DownloadProgress::default()),
    )?;
    Ok(checked.spec)
}

/// On a terminal, asks whether to download; elsewhere the answer is no.
fn ask(needed: &DownloadNeeded) -> anyhow::Result<bool> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Ok(false);
    }
    eprint!(
        "The model `{}` ({}) is not on this machine yet. Download it now?\n  about {} MB from \
         huggingface.co/{}\n  licence: {} ({})\n[y/N] ",
        needed.model, needed.precision, needed.mb, needed.repo, needed.licence, needed.licence_url
    );
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer")?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Downloads with a progress bar on a terminal, a line every few seconds elsewhere.
pub fn download(
    entry: &ModelEntry,
    spec: &ModelSpec,
    progress: &Arc<DownloadProgress>,
) -> anyhow::Result<()> {
    let worker = {
        let (entry, spec, progress) = (entry.clone(), spec.clone(), progress.clone());
        std::thread::Builder::new()
            .name("vault-rag-download".into())
            .spawn(move || vault_rag_embed::download(&entry, &spec, &progress))
            .context("starting the download")?
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "downloading {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar
    });
    let mut last_line = Instant::now();
    while !worker.is_finished() {
        std::thread::sleep(Duration::from_millis(200));
        let (file, done, total) = progress.snapshot();
        match &bar {
            Some(bar) => {
                bar.set_prefix(file);
                bar.set_length(total);
                bar.set_position(done);
            }
            None if last_line.elapsed() >= Duration::from_secs(5) => {
                last_line = Instant::now();
                eprintln!("{}", progress_line(&file, done, total));
            }
            None => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let files = worker
        .join()
        .map_err(|_| anyhow::anyhow!("the download thread panicked"))??;
    let (_, done, _) = progress.snapshot();
    eprintln!(
        "model `{}` ready: {} ({:.0} MB)",
        entry.name,
        files.origin,
        done as f64 / 1e6
    );
    Ok(())
}

/// `downloading onnx/model.onnx_data: 37 % (120 of 330 MB)`.
pub fn progress_line(file: &str, done: u64, total: u64) -> String {
    let percent = (done * 100).checked_div(total).unwrap_or(0);
    format!(
        "downloading {file}: {percent} % ({:.0} of {:.0} MB)",
        done as f64 / 1e6,
        total as f64 / 1e6
    )
}
