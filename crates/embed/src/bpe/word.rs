//! One word through the BPE model, step for step as `tokenizers` 0.23 does it (`BPE::merge_word`
//! and `Word::merge_all`): chars to ids with byte fallback and unknown-token fusing, then the
//! lowest-ranked pair merged first (ties: leftmost), stale queue entries skipped by the same test.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::tables::{Merges, Vocab};

/// What the model needs besides its tables.
pub(crate) struct WordModel {
    pub vocab: Vocab,
    pub merges: Merges,
    pub unk: Option<u32>,
    pub fuse_unk: bool,
    /// `<0xXX>` ids, when `byte_fallback` is on and all 256 are in the vocabulary.
    pub byte_ids: Option<Box<[u32; 256]>>,
    /// With `byte_fallback` on but some `<0xXX>` missing, a char falls back only when all its
    /// bytes are there; kept apart so the common case stays a table read.
    pub partial_bytes: Option<Box<[Option<u32>; 256]>>,
    pub ignore_merges: bool,
    /// Ids of the one-byte chars, `u32::MAX` when absent: most chars are ASCII.
    pub ascii: [u32; 128],
}

#[derive(Clone, Copy)]
struct Symbol {
    id: u32,
    prev: i32,
    next: i32,
    /// Merged into its left neighbour.
    gone: bool,
}

/// Reusable buffers of one encoding call.
#[derive(Default)]
pub(crate) struct Scratch {
    symbols: Vec<Symbol>,
    queue: BinaryHeap<Reverse<(u32, u32, u32)>>,
}

impl WordModel {
    /// Appends the ids of `word` to `out`.
    pub(crate) fn encode_word(&self, word: &str, scratch: &mut Scratch, out: &mut Vec<u32>) {
        if word.is_empty() {
            return;
        }
        if self.ignore_merges {
            if let Some(id) = self.vocab.get(word) {
                out.push(id);
                return;
            }
        }
        let symbols = &mut scratch.symbols;
        symbols.clear();
        self.initial_symbols(word, symbols);
        self.merge_all(symbols, &mut scratch.queue);
        out.extend(symbols.iter().filter(|s| !s.gone).map(|s| s.id));
    }

    fn initial_symbols(&self, word: &str, symbols: &mut Vec<Symbol>) {
        let push = |symbols: &mut Vec<Symbol>, id: u32| {
            let n = symbols.len() as i32;
            if let Some(last) = symbols.last_mut() {
                last.next = n;
            }
            symbols.push(Symbol {
                id,
                prev: n - 1,
                next: -1,
                gone: false,
            });
        };
        // A run of unknown chars waiting to be emitted as one `unk` (when fused).
        let mut pending_unk = false;
        let mut buf = [0u8; 4];
        for c in word.chars() {
            let found = if (c as u32) < 128 {
                Some(self.ascii[c as usize]).filter(|&id| id != u32::MAX)
            } else {
                self.vocab.get(c.encode_utf8(&mut buf))
            };
            if let Some(id) = found {
                if pending_unk {
                    push(symbols, self.unk.unwrap_or(u32::MAX));
                    pending_unk = false;
                }
                push(symbols, id);
                continue;
            }
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            // Byte tokens go in without flushing a pending unk first, as `tokenizers` does.
            if let Some(table) = &self.byte_ids {
                for &b in bytes {
                    push(symbols, table[b as usize]);
                }
                continue;
            }
            if let Some(table) = &self.partial_bytes {
                if bytes.iter().all(|&b| table[b as usize].is_some()) {
                    for &b in bytes {
                        push(symbols, table[b as usize].unwrap_or(u32::MAX));
                    }
                    continue;
                }
            }
            if let Some(unk) = self.unk {
                if pending_unk && !self.fuse_unk {
                    push(symbols, unk);
                }
                pending_unk = true;
            }
        }
        if pending_unk {
            push(symbols, self.unk.unwrap_or(u32::MAX));
        }
    }

    fn merge_all(&self, symbols: &mut [Symbol], queue: &mut BinaryHeap<Reverse<(u32, u32, u32)>>) {
        queue.clear();
        // Entries (rank, position, new id): a min-heap on rank, then position. Equal (rank,
        // position) entries carry the same pair, so their relative order cannot matter.
        for (pos, w) in symbols.windows(2).enumerate() {
            if let Some((rank, new)) = self.merges.get(w[0].id, w[1].id) {
                queue.push(Reverse((rank, pos as u32, new)));
            }
        }
        while let Some(Reverse((_, pos, new))) = queue.pop() {
            let pos = pos as usize;
            if symbols[pos].gone || symbols[pos].next == -1 {
                continue;
            }
            let next = symbols[pos].next as usize;
            let right = symbols[next];
            // A stale entry: the pair here changed since it was queued. `tokenizers` compares
            // only the new id, so the same test is used here.
            match self.merges.get(symbols[pos].id, right.id) {
                Some((_, current)) if current == new => {}
                _ => continue,
            }
            symbols[pos].id = new;
            symbols[pos].next = right.next;
            symbols[next].gone = true;
            if right.next >= 0 {
                symbols[right.next as usize].prev = pos as i32;
            }
            let current = symbols[pos];
            if current.prev >= 0 {
                let prev = current.prev as usize;
                if let Some((rank, new)) = self.merges.get(symbols[prev].id, current.id) {
                    queue.push(Reverse((rank, prev as u32, new)));
                }
            }
            if current.next >= 0 {
                let after = symbols[current.next as usize];
                if let Some((rank, new)) = self.merges.get(current.id, after.id) {
                    queue.push(Reverse((rank, pos as u32, new)));
                }
            }
        }
    }
}
