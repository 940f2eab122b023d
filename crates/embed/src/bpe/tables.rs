//! The two large tables of a BPE model in compact form: the vocabulary as one string buffer with
//! an open-addressing index (string -> id), and the merges as a compressed sparse row table
//! ((left, right) -> (rank, new id)). For Gemma's 262,144 tokens and 514,906 merges they take
//! about 15 MB, where hash maps of owned strings take several times that.

/// Token strings and their ids, in the order of the file.
pub(crate) struct Vocab {
    bytes: Vec<u8>,
    /// `ends[i]`: where string `i` ends in `bytes` (it starts where `i - 1` ends).
    ends: Vec<u32>,
    ids: Vec<u32>,
    /// Open addressing, linear probing; entry `i + 1` for string `i`, 0 for empty.
    slots: Vec<u32>,
    shift: u32,
}

/// Appends strings while the file is read; [`VocabBuilder::finish`] indexes them.
#[derive(Default)]
pub(crate) struct VocabBuilder {
    bytes: Vec<u8>,
    ends: Vec<u32>,
    ids: Vec<u32>,
}

/// The vocabulary holds the same string twice (a JSON object with a repeated key).
#[derive(Debug)]
pub(crate) struct DuplicateToken(pub String);

impl VocabBuilder {
    pub(crate) fn push(&mut self, token: &str, id: u32) -> Result<(), &'static str> {
        self.bytes.extend_from_slice(token.as_bytes());
        let end = u32::try_from(self.bytes.len()).map_err(|_| "vocabulary over 4 GiB")?;
        self.ends.push(end);
        self.ids.push(id);
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<Vocab, DuplicateToken> {
        let n = self.ids.len();
        // At most half full: short probe chains for the misses that every unknown char costs.
        let capacity = (n * 2).next_power_of_two().max(16);
        let mut vocab = Vocab {
            bytes: self.bytes,
            ends: self.ends,
            ids: self.ids,
            slots: vec![0; capacity],
            shift: 64 - capacity.trailing_zeros(),
        };
        vocab.bytes.shrink_to_fit();
        for i in 0..n {
            let token = vocab.string(i);
            let mut slot = vocab.home(token);
            loop {
                match vocab.slots[slot] {
                    0 => break,
                    other if vocab.string(other as usize - 1) == token => {
                        return Err(DuplicateToken(String::from_utf8_lossy(token).into_owned()));
                    }
                    _ => slot = (slot + 1) & (capacity - 1),
                }
            }
            vocab.slots[slot] = i as u32 + 1;
        }
        Ok(vocab)
    }
}

impl Vocab {
    /// Number of distinct strings (what `tokenizers` calls the model's vocabulary size).
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// The largest id, if any.
    pub(crate) fn max_id(&self) -> Option<u32> {
        self.ids.iter().copied().max()
    }

    pub(crate) fn get(&self, token: &str) -> Option<u32> {
        let token = token.as_bytes();
        let mask = self.slots.len() - 1;
        let mut slot = self.home(token);
        loop {
            match self.slots[slot] {
                0 => return None,
                entry => {
                    let i = entry as usize - 1;
                    if self.string(i) == token {
                        return Some(self.ids[i]);
                    }
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + 4 * (self.ends.capacity() + self.ids.capacity() + self.slots.len())
    }

    fn string(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    fn home(&self, token: &[u8]) -> usize {
        (hash(token) >> self.shift) as usize
    }
}

/// FxHash-style mixing over 8-byte words, seeded with the length so zero padding cannot collide.
fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    // The top bits pick the slot; fold the low bits in so short strings spread too.
    h ^ (h >> 29)
}

/// `(left, right) -> (rank, new id)`, rows by left id, each row sorted by right id.
pub(crate) struct Merges {
    /// `row_ends[l]`: where the row of left id `l` ends in `rights`/`values`.
    row_ends: Vec<u32>,
    rights: Vec<u32>,
    values: Vec<(u32, u32)>,
}

impl Merges {
    /// `merges[rank] = (left, right, new)`. A pair listed twice keeps its last rank, as the hash
    /// map `tokenizers` collects them into does.
    pub(crate) fn build(merges: Vec<[u32; 3]>, id_bound: u32) -> Self {
        let mut order: Vec<u32> = (0..merges.len() as u32).collect();
        order.sort_unstable_by_key(|&r| {
            let [l, rt, _] = merges[r as usize];
            (l, rt, r)
        });
        let mut row_ends = vec![0u32; id_bound as usize];
        let mut rights = Vec::with_capacity(order.len());
        let mut values = Vec::with_capacity(order.len());
        let mut last: Option<(u32, u32)> = None;
        for &rank in &order {
            let [l, r, new] = merges[rank as usize];
            if last == Some((l, r)) {
                // Same pair, higher rank (the sort put ranks in order): the later one wins.
                if let Some(v) = values.last_mut() {
                    *v = (rank, new);
                }
                continue;
            }
            last = Some((l, r));
            rights.push(r);
            values.push((rank, new));
            row_ends[l as usize] = rights.len() as u32;
        }
        // Rows with no merges end where the previous row ended.
        let mut end = 0;
        for e in row_ends.iter_mut() {
            end = end.max(*e);
            *e = end;
        }
        Self {
            row_ends,
            rights,
            values,
        }
    }

    pub(crate) fn get(&self, left: u32, right: u32) -> Option<(u32, u32)> {
        let l = left as usize;
        let end = *self.row_ends.get(l)? as usize;
        let start = if l == 0 {
            0
        } else {
            self.row_ends[l - 1] as usize
        };
        let row = &self.rights[start..end];
        row.binary_search(&right)
            .ok()
            .map(|i| self.values[start + i])
    }

    pub(crate) fn len(&self) -> usize {
        self.rights.len()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        4 * (self.row_ends.capacity() + self.rights.capacity()) + 8 * self.values.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocab_finds_every_string_and_nothing_else() {
        let mut b = VocabBuilder::default();
        let words: Vec<String> = (0..5000).map(|i| format!("w{i}")).collect();
        for (i, w) in words.iter().enumerate() {
            b.push(w, (i as u32) * 3).unwrap();
        }
        b.push("", 99_999).unwrap();
        let v = b.finish().unwrap();
        assert_eq!(v.len(), 5001);
        for (i, w) in words.iter().enumerate() {
            assert_eq!(v.get(w), Some(i as u32 * 3));
        }
        assert_eq!(v.get(""), Some(99_999));
        assert_eq!(v.get("w5000"), None);
        assert_eq!(v.get("w1\0"), None);
    }

    #[test]
    fn vocab_rejects_a_repeated_string() {
        let mut b = VocabBuilder::default();
        b.push("a", 0).unwrap();
        b.push("b", 1).unwrap();
        b.push("a", 2).unwrap();
        assert!(matches!(b.finish(), Err(DuplicateToken(t)) if t == "a"));
    }

    #[test]
    fn merges_keep_the_last_rank_of_a_repeated_pair() {
        let m = Merges::build(
            vec![[1, 2, 7], [0, 5, 8], [1, 3, 9], [1, 2, 7], [4, 4, 10]],
            11,
        );
        assert_eq!(m.len(), 4);
        assert_eq!(m.get(1, 2), Some((3, 7)));
        assert_eq!(m.get(0, 5), Some((1, 8)));
        assert_eq!(m.get(1, 3), Some((2, 9)));
        assert_eq!(m.get(4, 4), Some((4, 10)));
        assert_eq!(m.get(2, 1), None);
        assert_eq!(m.get(10, 0), None);
        assert_eq!(m.get(11, 0), None);
        assert_eq!(m.get(u32::MAX, 0), None);
    }
}
