//! The index setting for background priority; the process-wide mechanism is the
//! `vault-rag-priority` crate.

use std::fmt;

/// How a full pass with a vault's worth of work is scheduled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IndexPriority {
    /// As any process: the fastest first index.
    #[default]
    Normal,
    /// Below the user's applications while a full pass has work; queries raise it again
    /// where the system allows (see `vault_rag_priority`).
    Background,
}

impl fmt::Display for IndexPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IndexPriority::Normal => "normal",
            IndexPriority::Background => "background",
        })
    }
}

impl std::str::FromStr for IndexPriority {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "normal" => Ok(IndexPriority::Normal),
            "background" => Ok(IndexPriority::Background),
            other => Err(format!(
                "unknown index priority `{other}` (normal or background)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_two_priorities() {
        for p in [IndexPriority::Normal, IndexPriority::Background] {
            assert_eq!(p.to_string().parse::<IndexPriority>(), Ok(p));
        }
        assert!("idle"
            .parse::<IndexPriority>()
            .unwrap_err()
            .contains("idle"));
    }
}
