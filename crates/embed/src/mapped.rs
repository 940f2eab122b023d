//! Dropping the resident pages of memory-mapped model weights.
//!
//! With its weights in an external-data file, ONNX Runtime memory-maps them read-only. The matrix
//! weights are copied out once (prepacking), so the mapping is then read only by the token
//! embedding lookup: each new token's row is paged in and stays resident. Over a long indexing run
//! that grows towards the whole 262k-row table (about 200 MB for EmbeddingGemma int8). The pages
//! are clean copies of the file, so telling the kernel we do not need them
//! (`madvise(MADV_DONTNEED)`) costs nothing but a page-cache fault the next time a row is read.
//! Only file mappings under the model's directory are touched, and a private one only while it
//! holds no privately written page (ONNX Runtime maps `rw-p` but never writes; if it ever did,
//! `Anonymous` in smaps would say so and the mapping is left alone). The worker thread calls this
//! between runs, so no inference touches the mapping meanwhile.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often, at most, the worker drops mapped pages while it is busy. Each new token's row
/// fault maps up to 16 cached pages around it (the kernel's fault-around), so a busy second of
/// searches can page in tens of MiB; a drop costs about a millisecond (reading smaps).
const EVERY: Duration = Duration::from_millis(250);

/// Drops the model's mapped weight pages from time to time (`VAULT_RAG_DROP_MAPPED=0`: never, for
/// measurements).
pub(crate) struct MappedWeights {
    dir: Option<PathBuf>,
    last: Instant,
    /// Work done since the last drop.
    dirty: bool,
}

impl MappedWeights {
    /// Mappings of files in `model_file`'s directory.
    pub fn new(model_file: &Path) -> Self {
        let enabled = std::env::var("VAULT_RAG_DROP_MAPPED").as_deref() != Ok("0");
        Self {
            dir: enabled
                .then(|| model_file.parent().map(Path::to_path_buf))
                .flatten(),
            last: Instant::now(),
            dirty: false,
        }
    }

    /// After a batch: drops the pages if the last drop was a while ago.
    pub fn after_batch(&mut self) {
        self.dirty = true;
        if self.last.elapsed() >= EVERY {
            self.drop_now();
        }
    }

    /// When the worker runs out of work: drops what the last batches paged in, and returns the
    /// heap memory they freed.
    pub fn on_idle(&mut self) {
        if self.dirty {
            self.drop_now();
            crate::memory::release_free_memory();
        }
    }

    /// Drops the pages now (before and after a session is built).
    pub fn drop_now(&mut self) {
        self.last = Instant::now();
        self.dirty = false;
        if let Some(dir) = &self.dir {
            let bytes = release_mappings(|path| path.starts_with(dir));
            tracing::trace!(bytes, "dropped mapped weight pages");
        }
    }
}

/// Once the model has loaded: drops the resident code pages of ONNX Runtime and of this
/// executable. Loading runs much code that inference never needs again (model parsing, graph
/// optimisation); the code inference does need faults back in from the page cache.
pub(crate) fn release_code_after_load() {
    if std::env::var("VAULT_RAG_DROP_MAPPED").as_deref() == Ok("0") {
        return;
    }
    let files: Vec<PathBuf> = [
        crate::runtime::init_runtime().ok().map(Path::to_path_buf),
        std::env::current_exe().ok(),
    ]
    .into_iter()
    .flatten()
    .filter_map(|p| p.canonicalize().ok())
    .collect();
    let bytes = release_mappings(|path| files.iter().any(|f| f == path));
    tracing::debug!(bytes, "dropped code pages used while loading");
}

/// Drops resident pages of the unmodified file mappings whose path `matches`; returns the bytes
/// advised.
#[cfg(target_os = "linux")]
pub(crate) fn release_mappings(matches: impl Fn(&Path) -> bool) -> usize {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let mut advised = 0;
    for (start, end) in clean_mappings(&smaps, matches) {
        // SAFETY: the range is a whole file mapping of this process with no privately written
        // page (so nothing can be lost), and nothing runs on the model meanwhile; DONTNEED only
        // discards its resident pages, which the kernel reloads from the file on the next access.
        let rc =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if rc == 0 {
            advised += end - start;
        }
    }
    advised
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn release_mappings(_matches: impl Fn(&Path) -> bool) -> usize {
    0
}

/// `(start, end)` of the mappings in a `/proc/<pid>/smaps` text whose file `matches`, readable,
/// and without privately written pages. (Parsing is tested on every target; only Linux uses it.)
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn clean_mappings(smaps: &str, matches: impl Fn(&Path) -> bool) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    // The mapping being read: its range, whether it qualifies so far.
    let mut current: Option<(usize, usize, bool)> = None;
    let mut finish = |current: Option<(usize, usize, bool)>| {
        if let Some((start, end, true)) = current {
            found.push((start, end));
        }
    };
    for line in smaps.lines() {
        if let Some(header) = mapping_header(line) {
            finish(current.take());
            let (start, end, perms, path) = header;
            let wanted =
                perms.starts_with('r') && path.starts_with('/') && matches(Path::new(path));
            current = Some((start, end, wanted));
        } else if let Some(kb) = line.strip_prefix("Anonymous:") {
            // Private pages written by the process: never discard those.
            if kb.trim().trim_end_matches("kB").trim() != "0" {
                if let Some(c) = current.as_mut() {
                    c.2 = false;
                }
            }
        }
    }
    finish(current);
    found
}

/// A mapping's first line in smaps: `start-end perms offset dev inode path`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn mapping_header(line: &str) -> Option<(usize, usize, &str, &str)> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?;
    if perms.len() != 4 || end <= start {
        return None;
    }
    // offset, device, inode, then the path (which may contain spaces; none for anonymous memory).
    let path = line
        .splitn(6, char::is_whitespace)
        .nth(5)
        .unwrap_or("")
        .trim_start();
    Some((start, end, perms, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_unmodified_mappings_of_the_model_directory() {
        let smaps = "\
7f0000000000-7f0000100000 r--p 00000000 08:01 123 /models/gemma/onnx/model_quantized.onnx_data
Rss:                 400 kB
Anonymous:             0 kB
7f0000100000-7f0000200000 rw-p 00000000 08:01 123 /models/gemma/onnx/model_quantized.onnx_data
Rss:                 400 kB
Anonymous:             0 kB
7f0000200000-7f0000300000 rw-p 00000000 08:01 123 /models/gemma/onnx/written.onnx_data
Anonymous:             8 kB
7f0000300000-7f0000400000 r--s 00000000 08:01 124 /models/gemma/onnx/with space.onnx_data
Anonymous:             0 kB
7f0000400000-7f0000500000 r--p 00000000 08:01 125 /usr/lib/libonnxruntime.so
Anonymous:             0 kB
7f0000500000-7f0000600000 r-xp 00000000 08:01 126 /models/gemma/onnx/code
Anonymous:             0 kB
7f0000600000-7f0000700000 rw-p 00000000 00:00 0
Anonymous:            64 kB
";
        assert_eq!(
            clean_mappings(smaps, |p| p.starts_with("/models/gemma/onnx")),
            vec![
                (0x7f00_0000_0000, 0x7f00_0010_0000),
                (0x7f00_0010_0000, 0x7f00_0020_0000),
                (0x7f00_0030_0000, 0x7f00_0040_0000),
                (0x7f00_0050_0000, 0x7f00_0060_0000)
            ]
        );
        assert!(clean_mappings(smaps, |p| p.starts_with("/models/other")).is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn released_pages_read_back_the_same_and_written_ones_are_kept() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weights.bin");
        let len = 8 << 20;
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&data)
            .unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: a fresh private mapping of a file this test owns (writable, as ONNX Runtime
        // maps its weights); unmapped below.
        let ptr = unsafe {
            use std::os::fd::AsRawFd;
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        // SAFETY: `ptr` maps `len` readable bytes.
        let mapped = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
        let resident = || {
            let pages = len.div_ceil(4096);
            let mut vec = vec![0u8; pages];
            // SAFETY: `vec` has one byte per page of the mapping.
            let rc = unsafe { libc::mincore(ptr, len, vec.as_mut_ptr()) };
            assert_eq!(rc, 0);
            // mincore reports the page cache; the process's own share shows in its smaps.
            vec.iter().filter(|&&b| b & 1 == 1).count()
        };
        let rss_of_mapping = || {
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
            let start = format!("{:x}-", ptr as usize);
            let block = smaps.split_once(&start).unwrap().1;
            block
                .lines()
                .find_map(|l| l.strip_prefix("Rss:"))
                .unwrap()
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<usize>()
                .unwrap()
        };
        let sum: u64 = mapped.iter().map(|&b| u64::from(b)).sum();
        assert!(rss_of_mapping() >= 7 * 1024, "all pages were read");
        let advised = release_mappings(|p| p.starts_with(dir.path()));
        assert_eq!(advised, len);
        assert_eq!(rss_of_mapping(), 0, "pages left the resident set");
        assert!(resident() > 0, "the file stays in the page cache");
        let again: u64 = mapped.iter().map(|&b| u64::from(b)).sum();
        assert_eq!(sum, again);
        assert_eq!(&mapped[..1000], &data[..1000]);

        // A privately written page would be lost: such a mapping is left alone.
        // SAFETY: the mapping is writable and `len` bytes long; no reference into it is alive.
        unsafe { *(ptr as *mut u8).add(4096) = 7 };
        assert_eq!(release_mappings(|p| p.starts_with(dir.path())), 0);
        // SAFETY: as above.
        assert_eq!(unsafe { *(ptr as *const u8).add(4096) }, 7);
        // SAFETY: unmapping the mapping made above.
        unsafe { libc::munmap(ptr, len) };
    }
}
