//! `vault-rag`: local semantic search for an Obsidian vault.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

#[derive(Parser)]
#[command(name = "vault-rag", version, about = "Local semantic search for an Obsidian vault")]
struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `vault_rag_index=debug`.
    #[arg(long, global = true, env = "VAULT_RAG_LOG", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed texts and print their vectors.
    Embed(cmd::embed::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let result = match cli.command {
        Command::Embed(args) => cmd::embed::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
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
