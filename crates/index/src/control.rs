//! Requests to the indexing thread, checked between groups of work: pause, hold (the user
//! types), stop, and the notes to embed first (the ones the user has open).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::progress::{Counters, IndexState};

/// Notes remembered as open: a few windows' worth; older ones drop off.
pub const MAX_FOCUS: usize = 64;

/// Pause and stop requests, and the open notes.
#[derive(Debug, Default)]
pub(crate) struct Control {
    paused: Mutex<Pause>,
    wake: Condvar,
    stop: AtomicBool,
    /// Vault-relative paths of the notes the user has open, most recent first.
    focus: Mutex<Vec<String>>,
}

/// Why indexing waits: a pause until resumed, and a hold that ends by itself (the user types).
#[derive(Debug, Default)]
struct Pause {
    manual: bool,
    until: Option<Instant>,
}

impl Pause {
    fn holds(&self, now: Instant) -> bool {
        self.manual || self.until.is_some_and(|t| t > now)
    }
}

impl Control {
    pub fn pause(&self) {
        self.paused.lock().manual = true;
    }

    /// Ends a pause and any hold.
    pub fn resume(&self) {
        *self.paused.lock() = Pause::default();
        self.wake.notify_all();
    }

    /// Holds indexing for `duration` from now (extending a hold already running); it resumes
    /// by itself, so a client that goes away never leaves indexing stopped.
    pub fn hold_for(&self, duration: Duration) {
        let until = Instant::now() + duration;
        let mut p = self.paused.lock();
        p.until = Some(p.until.map_or(until, |t| t.max(until)));
    }

    pub fn is_paused(&self) -> bool {
        self.paused.lock().holds(Instant::now())
    }

    pub fn stop(&self) {
        self.stop.store(true, Relaxed);
        self.wake.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        self.stop.load(Relaxed)
    }

    /// The user opened these notes (most recent first): their sections are embedded before
    /// the rest, at the next group.
    pub fn focus(&self, paths: Vec<String>) {
        let mut focus = self.focus.lock();
        let mut merged = paths;
        merged.extend(focus.drain(..));
        let mut seen = std::collections::HashSet::new();
        merged.retain(|p| seen.insert(p.clone()));
        merged.truncate(MAX_FOCUS);
        *focus = merged;
    }

    /// The open notes not yet taken, most recent first.
    pub fn take_focus(&self) -> Vec<String> {
        std::mem::take(&mut *self.focus.lock())
    }

    /// Rests for `duration` (background indexing giving way to busy programs); a stop ends it.
    pub fn rest(&self, duration: Duration) {
        let until = Instant::now() + duration;
        let mut paused = self.paused.lock();
        while !self.is_stopped() {
            let now = Instant::now();
            if now >= until {
                break;
            }
            self.wake.wait_for(&mut paused, until - now);
        }
    }

    /// Waits while paused or held; false once a stop was requested.
    pub fn proceed(&self, counters: &Counters) -> bool {
        let mut paused = self.paused.lock();
        if paused.holds(Instant::now()) && !self.is_stopped() {
            let before = counters.state();
            counters.set_state(IndexState::Paused);
            while !self.is_stopped() {
                let now = Instant::now();
                if paused.manual {
                    self.wake.wait(&mut paused);
                } else if let Some(until) = paused.until.filter(|&t| t > now) {
                    self.wake.wait_for(&mut paused, until - now);
                } else {
                    break;
                }
            }
            paused.until = None;
            counters.set_state(before);
        }
        !self.is_stopped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn focus_keeps_the_most_recent_first_without_repeats_and_bounded() {
        let c = Control::default();
        c.focus(vec!["a.md".into(), "b.md".into()]);
        c.focus(vec!["c.md".into(), "a.md".into()]);
        assert_eq!(c.take_focus(), ["c.md", "a.md", "b.md"]);
        assert!(c.take_focus().is_empty(), "taken once");
        c.focus((0..100).map(|i| format!("{i}.md")).collect());
        let kept = c.take_focus();
        assert_eq!(kept.len(), MAX_FOCUS);
        assert_eq!(kept[0], "0.md");
    }
}
