//! Which weight layout the session holds: unpacked (lean) at rest, prepacked during bulk work.
//!
//! Prepacking copies the int8 matrix weights into the layout of the matrix kernels: about
//! 100 MiB of private memory for EmbeddingGemma, 30–40 % more tokens/s on long documents.
//! Unpacked, the kernels read the memory-mapped weight file, whose pages the worker drops when
//! idle (`mapped`): at rest the process holds about 100 MiB less, a query costs a few ms more.
//! So the service runs lean, swaps in a prepacked session once documents keep coming (a vault's
//! first index, a re-index) and swaps back after a quiet spell. A few edited notes never pay for
//! the prepacked copy.

use std::time::{Duration, Instant};

/// `VAULT_RAG_ORT_PREPACK`: `1` always prepacked, `0` never, otherwise prepacked only for bulk
/// work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prepack {
    Always,
    Never,
    ForBulk,
}

impl Prepack {
    pub fn from_env() -> Self {
        match std::env::var("VAULT_RAG_ORT_PREPACK").as_deref() {
            Ok("1") => Self::Always,
            Ok("0") => Self::Never,
            _ => Self::ForBulk,
        }
    }

    /// The layout a new runner starts with.
    pub fn at_start(self) -> bool {
        self == Self::Always
    }
}

/// Document tokens within one busy spell after which bulk work is assumed (about 10 s of lean
/// embedding with EmbeddingGemma on 2 cores; a few hundred tokens per edited note).
const BULK_TOKENS: usize = 8_192;

/// How long without document batches before the prepacked session is given up.
/// `VAULT_RAG_LEAN_AFTER_MS` overrides it (tests).
const LEAN_AFTER: Duration = Duration::from_secs(30);

/// The shortest sleep of an idle worker that holds a prepacked session.
const MIN_WAKE: Duration = Duration::from_millis(100);

/// When to change layout. The runner builds the other session in the worker thread itself when
/// told to: no second thread competes for the cores, and at most the old session and the new
/// one's load are in memory at once. A search waits for that load once per bulk spell.
pub(crate) struct Switch {
    policy: Prepack,
    lean_after: Duration,
    /// Document tokens since the busy spell began, and when the last document batch ran.
    tokens: usize,
    last_document: Option<Instant>,
    /// A build failed: keep the session we have for the rest of the process.
    failed: bool,
}

impl Switch {
    pub fn new(policy: Prepack) -> Self {
        let lean_after = std::env::var("VAULT_RAG_LEAN_AFTER_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(LEAN_AFTER, Duration::from_millis);
        Self {
            policy,
            lean_after,
            tokens: 0,
            last_document: None,
            failed: false,
        }
    }

    fn switches(&self) -> bool {
        self.policy == Prepack::ForBulk && !self.failed
    }

    /// A document batch of `tokens` that began at `started` ran on a session with layout
    /// `prepacked`; `true`: build the prepacked session now.
    pub fn document(&mut self, tokens: usize, prepacked: bool, started: Instant) -> bool {
        if self
            .last_document
            .is_some_and(|t| started.saturating_duration_since(t) > self.lean_after)
        {
            self.tokens = 0;
        }
        self.last_document = Some(Instant::now());
        self.tokens += tokens;
        self.switches() && !prepacked && self.tokens >= BULK_TOKENS
    }

    /// While idle, with layout `prepacked`; `true`: go back to the lean session now.
    pub fn idle(&self, prepacked: bool) -> bool {
        self.switches() && prepacked && self.quiet()
    }

    fn quiet(&self) -> bool {
        self.last_document
            .is_none_or(|t| t.elapsed() >= self.lean_after)
    }

    /// How long the idle worker may sleep before `idle` has something to say.
    pub fn wake_after(&self, prepacked: bool) -> Option<Duration> {
        if !self.switches() || !prepacked {
            return None;
        }
        let since = self.last_document.map_or(self.lean_after, |t| t.elapsed());
        Some(self.lean_after.saturating_sub(since).max(MIN_WAKE))
    }

    /// Building the other layout failed: the current session stays for good.
    pub fn failed(&mut self, prepacked: bool, message: &str) {
        tracing::warn!(
            prepacked,
            message,
            "could not build the other session layout; keeping this one"
        );
        self.failed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_documents_stay_lean_and_bulk_work_asks_for_the_prepacked_layout() {
        let mut s = Switch::new(Prepack::ForBulk);
        assert!(
            !s.document(BULK_TOKENS / 2, false, Instant::now()),
            "an edit's worth of tokens"
        );
        assert!(s.document(BULK_TOKENS / 2, false, Instant::now()));
        assert!(!s.document(10, true, Instant::now()), "already prepacked");
        // A failed build: the session stays as it is for good.
        s.failed(true, "no model here");
        assert!(!s.document(BULK_TOKENS, false, Instant::now()));
        assert_eq!(s.wake_after(true), None);
        assert!(!s.idle(true));
    }

    #[test]
    fn the_fixed_policies_never_switch() {
        for policy in [Prepack::Always, Prepack::Never] {
            let mut s = Switch::new(policy);
            let layout = policy.at_start();
            assert!(
                !s.document(BULK_TOKENS * 4, layout, Instant::now()),
                "{policy:?}"
            );
            assert!(!s.idle(layout), "{policy:?}");
            assert_eq!(s.wake_after(layout), None);
        }
    }

    #[test]
    fn the_prepacked_layout_is_given_up_only_after_a_quiet_spell() {
        let mut s = Switch::new(Prepack::ForBulk);
        s.lean_after = Duration::from_millis(200);
        assert_eq!(
            s.wake_after(false),
            None,
            "a lean session sleeps until work comes"
        );
        s.document(10, true, Instant::now());
        assert!(!s.idle(true), "documents ran just now");
        let wait = s
            .wake_after(true)
            .expect("a prepacked session wakes the worker");
        assert!(wait <= Duration::from_millis(200) && wait >= MIN_WAKE);
        std::thread::sleep(Duration::from_millis(250));
        assert!(s.idle(true));
        assert_eq!(s.wake_after(true), Some(MIN_WAKE));
    }

    #[test]
    fn a_long_pause_starts_a_new_spell() {
        let mut s = Switch::new(Prepack::ForBulk);
        s.lean_after = Duration::from_millis(50);
        assert!(!s.document(BULK_TOKENS - 1, false, Instant::now()));
        std::thread::sleep(Duration::from_millis(80));
        assert!(
            !s.document(BULK_TOKENS - 1, false, Instant::now()),
            "two spells do not add up"
        );
    }
}
