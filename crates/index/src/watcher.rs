//! Live updates: file events from `notify`, debounced, turned into jobs for the indexing thread.
//!
//! Events only name paths; what a path means (a note, a folder, something gone) is decided when
//! the job runs, by the same code as a full pass ([`crate::indexer::IndexCore::apply_paths`]).
//! An overflowed event queue, or a change to Obsidian's `app.json` (excluded files), asks for a
//! full pass instead. Watcher errors are logged; the index keeps working without live updates.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crossbeam_channel::Sender;
use notify::RecursiveMode;
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};

use crate::error::IndexError;

/// Work for the indexing thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Job {
    /// A full pass.
    Reconcile,
    /// Forget every note's state, then a full pass.
    Rebuild,
    /// Re-check these absolute paths.
    Paths(Vec<PathBuf>),
}

/// A running watcher; events stop when it is dropped.
pub struct VaultWatcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

impl VaultWatcher {
    /// Watches `vault` (canonical) recursively and sends jobs to `jobs`. `app_json` is the path of
    /// Obsidian's `app.json`, whose change triggers a full pass.
    pub(crate) fn start(
        vault: &Path,
        app_json: PathBuf,
        debounce: Duration,
        jobs: Sender<Job>,
    ) -> Result<Self, IndexError> {
        let vault_err = |source| IndexError::Watcher {
            path: vault.to_path_buf(),
            source,
        };
        let handler = move |result: DebounceEventResult| match result {
            Ok(events) => {
                let mut rescan = false;
                let mut paths = Vec::new();
                for event in events {
                    rescan |= event.need_rescan();
                    if changes_files(&event.event.kind) {
                        paths.extend(event.event.paths);
                    }
                }
                rescan |= paths.iter().any(|p| p == &app_json);
                let job = if rescan {
                    Job::Reconcile
                } else if paths.is_empty() {
                    return;
                } else {
                    Job::Paths(paths)
                };
                // The receiver is gone only while shutting down.
                let _ = jobs.send(job);
            }
            Err(errors) => {
                for e in errors {
                    tracing::warn!(error = %e, "file watcher error");
                }
            }
        };
        let mut debouncer = new_debouncer(debounce, None, handler).map_err(vault_err)?;
        debouncer
            .watch(vault, RecursiveMode::Recursive)
            .map_err(vault_err)?;
        Ok(Self {
            _debouncer: debouncer,
        })
    }
}

/// Whether an event can mean a changed note. Reads are not changes: inotify reports every
/// open and close, including the indexer's own reads, and counting them would make each pass
/// that reads a note queue another one (forever, while a pass keeps failing).
fn changes_files(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Merges queued jobs: a full pass makes path jobs redundant; a rebuild wins over everything.
pub(crate) fn coalesce(first: Job, more: impl Iterator<Item = Job>) -> Job {
    let mut job = first;
    for next in more {
        job = match (job, next) {
            (Job::Rebuild, _) | (_, Job::Rebuild) => Job::Rebuild,
            (Job::Reconcile, _) | (_, Job::Reconcile) => Job::Reconcile,
            (Job::Paths(mut a), Job::Paths(b)) => {
                a.extend(b);
                Job::Paths(a)
            }
        };
    }
    job
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_not_changes() {
        use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind};
        assert!(!changes_files(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!changes_files(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(changes_files(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(changes_files(&EventKind::Modify(ModifyKind::Any)));
        assert!(changes_files(&EventKind::Create(CreateKind::File)));
    }

    #[test]
    fn coalescing_keeps_the_strongest_job() {
        let p = |s: &str| Job::Paths(vec![PathBuf::from(s)]);
        assert_eq!(
            coalesce(p("a"), [p("b")].into_iter()),
            Job::Paths(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            coalesce(p("a"), [Job::Reconcile, p("b")].into_iter()),
            Job::Reconcile
        );
        assert_eq!(
            coalesce(Job::Reconcile, [Job::Rebuild].into_iter()),
            Job::Rebuild
        );
    }
}
