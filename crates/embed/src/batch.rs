//! Grouping tokenized texts into inference batches under a token budget.
//!
//! A batch costs `rows × longest row` padded tokens, and ONNX Runtime's CPU arena grows to the
//! largest batch it has seen and keeps that memory. Sorting by length keeps padding small, and the
//! budget bounds both the arena and the latency of one batch (a waiting query never waits longer
//! than one batch).

use crate::tokenize::Tokens;

/// One batch ready for the model: row-major `[rows, width]` tensors, padded with `pad_id` and
/// mask 0, plus the input position of each row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub rows: usize,
    pub width: usize,
    pub input_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    /// Which input each row belongs to.
    pub positions: Vec<usize>,
}

impl Batch {
    /// Real (unpadded) tokens in the batch.
    pub fn tokens(&self) -> usize {
        self.attention_mask.iter().filter(|&&m| m != 0).count()
    }
}

/// Splits `texts` into batches whose padded size (`rows × width`) stays within `budget` tokens.
/// Longest texts come first, so the first batch is the widest and the arena reaches its size at
/// once. A text longer than the budget gets a batch of its own.
pub fn plan(texts: Vec<Tokens>, budget: usize, pad_id: u32) -> Vec<Batch> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(texts[i].ids.len()));
    let mut batches = Vec::new();
    let mut start = 0;
    while start < order.len() {
        // Sorted longest first: the first row sets the width of the batch.
        let width = texts[order[start]].ids.len().max(1);
        let rows = (budget / width).clamp(1, order.len() - start);
        batches.push(pack(&texts, &order[start..start + rows], width, pad_id));
        start += rows;
    }
    batches
}

fn pack(texts: &[Tokens], rows: &[usize], width: usize, pad_id: u32) -> Batch {
    let mut input_ids = Vec::with_capacity(rows.len() * width);
    let mut attention_mask = Vec::with_capacity(rows.len() * width);
    for &i in rows {
        let ids = &texts[i].ids;
        input_ids.extend(ids.iter().map(|&t| i64::from(t)));
        input_ids.extend(std::iter::repeat_n(i64::from(pad_id), width - ids.len()));
        attention_mask.extend(std::iter::repeat_n(1i64, ids.len()));
        attention_mask.extend(std::iter::repeat_n(0i64, width - ids.len()));
    }
    Batch {
        rows: rows.len(),
        width,
        input_ids,
        attention_mask,
        positions: rows.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(lens: &[usize]) -> Vec<Tokens> {
        lens.iter()
            .enumerate()
            .map(|(i, &n)| Tokens {
                ids: (0..n).map(|j| (i * 100 + j + 1) as u32).collect(),
            })
            .collect()
    }

    #[test]
    fn respects_budget_and_covers_every_input_once() {
        let lens = [5, 40, 7, 300, 12, 12, 90, 3, 64, 1];
        let batches = plan(toks(&lens), 128, 0);
        let mut seen: Vec<usize> = batches.iter().flat_map(|b| b.positions.clone()).collect();
        seen.sort();
        assert_eq!(seen, (0..lens.len()).collect::<Vec<_>>());
        for b in &batches {
            assert!(b.rows * b.width <= 128 || b.rows == 1, "{b:?}");
            assert_eq!(b.input_ids.len(), b.rows * b.width);
            assert_eq!(b.width, b.positions.iter().map(|&p| lens[p]).max().unwrap());
        }
        // The 300-token text exceeds the budget and is alone, first.
        assert_eq!(batches[0].positions, vec![3]);
    }

    #[test]
    fn pads_with_pad_id_and_masks_padding() {
        let batches = plan(toks(&[2, 4]), 100, 7);
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        assert_eq!((b.rows, b.width), (2, 4));
        assert_eq!(b.positions, vec![1, 0]);
        assert_eq!(b.input_ids, vec![101, 102, 103, 104, 1, 2, 7, 7]);
        assert_eq!(b.attention_mask, vec![1, 1, 1, 1, 1, 1, 0, 0]);
        assert_eq!(b.tokens(), 6);
    }

    #[test]
    fn sorting_keeps_padding_small() {
        // Alternating short and long texts: sorted batches waste little.
        let lens: Vec<usize> = (0..64).map(|i| if i % 2 == 0 { 8 } else { 100 }).collect();
        let batches = plan(toks(&lens), 800, 0);
        let padded: usize = batches.iter().map(|b| b.rows * b.width).sum();
        let real: usize = lens.iter().sum();
        assert!(
            padded as f64 <= real as f64 * 1.1,
            "padded {padded} real {real}"
        );
    }

    #[test]
    fn empty_input_gives_no_batches() {
        assert!(plan(Vec::new(), 100, 0).is_empty());
    }
}
