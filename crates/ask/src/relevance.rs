//! Whether a hit answers the question at all. Hybrid scores are relative (the best hit is always
//! 1), so they cannot tell "nothing in the vault" from "a good match": this looks at the absolute
//! evidence instead. A hit counts when its dense similarity reaches the model's floor
//! (`FusionWeights::answer_similarity`, measured per model on the sample vault's questions), or
//! when its text holds most of the question's content words.

use vault_rag_core::Hit;

/// Share of the question's content words a hit's text must hold to count on keywords alone.
pub const KEYWORD_SHARE: f32 = 0.66;

/// Question and filler words that say nothing about the topic.
const STOP: &[&str] = &[
    "a", "about", "after", "all", "an", "and", "any", "are", "as", "at", "be", "been", "before",
    "but", "by", "can", "could", "did", "do", "does", "for", "from", "get", "had", "has", "have",
    "how", "i", "if", "in", "into", "is", "it", "its", "many", "me", "much", "my", "need", "of",
    "on", "or", "our", "should", "so", "some", "tell", "than", "that", "the", "their", "them",
    "then", "there", "these", "they", "this", "to", "was", "we", "were", "what", "when", "where",
    "which", "who", "whom", "why", "will", "with", "would", "you", "your",
];

/// The question's content words, lower-cased, in order, without repeats.
pub fn content_words(question: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in question
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 1)
    {
        let word = word.to_lowercase();
        if !STOP.contains(&word.as_str()) && !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// Whether `hit` is evidence for a question with `words` ([`content_words`]).
pub fn is_relevant(hit: &Hit, words: &[String], similarity_floor: f32) -> bool {
    if hit
        .explain
        .dense_similarity
        .is_some_and(|s| s >= similarity_floor)
    {
        return true;
    }
    if words.is_empty() {
        return false;
    }
    let matched: Vec<String> = hit
        .explain
        .matched_terms
        .iter()
        .map(|t| t.to_lowercase())
        .collect();
    let held = words
        .iter()
        .filter(|w| matched.iter().any(|m| m == *w))
        .count();
    held as f32 / words.len() as f32 >= KEYWORD_SHARE
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault_rag_core::Explain;

    fn hit(similarity: Option<f32>, matched: &[&str]) -> Hit {
        Hit {
            path: "n.md".into(),
            title: "n".into(),
            heading_path: vec![],
            line: 1,
            end_line: 1,
            block_id: None,
            snippet: String::new(),
            score: 1.0,
            retrievers: vec![],
            explain: Explain {
                dense_similarity: similarity,
                matched_terms: matched.iter().map(|s| s.to_string()).collect(),
                ..Explain::default()
            },
        }
    }

    #[test]
    fn content_words_drop_question_words() {
        assert_eq!(
            content_words("What is the part number of the drain pump? The PUMP!"),
            ["part", "number", "drain", "pump"]
        );
    }

    #[test]
    fn similarity_or_most_words() {
        let words = content_words("drain pump part number");
        assert!(is_relevant(&hit(Some(0.5), &[]), &words, 0.4));
        assert!(!is_relevant(&hit(Some(0.3), &["pump"]), &words, 0.4));
        assert!(is_relevant(
            &hit(Some(0.1), &["Drain", "pump", "part"]),
            &words,
            0.4
        ));
        assert!(!is_relevant(&hit(None, &[]), &[], 0.4));
    }
}
