//! Resident memory of this process, read from `/proc/self/status` (Linux; `None` elsewhere).
//! The embedder logs it at each loading step, and `vault-rag status` / `GET /health` report it.

/// Resident memory now and at its peak, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessMemory {
    /// `VmRSS`: resident now (anonymous memory plus mapped file pages such as model weights).
    pub rss_bytes: u64,
    /// `VmHWM`: the highest `VmRSS` since the process started.
    pub peak_bytes: u64,
}

impl ProcessMemory {
    /// This process.
    pub fn current() -> Option<Self> {
        Self::from_status(&std::fs::read_to_string("/proc/self/status").ok()?)
    }

    /// Another process, e.g. the server that holds an index open.
    pub fn of_process(pid: u32) -> Option<Self> {
        Self::from_status(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
    }

    /// Parses the text of a `/proc/<pid>/status` file.
    pub fn from_status(status: &str) -> Option<Self> {
        let kib = |key: &str| -> Option<u64> {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key))?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        };
        Some(Self {
            rss_bytes: kib("VmRSS:")? * 1024,
            peak_bytes: kib("VmHWM:")? * 1024,
        })
    }

    /// `rss_bytes` in MiB, rounded to 0.1.
    pub fn rss_mib(&self) -> f64 {
        mib(self.rss_bytes)
    }

    /// `peak_bytes` in MiB, rounded to 0.1.
    pub fn peak_mib(&self) -> f64 {
        mib(self.peak_bytes)
    }
}

fn mib(bytes: u64) -> f64 {
    (bytes as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0
}

/// Loading parses the model graph, and batches and searches allocate and free; the C allocator
/// keeps freed pages. Handing them back to the OS (after loading, and when the inference worker
/// goes idle) lowers the resident memory of a long-running process by what was needed
/// transiently (`VAULT_RAG_MALLOC_TRIM=0` turns this off, for measurements).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn release_free_memory() {
    if std::env::var("VAULT_RAG_MALLOC_TRIM").as_deref() == Ok("0") {
        return;
    }
    // SAFETY: malloc_trim only releases free memory of glibc's heaps; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Only glibc has such a call; other allocators keep their pages.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn release_free_memory() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_status_file() {
        let status = "Name:\tvault-rag\nVmPeak:\t 9000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  153600 kB\nRssAnon:\t 1 kB\n";
        let m = ProcessMemory::from_status(status).unwrap();
        assert_eq!(m.rss_bytes, 150 * 1024 * 1024);
        assert_eq!(m.peak_bytes, 200 * 1024 * 1024);
        assert_eq!((m.rss_mib(), m.peak_mib()), (150.0, 200.0));
        assert_eq!(ProcessMemory::from_status("VmRSS:\tlots\n"), None);
        assert_eq!(ProcessMemory::from_status(""), None);
    }

    #[test]
    fn reads_this_process_on_linux() {
        let m = ProcessMemory::current().expect("/proc/self/status on Linux");
        assert!(
            m.rss_bytes > 1 << 20 && m.peak_bytes >= m.rss_bytes,
            "{m:?}"
        );
        // Compared within one read: the kernel folds per-thread RSS counters into the peak lazily,
        // so a later peak can lag an earlier RSS while other tests allocate.
        let same = ProcessMemory::of_process(std::process::id()).unwrap();
        assert!(
            same.rss_bytes > 1 << 20 && same.peak_bytes >= same.rss_bytes,
            "{same:?}"
        );
        assert_eq!(ProcessMemory::of_process(u32::MAX), None);
    }
}
