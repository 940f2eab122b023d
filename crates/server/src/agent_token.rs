//! Tokens kept in private files, and the agent token: a second bearer token for AI agents.
//!
//! The service token (the plugin's, or `<data dir>/token`) opens the whole API. The agent token
//! opens only what agents need, `/mcp` and `/health`, so that an agent's configuration never
//! holds the key to re-index or reconfigure the service. It lives in `<data dir>/agent-token`, so
//! configurations pasted into agents survive restarts, and the plugin can revoke it
//! (`POST /agents/token/rotate` makes a new one at once) without losing its own access.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use subtle::ConstantTimeEq;

/// Name of the agent token's file in the data directory.
pub const AGENT_TOKEN_FILE: &str = "agent-token";

/// The paths an agent token opens.
pub const AGENT_PATHS: &[&str] = &["/mcp", "/health"];

/// A fresh random token (256 bits, hex).
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `token` to `file` (0600, atomically: a reader sees the old token or the new one).
pub fn write_token_file(file: &Path, token: &str) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        vault_rag_index::private::private_dir(dir).map_err(std::io::Error::other)?;
    }
    let tmp = file.with_extension("tmp");
    let mut f = vault_rag_index::private::private_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    writeln!(f, "{token}")?;
    f.sync_all()?;
    std::fs::rename(&tmp, file)
}

/// The token in `file`, made (random, 0600) when the file is missing or empty. Returns the token
/// and whether it was made now.
pub fn read_or_create_token_file(file: &Path) -> std::io::Result<(String, bool)> {
    match std::fs::read_to_string(file) {
        Ok(text) if !text.trim().is_empty() => {
            vault_rag_index::private::private_file(file)?;
            return Ok((text.trim().to_string(), false));
        }
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let token = random_token();
    write_token_file(file, &token)?;
    Ok((token, true))
}

/// The current agent token; [`AgentToken::rotate`] replaces it for every later request.
pub struct AgentToken {
    file: Option<PathBuf>,
    current: RwLock<String>,
}

impl std::fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentToken")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl AgentToken {
    /// The token of `<data dir>/agent-token`, made on first use.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        let file = data_dir.join(AGENT_TOKEN_FILE);
        let (token, _) = read_or_create_token_file(&file)?;
        Ok(Self {
            file: Some(file),
            current: RwLock::new(token),
        })
    }

    /// A token kept in memory only (rotation does not outlive the process).
    pub fn in_memory(token: impl Into<String>) -> Self {
        Self {
            file: None,
            current: RwLock::new(token.into()),
        }
    }

    /// The token agents must present now.
    pub fn current(&self) -> String {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether `presented` is the current token (constant time).
    pub(crate) fn matches(&self, presented: &str) -> bool {
        let current = blake3::hash(self.current().as_bytes());
        let presented = blake3::hash(presented.as_bytes());
        bool::from(current.as_bytes().ct_eq(presented.as_bytes()))
    }

    /// Revokes the token: a new one is written, then takes effect; the old one opens nothing.
    pub fn rotate(&self) -> std::io::Result<String> {
        let token = random_token();
        if let Some(file) = &self.file {
            write_token_file(file, &token)?;
        }
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = token.clone();
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_file_is_made_once_kept_private_and_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let token = AgentToken::load_or_create(&data).unwrap();
        let first = token.current();
        assert_eq!(first.len(), 64);
        assert!(token.matches(&first));
        assert!(!token.matches("nope"));
        let file = data.join(AGENT_TOKEN_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // The next start finds the same token.
        assert_eq!(AgentToken::load_or_create(&data).unwrap().current(), first);
        let second = token.rotate().unwrap();
        assert_ne!(second, first);
        assert!(!token.matches(&first) && token.matches(&second));
        assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), second);
        assert_eq!(AgentToken::load_or_create(&data).unwrap().current(), second);
    }
}
