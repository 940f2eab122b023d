//! The data directory and the index files are the user's alone: the folder 0700, the files 0600
//! (Unix; elsewhere the per-user data folder already is private). Applied when they are created;
//! on open, group and other bits of an older index are removed (the owner's are left as they are).

use std::path::Path;

use crate::error::IndexError;

/// Creates `dir` (and missing parents) and makes `dir` itself private.
pub fn private_dir(dir: &Path) -> Result<(), IndexError> {
    let err = |source| IndexError::DataDir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir).map_err(err)?.permissions().mode();
        if mode & 0o077 != 0 {
            // Only others' bits go: a folder the owner made read-only stays read-only.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o7700))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// Makes an existing file readable and writable by its owner only; a missing one is no error.
pub fn private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                let mode = meta.permissions().mode() & 0o7700;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Options that create a file 0600 from the start (no moment where others could open it).
pub fn private_options() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}
