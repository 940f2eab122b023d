//! Streaming parse of `tokenizer.json`: serde visitors write the vocabulary and the merges straight
//! into the compact tables, so the 262,144 strings and 514,906 pairs of Gemma's file never exist
//! as a JSON tree or as owned `String`s. The small sections (normalizer, pre-tokenizer,
//! post-processor, added tokens) are read whole and checked by the caller.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::tables::{Merges, Vocab, VocabBuilder};

/// One entry of `added_tokens`, all fields required as in `tokenizers`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct AddedTokenJson {
    #[allow(dead_code)] // `tokenizers` ignores it too: ids are assigned again on load
    pub id: u32,
    pub content: String,
    pub single_word: bool,
    pub lstrip: bool,
    pub rstrip: bool,
    pub normalized: bool,
    pub special: bool,
}

/// The file, with the model in compact form.
pub(crate) struct Parsed {
    pub added_tokens: Vec<AddedTokenJson>,
    pub normalizer: Option<Value>,
    pub pre_tokenizer: Option<Value>,
    pub post_processor: Option<Value>,
    pub model: ParsedModel,
}

pub(crate) struct ParsedModel {
    pub vocab: Vocab,
    pub merges: Merges,
    pub unk_token: Option<String>,
    pub fuse_unk: bool,
    pub byte_fallback: bool,
    pub ignore_merges: bool,
}

/// Parses `bytes` (the whole file). An error says what is unsupported or malformed.
pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = de.deserialize_map(FileVisitor)?;
    de.end()?;
    Ok(parsed)
}

struct FileVisitor;

impl<'de> Visitor<'de> for FileVisitor {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tokenizer.json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut added_tokens = Vec::new();
        let (mut normalizer, mut pre_tokenizer, mut post_processor) = (None, None, None);
        let mut model = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "version" => {
                    let v: String = map.next_value()?;
                    if v != "1.0" {
                        return Err(de::Error::custom(format!("unknown version {v:?}")));
                    }
                }
                "added_tokens" => added_tokens = map.next_value()?,
                "normalizer" => normalizer = map.next_value()?,
                "pre_tokenizer" => pre_tokenizer = map.next_value()?,
                "post_processor" => post_processor = map.next_value()?,
                "model" => model = Some(map.next_value_seed(ModelSeed)?),
                // truncation and padding are decided by the caller, the decoder is not used.
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Parsed {
            added_tokens,
            normalizer: normalizer.filter(|v: &Value| !v.is_null()),
            pre_tokenizer: pre_tokenizer.filter(|v: &Value| !v.is_null()),
            post_processor: post_processor.filter(|v: &Value| !v.is_null()),
            model: model.ok_or_else(|| de::Error::custom("no model"))?,
        })
    }
}

struct ModelSeed;

impl<'de> DeserializeSeed<'de> for ModelSeed {
    type Value = ParsedModel;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ParsedModel, D::Error> {
        d.deserialize_map(ModelVisitor)
    }
}

struct ModelVisitor;

impl<'de> Visitor<'de> for ModelVisitor {
    type Value = ParsedModel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a BPE model object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ParsedModel, A::Error> {
        let unsupported = |what: &str| de::Error::custom(format!("model: {what} is not supported"));
        let mut kind = None;
        let mut vocab: Option<Vocab> = None;
        let mut merges = None;
        let mut unk_token = None;
        let (mut fuse_unk, mut byte_fallback, mut ignore_merges) = (false, false, false);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => {
                    let t: String = map.next_value()?;
                    if t != "BPE" {
                        return Err(unsupported(&format!("type {t:?}")));
                    }
                    kind = Some(t);
                }
                "dropout" => {
                    if let Some(p) = map.next_value::<Option<f32>>()? {
                        if p != 0.0 {
                            return Err(unsupported("dropout"));
                        }
                    }
                }
                "unk_token" => unk_token = map.next_value()?,
                "continuing_subword_prefix" | "end_of_word_suffix" => {
                    if map.next_value::<Option<String>>()?.is_some() {
                        return Err(unsupported(&key));
                    }
                }
                "fuse_unk" => fuse_unk = map.next_value::<Option<bool>>()?.unwrap_or(false),
                "byte_fallback" => {
                    byte_fallback = map.next_value::<Option<bool>>()?.unwrap_or(false)
                }
                "ignore_merges" => {
                    ignore_merges = map.next_value::<Option<bool>>()?.unwrap_or(false)
                }
                "vocab" => {
                    let built = map.next_value_seed(VocabSeed)?;
                    vocab = Some(built.finish().map_err(|d| {
                        de::Error::custom(format!("vocab: {:?} appears twice", d.0))
                    })?);
                }
                "merges" => {
                    merges = Some(map.next_value_seed(MergesSeed {
                        vocab: vocab.as_ref(),
                    })?)
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if kind.is_none() {
            return Err(unsupported("a model without a type"));
        }
        let vocab = vocab.ok_or_else(|| de::Error::custom("model: no vocab"))?;
        let merges = match merges.ok_or_else(|| de::Error::custom("model: no merges"))? {
            ReadMerges::Resolved(m) => m,
            ReadMerges::Pending(p) => p.resolve(&vocab).map_err(de::Error::custom)?,
        };
        let bound = vocab.max_id().map_or(0, |m| m as usize + 1);
        // Row offsets are indexed by id: refuse ids far beyond the vocabulary size.
        if bound > 4 * vocab.len() + 1024 {
            return Err(unsupported("sparse token ids"));
        }
        let merges = Merges::build(merges, bound as u32);
        Ok(ParsedModel {
            vocab,
            merges,
            unk_token,
            fuse_unk,
            byte_fallback,
            ignore_merges,
        })
    }
}

/// Copies a string into a reused buffer.
struct IntoString<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for IntoString<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for IntoString<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.clear();
        self.0.push_str(v);
        Ok(())
    }
}

struct VocabSeed;

impl<'de> DeserializeSeed<'de> for VocabSeed {
    type Value = VocabBuilder;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<VocabBuilder, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for VocabSeed {
    type Value = VocabBuilder;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a vocab object (token -> id)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VocabBuilder, A::Error> {
        let mut builder = VocabBuilder::default();
        let mut token = String::new();
        while map.next_key_seed(IntoString(&mut token))?.is_some() {
            let id: u32 = map.next_value()?;
            builder.push(&token, id).map_err(de::Error::custom)?;
        }
        Ok(builder)
    }
}

/// Merges as `[left, right, new]` ids in rank order, resolved against the vocabulary as they are
/// read; a file that lists them before the vocabulary (keys sorted) has their strings kept until
/// it is read.
struct MergesSeed<'v> {
    vocab: Option<&'v Vocab>,
}

enum ReadMerges {
    Resolved(Vec<[u32; 3]>),
    Pending(PendingMerges),
}

#[derive(Default)]
struct PendingMerges {
    bytes: String,
    /// End of each left and right string in `bytes`, two per merge.
    ends: Vec<usize>,
}

impl PendingMerges {
    fn resolve(&self, vocab: &Vocab) -> Result<Vec<[u32; 3]>, String> {
        let mut out = Vec::with_capacity(self.ends.len() / 2);
        let mut joined = String::new();
        let mut start = 0;
        for pair in self.ends.chunks_exact(2) {
            let (left, right) = (&self.bytes[start..pair[0]], &self.bytes[pair[0]..pair[1]]);
            start = pair[1];
            out.push(resolve(vocab, left, right, &mut joined)?);
        }
        Ok(out)
    }
}

/// Ids of a merge's two sides and of their concatenation (built in `joined`).
fn resolve(
    vocab: &Vocab,
    left: &str,
    right: &str,
    joined: &mut String,
) -> Result<[u32; 3], String> {
    let id = |t: &str| {
        vocab
            .get(t)
            .ok_or_else(|| format!("merge token {t:?} is not in the vocab"))
    };
    joined.clear();
    joined.push_str(left);
    joined.push_str(right);
    Ok([id(left)?, id(right)?, id(joined)?])
}

impl<'de> DeserializeSeed<'de> for MergesSeed<'_> {
    type Value = ReadMerges;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for MergesSeed<'_> {
    type Value = ReadMerges;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of merges")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut resolved = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        let mut pending = PendingMerges::default();
        let (mut left, mut right, mut joined) = (String::new(), String::new(), String::new());
        while let Some(()) = seq.next_element_seed(PairSeed {
            left: &mut left,
            right: &mut right,
        })? {
            if let Some(vocab) = self.vocab {
                let ids = resolve(vocab, &left, &right, &mut joined).map_err(de::Error::custom)?;
                resolved.push(ids);
            } else {
                pending.bytes.push_str(&left);
                pending.ends.push(pending.bytes.len());
                pending.bytes.push_str(&right);
                pending.ends.push(pending.bytes.len());
            }
        }
        Ok(match self.vocab {
            Some(_) => ReadMerges::Resolved(resolved),
            None => ReadMerges::Pending(pending),
        })
    }
}

/// One merge, `["left", "right"]`; the older `"left right"` form is refused.
struct PairSeed<'a> {
    left: &'a mut String,
    right: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for PairSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PairSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a merge as a pair of strings")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(
            "merges in the \"left right\" string form are not supported",
        ))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let short = || de::Error::custom("a merge with fewer than two strings");
        seq.next_element_seed(IntoString(self.left))?
            .ok_or_else(short)?;
        seq.next_element_seed(IntoString(self.right))?
            .ok_or_else(short)?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("a merge with more than two strings"));
        }
        Ok(())
    }
}
