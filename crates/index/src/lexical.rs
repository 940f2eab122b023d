//! Lexical (BM25) helpers around the FTS5 table.
//!
//! FTS5's `unicode61` tokenizer splits on spaces and punctuation, so a run of Chinese or Japanese
//! characters would become one giant token that no query word matches. [`fts_document`] therefore
//! rewrites CJK runs as overlapping character bigrams (plus single characters for one-character
//! runs) before they go into the index; queries get the same treatment.

/// Whether `c` belongs to a script written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF     // Hiragana, Katakana
        | 0x3400..=0x4DBF   // CJK Extension A
        | 0x4E00..=0x9FFF   // CJK Unified Ideographs
        | 0xAC00..=0xD7AF   // Hangul syllables
        | 0xF900..=0xFAFF   // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F // CJK Extensions B..F, Compatibility Supplement
    )
}

/// The text that goes into an FTS5 column: unchanged, except that CJK runs become
/// space-separated bigrams.
pub fn fts_document(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut run: Vec<char> = Vec::new();
    for c in text.chars() {
        if is_cjk(c) {
            run.push(c);
        } else {
            flush_cjk(&mut run, &mut out);
            out.push(c);
        }
    }
    flush_cjk(&mut run, &mut out);
    out
}

fn flush_cjk(run: &mut Vec<char>, out: &mut String) {
    if run.is_empty() {
        return;
    }
    out.push(' ');
    if run.len() == 1 {
        out.push(run[0]);
    } else {
        for pair in run.windows(2) {
            out.push(pair[0]);
            out.push(pair[1]);
            out.push(' ');
        }
    }
    out.push(' ');
    run.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_text_unchanged() {
        assert_eq!(fts_document("Hello, world"), "Hello, world");
    }

    #[test]
    fn cjk_becomes_bigrams() {
        let d = fts_document("学习机器学习");
        let toks: Vec<&str> = d.split_whitespace().collect();
        assert_eq!(toks, ["学习", "习机", "机器", "器学", "学习"]);
    }
}
