//! `vault-rag serve --vault VAULT`: the HTTP API for the plugin, scripts and agents.
//!
//! Checks the settings (a bad one prints `{"event":"config_error",...}` and exits with code 78; a
//! model that is not here and may not be downloaded prints `{"event":"download_required",...}`
//! and exits with 77), binds the port and prints `{"event":"listening","port":N}`. With
//! `--download` and no model yet, `/health` reports the download while it runs. Then it opens
//! the index (one server per index: the index lock) with the model loading in the background and
//! starts indexing and watching. A model that fails to load stops the server with its error. Stops on SIGTERM/SIGINT (and on stdin EOF with
//! `--exit-on-stdin-close`): requests in flight finish, then the indexer commits its batch.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use vault_rag_core::{EmbedderFingerprint, ModelState};
use vault_rag_embed::DownloadProgress;
use vault_rag_server::agent_token::read_or_create_token_file;
use vault_rag_server::{
    listening_line, AccessSettings, AgentToken, ApiSettings, ConnectionLimits, Limits, Listener,
    PendingBackend, ServeSettings, AGENT_TOKEN_FILE,
};

use crate::bridge::ServiceFile;
use crate::model::{Checked, ConfigError, DownloadNeeded};
use crate::settings::{LlmArgs, ModelArgs, VaultArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub vault: VaultArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub llm: LlmArgs,
    /// Address to listen on. Anything but loopback needs a token (never with --no-token).
    #[arg(long, env = "VAULT_RAG_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one (printed on stdout).
    #[arg(long, env = "VAULT_RAG_PORT", default_value_t = 0)]
    pub port: u16,
    /// Exit when stdin closes (for a parent process that supervises the server).
    #[arg(long)]
    pub exit_on_stdin_close: bool,
    /// Also allow this browser `Origin` (besides app://obsidian.md). Repeatable.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// Also accept this name in the `Host` header (besides 127.0.0.1, localhost, [::1]). Repeatable.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
    /// Answer without a bearer token. Anyone on this machine can then search the vault and
    /// read its notes through the API: only for a machine no one else uses. By default a token
    /// is required: VAULT_RAG_TOKEN, else `<data dir>/token` (made on first start, readable only
    /// by you).
    #[arg(long)]
    pub no_token: bool,
    /// Seconds after which a request is answered with a `timeout` error.
    #[arg(long, env = "VAULT_RAG_REQUEST_TIMEOUT", default_value_t = 120)]
    pub request_timeout: u64,
    /// Open connections at most; at the cap, the connection idle longest is closed for a new one.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_connections: u32,
    /// Seconds a client may take to send a request's headers (also the keep-alive idle timeout).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
}

/// Name of the token file in the data dir (used when VAULT_RAG_TOKEN is not set).
const TOKEN_FILE: &str = "token";

pub fn run(mut args: Args) -> anyhow::Result<()> {
    // A service indexes while the user works: in the background unless told otherwise.
    args.vault
        .index_priority
        .get_or_insert(vault_rag_index::IndexPriority::Background);
    let settings = args.vault.to_settings()?;
    // Settings first: a supervisor must learn of a bad one at once, and not retry it.
    let checked = match crate::model::check(&args.model, Some(&settings)) {
        Ok(checked) => checked,
        Err(err) => {
            if let Some(config) = err.downcast_ref::<ConfigError>() {
                print_event(&config.event())?;
            }
            return Err(err);
        }
    };
    if !checked.available && !args.model.download {
        let needed = DownloadNeeded::new(&checked.entry, &checked.spec);
        print_event(&needed.event())?;
        return Err(needed.into());
    }
    let data_dir = settings.resolve_data_dir()?;
    let token = load_token(&data_dir, args.no_token)?;
    // Agents get their own token, which opens only /mcp; none when nothing needs a token.
    let agent_token = match token {
        Some(_) => Some(Arc::new(
            AgentToken::load_or_create(&data_dir).with_context(|| {
                format!(
                    "reading the agent token {}",
                    data_dir.join(AGENT_TOKEN_FILE).display()
                )
            })?,
        )),
        None => None,
    };
    let llm = args.llm.settings()?;
    let serve_settings = ServeSettings {
        host: args.host,
        port: args.port,
        api: ApiSettings {
            limits: Limits {
                request_timeout: Duration::from_secs(args.request_timeout.max(1)),
                ..Limits::default()
            },
            access: AccessSettings {
                token,
                agent_token,
                allowed_origins: AccessSettings::default()
                    .allowed_origins
                    .into_iter()
                    .chain(args.allow_origins)
                    .collect(),
                extra_hosts: args.allow_hosts,
            },
            llm,
        },
        limits: ConnectionLimits {
            max_connections: args.max_connections as usize,
            header_timeout: Duration::from_secs(args.header_timeout),
        },
        ..ServeSettings::default()
    };
    if !serve_settings.host.is_loopback() && serve_settings.api.access.token.is_none() {
        anyhow::bail!(
            "refusing to listen on {} without a token: leave out --no-token (a token is then \
             required, VAULT_RAG_TOKEN or the one in {})",
            serve_settings.host,
            data_dir.join(TOKEN_FILE).display()
        );
    }
    let runtime = runtime()?;
    // Bind before loading the model: a taken port fails in milliseconds, without touching the index.
    let listener = runtime.block_on(Listener::bind(serve_settings))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watch_stdin = args.exit_on_stdin_close;
    runtime.spawn(async move {
        shutdown_signal(watch_stdin).await;
        let _ = stop_tx.send(true);
    });
    let port = listener.local_addr().port();
    if !checked.available {
        // The one stdout line a supervisor waits for (logs go to stderr): before the download,
        // so that it sees the progress on `/health`.
        print_event(&listening_line(port))?;
        tracing::info!(port, "listening; downloading the model first");
        let stopped = runtime.block_on(serve_while_downloading(
            &listener,
            &checked,
            stop_rx.clone(),
        ))?;
        if stopped {
            return Ok(());
        }
    }
    // The model session loads in the background: the index opens and the port answers at once
    // (`/health` says `model_loaded: false`, lexical search works, embedding calls wait).
    let (engine, embedder) = crate::open::start(settings, &checked.spec)?;
    engine
        .start_background()
        .context("starting background indexing")?;
    // Holding the index now: agents' `vault-rag mcp` on this vault forward to this process.
    let _service_file = ServiceFileGuard::write(&data_dir, port);
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<String>();
    std::thread::Builder::new()
        .name("vault-rag-model".into())
        .spawn(move || {
            if let Err(err) = embedder.wait_ready() {
                let _ = failed_tx.send(err.to_string());
            }
        })
        .context("starting the model loader")?;
    let model_failed = async move {
        match failed_rx.await {
            Ok(message) => tracing::error!("the embedding model failed to load: {message}"),
            // The loader finished without error: never stop for this reason.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    if checked.available {
        // After the index opened: a second server on the same index fails before this line.
        print_event(&listening_line(port))?;
        tracing::info!(port, "listening");
    }
    let mut stop = stop_rx;
    let served = runtime.block_on(async {
        listener
            .serve(engine.clone(), async move {
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => {}
                    () = model_failed => {}
                }
            })
            .await?;
        anyhow::Ok(())
    });
    // Requests are done; let the indexer commit what it holds, even when serving failed.
    tracing::info!("stopping the indexer");
    engine.shutdown();
    runtime.shutdown_timeout(Duration::from_secs(5));
    if let ModelState::Failed { message } = engine.embedder().state() {
        let model = &engine.embedder().fingerprint().model;
        anyhow::bail!("loading the embedding model `{model}`: {message}");
    }
    served
}

/// `<data dir>/service.json` for the life of the service ([`crate::bridge`]).
struct ServiceFileGuard(Option<std::path::PathBuf>);

impl ServiceFileGuard {
    fn write(data_dir: &std::path::Path, port: u16) -> Self {
        let file = ServiceFile {
            pid: std::process::id(),
            port,
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        match file.write(data_dir) {
            Ok(()) => Self(Some(data_dir.to_path_buf())),
            Err(e) => {
                // Agents then start their own read-only server: slower, still correct.
                tracing::warn!(error = %e, "cannot write the service file for agents");
                Self(None)
            }
        }
    }
}

impl Drop for ServiceFileGuard {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            ServiceFile::remove(dir);
        }
    }
}

fn print_event(line: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .context("writing to stdout")
}

/// Fetches the model while a stand-in backend answers `/health` with the download's progress.
/// Returns true when a shutdown came first; a failed download is the error.
async fn serve_while_downloading(
    listener: &Listener,
    checked: &Checked,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<bool> {
    let progress = Arc::new(DownloadProgress::default());
    let failure = Arc::new(parking_lot::Mutex::new(None::<String>));
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    {
        let (entry, spec, progress) = (
            checked.entry.clone(),
            checked.spec.clone(),
            progress.clone(),
        );
        std::thread::Builder::new()
            .name("vault-rag-download".into())
            .spawn(move || {
                let _ = done_tx.send(vault_rag_embed::download(&entry, &spec, &progress));
            })
            .context("starting the download")?;
    }
    let state = {
        let (progress, failure) = (progress.clone(), failure.clone());
        move || match failure.lock().clone() {
            Some(message) => ModelState::Failed { message },
            None => {
                let (file, bytes_done, bytes_total) = progress.snapshot();
                ModelState::Downloading {
                    file,
                    bytes_done,
                    bytes_total,
                }
            }
        }
    };
    let backend = Arc::new(PendingBackend::new(pending_fingerprint(checked), state));
    let (phase_tx, phase_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = listener.serve_for(backend, async move {
        let _ = phase_rx.await;
    });
    tokio::pin!(serving);
    let mut last_line = std::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut done_rx = done_rx;
    let outcome = loop {
        tokio::select! {
            result = &mut serving => {
                result?;
                anyhow::bail!("the server stopped while the model was downloading");
            }
            _ = stop.wait_for(|s| *s) => break None,
            result = &mut done_rx => break Some(result),
            _ = tick.tick() => {
                // Periodic lines in the log, which the plugin shows.
                if last_line.elapsed() >= Duration::from_secs(10) {
                    last_line = std::time::Instant::now();
                    let (file, done, total) = progress.snapshot();
                    tracing::info!("{}", crate::model::progress_line(&file, done, total));
                }
            }
        }
    };
    let _ = phase_tx.send(());
    serving.await?;
    match outcome {
        None => Ok(true),
        Some(Ok(Ok(files))) => {
            tracing::info!(from = %files.origin, "model downloaded");
            Ok(false)
        }
        Some(Ok(Err(err))) => {
            *failure.lock() = Some(err.to_string());
            Err(err.into())
        }
        Some(Err(_)) => anyhow::bail!("the download thread stopped without a result"),
    }
}

/// What `/health` shows of the model before its files are here.
fn pending_fingerprint(checked: &Checked) -> EmbedderFingerprint {
    let entry = &checked.entry;
    EmbedderFingerprint {
        model: entry.name.clone(),
        file: String::new(),
        precision: checked.spec.precision,
        dims: entry
            .resolve_dim(checked.spec.dim)
            .unwrap_or(entry.default_dim),
        query_prompt: entry.query_prompt.clone(),
        document_prompt: entry.document_prompt.clone(),
        pooling: entry.pooling.describe(),
        max_tokens: entry.max_tokens,
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vault-rag-http")
        .build()
        .context("starting the async runtime")
}

/// The token: VAULT_RAG_TOKEN, else `<data dir>/token`, made with a fresh random value (0600)
/// when missing; `None` only with `--no-token`.
fn load_token(data_dir: &Path, no_token: bool) -> anyhow::Result<Option<String>> {
    if let Ok(token) = std::env::var("VAULT_RAG_TOKEN") {
        let token = token.trim().to_string();
        if !token.is_empty() {
            return Ok(Some(token));
        }
    }
    if no_token {
        tracing::warn!("--no-token: anyone on this machine can search the vault through the API");
        return Ok(None);
    }
    let file = data_dir.join(TOKEN_FILE);
    let (token, made) = read_or_create_token_file(&file)
        .with_context(|| format!("reading or writing the token file {}", file.display()))?;
    if made {
        eprintln!(
            "API token written to {} (readable only by you); send it as `Authorization: Bearer <token>`",
            file.display()
        );
    }
    Ok(Some(token))
}

/// Completes on SIGTERM, SIGINT, or (when asked) EOF on stdin.
async fn shutdown_signal(watch_stdin: bool) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<&'static str>(4);
    if watch_stdin {
        let tx = tx.clone();
        // A plain thread: blocking reads on stdin cannot be cancelled, and the process exits
        // after shutdown anyway.
        let spawned = std::thread::Builder::new()
            .name("vault-rag-stdin".into())
            .spawn(move || {
                let mut stdin = std::io::stdin().lock();
                let mut buf = [0u8; 1024];
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) => break,
                        Ok(_) => continue,
                        Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    }
                }
                let _ = tx.blocking_send("stdin closed");
            });
        if let Err(err) = spawned {
            tracing::error!("cannot watch stdin: {err}");
        }
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        for (kind, name) in [
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::interrupt(), "SIGINT"),
        ] {
            match signal(kind) {
                Ok(mut stream) => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        if stream.recv().await.is_some() {
                            let _ = tx.send(name).await;
                        }
                    });
                }
                Err(err) => tracing::error!("cannot handle {name}: {err}"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let tx = tx.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = tx.send("Ctrl-C").await;
            }
        });
    }
    drop(tx);
    match rx.recv().await {
        Some(reason) => tracing::info!("shutting down: {reason}"),
        None => std::future::pending::<()>().await,
    }
}
