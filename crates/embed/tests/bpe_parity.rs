//! The compact BPE tokenizer against the `tokenizers` library, id for id. The tokenizer.json is
//! built here the way Gemma's is shaped (a BPE model trained by `tokenizers`' own trainer on
//! Cranfield abstracts (`fixtures/beir/cranfield`), byte fallback, `<unk>` fusing, the `Replace(" " -> "▁")` normalizer, a
//! `Split(" ")` pre-tokenizer, `<bos> $A <eos>`, special and non-special added tokens matched in
//! the raw text), then compared on held-out Cranfield text, the sample vault's notes and on
//! adversarial strings,
//! with and without truncation; plus the files and settings it must leave to `tokenizers`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::normalizers::Replace;
use tokenizers::pre_tokenizers::split::Split;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
    SplitDelimiterBehavior, Tokenizer, TokenizerBuilder,
};
use vault_rag_embed::{TextTokenizer, TokenizerBackend};

/// Documents used for training; the rest of Cranfield is held out.
const TRAIN_DOCS: usize = 600;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The BEIR-layout collections of the repository (`VAULT_RAG_DATASETS` points elsewhere).
fn datasets() -> PathBuf {
    let dir = std::env::var_os("VAULT_RAG_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("fixtures/beir"));
    assert!(
        dir.join("cranfield/corpus.jsonl").is_file(),
        "the Cranfield corpus is missing under {}",
        dir.display()
    );
    dir
}

/// The text of every note of the sample vault.
fn sample_notes() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("sample vault readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(std::fs::read_to_string(&path).expect("note readable"));
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo_root().join("examples/sample-vault"), &mut out);
    out.sort();
    out
}

/// (title, text) of each record of a BEIR-style corpus.
fn corpus(name: &str) -> Vec<(String, String)> {
    let path = datasets().join(name).join("corpus.jsonl");
    let raw = std::fs::read_to_string(&path).expect("corpus readable");
    raw.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON record");
            let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            (field("title"), field("text"))
        })
        .collect()
}

fn added(content: &str, special: bool) -> AddedToken {
    AddedToken::from(content, special).normalized(false)
}

/// The Gemma-shaped tokenizer.json as `tokenizers` writes it (model keys in its order: vocab
/// before merges) and as a JSON value (keys sorted when written back), built once per process.
fn gemma_like() -> &'static (String, Value) {
    static BUILT: OnceLock<(String, Value)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut trainer = BpeTrainerBuilder::new()
            .vocab_size(3000)
            .min_frequency(2)
            .show_progress(false)
            // A small alphabet: rarer chars of the corpus go through byte fallback.
            .limit_alphabet(90)
            .max_token_length(Some(12))
            .special_tokens(
                ["<pad>", "<eos>", "<bos>", "<unk>"]
                    .map(|t| added(t, true))
                    .to_vec(),
            )
            .build();
        let mut tok = TokenizerBuilder::<
            BPE,
            NormalizerWrapper,
            PreTokenizerWrapper,
            PostProcessorWrapper,
            DecoderWrapper,
        >::default()
        .with_model(BPE::default())
        .with_normalizer(Some(Replace::new(" ", "▁").expect("replace").into()))
        .with_pre_tokenizer(Some(
            Split::new(" ", SplitDelimiterBehavior::MergedWithPrevious, false)
                .expect("split")
                .into(),
        ))
        .build()
        .expect("tokenizer");
        // Words with their leading space, as SentencePiece sees them; whole documents as single
        // words would make training slow for nothing.
        let docs = corpus("cranfield");
        let words = docs[..TRAIN_DOCS]
            .iter()
            .flat_map(|(t, x)| t.split(' ').chain(x.split(' ')))
            .map(|w| format!(" {w}"));
        tok.train(&mut trainer, words).expect("training");
        let mut v: Value = serde_json::from_str(&tok.to_string(false).expect("json")).unwrap();
        let vocab = v["model"]["vocab"].as_object_mut().unwrap();
        let first = vocab.len();
        for (next, b) in (first..).zip(0..=255u8) {
            vocab.insert(format!("<{b:#04X}>"), json!(next));
        }
        let model = &mut v["model"];
        model["byte_fallback"] = json!(true);
        model["fuse_unk"] = json!(true);
        model["unk_token"] = json!("<unk>");
        let base = dir.path().join("base.json");
        std::fs::write(&base, v.to_string()).unwrap();

        let mut tok = Tokenizer::from_file(&base).expect("the trained file loads");
        let plain = [
            "\n",
            "\n\n",
            "\n\n\n",
            "\t",
            "<h1>",
            "</h1>",
            "▁▁",
            "▁▁▁",
            "ing",
            "<unused0>",
        ];
        tok.add_tokens(plain.map(|t| added(t, false))).unwrap();
        let special = [
            "<mask>",
            "<start_of_turn>",
            "<end_of_turn>",
            "<image_soft_token>",
        ];
        tok.add_special_tokens(special.map(|t| added(t, true)))
            .unwrap();
        let template = TemplateProcessing::builder()
            .try_single("<bos> $A <eos>")
            .unwrap()
            .special_tokens(vec![("<bos>", 2), ("<eos>", 1)])
            .build()
            .unwrap();
        tok.with_post_processor(Some(template));
        let text = tok.to_string(false).unwrap();
        let value = serde_json::from_str(&text).unwrap();
        (text, value)
    })
}

/// Writes `json` and loads it with both backends at `max_tokens`.
fn both(json: &str, max_tokens: usize) -> (TextTokenizer, TextTokenizer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, json).unwrap();
    let compact = TextTokenizer::load_with(&path, max_tokens, TokenizerBackend::CompactBpe)
        .expect("the compact tokenizer takes this file");
    let hf = TextTokenizer::load_with(&path, max_tokens, TokenizerBackend::HuggingFace).unwrap();
    let auto = TextTokenizer::load(&path, max_tokens).unwrap();
    assert_eq!(auto.backend(), TokenizerBackend::CompactBpe);
    (compact, hf, dir)
}

fn assert_same(compact: &TextTokenizer, hf: &TextTokenizer, texts: &[String]) -> usize {
    let mut tokens = 0;
    for text in texts {
        let expected = hf.encode(text).unwrap().ids;
        assert_eq!(compact.encode(text).unwrap().ids, expected, "text {text:?}");
        let count = hf.count(text).unwrap();
        assert_eq!(compact.count(text).unwrap(), count, "count of {text:?}");
        tokens += count;
    }
    tokens
}

fn adversarial() -> Vec<String> {
    let docs = corpus("cranfield");
    let long: String = docs[TRAIN_DOCS..TRAIN_DOCS + 40]
        .iter()
        .map(|(t, x)| format!("{t}\n\n{x}\n"))
        .collect();
    let mut texts: Vec<String> = [
        "",
        " ",
        "  ",
        "   x   ",
        "\t",
        "\n",
        "\n\n",
        "\n\n\n",
        "\n\n\n\n\n\n\n",
        "\r\n",
        "a\r\n\r\nb",
        "a\n\nb",
        "a\tb\t\tc\t",
        "<h1>Title</h1>",
        "word<h1>glued</h1>word",
        "x<unused0><unused0>y",
        "<unused0",
        "<unused",
        "<unk>",
        "<bos>text<eos>",
        "<pad><mask><start_of_turn>user",
        "<0x41>",
        "▁",
        "▁▁x",
        "▁▁▁▁▁",
        "x ▁ y",
        "bringing thinking",
        "ing",
        "inging",
        "ING",
        "🦀🎉👍🏽",
        "👨‍👩‍👧 family",
        "日本語のテキストです。",
        "中文文本",
        "한국어 텍스트",
        "مرحبا بالعالم",
        "שלום עולם",
        "हिन्दी पाठ",
        "ข้อความภาษาไทย",
        "e\u{301}te\u{301}",
        "a\u{300}\u{301}\u{302}\u{303}",
        "Z̸̢̧a̵̡͝l̷̨g̶o̴",
        "\u{0}\u{1}\u{7}\u{1b}[31m\u{7f}",
        "zero\u{200b}width\u{feff}",
        "\u{feff}BOM",
        "naïve café résumé",
        "Ωμέγα αβγ ∑∫√∞",
        "x² + y² = z²",
        "C₆H₁₂O₆",
        "1,234.56 × 10⁻³ mg/kg",
        "http://example.com/a?b=c&d=e#f",
        "[[Link|alias]] #tag %%comment%% ==mark== `code`",
        "- [ ] task\n- [x] done",
        "```rust\nfn main() {}\n```",
        "\u{10FFFF}\u{E000}",
        "🦀é🦀é",
        "é🦀",
    ]
    .map(String::from)
    .to_vec();
    texts.push(long.clone());
    texts.push(long.replace(' ', "  "));
    texts.push("a".repeat(5000));
    texts.push(" ".repeat(3000));
    texts.push("🦀".repeat(1500));
    texts.push("\n".repeat(700));
    texts.push("<h1>".repeat(300));
    texts.push("the ".repeat(2000));
    texts
}

#[test]
fn same_ids_as_tokenizers_on_held_out_corpus_text() {
    let json = &gemma_like().0;
    let (compact, hf, _dir) = both(json, 2048);
    let mut texts = Vec::new();
    for (title, text) in &corpus("cranfield")[TRAIN_DOCS..] {
        texts.push(format!("title: {title} | text: {text}"));
        texts.push(text.clone());
        texts.push(title.clone());
    }
    // Notes in another domain, with markdown, names and Japanese.
    texts.extend(sample_notes());
    let tokens = assert_same(&compact, &hf, &texts);
    assert!(tokens > 300_000, "only {tokens} tokens compared");
    // Truncation at a small limit keeps `<bos>` and `<eos>` around the first tokens.
    let (compact, hf, _dir) = both(json, 64);
    assert_same(&compact, &hf, &texts[..400]);
    let ids = compact.encode(&texts[0]).unwrap().ids;
    assert_eq!((ids.len(), ids[0], ids[63]), (64, 2, 1));
}

#[test]
fn same_ids_on_adversarial_text_in_every_variant() {
    let base = gemma_like().1.clone();
    let mut variants = vec![("gemma-like", base.clone())];
    let mut v = base.clone();
    v["model"]["byte_fallback"] = json!(false);
    v["model"]["fuse_unk"] = json!(false);
    variants.push(("unk, not fused", v.clone()));
    v["model"]["fuse_unk"] = json!(true);
    variants.push(("unk, fused", v));
    // Byte fallback with the 4-byte lead bytes missing: emoji become `<unk>`, which then waits
    // behind the byte tokens of the next char, as `tokenizers` orders them.
    let mut v = base.clone();
    for b in ["<0xF0>", "<0xF4>"] {
        v["model"]["vocab"].as_object_mut().unwrap().remove(b);
    }
    variants.push(("partial byte fallback", v));
    let mut v = base.clone();
    v["model"]["ignore_merges"] = json!(true);
    variants.push(("ignore_merges", v));
    let mut v = base.clone();
    v["model"]["unk_token"] = Value::Null;
    v["model"]["byte_fallback"] = json!(false);
    variants.push(("no unk", v));
    let mut v = base;
    v["normalizer"] = Value::Null;
    v["pre_tokenizer"] = Value::Null;
    v["post_processor"] = Value::Null;
    variants.push(("no normalizer, no post-processor", v));

    let texts = adversarial();
    for (name, json) in &variants {
        for max in [2048, 8] {
            let (compact, hf, _dir) = both(&json.to_string(), max);
            let tokens = assert_same(&compact, &hf, &texts);
            assert!(tokens > 1000, "{name}: {tokens} tokens");
        }
    }
}

#[test]
fn byte_fallback_and_added_tokens_are_exercised() {
    let (text, json) = gemma_like();
    let (compact, hf, _dir) = both(text, 2048);
    let vocab = json["model"]["vocab"].as_object().unwrap();
    let id = |t: &str| vocab[t].as_u64().unwrap() as u32;
    // "日" is E6 97 A5 in UTF-8 and not in the small alphabet.
    let ids = compact.encode("日").unwrap().ids;
    assert_eq!(ids, vec![2, id("<0xE6>"), id("<0x97>"), id("<0xA5>"), 1]);
    // Added tokens not in the vocabulary count up from its size; in it, they keep their id.
    let ids = compact.encode("<h1>ing<image_soft_token>").unwrap().ids;
    let before = ["\n", "\n\n", "\n\n\n", "\t"];
    let new_before = before.iter().filter(|t| !vocab.contains_key(**t)).count();
    assert_eq!(ids[1], (vocab.len() + new_before) as u32, "{ids:?}");
    assert_eq!(ids[2], id("ing"));
    assert_eq!(ids, hf.encode("<h1>ing<image_soft_token>").unwrap().ids);
}

/// Edits `json` with `edit` and checks that the compact tokenizer refuses it with `reason`, and
/// that `load` falls back to `tokenizers` when that library takes the file.
fn assert_refused(edit: impl Fn(&mut Value), reason: &str) {
    let mut json = gemma_like().1.clone();
    edit(&mut json);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, json.to_string()).unwrap();
    let refused = TextTokenizer::load_with(&path, 512, TokenizerBackend::CompactBpe);
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains(reason), "{reason:?} not in {message:?}");
    if let Ok(hf) = TextTokenizer::load_with(&path, 512, TokenizerBackend::HuggingFace) {
        let auto = TextTokenizer::load(&path, 512).expect("falls back");
        assert_eq!(auto.backend(), TokenizerBackend::HuggingFace, "{reason}");
        // With dropout, `tokenizers` itself gives different ids from one call to the next.
        let deterministic = json["model"]["dropout"].is_null();
        for text in ["Hello world <h1>x", "naïve 🦀"]
            .iter()
            .filter(|_| deterministic)
        {
            assert_eq!(auto.encode(text).unwrap(), hf.encode(text).unwrap());
        }
    }
}

#[test]
fn refuses_settings_it_does_not_reproduce() {
    assert_refused(
        |v| v["normalizer"] = json!({"type": "Lowercase"}),
        "normalizer",
    );
    assert_refused(
        |v| v["normalizer"] = json!({"type": "Sequence", "normalizers": []}),
        "normalizer",
    );
    assert_refused(
        |v| v["pre_tokenizer"] = json!({"type": "Whitespace"}),
        "pre_tokenizer",
    );
    assert_refused(
        |v| v["pre_tokenizer"]["pattern"] = json!({"String": "e"}),
        "pre_tokenizer",
    );
    assert_refused(
        |v| v["pre_tokenizer"]["pattern"] = json!({"Regex": " "}),
        "pre_tokenizer",
    );
    // Without the normalizer, the split on " " really splits.
    assert_refused(|v| v["normalizer"] = Value::Null, "pre_tokenizer");
    assert_refused(
        |v| v["post_processor"] = json!({"type": "ByteLevel", "trim_offsets": false}),
        "post_processor",
    );
    let token_flag = |flag: &'static str| {
        move |v: &mut Value| {
            let tokens = v["added_tokens"].as_array_mut().unwrap();
            let t = tokens.iter_mut().find(|t| t["content"] == "<h1>").unwrap();
            t[flag] = json!(true);
        }
    };
    for flag in ["lstrip", "rstrip", "single_word", "normalized"] {
        assert_refused(token_flag(flag), "added token \"<h1>\"");
    }
    assert_refused(|v| v["model"]["dropout"] = json!(0.5), "dropout");
    assert_refused(
        |v| v["model"]["end_of_word_suffix"] = json!("</w>"),
        "end_of_word_suffix",
    );
    assert_refused(
        |v| v["model"]["unk_token"] = json!("<missing>"),
        "not in the vocab",
    );
    assert_refused(
        |v| {
            let merges = v["model"]["merges"].as_array_mut().unwrap();
            for m in merges.iter_mut() {
                *m = json!(format!(
                    "{} {}",
                    m[0].as_str().unwrap(),
                    m[1].as_str().unwrap()
                ));
            }
        },
        "string form",
    );
    assert_refused(
        |v| {
            v["model"]["vocab"].as_object_mut().unwrap().remove("ing");
        },
        "merge token",
    );
    assert_refused(|v| v["model"]["type"] = json!("WordPiece"), "type");
    assert_refused(|v| v["version"] = json!("2.0"), "version");
}

#[test]
fn wordpiece_files_stay_with_tokenizers() {
    let path = common::model_dir().join("tokenizer.json");
    let tok = TextTokenizer::load(&path, 256).unwrap();
    assert_eq!(tok.backend(), TokenizerBackend::HuggingFace);
    let refused = TextTokenizer::load_with(&path, 256, TokenizerBackend::CompactBpe);
    assert!(refused.is_err());
    assert_eq!(tok.encode("hello world").unwrap().ids.len(), 4);
}
