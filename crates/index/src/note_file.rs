//! Reading one note file defensively: a size cap (cut at a line boundary), binary files named
//! `.md`, and invalid UTF-8 (decoded lossily). The content hash always covers the whole file,
//! so a change past the cap is still noticed.

use std::io::Read;
use std::path::Path;

/// Bytes inspected to tell text from binary.
const SNIFF_BYTES: usize = 8192;

/// A note file's content, as far as it is indexed.
#[derive(Debug)]
pub(crate) enum NoteFile {
    Text {
        text: String,
        /// blake3 of all bytes of the file.
        hash: [u8; 32],
        /// Problems that did not stop indexing (cut at the cap, lossy decoding).
        warnings: Vec<String>,
    },
    /// Not text; `reason` says what gave it away.
    Binary { reason: String },
}

/// Reads `abs`, keeping at most `cap` bytes of text.
pub(crate) fn read_note_file(abs: &Path, cap: u64) -> std::io::Result<NoteFile> {
    let mut file = std::fs::File::open(abs)?;
    let mut hasher = blake3::Hasher::new();
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let mut kept = Vec::new();
    (&mut file)
        .take(cap.min(SNIFF_BYTES) as u64)
        .read_to_end(&mut kept)?;
    if let Some(reason) = binary_reason(&kept) {
        return Ok(NoteFile::Binary { reason });
    }
    if kept.len() < cap {
        (&mut file)
            .take((cap - kept.len()) as u64)
            .read_to_end(&mut kept)?;
    }
    hasher.update(&kept);
    let mut total = kept.len() as u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    let mut warnings = Vec::new();
    if total > kept.len() as u64 {
        let cut = cut_point(&kept);
        kept.truncate(cut);
        warnings.push(format!(
            "only the first {cut} of {total} bytes are indexed (max_note_bytes is {cap})"
        ));
    }
    let text = match String::from_utf8(kept) {
        Ok(s) => s,
        Err(e) => {
            let bytes = e.into_bytes();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let replaced = text.matches('\u{FFFD}').count();
            warnings.push(format!(
                "not valid UTF-8: {replaced} undecodable sequence(s) replaced with U+FFFD"
            ));
            text
        }
    };
    let text = match text.strip_prefix('\u{FEFF}') {
        Some(rest) => rest.to_string(),
        None => text,
    };
    Ok(NoteFile::Text {
        text,
        hash: *hasher.finalize().as_bytes(),
        warnings,
    })
}

/// Where to cut a capped note: after its last complete line, else at the last character boundary.
fn cut_point(bytes: &[u8]) -> usize {
    if let Some(nl) = bytes.iter().rposition(|&b| b == b'\n') {
        return nl + 1;
    }
    let mut end = bytes.len();
    // Step back over UTF-8 continuation bytes (10xxxxxx) and the lead byte they belong to.
    while end > 0 && bytes[end - 1] & 0xC0 == 0x80 {
        end -= 1;
    }
    if end > 0 && bytes[end - 1] >= 0xC0 {
        end -= 1;
    }
    end
}

/// Why `head` (the first bytes of a file) is not text, if it is not.
fn binary_reason(head: &[u8]) -> Option<String> {
    if head.is_empty() {
        return None;
    }
    if head.iter().take(1024).any(|&b| b == 0) {
        return Some("binary file (NUL bytes): not a markdown note; skipped".into());
    }
    let control = head
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B)) || b == 0x7F)
        .count();
    let invalid = invalid_utf8_bytes(head);
    // Text has almost no control bytes; Latin-1 prose has a few percent of non-UTF-8 bytes,
    // random data about half.
    if control * 20 > head.len() || invalid * 3 > head.len() {
        return Some(format!(
            "binary file ({}% control bytes, {}% not UTF-8): not a markdown note; skipped",
            control * 100 / head.len(),
            invalid * 100 / head.len()
        ));
    }
    None
}

/// Bytes of `bytes` that are not part of a valid UTF-8 sequence (a truncated last
/// character is not counted: the sniffed head may end mid-character).
fn invalid_utf8_bytes(mut bytes: &[u8]) -> usize {
    let mut invalid = 0;
    loop {
        match std::str::from_utf8(bytes) {
            Ok(_) => return invalid,
            Err(e) => match e.error_len() {
                Some(len) => {
                    invalid += len;
                    bytes = &bytes[e.valid_up_to() + len..];
                }
                None => return invalid,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("n.md");
        std::fs::write(&p, bytes).unwrap();
        (dir, p)
    }

    fn text(f: NoteFile) -> (String, Vec<String>, [u8; 32]) {
        match f {
            NoteFile::Text {
                text,
                warnings,
                hash,
            } => (text, warnings, hash),
            NoteFile::Binary { reason } => panic!("binary: {reason}"),
        }
    }

    #[test]
    fn plain_text_is_read_whole() {
        let (_d, p) = write("# Title\n\nbody é\n".as_bytes());
        let (t, w, h) = text(read_note_file(&p, 1 << 20).unwrap());
        assert_eq!(t, "# Title\n\nbody é\n");
        assert!(w.is_empty());
        assert_eq!(
            h,
            *blake3::hash("# Title\n\nbody é\n".as_bytes()).as_bytes()
        );
    }

    #[test]
    fn cap_cuts_at_a_line_and_hashes_everything() {
        let body = "line one\nline two\nline three\n".repeat(100);
        let (_d, p) = write(body.as_bytes());
        let (t, w, h) = text(read_note_file(&p, 50).unwrap());
        // The first 50 bytes end inside the fifth line.
        assert_eq!(t, "line one\nline two\nline three\nline one\nline two\n");
        assert_eq!(w.len(), 1);
        assert!(w[0].contains(&format!("of {} bytes", body.len())), "{w:?}");
        assert_eq!(h, *blake3::hash(body.as_bytes()).as_bytes());
    }

    #[test]
    fn cap_without_newline_keeps_whole_characters() {
        let (_d, p) = write("ééééé".as_bytes());
        let (t, w, _) = text(read_note_file(&p, 5).unwrap());
        assert_eq!(t, "éé");
        assert_eq!(w.len(), 1, "only the cap warning, no UTF-8 warning");
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily_and_reported() {
        let (_d, p) = write(b"caf\xe9 au lait\nsecond line\n");
        let (t, w, _) = text(read_note_file(&p, 1 << 20).unwrap());
        assert_eq!(t, "caf\u{FFFD} au lait\nsecond line\n");
        assert!(w[0].contains("not valid UTF-8"), "{w:?}");
    }

    #[test]
    fn binary_files_are_recognised() {
        let (_d, p) = write(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        assert!(matches!(
            read_note_file(&p, 1 << 20).unwrap(),
            NoteFile::Binary { .. }
        ));
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 | 1)
            .collect();
        let (_d2, p2) = write(&noise);
        assert!(matches!(
            read_note_file(&p2, 1 << 20).unwrap(),
            NoteFile::Binary { .. }
        ));
    }

    #[test]
    fn bom_is_dropped() {
        let (_d, p) = write("\u{FEFF}# T\n".as_bytes());
        assert_eq!(text(read_note_file(&p, 100).unwrap()).0, "# T\n");
    }
}
