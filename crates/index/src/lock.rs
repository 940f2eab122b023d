//! One process per index: an exclusive advisory lock on `<data dir>/index.lock`, which also holds
//! the owner's process id so that a second process can say who is in the way. The operating
//! system releases the lock when the process ends, even on SIGKILL, so a crash never leaves a
//! stale lock behind.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::IndexError;

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct IndexLock {
    _file: File,
}

impl IndexLock {
    /// Takes the lock at `path` (creating the file), or fails with [`IndexError::Locked`] naming
    /// the process that holds it.
    pub fn acquire(path: &Path) -> Result<Self, IndexError> {
        let io = |source| IndexError::Lock {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            crate::private::private_dir(dir)?;
        }
        let mut file = crate::private::private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        // Called through the trait: `File` has an inherent `try_lock` only in newer Rust.
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(IndexError::Locked {
                    path: path.to_path_buf(),
                    pid: real_holder(&file, text.trim().parse().ok()),
                });
            }
            Err(fs4::TryLockError::Error(source)) => return Err(io(source)),
        }
        crate::private::private_file(path).map_err(io)?;
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self { _file: file })
    }

    /// Whether a process holds the lock at `path`, and which, without taking it for longer than
    /// the check and without writing to the file.
    pub fn holder(path: &Path) -> Option<Option<u32>> {
        let mut file = File::open(path).ok()?;
        match fs4::FileExt::try_lock_shared(&file) {
            Ok(()) => {
                let _ = fs4::FileExt::unlock(&file);
                None
            }
            Err(_) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                Some(real_holder(&file, text.trim().parse().ok()))
            }
        }
    }
}

/// The process that really holds the lock on `file`. The number inside the file is only a
/// claim (anyone who can write the file can put any number there); on Linux the kernel's lock
/// table says who holds it, elsewhere the claim is all there is.
fn real_holder(file: &File, claimed: Option<u32>) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata().ok()?;
        let dev = meta.dev();
        // glibc's encoding of major and minor numbers; /proc/locks prints them in hex.
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
        let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
        let id = format!("{major:02x}:{minor:02x}:{}", meta.ino());
        let table = std::fs::read_to_string("/proc/locks").ok()?;
        let _ = claimed;
        table
            .lines()
            .filter(|line| !line.contains("->"))
            .find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                (fields.get(5) == Some(&id.as_str()))
                    .then(|| fields.get(4)?.parse().ok())
                    .flatten()
            })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        claimed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/index.lock");
        let first = IndexLock::acquire(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            std::process::id().to_string()
        );
        // flock locks belong to the open file description, so a second open in the same
        // process conflicts just like another process would.
        match IndexLock::acquire(&path) {
            Err(IndexError::Locked { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Locked, got {other:?}"),
        }
        let msg = IndexLock::acquire(&path).unwrap_err().to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert_eq!(IndexLock::holder(&path), Some(Some(std::process::id())));
        drop(first);
        assert_eq!(IndexLock::holder(&path), None);
        IndexLock::acquire(&path).unwrap();
    }
}
