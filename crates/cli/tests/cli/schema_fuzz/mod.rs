//! Random JSON for the fuzz in `reliability_serve_fuzz.rs`: a seedable generator, values that
//! stress parsers, and the subset of JSON Schema the OpenAPI document uses (generate a value a
//! schema accepts; check a value against a schema).

use serde_json::{json, Map, Value};

/// SplitMix64: small, seedable, good enough to pick mutations.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Pieces of text that stress tokenizers, FTS5 query syntax, JSON escaping and path handling.
pub const TEXT_PIECES: &[&str] = &[
    "tomato",
    "sourdough",
    "rust",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\"",
    "\\",
    "'",
    "*",
    "^",
    ":",
    "(",
    ")",
    "-",
    "+",
    "NEAR",
    "AND",
    "OR",
    "NOT",
    "..",
    "/",
    "../",
    "%2e",
    "%00",
    "\u{0}",
    "\u{7}",
    "\u{1b}[31m",
    "é",
    "e\u{301}",
    "ß",
    "中文",
    "日本語のテキスト",
    "עברית",
    "مرحبا",
    "\u{202e}",
    "\u{200b}",
    "\u{feff}",
    "\u{2028}",
    "🦀",
    "👩\u{200d}👩\u{200d}👧",
    "\u{fffd}",
    "\u{10ffff}",
    "#tag",
    "[[Link]]",
    "```",
    "---",
    "$$",
    "<script>",
    "'; DROP TABLE notes; --",
];

pub fn random_text(rng: &mut Rng, max_pieces: usize) -> String {
    let n = rng.below(max_pieces + 1);
    (0..n).map(|_| *rng.pick(TEXT_PIECES)).collect()
}

pub const EXTREME_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "100",
    "101",
    "-9223372036854775808",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "9007199254740993",
    "0.5",
    "1.0",
    "-0",
    "1e308",
    "-1e308",
    "5e-324",
];

pub fn extreme_number(rng: &mut Rng) -> Value {
    let number: &&str = rng.pick(EXTREME_NUMBERS);
    serde_json::from_str(number).unwrap_or(Value::Null)
}

/// A value of a random JSON type.
pub fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 3 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => extreme_number(rng),
        3 | 4 => Value::String(random_text(rng, 6)),
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(3) {
                map.insert(random_text(rng, 2), random_value(rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

/// Follows `$ref`s to `#/...` inside the document.
pub fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut schema = schema;
    while let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        schema = doc
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("unresolved $ref {reference}"));
    }
    schema
}

/// A value the schema accepts (short strings and arrays, to keep requests cheap).
pub fn generate(doc: &Value, schema: &Value, rng: &mut Rng) -> Value {
    let schema = resolve(doc, schema);
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        return generate(doc, rng.pick(options), rng);
    }
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return rng.pick(values).clone();
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds.first().and_then(Value::as_str).unwrap_or("null"),
        Some(Value::String(kind)) => kind.as_str(),
        _ => "object",
    };
    let bound = |key: &str| schema.get(key).and_then(Value::as_u64);
    match kind {
        "object" => {
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut map = Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    if required.contains(&name.as_str()) || rng.chance(50) {
                        map.insert(name.clone(), generate(doc, property, rng));
                    }
                }
            }
            Value::Object(map)
        }
        "array" => {
            let min = bound("minItems").unwrap_or(0) as usize;
            let max = (bound("maxItems").unwrap_or(4) as usize).min(min + 3);
            let items = schema.get("items").cloned().unwrap_or(json!({}));
            let n = min + rng.below(max - min + 1);
            Value::Array((0..n).map(|_| generate(doc, &items, rng)).collect())
        }
        "string" => {
            let min = bound("minLength").unwrap_or(0) as usize;
            let mut text = random_text(rng, 5);
            while text.chars().count() < min {
                let word: &&str = rng.pick(&["plants", "bread", "x"]);
                text.push_str(word);
            }
            Value::String(text)
        }
        "integer" => {
            let min = schema.get("minimum").and_then(Value::as_i64).unwrap_or(0);
            let max = schema
                .get("maximum")
                .and_then(Value::as_i64)
                .unwrap_or(1000);
            json!(min + rng.below((max - min + 1) as usize) as i64)
        }
        "number" => json!(rng.below(1000) as f64 / 7.0),
        "boolean" => Value::Bool(rng.chance(50)),
        _ => Value::Null,
    }
}

/// Whether `value` matches `schema` (the subset of JSON Schema the document uses).
pub fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|o| validate(doc, o, value, at).is_ok())
            .count();
        return if matching == 1 {
            Ok(())
        } else {
            Err(format!("{at}: matches {matching} of oneOf"))
        };
    }
    if let Some(expected) = schema.get("const") {
        if expected != value {
            return Err(format!("{at}: expected {expected}"));
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            return Err(format!("{at}: {value} is not one of {values:?}"));
        }
    }
    let kinds: Vec<&str> = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(kind)) => vec![kind.as_str()],
        _ => Vec::new(),
    };
    let is = |kind: &str| match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    };
    if !kinds.is_empty() && !kinds.iter().any(|k| is(k)) {
        return Err(format!("{at}: {value} is not {kinds:?}"));
    }
    let number = |key: &str| schema.get(key).and_then(Value::as_f64);
    let count = |key: &str| schema.get(key).and_then(Value::as_u64).map(|n| n as usize);
    if let Some(x) = value.as_f64() {
        if number("minimum").is_some_and(|min| x < min)
            || number("maximum").is_some_and(|max| x > max)
        {
            return Err(format!("{at}: {x} is out of range"));
        }
    }
    if let Some(text) = value.as_str() {
        let chars = text.chars().count();
        if count("minLength").is_some_and(|min| chars < min)
            || count("maxLength").is_some_and(|max| chars > max)
        {
            return Err(format!("{at}: length {chars} is out of range"));
        }
    }
    if let Some(items) = value.as_array() {
        if count("minItems").is_some_and(|min| items.len() < min)
            || count("maxItems").is_some_and(|max| items.len() > max)
        {
            return Err(format!("{at}: {} items is out of range", items.len()));
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                validate(doc, item_schema, item, &format!("{at}[{i}]"))?;
            }
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                return Err(format!("{at}: missing `{name}`"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, item) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(property) => validate(doc, property, item, &format!("{at}.{name}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}: unknown field `{name}`"))
                }
                None => {}
            }
        }
    }
    Ok(())
}
