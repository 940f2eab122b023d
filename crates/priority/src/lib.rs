//! The process's scheduling priority while bulk indexing runs.
//!
//! While a full pass has a vault's worth of notes to read or sections to embed, the operating
//! system schedules the process below the user's applications (nice 10 on Linux, the background
//! band on macOS, below normal on Windows), so that a first index on a laptop takes the CPU the
//! user leaves idle. The whole process is lowered, because ONNX Runtime's pool threads run both
//! documents and queries and are not ours to name. A query raises it again until it is
//! answered, so that searches keep normal priority.
//!
//! Linux lets an unprivileged process lower its priority but never raise it again: lowered
//! once, every later search would wait behind the user's programs for the rest of the
//! service's life (seconds per search on a busy machine). There the priority is left alone and
//! the indexer yields instead ([`yield_after`]): after each group of work during which other
//! programs kept the CPU busy, it rests as long as the work took.
//!
//! The state is process-wide, as the priority is.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// What is wanted and what the system has been told.
#[derive(Debug)]
struct State {
    /// A pass with bulk work runs (the indexer asked for the background).
    bulk: bool,
    /// Queries being embedded now: they run at normal priority.
    queries: usize,
    os: Os,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Os {
    Normal,
    Lowered,
    /// Lowered for good: the system does not let this process raise its priority again (or it
    /// was started at a low priority).
    Stays,
    /// The system refused to lower it: everything runs at normal priority.
    Refused,
    /// The system could not raise it again: it is left alone, the indexer yields instead.
    Yields,
}

static STATE: Mutex<State> = Mutex::new(State {
    bulk: false,
    queries: 0,
    os: Os::Normal,
});

/// CPU counters at the last [`yield_after`].
static LAST: Mutex<Option<os::Sample>> = Mutex::new(None);

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// A pass with bulk work begins (`true`) or ends (`false`).
pub fn set_bulk(on: bool) {
    let mut s = state();
    s.bulk = on;
    settle(&mut s);
}

/// Keeps normal priority while a query is embedded; dropped when it is answered.
#[must_use = "the priority is normal only while the guard lives"]
pub struct QueryGuard(());

/// A query arrives: the process runs at normal priority (where it can go back) until the
/// guard drops, the document batch in flight included.
pub fn query() -> QueryGuard {
    let mut s = state();
    s.queries += 1;
    settle(&mut s);
    QueryGuard(())
}

impl Drop for QueryGuard {
    fn drop(&mut self) {
        let mut s = state();
        s.queries = s.queries.saturating_sub(1);
        settle(&mut s);
    }
}

/// Whether indexing gives way to the user's programs now: the process runs below normal
/// priority, or the indexer yields while a pass runs.
pub fn in_background() -> bool {
    let s = state();
    matches!(s.os, Os::Lowered | Os::Stays) || (s.bulk && s.os == Os::Yields)
}

/// Other programs' share of all CPUs above which a yielding indexer rests.
const BUSY: f64 = 0.25;

/// Where the indexer yields instead of lowering its priority: after `work` (a group just
/// embedded), how long to rest so that the user's programs get the CPU. `None` elsewhere, when
/// no pass runs in the background, and when the machine was not busy meanwhile.
pub fn yield_after(work: Duration) -> Option<Duration> {
    {
        let s = state();
        if !(s.bulk && s.os == Os::Yields) {
            return None;
        }
    }
    let now = os::sample()?;
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    let before = last.replace(now)?;
    let others = now.others_busy_since(&before)?;
    (others > BUSY).then(|| work.min(Duration::from_secs(5)))
}

/// Brings the system's priority in line with what is wanted.
fn settle(s: &mut State) {
    let want_low = s.bulk && s.queries == 0;
    match (want_low, s.os) {
        (true, Os::Normal) if !os::can_restore() => {
            tracing::info!("the process priority is left alone (it could not be raised again for searches); indexing yields to busy programs instead");
            s.os = Os::Yields;
        }
        (true, Os::Normal) => match os::lower() {
            Ok(true) => {
                tracing::debug!(how = os::HOW, "process priority lowered for indexing");
                s.os = Os::Lowered;
            }
            Ok(false) => s.os = Os::Stays,
            Err(e) => {
                tracing::warn!(error = %e, "the process priority could not be lowered; indexing at normal priority");
                s.os = Os::Refused;
            }
        },
        (false, Os::Lowered) => match os::restore() {
            Ok(()) => {
                tracing::debug!("process priority back to normal");
                s.os = Os::Normal;
            }
            Err(e) => {
                tracing::info!(error = %e, "the process stays at its lower priority (raising it again needs privileges here)");
                s.os = Os::Stays;
            }
        },
        _ => {}
    }
}

#[cfg(target_os = "linux")]
mod os {
    //! Linux's nice value belongs to each thread: every thread of the process is reniced,
    //! ONNX Runtime's pool included; threads started later inherit it from their creator.

    use std::io;

    pub const HOW: &str = "nice 10";
    const NICE: libc::c_int = 10;

    fn threads() -> io::Result<Vec<libc::id_t>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir("/proc/self/task")? {
            if let Some(tid) = entry?.file_name().to_str().and_then(|s| s.parse().ok()) {
                out.push(tid);
            }
        }
        Ok(out)
    }

    /// Every thread, again until no new one appears: a thread started meanwhile by one not yet
    /// reniced would otherwise keep the old value.
    fn set_all(nice: libc::c_int) -> io::Result<()> {
        let mut done = std::collections::HashSet::new();
        for _ in 0..8 {
            let fresh: Vec<libc::id_t> = threads()?
                .into_iter()
                .filter(|t| !done.contains(t))
                .collect();
            if fresh.is_empty() {
                break;
            }
            set_each(&fresh, nice)?;
            done.extend(fresh);
        }
        Ok(())
    }

    fn set_each(tids: &[libc::id_t], nice: libc::c_int) -> io::Result<()> {
        for &tid in tids {
            // SAFETY: setpriority only reads its arguments; a thread that has exited meanwhile
            // gives ESRCH, which is ignored.
            if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, nice) } != 0 {
                let err = io::Error::last_os_error();
                if err.raw_os_error() != Some(libc::ESRCH) {
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    fn current() -> libc::c_int {
        // SAFETY: no pointers; -1 is also a valid answer (only for privileged processes).
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
    }

    /// False when the process was started at a low priority already: it is left alone.
    pub fn lower() -> io::Result<bool> {
        if current() >= NICE {
            return Ok(false);
        }
        set_all(NICE).map(|()| true)
    }

    pub fn restore() -> io::Result<()> {
        set_all(0)
    }

    /// Whether the process may raise its nice value back to 0: root, or a nice limit that
    /// allows it (`RLIMIT_NICE` of 20 or more).
    pub fn can_restore() -> bool {
        // SAFETY: no pointers but the out-parameter, a valid local.
        let root = unsafe { libc::geteuid() } == 0;
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        let nice_limit =
            unsafe { libc::getrlimit(libc::RLIMIT_NICE, &mut limit) } == 0 && limit.rlim_cur >= 20;
        root || nice_limit
    }

    /// CPU time counters: the whole machine's and this process's, in clock ticks.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Sample {
        busy: u64,
        total: u64,
        own: u64,
    }

    impl Sample {
        /// Other programs' share of all CPUs between `before` and this sample.
        pub fn others_busy_since(&self, before: &Sample) -> Option<f64> {
            let total = self.total.checked_sub(before.total).filter(|&t| t > 0)?;
            let busy = self.busy.saturating_sub(before.busy);
            let own = self.own.saturating_sub(before.own);
            Some(busy.saturating_sub(own) as f64 / total as f64)
        }
    }

    pub fn sample() -> Option<Sample> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        parse(&stat, &own)
    }

    /// `/proc/stat`'s first line (user nice system idle iowait irq softirq steal ...) and
    /// `/proc/self/stat`'s utime and stime (fields 14 and 15).
    pub fn parse(stat: &str, own: &str) -> Option<Sample> {
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|v| v.parse().ok())
            .collect::<Option<_>>()?;
        let field = |i: usize| cpu.get(i).copied().unwrap_or(0);
        let busy = field(0) + field(1) + field(2) + field(5) + field(6) + field(7);
        let total = busy + field(3) + field(4);
        // After the command name in parentheses: state is field 3, utime and stime 14 and 15.
        let rest = own.get(own.rfind(')')? + 2..)?;
        let mut fields = rest.split(' ').skip(11);
        let utime: u64 = fields.next()?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        Some(Sample {
            busy,
            total,
            own: utime + stime,
        })
    }
}

/// Where the priority can be raised again, the indexer never yields: no CPU counters needed.
#[cfg(not(target_os = "linux"))]
mod no_counters {
    pub fn can_restore() -> bool {
        true
    }

    #[derive(Debug, Clone, Copy)]
    pub struct Sample;

    impl Sample {
        pub fn others_busy_since(&self, _: &Sample) -> Option<f64> {
            None
        }
    }

    pub fn sample() -> Option<Sample> {
        None
    }
}

#[cfg(target_os = "macos")]
mod os {
    //! The background band (`PRIO_DARWIN_BG`): lower CPU priority, throttled disk I/O, and the
    //! efficiency cores on Apple silicon; the process may leave it again.

    use std::io;

    pub const HOW: &str = "darwin background";

    fn set(prio: libc::c_int) -> io::Result<()> {
        // SAFETY: setpriority only reads its arguments.
        if unsafe { libc::setpriority(libc::PRIO_DARWIN_PROCESS, 0, prio) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn lower() -> io::Result<bool> {
        set(libc::PRIO_DARWIN_BG).map(|()| true)
    }

    pub fn restore() -> io::Result<()> {
        set(0)
    }

    pub use super::no_counters::{can_restore, sample, Sample};
}

#[cfg(windows)]
mod os {
    //! The below-normal priority class, for every thread of the process; it can be undone.

    use std::io;

    use windows_sys::Win32::System::Threading::{
        GetCurrentProcess, SetPriorityClass, BELOW_NORMAL_PRIORITY_CLASS, NORMAL_PRIORITY_CLASS,
    };

    pub const HOW: &str = "below normal";

    fn set(class: u32) -> io::Result<()> {
        // SAFETY: the pseudo handle of the current process needs no closing.
        if unsafe { SetPriorityClass(GetCurrentProcess(), class) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn lower() -> io::Result<bool> {
        set(BELOW_NORMAL_PRIORITY_CLASS).map(|()| true)
    }

    pub fn restore() -> io::Result<()> {
        set(NORMAL_PRIORITY_CLASS)
    }

    pub use super::no_counters::{can_restore, sample, Sample};
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod os {
    use std::io;

    pub const HOW: &str = "none";

    pub fn lower() -> io::Result<bool> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no background priority on this system",
        ))
    }

    pub fn restore() -> io::Result<()> {
        Ok(())
    }

    pub use super::no_counters::{can_restore, sample, Sample};
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the OS priority is below normal now (not only the indexer yielding).
    fn os_lowered() -> bool {
        matches!(state().os, Os::Lowered | Os::Stays)
    }

    /// One test owns the process-wide state (tests run in parallel within a binary).
    #[test]
    fn queries_raise_the_priority_that_bulk_work_lowers() {
        assert!(!in_background());
        set_bulk(true);
        assert!(in_background());
        if !os::can_restore() {
            // Linux without privileges: the priority is left alone, the indexer yields.
            assert!(!os_lowered());
            let _q = query();
            assert!(in_background());
            set_bulk(false);
            assert!(!in_background());
            return;
        }
        if state().os == Os::Stays {
            // Started at a low priority already (e.g. under `nice`): it is left as it is.
            let _q = query();
            assert!(os_lowered());
            set_bulk(false);
            assert!(in_background());
            return;
        }
        assert!(os_lowered());
        let q = query();
        let q2 = query();
        assert!(!os_lowered(), "a query runs at normal priority");
        drop(q);
        assert!(!os_lowered(), "still a query running");
        drop(q2);
        assert!(os_lowered());
        set_bulk(false);
        assert!(!in_background());
        assert!(!os_lowered());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn other_programs_share_of_the_cpu_comes_from_the_counters() {
        let own = "1234 (vault rag) S 1 2 3 4 5 6 7 8 9 10 40 10 0 0 20 0";
        let a = os::parse("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3", own).unwrap();
        let own2 = "1234 (vault rag) S 1 2 3 4 5 6 7 8 9 10 90 10 0 0 20 0";
        // 200 ticks: 100 busy, of which 50 this process's: others had 25 %.
        let b = os::parse("cpu  180 0 70 880 70 0 0 0 0 0\n", own2).unwrap();
        assert_eq!(b.others_busy_since(&a), Some(0.25));
        assert_eq!(a.others_busy_since(&a), None, "no time passed");
        assert!(os::parse("intr 1 2", own).is_none());
        // The live counters parse.
        assert!(os::sample().is_some());
    }
}
