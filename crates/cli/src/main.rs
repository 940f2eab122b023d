//! `vault-rag`: local semantic search for an Obsidian vault.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bridge;
mod cmd;
mod model;
mod note_arg;
mod open;
mod settings;

#[derive(Parser)]
#[command(
    name = "vault-rag",
    version,
    about = "Local semantic search for an Obsidian vault"
)]
struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `vault_rag_index=debug`.
    #[arg(long, global = true, env = "VAULT_RAG_LOG", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Answer a question from the vault's notes with a local (or hosted) chat model, citing the
    /// notes it used.
    Ask(Box<cmd::ask::Args>),
    /// Embed texts and print their vectors.
    Embed(cmd::embed::Args),
    /// Measure retrieval quality on a BEIR dataset or on known-item queries from a vault, or how
    /// well `ask` grounds its answers (--ask).
    Eval(Box<cmd::eval::Args>),
    /// Bring a vault's index up to date (only new and changed notes are embedded).
    Index(Box<cmd::index::Args>),
    /// Show what a vault's index holds, what is pending and which notes could not be indexed.
    Status(Box<cmd::status::Args>),
    /// Search a vault (hybrid dense + BM25 by default); the index is updated first.
    Search(Box<cmd::search::Args>),
    /// List the notes most similar to a note.
    Similar(Box<cmd::similar::Args>),
    /// Serve the HTTP API on loopback (with a bearer token when one is set) while indexing in the
    /// background.
    Serve(Box<cmd::serve::Args>),
    /// Serve MCP tools (search_notes, similar_notes, read_note, list_notes, gather_context) on stdio.
    Mcp(Box<cmd::mcp::Args>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log);
    if !matches!(cli.command, Command::Serve(_) | Command::Mcp(_)) {
        restore_sigpipe();
    }
    let result = match cli.command {
        Command::Ask(args) => cmd::ask::run(*args),
        Command::Embed(args) => cmd::embed::run(args),
        Command::Eval(args) => cmd::eval::run(*args),
        Command::Index(args) => cmd::index::run(*args),
        Command::Status(args) => cmd::status::run(*args),
        Command::Search(args) => cmd::search::run(*args),
        Command::Similar(args) => cmd::similar::run(*args),
        Command::Serve(args) => cmd::serve::run(*args),
        Command::Mcp(args) => cmd::mcp::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.downcast_ref::<model::ConfigError>().is_some() {
                ExitCode::from(model::EXIT_CONFIG)
            } else if err.downcast_ref::<model::DownloadNeeded>().is_some() {
                ExitCode::from(model::EXIT_DOWNLOAD_NEEDED)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Output piped into `head` ends quietly, as with other command-line tools, instead of a panic
/// on the closed pipe. Not for the servers, whose sockets must never end the process.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called before any other thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Logs go to stderr so that stdout stays machine-readable (JSON lines, vectors, tables).
fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
