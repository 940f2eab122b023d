//! Rows matching each query term, remembered while the full-text index is unchanged: BM25's
//! bounds need them for every lexical search, and a common word takes milliseconds to count in
//! a large vault ("cell": 6.5 ms at 500,000 chunks).

use std::collections::HashMap;

/// Entries kept before the memory is cleared (a term and a count each: well under a MiB).
const MAX_ENTRIES: usize = 4_096;

/// Counts for one state of the full-text index, named by FTS5's own records of it.
#[derive(Debug, Default)]
pub(crate) struct MatchCounts {
    /// FTS5's structure record (its segments and a cookie bumped at every change) followed by
    /// its averages record (row and token totals).
    state: Vec<u8>,
    counts: HashMap<String, u64>,
}

impl MatchCounts {
    /// The remembered count of `expr` in `state`; a different state forgets every count.
    pub fn get(&mut self, state: &[u8], expr: &str) -> Option<u64> {
        if self.state != state {
            self.state = state.to_vec();
            self.counts.clear();
        }
        self.counts.get(expr).copied()
    }

    /// Remembers `count` for `expr` in `state` (nothing when the index changed meanwhile).
    pub fn put(&mut self, state: &[u8], expr: &str, count: u64) {
        if self.state != state {
            return;
        }
        if self.counts.len() >= MAX_ENTRIES {
            self.counts.clear();
        }
        self.counts.insert(expr.to_string(), count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_last_while_the_state_does() {
        let mut m = MatchCounts::default();
        assert_eq!(m.get(b"a", "\"x\""), None);
        m.put(b"a", "\"x\"", 3);
        assert_eq!(m.get(b"a", "\"x\""), Some(3));
        assert_eq!(m.get(b"b", "\"x\""), None);
        m.put(b"a", "\"x\"", 3);
        assert_eq!(m.get(b"b", "\"x\""), None);
    }
}
