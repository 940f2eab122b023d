//! `vault-rag status VAULT`: what the index holds, what is pending, and which notes could not be
//! indexed. Reads the index without a model and without taking its lock.

use std::io::Write;

use serde::Serialize;
use vault_rag_embed::ProcessMemory;
use vault_rag_index::{stored_status, StoredStatus};

use crate::settings::{ModelArgs, VaultArgs};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// Print the status as one JSON object on standard output.
    #[arg(long)]
    pub json: bool,
    /// Accepted like the other commands' model flags: `status` loads no model, and says when the
    /// index holds vectors of another one.
    #[command(flatten)]
    pub model: ModelArgs,
}

/// The status plus the memory of the process serving the index, when one does.
#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    status: &'a StoredStatus,
    server_memory: Option<ServerMemory>,
}

#[derive(Debug, Serialize, PartialEq)]
struct ServerMemory {
    pid: u32,
    /// Resident now (`VmRSS`), MiB.
    rss_mb: f64,
    /// Highest resident since it started (`VmHWM`), MiB.
    rss_peak_mb: f64,
}

impl ServerMemory {
    /// Read from `/proc/<pid>/status`; `None` when the process is gone or `/proc` is missing.
    fn of(pid: u32) -> Option<Self> {
        ProcessMemory::of_process(pid).map(|m| Self {
            pid,
            rss_mb: m.rss_mib(),
            rss_peak_mb: m.peak_mib(),
        })
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let status = stored_status(&args.vault.to_settings()?)?;
    if let (Some(wanted), Some(held)) = (&args.model.model, &status.model) {
        if !held.model.eq_ignore_ascii_case(wanted) {
            eprintln!(
                "note: the index holds vectors of {}, not {wanted}; commands with --model {wanted} \
                 embed every note again",
                held.model
            );
        }
    }
    let server_memory = status.in_use_by.flatten().and_then(ServerMemory::of);
    if args.json {
        let mut out = std::io::stdout().lock();
        let report = Report {
            status: &status,
            server_memory,
        };
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_status(&status, server_memory.as_ref());
    }
    Ok(())
}

fn print_status(s: &StoredStatus, memory: Option<&ServerMemory>) {
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
        Some(Some(pid)) => match memory {
            Some(m) => println!(
                "in use:  by vault-rag process {pid} ({:.1} MiB resident, {:.1} MiB at peak)",
                m.rss_mb, m.rss_peak_mb
            ),
            None => println!("in use:  by vault-rag process {pid}"),
        },
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

#[cfg(test)]
mod tests {
    use super::ServerMemory;

    #[test]
    fn reads_the_memory_of_a_live_process_only() {
        let me = ServerMemory::of(std::process::id()).expect("/proc on Linux");
        assert!(me.rss_mb > 1.0 && me.rss_peak_mb >= me.rss_mb, "{me:?}");
        assert_eq!(ServerMemory::of(u32::MAX), None);
    }
}
