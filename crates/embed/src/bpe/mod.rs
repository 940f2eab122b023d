//! A compact BPE tokenizer for `tokenizer.json` files shaped like Gemma's: added tokens matched in
//! the raw text, a literal `Replace` normalizer, no effective pre-tokenizer, a BPE model with byte
//! fallback, and a `TemplateProcessing` post-processor. It gives the ids `tokenizers` gives, and
//! holds a fraction of its memory (Gemma: about 20 MB against about 100 MB) without the transient
//! JSON tree at load. Any setting it does not reproduce exactly is a [`Refusal`], and the caller
//! uses `tokenizers` instead.

mod load;
mod tables;
mod word;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde_json::Value;

use load::{AddedTokenJson, Parsed};
use word::{Scratch, WordModel};

/// Why a file is left to `tokenizers`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Refusal(String);

fn refuse<T>(why: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(why.into()))
}

pub(crate) struct CompactBpe {
    model: WordModel,
    /// Added tokens (leftmost-longest) and the id of each pattern.
    added: Option<(AhoCorasick, Vec<u32>)>,
    /// The `Replace` normalizer: (pattern, content).
    replace: Option<(String, String)>,
    /// Ids the post-processor puts around a single text.
    pub prefix: Vec<u32>,
    pub suffix: Vec<u32>,
}

impl CompactBpe {
    pub(crate) fn load(path: &Path) -> Result<Self, Refusal> {
        let bytes = std::fs::read(path).map_err(|e| Refusal(format!("cannot read: {e}")))?;
        let parsed = load::parse(&bytes).map_err(|e| Refusal(e.to_string()))?;
        drop(bytes);
        Self::from_parsed(parsed)
    }

    fn from_parsed(p: Parsed) -> Result<Self, Refusal> {
        let replace = replace_normalizer(p.normalizer.as_ref())?;
        check_pre_tokenizer(p.pre_tokenizer.as_ref(), replace.as_ref())?;
        let (prefix, suffix) = template(p.post_processor.as_ref())?;
        let m = p.model;
        let unk = match &m.unk_token {
            None => None,
            Some(t) => match m.vocab.get(t) {
                Some(id) => Some(id),
                // `tokenizers` fails on the first unknown char then; not reproduced.
                None => return refuse(format!("unk_token {t:?} is not in the vocab")),
            },
        };
        let (mut byte_ids, mut partial_bytes) = (None, None);
        if m.byte_fallback {
            let found: Vec<Option<u32>> = (0..=255u8)
                .map(|b| m.vocab.get(&format!("<{b:#04X}>")))
                .collect();
            if found.iter().all(Option::is_some) {
                let mut t = Box::new([0u32; 256]);
                for (slot, id) in t.iter_mut().zip(&found) {
                    *slot = id.unwrap_or(u32::MAX);
                }
                byte_ids = Some(t);
            } else {
                let mut t = Box::new([None; 256]);
                t.copy_from_slice(&found);
                partial_bytes = Some(t);
            }
        }
        let mut ascii = [u32::MAX; 128];
        let mut buf = [0u8; 4];
        for (c, slot) in ascii.iter_mut().enumerate() {
            let ch = char::from(c as u8);
            *slot = m.vocab.get(ch.encode_utf8(&mut buf)).unwrap_or(u32::MAX);
        }
        let model = WordModel {
            vocab: m.vocab,
            merges: m.merges,
            unk,
            fuse_unk: m.fuse_unk,
            byte_ids,
            partial_bytes,
            ignore_merges: m.ignore_merges,
            ascii,
        };
        let added = added_tokens(&p.added_tokens, &model.vocab)?;
        Ok(Self {
            model,
            added,
            replace,
            prefix,
            suffix,
        })
    }

    /// Appends the ids of `text` (no post-processor tokens) to `out`.
    pub(crate) fn encode_raw(&self, text: &str, out: &mut Vec<u32>) {
        let mut scratch = Scratch::default();
        let mut start = 0;
        if let Some((ac, ids)) = &self.added {
            for m in ac.find_iter(text) {
                self.encode_piece(&text[start..m.start()], &mut scratch, out);
                out.push(ids[m.pattern().as_usize()]);
                start = m.end();
            }
        }
        self.encode_piece(&text[start..], &mut scratch, out);
    }

    /// A stretch between added tokens: normalized, then one BPE word (the pre-tokenizer, if any,
    /// was checked to find nothing to split on in normalized text).
    fn encode_piece(&self, piece: &str, scratch: &mut Scratch, out: &mut Vec<u32>) {
        if piece.is_empty() {
            return;
        }
        match &self.replace {
            Some((pattern, content)) if piece.contains(pattern.as_str()) => {
                let normalized = piece.replace(pattern.as_str(), content);
                self.model.encode_word(&normalized, scratch, out);
            }
            _ => self.model.encode_word(piece, scratch, out),
        }
    }

    /// Heap bytes of the tables, for the logs.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.model.vocab.heap_bytes()
            + self.model.merges.heap_bytes()
            + self
                .added
                .as_ref()
                .map_or(0, |(ac, ids)| ac.memory_usage() + 4 * ids.len())
    }

    pub(crate) fn vocab_len(&self) -> usize {
        self.model.vocab.len()
    }

    pub(crate) fn merges_len(&self) -> usize {
        self.model.merges.len()
    }
}

fn keys_are(obj: &serde_json::Map<String, Value>, allowed: &[&str]) -> bool {
    obj.keys().all(|k| allowed.contains(&k.as_str()))
}

/// `null`, or `Replace` of a literal string.
fn replace_normalizer(v: Option<&Value>) -> Result<Option<(String, String)>, Refusal> {
    let Some(v) = v else { return Ok(None) };
    let obj = v.as_object().filter(|o| {
        o.get("type").and_then(Value::as_str) == Some("Replace")
            && keys_are(o, &["type", "pattern", "content"])
    });
    let pattern = obj
        .and_then(|o| o.get("pattern")?.get("String")?.as_str())
        .filter(|p| !p.is_empty());
    let content = obj.and_then(|o| o.get("content")?.as_str());
    match (pattern, content) {
        (Some(p), Some(c)) => Ok(Some((p.to_owned(), c.to_owned()))),
        _ => refuse(format!("normalizer {v} is not supported")),
    }
}

/// `null`, or a `Split` on the one char the normalizer replaces by something without it: such a
/// split never finds a delimiter, so it leaves every piece whole, whatever its behaviour.
fn check_pre_tokenizer(
    v: Option<&Value>,
    replace: Option<&(String, String)>,
) -> Result<(), Refusal> {
    let Some(v) = v else { return Ok(()) };
    let ok = v.as_object().is_some_and(|o| {
        let split = o.get("pattern").and_then(|p| p.get("String")?.as_str());
        o.get("type").and_then(Value::as_str) == Some("Split")
            && keys_are(o, &["type", "pattern", "behavior", "invert"])
            && o.get("invert").and_then(Value::as_bool) == Some(false)
            && o.get("behavior").and_then(Value::as_str).is_some_and(|b| {
                [
                    "Removed",
                    "Isolated",
                    "MergedWithPrevious",
                    "MergedWithNext",
                    "Contiguous",
                ]
                .contains(&b)
            })
            && match (split, replace) {
                (Some(s), Some((p, c))) => s == p && s.chars().count() == 1 && !c.contains(s),
                _ => false,
            }
    });
    if ok {
        Ok(())
    } else {
        refuse(format!("pre_tokenizer {v} is not supported"))
    }
}

/// `null`, or `TemplateProcessing` whose single-text template is special tokens around `$A`:
/// returns the ids before and after the text.
fn template(v: Option<&Value>) -> Result<(Vec<u32>, Vec<u32>), Refusal> {
    let Some(v) = v else {
        return Ok((vec![], vec![]));
    };
    let fail = || Refusal(format!("post_processor {v} is not supported"));
    let obj = v
        .as_object()
        .filter(|o| o.get("type").and_then(Value::as_str) == Some("TemplateProcessing"))
        .ok_or_else(fail)?;
    let single = obj
        .get("single")
        .and_then(Value::as_array)
        .ok_or_else(fail)?;
    let specials = obj
        .get("special_tokens")
        .and_then(Value::as_object)
        .ok_or_else(fail)?;
    let (mut before, mut after, mut seen_a) = (vec![], vec![], false);
    for piece in single {
        if let Some(seq) = piece.get("Sequence") {
            if seq.get("id").and_then(Value::as_str) != Some("A") || seen_a {
                return Err(fail());
            }
            seen_a = true;
        } else if let Some(name) = piece
            .get("SpecialToken")
            .and_then(|s| s.get("id")?.as_str())
        {
            let ids = specials
                .get(name)
                .and_then(|s| s.get("ids")?.as_array())
                .ok_or_else(fail)?;
            let target = if seen_a { &mut after } else { &mut before };
            for id in ids {
                let id = id.as_u64().and_then(|i| u32::try_from(i).ok());
                target.push(id.ok_or_else(fail)?);
            }
        } else {
            return Err(fail());
        }
    }
    if !seen_a {
        return Err(fail());
    }
    Ok((before, after))
}

/// Ids as `tokenizers` assigns them on load (the file's `id` fields are not used): an earlier
/// added token or a vocabulary entry with the same content keeps its id, others count up from
/// the vocabulary size. Patterns are those of the id -> token map, later entries replacing
/// earlier ones.
fn added_tokens(
    tokens: &[AddedTokenJson],
    vocab: &tables::Vocab,
) -> Result<Option<(AhoCorasick, Vec<u32>)>, Refusal> {
    let mut by_content: HashMap<&str, u32> = HashMap::new();
    let mut by_id: BTreeMap<u32, &str> = BTreeMap::new();
    let mut next_id = vocab.len() as u32;
    for t in tokens {
        if t.content.is_empty() {
            continue;
        }
        if t.single_word || t.lstrip || t.rstrip || t.normalized {
            return refuse(format!(
                "added token {:?}: single_word, lstrip, rstrip and normalized are not supported",
                t.content
            ));
        }
        // Listed again (at most `special` differs, which matching ignores): same id, same pattern.
        if by_content.contains_key(t.content.as_str()) {
            continue;
        }
        let id = vocab.get(&t.content).unwrap_or_else(|| {
            next_id += 1;
            next_id - 1
        });
        by_content.insert(&t.content, id);
        by_id.insert(id, &t.content);
    }
    if by_id.is_empty() {
        return Ok(None);
    }
    let (ids, patterns): (Vec<u32>, Vec<&str>) = by_id.into_iter().unzip();
    let ac = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        // The contiguous NFA is the small one; a DFA of thousands of patterns is not needed.
        .kind(Some(AhoCorasickKind::ContiguousNFA))
        .build(&patterns)
        .map_err(|e| Refusal(format!("added tokens: {e}")))?;
    Ok(Some((ac, ids)))
}
