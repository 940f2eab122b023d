//! The in-memory dense index: every chunk vector of the active embedder, in a compact code
//! ([`VectorCodes`]: one sign bit per dimension by default, or int8 with one scale per vector),
//! scanned in full.
//!
//! Layout: one contiguous byte buffer of codes (row-major), plus per-row chunk id and note id
//! (and scale, for int8), all in parallel vectors sorted by chunk id. Sorting by id replaces a
//! position map (a hash map would cost 20-40 bytes per chunk): lookups are binary searches, and
//! the indexer's new chunks almost always have the largest ids, so inserts are appends. At 768
//! dimensions (the default) a binary row costs 96 + 8 + 4 = 108 bytes (int8: 784); growth and
//! tombstone slack are bounded to 1/16 each.
//!
//! Scores from the scan are approximate; callers ask for [`VectorMatrix::shortlist`] candidates
//! and re-score them exactly from the f16 vectors in the store ([`crate::search`]).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::codes::{self, QueryCode, VectorCodes};
use super::filter::NoteFilter;
use super::fusion::Scored;
use crate::error::IndexError;
use crate::store::Reader;

/// Note ids are stored as `u32` to keep rows small; this value marks a removed row.
const DEAD: u32 = u32::MAX;
/// A note id as rows store it, or why it cannot be stored.
fn stored_note(note_id: i64) -> Result<u32, IndexError> {
    u32::try_from(note_id)
        .ok()
        .filter(|&n| n != DEAD)
        .ok_or(IndexError::NoteIdRange { note_id })
}

/// A row the binary scan leaves out (removed, or filtered away), in place of its distance.
const SKIPPED: u16 = u16::MAX;

/// Rows added at least per reallocation, so that small indexes do not reallocate on every insert.
const MIN_GROWTH_ROWS: usize = 256;

/// All chunk vectors of one embedder, in a compact code, in memory.
#[derive(Debug, Clone)]
pub struct VectorMatrix {
    encoding: VectorCodes,
    dims: usize,
    row_bytes: usize,
    codes: Vec<u8>,
    /// One per row for int8; empty for binary (every row's scale is 1).
    scales: Vec<f32>,
    chunk_ids: Vec<i64>,
    note_ids: Vec<u32>,
    dead: usize,
}

impl VectorMatrix {
    /// An empty matrix of binary codes for vectors of `dims` dimensions.
    pub fn new(dims: usize) -> Self {
        Self::with_codes(dims, VectorCodes::default())
    }

    /// An empty matrix for vectors of `dims` dimensions, encoded as `encoding`.
    pub fn with_codes(dims: usize, encoding: VectorCodes) -> Self {
        Self {
            encoding,
            dims,
            row_bytes: encoding.row_bytes(dims),
            codes: Vec::new(),
            scales: Vec::new(),
            chunk_ids: Vec::new(),
            note_ids: Vec::new(),
            dead: 0,
        }
    }

    /// Loads every chunk that has a vector of `fingerprint_id` (rows the store yields decoded).
    /// Rows whose vector has the wrong length are skipped with a warning: a damaged vector must
    /// not make the whole index unsearchable.
    pub(crate) fn load(
        reader: &Reader<'_>,
        fingerprint_id: &str,
        dims: usize,
        encoding: VectorCodes,
    ) -> Result<Self, IndexError> {
        let mut m = Self::with_codes(dims, encoding);
        m.reserve_exact(reader.count_chunk_vectors(fingerprint_id)?);
        let mut scratch = Vec::with_capacity(dims);
        let skipped = reader.for_each_chunk_vector(fingerprint_id, dims, |chunk, note, f16| {
            m.push_unsorted(chunk, note, f16, &mut scratch)
        })?;
        m.sort_rows();
        if skipped > 0 {
            tracing::warn!(skipped, dims, "vectors with the wrong length were skipped");
        }
        Ok(m)
    }

    /// Vector dimensions.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// How the rows are encoded.
    pub fn encoding(&self) -> VectorCodes {
        self.encoding
    }

    /// How many candidates to scan for when `wanted` exactly scored ones are needed.
    pub fn shortlist(&self, wanted: usize) -> usize {
        self.encoding.shortlist(wanted)
    }

    /// Number of live rows (chunks with a vector).
    pub fn len(&self) -> usize {
        self.chunk_ids.len() - self.dead
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `chunk_id` has a live row.
    pub fn contains(&self, chunk_id: i64) -> bool {
        self.position(chunk_id)
            .is_ok_and(|pos| self.note_ids[pos] != DEAD)
    }

    /// Heap bytes held, capacity included (what the process really pays).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.codes.capacity()
            + self.scales.capacity() * std::mem::size_of::<f32>()
            + self.chunk_ids.capacity() * std::mem::size_of::<i64>()
            + self.note_ids.capacity() * std::mem::size_of::<u32>()
    }

    /// Adds or replaces the vector of `chunk_id`. `v` should be unit length.
    pub fn upsert(&mut self, chunk_id: i64, note_id: i64, v: &[f32]) -> Result<(), IndexError> {
        let (note, scale, code) = self.encode_row(chunk_id, note_id, v)?;
        let scaled = self.encoding == VectorCodes::Int8;
        let rb = self.row_bytes;
        match self.position(chunk_id) {
            Ok(pos) => {
                if self.note_ids[pos] == DEAD {
                    self.dead -= 1;
                }
                self.note_ids[pos] = note;
                if scaled {
                    self.scales[pos] = scale;
                }
                self.codes[pos * rb..(pos + 1) * rb].copy_from_slice(&code);
            }
            Err(pos) => {
                self.grow_for_one();
                if pos == self.chunk_ids.len() {
                    self.chunk_ids.push(chunk_id);
                    self.note_ids.push(note);
                    if scaled {
                        self.scales.push(scale);
                    }
                    self.codes.extend_from_slice(&code);
                } else {
                    self.chunk_ids.insert(pos, chunk_id);
                    self.note_ids.insert(pos, note);
                    if scaled {
                        self.scales.insert(pos, scale);
                    }
                    let at = pos * rb;
                    self.codes.splice(at..at, code);
                }
            }
        }
        Ok(())
    }

    /// The note id as stored and the row's code, or why the row cannot be stored.
    fn encode_row(
        &self,
        chunk_id: i64,
        note_id: i64,
        v: &[f32],
    ) -> Result<(u32, f32, Vec<u8>), IndexError> {
        self.check_dims(chunk_id, v.len() == self.dims, v.len())?;
        let (scale, code) = codes::encode(self.encoding, v);
        Ok((stored_note(note_id)?, scale, code))
    }

    fn check_dims(&self, chunk_id: i64, fits: bool, actual: usize) -> Result<(), IndexError> {
        if fits {
            Ok(())
        } else {
            Err(IndexError::VectorDims {
                chunk_id,
                expected: self.dims,
                actual,
            })
        }
    }

    /// Appends a row, given as its stored f16 bytes (`2 * dims`), without keeping the rows
    /// sorted: for a bulk load, which ends with [`Self::sort_rows`]. Each chunk id must come once.
    fn push_unsorted(
        &mut self,
        chunk_id: i64,
        note_id: i64,
        f16: &[u8],
        scratch: &mut Vec<f32>,
    ) -> Result<(), IndexError> {
        self.check_dims(chunk_id, f16.len() == self.dims * 2, f16.len() / 2)?;
        let note = stored_note(note_id)?;
        self.grow_for_one();
        let scale = codes::encode_f16(self.encoding, f16, scratch, &mut self.codes);
        self.chunk_ids.push(chunk_id);
        self.note_ids.push(note);
        if self.encoding == VectorCodes::Int8 {
            self.scales.push(scale);
        }
        Ok(())
    }

    /// Sorts the rows by chunk id after [`Self::push_unsorted`]. The codes are permuted in
    /// place, one row of scratch, so a load never holds the matrix twice.
    fn sort_rows(&mut self) {
        if self.chunk_ids.is_sorted() {
            return;
        }
        let n = self.chunk_ids.len();
        // order[k]: the row that goes to position k.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_unstable_by_key(|&i| self.chunk_ids[i]);
        let chunk_ids: Vec<i64> = order.iter().map(|&i| self.chunk_ids[i]).collect();
        let note_ids: Vec<u32> = order.iter().map(|&i| self.note_ids[i]).collect();
        if self.encoding == VectorCodes::Int8 {
            self.scales = order.iter().map(|&i| self.scales[i]).collect();
        }
        self.chunk_ids = chunk_ids;
        self.note_ids = note_ids;
        let rb = self.row_bytes;
        let mut placed = vec![false; n];
        let mut scratch = vec![0u8; rb];
        for start in 0..n {
            if placed[start] {
                continue;
            }
            // Follow the cycle through `start`: each position takes its source row, and the
            // row first at `start` (saved) goes where the cycle closes.
            scratch.copy_from_slice(&self.codes[start * rb..(start + 1) * rb]);
            let mut at = start;
            loop {
                placed[at] = true;
                let from = order[at];
                if from == start {
                    self.codes[at * rb..(at + 1) * rb].copy_from_slice(&scratch);
                    break;
                }
                self.codes.copy_within(from * rb..(from + 1) * rb, at * rb);
                at = from;
            }
        }
    }

    /// Removes the vector of `chunk_id`; returns whether it was there. Rows are tombstoned and
    /// compacted in one pass once more than 1/16 of them are dead.
    pub fn remove(&mut self, chunk_id: i64) -> bool {
        let Ok(pos) = self.position(chunk_id) else {
            return false;
        };
        if self.note_ids[pos] == DEAD {
            return false;
        }
        self.note_ids[pos] = DEAD;
        self.dead += 1;
        if self.dead > (self.chunk_ids.len() / 16).max(64) {
            self.compact();
        }
        true
    }

    /// Removes every row of `note_id`; returns how many there were.
    pub fn remove_note(&mut self, note_id: i64) -> usize {
        let Ok(note) = u32::try_from(note_id) else {
            return 0;
        };
        let ids: Vec<i64> = self
            .note_ids
            .iter()
            .zip(&self.chunk_ids)
            .filter(|(&n, _)| n == note)
            .map(|(_, &c)| c)
            .collect();
        ids.iter().filter(|&&c| self.remove(c)).count()
    }

    /// Drops every row.
    pub fn clear(&mut self) {
        *self = Self::with_codes(self.dims, self.encoding);
    }

    /// The `k` rows most similar to `query` (which should be unit length) among the notes that
    /// `filter` allows, best first. Scores are approximate; see the module docs.
    pub fn top_k(&self, query: &[f32], k: usize, filter: &NoteFilter) -> Vec<Scored> {
        self.top_k_max(std::slice::from_ref(&query), k, filter)
    }

    /// `(chunk id, approximate similarity)` of the `k` rows nearest to `query`, with no filter:
    /// for tools that time or inspect the first stage.
    pub fn nearest(&self, query: &[f32], k: usize) -> Vec<(i64, f32)> {
        self.top_k(query, k, &NoteFilter::All)
            .into_iter()
            .map(|s| (s.chunk_id, s.score))
            .collect()
    }

    /// Like [`VectorMatrix::top_k`] with several queries at once: a row scores its best
    /// similarity to any of them (one pass over the matrix, whatever the number of queries).
    pub fn top_k_max(&self, queries: &[&[f32]], k: usize, filter: &NoteFilter) -> Vec<Scored> {
        if k == 0 || self.dims == 0 || queries.is_empty() {
            return Vec::new();
        }
        if queries.iter().any(|q| q.len() != self.dims) {
            return Vec::new();
        }
        let prepared: Vec<QueryCode> = queries
            .iter()
            .map(|q| QueryCode::new(self.encoding, q))
            .collect();
        if let [QueryCode::Binary(bits)] = prepared.as_slice() {
            if self.row_bytes * 8 < usize::from(SKIPPED) {
                return self.top_k_binary(bits, k, filter);
            }
        }
        let mut heap: BinaryHeap<HeapEntry> = BinaryHeap::with_capacity(k + 1);
        let rows = self.codes.chunks_exact(self.row_bytes);
        for (pos, row) in rows.enumerate() {
            let note = self.note_ids[pos];
            if note == DEAD || !filter.allows(i64::from(note)) {
                continue;
            }
            let scale = self.scales.get(pos).copied().unwrap_or(1.0);
            let score = prepared
                .iter()
                .map(|q| q.rank_key(row, scale))
                .fold(f32::NEG_INFINITY, f32::max);
            if heap.len() == k {
                // The heap's top is the worst kept entry; skip rows that cannot enter.
                let worst = heap.peek().map(|e| e.0).unwrap_or(f32::NEG_INFINITY);
                if score <= worst {
                    continue;
                }
                heap.pop();
            }
            heap.push(HeapEntry(score, pos));
        }
        let mut out: Vec<Scored> = heap
            .into_iter()
            .map(|HeapEntry(score, pos)| Scored {
                chunk_id: self.chunk_ids[pos],
                note_id: i64::from(self.note_ids[pos]),
                score: codes::similarity(self.encoding, score, self.dims),
            })
            .collect();
        out.sort_by(Scored::rank_cmp);
        out
    }

    /// [`VectorMatrix::top_k`] for one query over binary codes, the common case: every row's
    /// Hamming distance in one tight loop, then the `k` nearest allowed rows found by counting
    /// rows per distance (distances are small integers), with no heap. Earlier rows win ties at
    /// the cut, as in the general scan, so both return the same rows.
    fn top_k_binary(&self, query: &[u8], k: usize, filter: &NoteFilter) -> Vec<Scored> {
        let rows = self
            .note_ids
            .len()
            .min(self.codes.len() / self.row_bytes.max(1));
        let mut dist = vec![0u16; rows];
        codes::hamming_rows(
            &self.codes[..rows * self.row_bytes],
            self.row_bytes,
            query,
            &mut dist,
        );
        let mut per_distance = vec![0usize; self.row_bytes * 8 + 1];
        for (d, &note) in dist.iter_mut().zip(&self.note_ids) {
            if note == DEAD || !filter.allows(i64::from(note)) {
                *d = SKIPPED;
            } else if let Some(count) = per_distance.get_mut(usize::from(*d)) {
                *count += 1;
            }
        }
        // The distance at the cut, and how many rows at exactly that distance still fit.
        let mut before = 0;
        let mut cut = (per_distance.len(), 0);
        for (d, &count) in per_distance.iter().enumerate() {
            if before + count >= k {
                cut = (d, k - before);
                break;
            }
            before += count;
        }
        let (limit, mut at_limit) = cut;
        let mut out = Vec::with_capacity(k.min(rows));
        for (pos, &d) in dist.iter().enumerate() {
            let d = usize::from(d);
            if d == usize::from(SKIPPED) || d > limit || (d == limit && at_limit == 0) {
                continue;
            }
            if d == limit {
                at_limit -= 1;
            }
            out.push(Scored {
                chunk_id: self.chunk_ids[pos],
                note_id: i64::from(self.note_ids[pos]),
                score: codes::similarity(self.encoding, -(d as f32), self.dims),
            });
        }
        out.sort_by(Scored::rank_cmp);
        out
    }

    /// The vector a row stands for (for tests and diagnostics): int8 rows dequantised, binary
    /// rows as ±1/√dims.
    pub fn get(&self, chunk_id: i64) -> Option<Vec<f32>> {
        let pos = self.position(chunk_id).ok()?;
        if self.note_ids[pos] == DEAD {
            return None;
        }
        let scale = self.scales.get(pos).copied().unwrap_or(1.0);
        let row = &self.codes[pos * self.row_bytes..(pos + 1) * self.row_bytes];
        Some(codes::decode(self.encoding, row, scale, self.dims))
    }

    fn position(&self, chunk_id: i64) -> Result<usize, usize> {
        // Fast path: the indexer appends chunks with ever larger ids.
        match self.chunk_ids.last() {
            Some(&last) if chunk_id > last => Err(self.chunk_ids.len()),
            None => Err(0),
            _ => self.chunk_ids.binary_search(&chunk_id),
        }
    }

    fn reserve_exact(&mut self, rows: usize) {
        self.codes.reserve_exact(rows * self.row_bytes);
        if self.encoding == VectorCodes::Int8 {
            self.scales.reserve_exact(rows);
        }
        self.chunk_ids.reserve_exact(rows);
        self.note_ids.reserve_exact(rows);
    }

    /// Grows by 1/16 (at least [`MIN_GROWTH_ROWS`]) instead of doubling: amortised O(1) inserts
    /// with at most 1/16 of unused capacity.
    fn grow_for_one(&mut self) {
        let rows = self.chunk_ids.len();
        let scales_fit = self.encoding != VectorCodes::Int8 || rows < self.scales.capacity();
        if rows < self.chunk_ids.capacity()
            && (rows + 1) * self.row_bytes <= self.codes.capacity()
            && scales_fit
            && rows < self.note_ids.capacity()
        {
            return;
        }
        self.reserve_exact((rows / 16).max(MIN_GROWTH_ROWS));
    }

    fn compact(&mut self) {
        let rb = self.row_bytes;
        let scaled = self.encoding == VectorCodes::Int8;
        let mut write = 0;
        for read in 0..self.chunk_ids.len() {
            if self.note_ids[read] == DEAD {
                continue;
            }
            if write != read {
                self.chunk_ids[write] = self.chunk_ids[read];
                self.note_ids[write] = self.note_ids[read];
                if scaled {
                    self.scales[write] = self.scales[read];
                }
                self.codes
                    .copy_within(read * rb..(read + 1) * rb, write * rb);
            }
            write += 1;
        }
        self.chunk_ids.truncate(write);
        self.note_ids.truncate(write);
        if scaled {
            self.scales.truncate(write);
        }
        self.codes.truncate(write * rb);
        self.dead = 0;
    }
}

/// Max-heap entry ordered so that the worst kept candidate is on top: lower score is "greater",
/// and among equal scores the later row (larger chunk id) is "greater".
#[derive(Debug, Clone, Copy)]
struct HeapEntry(f32, usize);

impl PartialEq for HeapEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for HeapEntry {}
impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

#[cfg(test)]
#[path = "vectors_tests.rs"]
mod tests;
