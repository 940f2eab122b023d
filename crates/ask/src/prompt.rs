//! The prompt: numbered passages, then the question. Written for small local models: short,
//! literal rules, the passages in the user message (some chat templates drop system messages).

use crate::llm::ChatMessage;
use crate::session::{Role, Turn};
use crate::Passage;

/// What the model is asked to say when the passages do not hold the answer.
pub const NOT_IN_NOTES: &str = "I could not find this in your notes.";

/// The rules.
pub const SYSTEM_PROMPT: &str = "You answer questions about the user's own notes. Use only the numbered note passages you are given. After each sentence, cite the passages it comes from by their numbers in square brackets, like [1] or [2][3]. If the passages do not contain the answer, reply exactly: \"I could not find this in your notes.\" Never invent facts. Answer briefly, in the language of the question.";

/// The messages for a question: the rules, earlier turns (so that a follow-up reads right), then
/// the passages and the question.
pub fn messages(question: &str, history: &[Turn], passages: &[Passage]) -> Vec<ChatMessage> {
    let mut out = vec![ChatMessage {
        role: "system".into(),
        content: SYSTEM_PROMPT.into(),
    }];
    for turn in history {
        out.push(ChatMessage {
            role: match turn.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            }
            .into(),
            content: turn.content.clone(),
        });
    }
    // Plain numbered sources and a concrete instruction: the layout small models cite best
    // (the passage text starts with its headings, which name the note and section).
    let mut user = String::from("Sources:\n");
    for p in passages {
        user.push_str(&format!("[{}] {}\n\n", p.n, p.text.trim()));
    }
    user.push_str(&format!(
        "Question: {question}\nAnswer in one or two sentences. End each sentence with the number of its source, like [1]."
    ));
    out.push(ChatMessage {
        role: "user".into(),
        content: user,
    });
    out
}
