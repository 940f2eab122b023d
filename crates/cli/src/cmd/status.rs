//! `vault-rag status VAULT`: what the index holds, what is pending, and which notes could not be
//! indexed. Reads the index without a model and without taking its lock.

use std::io::Write;

use vault_rag_index::status::{stored_status, StoredStatus};

use crate::settings::VaultArgs;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// Print the status as one JSON object on standard output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let status = stored_status(&args.vault.to_settings()?)?;
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, &status)?;
        writeln!(out)?;
    } else {
        print_status(&status);
    }
    Ok(())
}

fn print_status(s: &StoredStatus) {
    println!("vault:   {}", s.vault.display());
    println!(
        "index:   {} ({:.1} MB, schema version {})",
        s.index_path.display(),
        s.index_size_bytes as f64 / 1e6,
        s.schema_version
    );
    match &s.model {
        Some(m) => println!(
            "model:   {} ({}, {} dims, {}, fingerprint {})",
            m.model,
            m.precision,
            m.dims,
            m.file,
            s.fingerprint.as_deref().unwrap_or("?")
        ),
        None => println!("model:   unknown"),
    }
    println!(
        "content: {} notes, {} chunks, {} vectors",
        s.notes_indexed, s.chunks, s.vectors
    );
    let p = &s.pending;
    if s.complete {
        println!("state:   up to date");
    } else {
        println!(
            "state:   pending: {} new, {} changed, {} deleted notes; {} chunks without a vector",
            p.new, p.changed, p.deleted, s.vectors_missing
        );
    }
    match s.in_use_by {
        Some(Some(pid)) => println!("in use:  by vault-rag process {pid}"),
        Some(None) => println!("in use:  by another vault-rag process"),
        None => {}
    }
    if !s.failures.is_empty() {
        println!("problems ({}):", s.failures.len());
        for f in &s.failures {
            println!("  {}: {}", f.path, f.reason);
        }
    }
}
