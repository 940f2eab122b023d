//! `vault-rag similar VAULT path/to/note.md`: the notes most related to a note.

use std::io::{IsTerminal, Write};

use vault_rag_index::SimilarRequest;

use crate::cmd::search::{open_updated, print_table};
use crate::settings::{ModelArgs, VaultArgs};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The note: its path in the vault (`Projects/Plan.md`, `.md` optional), its full path, or
    /// its title.
    // Optional for clap only (the vault before it is optional with `--vault`); `run` reports a
    // missing note.
    #[arg(value_name = "NOTE")]
    pub note: Option<String>,
    /// Number of notes to return (1-100).
    #[arg(long, short = 'k', default_value_t = 10)]
    pub top_k: usize,
    /// Leave out notes the note already links to.
    #[arg(long)]
    pub exclude_linked: bool,
    /// Print the response as one JSON object on standard output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let Some(note) = args.note.as_deref() else {
        anyhow::bail!("no note given: vault-rag similar VAULT path/to/note.md (or a note title)");
    };
    let path = crate::note_arg::resolve(args.vault.vault_path()?, note)?;
    let engine = open_updated(&args.vault, &args.model)?;
    let response = engine.similar(&SimilarRequest {
        path: path.clone(),
        top_k: args.top_k,
        exclude_linked: args.exclude_linked,
    })?;
    engine.shutdown();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &response)?;
        writeln!(out)?;
    } else {
        let title = format!("notes similar to {path}");
        print_table(&mut out, &title, &response, std::io::stdout().is_terminal())?;
    }
    Ok(())
}
