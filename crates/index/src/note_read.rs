//! Opening a note for a caller so that what is read is the file that was checked.

use std::path::{Path, PathBuf};

/// Opens `canon` without following a link in its last component, then checks that what was
/// opened is that very file: a folder on the way swapped for a link between the check and the
/// open cannot lead elsewhere. `None` when it is not.
pub(crate) fn open_verified(canon: &Path) -> std::io::Result<Option<std::fs::File>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    let file = match options.open(canon) {
        Ok(file) => file,
        // A link put there after the check (ELOOP under O_NOFOLLOW).
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(opened_path(&file)
        .is_none_or(|real| real == canon)
        .then_some(file))
}

/// Where an open file really is, as the kernel knows it (Linux, macOS); `None` elsewhere, where
/// the check rests on the canonical path and `O_NOFOLLOW`.
fn opened_path(file: &std::fs::File) -> Option<PathBuf> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()
    }
    #[cfg(target_os = "macos")]
    {
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        let mut buf = vec![0u8; libc::PATH_MAX as usize];
        // SAFETY: F_GETPATH writes at most PATH_MAX bytes into `buf`.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETPATH, buf.as_mut_ptr()) };
        if rc == -1 {
            return None;
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(&buf[..end])))
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        let _ = file;
        None
    }
}
