//! The clean-close seal: a small file beside the index (`index.sqlite.sealed`), written when the
//! index closes cleanly, that lets the next open skip SQLite's `quick_check`. That check reads
//! every page of the file (about 3 s warm, most of a 17.7 s cold start, for the 1.1 GB index of
//! a 100,000-note vault), yet after a clean close nothing has happened to the file that the
//! check could find, unless something else wrote to it since.
//!
//! So the seal records the file's identity at close: size and modification time, and on Unix
//! its inode and status-change time (which no program can set back). It vouches for the file
//! only when all of them are unchanged, no write-ahead log holds frames, and the last full check
//! is less than [`RECHECK_AFTER`] old. A modification made in the same clock tick as our last
//! write would leave the times equal, so the seal is only kept when its own modification time
//! is later than the index's: any later write then moves the index's time past the recorded one.
//!
//! The seal is removed at every writable open, before SQLite touches the file: a crash later
//! leaves no seal, and the next open checks. A file in which SQLite reported damage while open
//! is not sealed either.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::damage::with_suffix;

/// The longest a sealed file goes without a full `quick_check`: damage from the disk itself
/// (which changes no time stamp) is found within this much time.
const RECHECK_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// How many times, 10 ms apart, closing tries to write a seal in a later clock tick than the
/// index's last write (file systems with coarse times, e.g. 2 s on FAT, then get no seal).
const TICK_TRIES: u32 = 5;

/// Index files in which SQLite reported damage in this process: they are not sealed.
static DAMAGED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Records that SQLite reported damage in `index` (its next open runs the full check).
pub(crate) fn damage_seen(index: &Path) {
    let mut damaged = DAMAGED.lock();
    if !damaged.iter().any(|p| p == index) {
        damaged.push(index.to_path_buf());
    }
}

/// The damaged file at `index` was moved aside: a new one there may be sealed again.
pub(crate) fn damage_moved(index: &Path) {
    DAMAGED.lock().retain(|p| p != index);
}

/// What identifies the file's state; equal identities mean nothing wrote to it in between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Identity {
    len: u64,
    modified_ns: u128,
    /// Unix only: the inode and the status-change time (0 elsewhere).
    inode: u64,
    changed_ns: i128,
}

#[derive(Debug, Serialize, Deserialize)]
struct Seal {
    file: Identity,
    /// Unix seconds of the last `quick_check` that passed.
    checked_at: u64,
}

fn seal_path(index: &Path) -> PathBuf {
    with_suffix(index, ".sealed")
}

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// Unix seconds now.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn identity(path: &Path) -> Option<Identity> {
    let meta = std::fs::metadata(path).ok()?;
    let modified_ns = nanos(meta.modified().ok()?);
    #[cfg(unix)]
    let (inode, changed_ns) = {
        use std::os::unix::fs::MetadataExt;
        (
            meta.ino(),
            i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        )
    };
    #[cfg(not(unix))]
    let (inode, changed_ns) = (0, 0);
    Some(Identity {
        len: meta.len(),
        modified_ns,
        inode,
        changed_ns,
    })
}

/// Whether the write-ahead log holds frames (a clean close removes it or leaves it empty).
fn log_has_frames(index: &Path) -> bool {
    std::fs::metadata(with_suffix(index, "-wal")).is_ok_and(|m| m.len() > 0)
}

/// Takes the seal of `index` away and returns when the last full check passed, if the seal
/// still vouches for the file as it is now. Always leaves no seal behind.
pub(crate) fn take(index: &Path) -> Option<u64> {
    let path = seal_path(index);
    let text = std::fs::read(&path).ok();
    let sealed_at = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    if text.is_some() {
        if let Err(e) = std::fs::remove_file(&path) {
            // A seal that cannot be removed could outlive a crash: do not trust it.
            tracing::warn!(file = %path.display(), error = %e, "could not remove the index's seal");
            return None;
        }
    }
    let seal: Seal = serde_json::from_slice(&text?).ok()?;
    vouches(
        &seal,
        identity(index).as_ref()?,
        nanos(sealed_at?),
        now_secs(),
    )
    .then_some(seal.checked_at)
    .filter(|_| !log_has_frames(index))
}

/// The rule of [`take`], without the file system.
fn vouches(seal: &Seal, now_file: &Identity, sealed_at_ns: u128, now: u64) -> bool {
    seal.file == *now_file
        && seal.file.modified_ns < sealed_at_ns
        && now.saturating_sub(seal.checked_at) < RECHECK_AFTER.as_secs()
        && seal.checked_at <= now
}

/// Seals `index` after a clean close (`checked_at`: when its last full check passed). Does
/// nothing when the log still holds frames, SQLite reported damage in the file, or the
/// seal cannot be made later than the file's last write.
pub(crate) fn write(index: &Path, checked_at: u64) {
    if DAMAGED.lock().iter().any(|p| p == index) || log_has_frames(index) {
        return;
    }
    let Some(file) = identity(index) else {
        return;
    };
    let path = seal_path(index);
    let Ok(text) = serde_json::to_vec(&Seal {
        file: file.clone(),
        checked_at,
    }) else {
        return;
    };
    for _ in 0..TICK_TRIES {
        if std::fs::write(&path, &text).is_err() {
            break;
        }
        let later = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| nanos(t) > file.modified_ns);
        if later {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = std::fs::remove_file(&path);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(checked_at: u64) -> (Seal, Identity) {
        let file = Identity {
            len: 4096,
            modified_ns: 1_000,
            inode: 7,
            changed_ns: 1_000,
        };
        (
            Seal {
                file: file.clone(),
                checked_at,
            },
            file,
        )
    }

    #[test]
    fn vouches_only_for_the_same_file_sealed_later_and_checked_lately() {
        let now = 10 * RECHECK_AFTER.as_secs();
        let (s, same) = seal(now - 60);
        assert!(vouches(&s, &same, 2_000, now));
        // Sealed in the same tick as the last write: a write right after could hide.
        assert!(!vouches(&s, &same, 1_000, now));
        for changed in [
            Identity {
                len: 8192,
                ..same.clone()
            },
            Identity {
                modified_ns: 1_500,
                ..same.clone()
            },
            Identity {
                inode: 8,
                ..same.clone()
            },
            Identity {
                changed_ns: 1_500,
                ..same.clone()
            },
        ] {
            assert!(!vouches(&s, &changed, 2_000, now), "{changed:?}");
        }
        // The full check is due again after a week, and a check "in the future" is not trusted.
        let (old, _) = seal(now - RECHECK_AFTER.as_secs());
        assert!(!vouches(&old, &same, 2_000, now));
        let (future, _) = seal(now + 60);
        assert!(!vouches(&future, &same, 2_000, now));
    }

    #[test]
    fn a_seal_is_taken_once_and_not_trusted_after_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join("index.sqlite");
        std::fs::write(&index, vec![1u8; 8192]).unwrap();
        write(&index, now_secs());
        assert!(seal_path(&index).exists());
        assert!(take(&index).is_some());
        assert!(!seal_path(&index).exists(), "taking removes the seal");
        assert_eq!(take(&index), None, "a seal vouches once");

        write(&index, now_secs());
        // Same length, written right after the seal (possibly in the same clock tick).
        std::fs::write(&index, vec![2u8; 8192]).unwrap();
        assert_eq!(take(&index), None);

        write(&index, now_secs());
        std::fs::write(with_suffix(&index, "-wal"), b"frames").unwrap();
        assert_eq!(take(&index), None, "a log with frames needs the check");
    }
}
