//! The indexing thread's loop: queued jobs one at a time (bursts of file events merged), and
//! notes whose read failed tried again after growing pauses.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::indexer::Indexer;
use crate::watcher::{coalesce, Job};

/// Pauses between tries of notes that could not be read: doubling up to a minute.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(60);

/// The indexing thread: runs queued jobs one at a time, merging bursts. Notes whose read failed
/// (too many open files, an I/O error) are tried again after growing pauses until they read;
/// meanwhile the index does not count as complete.
pub(crate) fn run_jobs(core: &Indexer, complete: &AtomicBool, rx: &Receiver<Job>) {
    let mut retry: Vec<String> = Vec::new();
    let mut pause = FIRST_RETRY;
    let mut full_done = false;
    loop {
        let first = if retry.is_empty() {
            match rx.recv() {
                Ok(job) => job,
                Err(_) => break,
            }
        } else {
            match rx.recv_timeout(pause) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    pause = (pause * 2).min(LAST_RETRY);
                    tracing::info!(
                        notes = retry.len(),
                        "trying again to read notes that failed"
                    );
                    Job::Paths(
                        retry
                            .iter()
                            .map(|p| core.vault().join(p))
                            .filter(|p| p.exists())
                            .collect(),
                    )
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        };
        if core.control().is_stopped() {
            break;
        }
        let job = coalesce(first, rx.try_iter());
        if !core.vault().is_dir() {
            // The folder is gone (deleted, unmounted, renamed away): its notes are not deleted
            // from the index. The guard queues a full pass when it is back.
            tracing::debug!("the vault folder is missing: nothing to index now");
            continue;
        }
        let full = !matches!(job, Job::Paths(_));
        let touched: Vec<String> = match &job {
            Job::Paths(paths) => paths
                .iter()
                .filter_map(|p| p.strip_prefix(core.vault()).ok())
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .collect(),
            _ => Vec::new(),
        };
        let result = match job {
            Job::Reconcile => core.reconcile(&|_| {}),
            Job::Rebuild => core.invalidate_all().and_then(|()| core.reconcile(&|_| {})),
            Job::Paths(paths) => core.apply_paths(&paths, &|_| {}),
        };
        match result {
            Ok(summary) => {
                if full && !summary.interrupted {
                    full_done = true;
                }
                // A full pass sees every note; a partial one only the paths it was given.
                if full {
                    retry.clear();
                } else {
                    retry.retain(|p| !touched.contains(p));
                }
                retry.extend(summary.retrying.iter().cloned());
                retry.sort();
                retry.dedup();
                if retry.is_empty() {
                    pause = FIRST_RETRY;
                }
                complete.store(full_done && retry.is_empty(), Relaxed);
                tracing::debug!(?summary, "indexing pass done");
            }
            Err(e) => {
                tracing::error!(error = %e, "indexing pass failed; searches use the last committed state")
            }
        }
    }
}
