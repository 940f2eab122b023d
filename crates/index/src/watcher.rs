//! Live updates: file events from `notify`, debounced, turned into jobs for the indexing thread.
//!
//! Events only name paths; what a path means (a note, a folder, something gone) is decided when
//! the job runs, by the same code as a full pass ([`crate::indexer::Indexer::apply_paths`]).
//! An overflowed event queue, or a change to Obsidian's `app.json` (excluded files), asks for a
//! full pass instead. Watcher errors are logged; the index keeps working without live updates.
//!
//! [`LiveUpdates`] keeps the watcher alive across the vault folder itself going away: deleted and
//! re-created, or renamed away and back, the folder's watch is dead (it followed the old inode),
//! so a guard thread checks the folder's identity every second, says so in the status and the
//! log while it is gone, and re-arms the watcher (with a full pass to catch up) once it is back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender};
use notify::RecursiveMode;
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};
use parking_lot::Mutex;
use serde::Serialize;

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

/// Whether file events reach the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveState {
    /// Watching the vault: changes are indexed as they happen.
    On,
    /// No live updates (the watcher could not start, or the index is opened read-only).
    Off,
    /// The vault folder is gone; live updates resume when it is back.
    VaultMissing,
}

impl LiveState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::On,
            2 => Self::VaultMissing,
            _ => Self::Off,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            Self::On => 0,
            Self::Off => 1,
            Self::VaultMissing => 2,
        }
    }
}

/// The folder's identity: device and inode where the platform has them, else only that it is
/// a folder.
fn identity(vault: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(vault).ok().filter(|m| m.is_dir())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Some((0, 0))
    }
}

/// A watcher that follows the vault folder through deletion, re-creation and renames back.
pub(crate) struct LiveUpdates {
    state: Arc<AtomicU8>,
    stop: Option<Sender<()>>,
    guard: Option<JoinHandle<()>>,
}

impl LiveUpdates {
    /// Starts the watcher and its guard; `check` is how often the folder is looked at.
    pub(crate) fn start(
        vault: PathBuf,
        app_json: PathBuf,
        debounce: Duration,
        jobs: Sender<Job>,
        check: Duration,
    ) -> Self {
        let arm = {
            let (vault, jobs) = (vault.clone(), jobs.clone());
            move || match VaultWatcher::start(&vault, app_json.clone(), debounce, jobs.clone()) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::error!(error = %e, "live updates are off");
                    None
                }
            }
        };
        let watcher = Mutex::new(arm());
        let state = Arc::new(AtomicU8::new(match watcher.lock().is_some() {
            true => LiveState::On.as_u8(),
            false => LiveState::Off.as_u8(),
        }));
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let shared = state.clone();
        let guard = std::thread::Builder::new()
            .name("vault-rag-vault-guard".into())
            .spawn(move || {
                let mut seen = identity(&vault);
                // A message or a closed channel both mean: stop.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(check) {
                    let now = identity(&vault);
                    if now == seen {
                        continue;
                    }
                    // The old watch followed the old folder: drop it either way.
                    drop(watcher.lock().take());
                    match now {
                        None => {
                            tracing::warn!(
                                vault = %vault.display(),
                                "the vault folder is gone: live updates are paused until it is back; the index is kept"
                            );
                            shared.store(LiveState::VaultMissing.as_u8(), Ordering::Release);
                        }
                        Some(_) => {
                            let armed = arm();
                            let state = if armed.is_some() { LiveState::On } else { LiveState::Off };
                            *watcher.lock() = armed;
                            shared.store(state.as_u8(), Ordering::Release);
                            tracing::info!(
                                vault = %vault.display(),
                                "the vault folder is back: live updates are on again, catching up"
                            );
                            let _ = jobs.send(Job::Reconcile);
                        }
                    }
                    seen = now;
                }
            });
        let guard = match guard {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the vault folder guard");
                state.store(LiveState::Off.as_u8(), Ordering::Release);
                None
            }
        };
        Self {
            state,
            stop: Some(stop),
            guard,
        }
    }

    pub(crate) fn state(&self) -> LiveState {
        LiveState::from_u8(self.state.load(Ordering::Acquire))
    }
}

impl Drop for LiveUpdates {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(guard) = self.guard.take() {
            let _ = guard.join();
        }
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
