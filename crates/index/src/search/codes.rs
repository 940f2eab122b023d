//! How the in-memory matrix encodes a vector, and the scan arithmetic of each encoding.
//!
//! - **Binary** (the default): one bit per dimension, the sign. 96 bytes at 768 dimensions. The
//!   scan ranks rows by Hamming distance to the query's signs (XOR + popcount over `u64` words),
//!   keeps [`BINARY_SHORTLIST`] times the candidates asked for, and the caller re-scores those
//!   exactly from the stored f16 vectors.
//! - **Int8**: one byte per dimension and one scale per row (768 + 4 bytes at 768 dimensions);
//!   an `i8 × i8 → i32` dot product, close enough that no extra candidates are needed.

use serde::{Deserialize, Serialize};

/// Candidates kept per wanted result by the binary scan, for the exact re-score. Chosen by
/// measurement (`docs/benchmarks.md#compact-vectors`): at 8, nDCG@10 on SciFact and Cranfield is
/// within 0.5 % of the int8 scan with both built-in models.
pub const BINARY_SHORTLIST: usize = 8;

/// The encoding of the in-memory vectors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VectorCodes {
    /// One sign bit per dimension; candidates re-scored exactly.
    #[default]
    Binary,
    /// One byte per dimension plus a scale.
    Int8,
}

impl VectorCodes {
    /// Bytes of one row's code for `dims` dimensions.
    pub fn row_bytes(self, dims: usize) -> usize {
        match self {
            VectorCodes::Binary => dims.div_ceil(8),
            VectorCodes::Int8 => dims,
        }
    }

    /// How many approximate candidates to scan for when `wanted` exact results are needed.
    pub fn shortlist(self, wanted: usize) -> usize {
        match self {
            VectorCodes::Binary => wanted.saturating_mul(BINARY_SHORTLIST),
            VectorCodes::Int8 => wanted,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VectorCodes::Binary => "binary",
            VectorCodes::Int8 => "int8",
        }
    }
}

impl std::fmt::Display for VectorCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for VectorCodes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "binary" => Ok(VectorCodes::Binary),
            "int8" => Ok(VectorCodes::Int8),
            other => Err(format!("unknown vector codes `{other}` (binary or int8)")),
        }
    }
}

/// A query prepared for scanning rows of one encoding.
pub(super) enum QueryCode {
    Binary(Vec<u8>),
    Int8 { scale: f32, codes: Vec<i8> },
}

impl QueryCode {
    pub fn new(codes: VectorCodes, v: &[f32]) -> Self {
        match codes {
            VectorCodes::Binary => QueryCode::Binary(sign_bits(v)),
            VectorCodes::Int8 => {
                let (scale, codes) = quantize(v);
                QueryCode::Int8 { scale, codes }
            }
        }
    }

    /// A key that orders rows as their similarity to this query does (`scale`: the row's, for
    /// int8): binary rows give minus their Hamming distance, so the scan stays in integers
    /// turned to floats; [`similarity`] turns a key into the estimated cosine.
    #[inline]
    pub fn rank_key(&self, row: &[u8], scale: f32) -> f32 {
        match self {
            QueryCode::Binary(bits) => -(hamming(row, bits) as f32),
            QueryCode::Int8 { scale: q, codes } => dot_i8(row, codes) as f32 * q * scale,
        }
    }
}

/// The estimated cosine behind a [`QueryCode::rank_key`]: int8 keys already are one; binary keys
/// give `cos(π · hamming / dims)`, the angle that the share of differing signs estimates.
pub(super) fn similarity(codes: VectorCodes, key: f32, dims: usize) -> f32 {
    match codes {
        VectorCodes::Binary => (std::f32::consts::PI * -key / dims as f32).cos(),
        VectorCodes::Int8 => key,
    }
}

/// Encodes `v` for a row: the code bytes and the row's scale (1 for binary).
pub(super) fn encode(codes: VectorCodes, v: &[f32]) -> (f32, Vec<u8>) {
    match codes {
        VectorCodes::Binary => (1.0, sign_bits(v)),
        VectorCodes::Int8 => {
            let (scale, q) = quantize(v);
            (scale, q.into_iter().map(|c| c as u8).collect())
        }
    }
}

/// Appends the code of a stored f16 little-endian vector (`2 * dims` bytes) to `out` and
/// returns the row's scale, as [`encode`] does for its decoded values. Binary codes come straight
/// from the f16 sign and magnitude bits (no float conversion: most of the load of a large index
/// was decoding); int8 decodes into `scratch` first.
pub(super) fn encode_f16(
    codes: VectorCodes,
    bytes: &[u8],
    scratch: &mut Vec<f32>,
    out: &mut Vec<u8>,
) -> f32 {
    match codes {
        VectorCodes::Binary => {
            // Eight values (16 bytes) make one code byte.
            out.extend(bytes.chunks(16).map(|group| {
                group
                    .chunks_exact(2)
                    .enumerate()
                    .fold(0u8, |byte, (k, pair)| {
                        let positive = f16_positive(u16::from_le_bytes([pair[0], pair[1]]));
                        byte | (u8::from(positive) << k)
                    })
            }));
            1.0
        }
        VectorCodes::Int8 => {
            scratch.clear();
            scratch.extend(
                bytes
                    .chunks_exact(2)
                    .map(|p| half::f16::from_le_bytes([p[0], p[1]]).to_f32()),
            );
            let (scale, q) = quantize(scratch);
            out.extend(q.into_iter().map(|c| c as u8));
            scale
        }
    }
}

/// `x > 0` for the f16 with these bits: sign clear, not zero, not NaN (infinity counts).
#[inline]
fn f16_positive(bits: u16) -> bool {
    bits & 0x8000 == 0 && bits != 0 && bits <= 0x7C00
}

/// The vector a row stands for (int8: the dequantised values; binary: ±1/√dims).
pub(super) fn decode(codes: VectorCodes, row: &[u8], scale: f32, dims: usize) -> Vec<f32> {
    match codes {
        VectorCodes::Binary => {
            let unit = 1.0 / (dims as f32).sqrt();
            (0..dims)
                .map(|i| {
                    if row[i / 8] >> (i % 8) & 1 == 1 {
                        unit
                    } else {
                        -unit
                    }
                })
                .collect()
        }
        VectorCodes::Int8 => row.iter().map(|&c| f32::from(c as i8) * scale).collect(),
    }
}

/// Bit `i` is set when `v[i] > 0`; padding bits of the last byte stay 0 in rows and queries
/// alike, so they never count.
fn sign_bits(v: &[f32]) -> Vec<u8> {
    let mut out = vec![0u8; v.len().div_ceil(8)];
    for (i, x) in v.iter().enumerate() {
        if *x > 0.0 {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

/// The Hamming distance of each `row_bytes`-byte row of `codes` to `query`, into `out` (one per
/// row). Where the CPU has a popcount instruction the loop is compiled for it: the portable
/// x86-64 target lacks one, and counting bits without it took most of a scan's time.
pub(super) fn hamming_rows(codes: &[u8], row_bytes: usize, query: &[u8], out: &mut [u16]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: the CPU supports `popcnt`, checked just above.
        unsafe { hamming_rows_popcnt(codes, row_bytes, query, out) };
        return;
    }
    hamming_rows_portable(codes, row_bytes, query, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn hamming_rows_popcnt(codes: &[u8], row_bytes: usize, query: &[u8], out: &mut [u16]) {
    hamming_rows_portable(codes, row_bytes, query, out);
}

#[inline(always)]
fn hamming_rows_portable(codes: &[u8], row_bytes: usize, query: &[u8], out: &mut [u16]) {
    if row_bytes == 0 {
        out.fill(0);
        return;
    }
    for (row, d) in codes.chunks_exact(row_bytes).zip(out.iter_mut()) {
        // At most 8 × row_bytes; rows of up to 8,191 bytes (65,528 dimensions) fit.
        *d = hamming(row, query).min(u32::from(u16::MAX)) as u16;
    }
}

/// Differing bits of two codes of the same length, 64 at a time.
#[inline(always)]
fn hamming(a: &[u8], b: &[u8]) -> u32 {
    let words_a = a.chunks_exact(8);
    let words_b = b.chunks_exact(8);
    let tail: u32 = words_a
        .remainder()
        .iter()
        .zip(words_b.remainder())
        .map(|(x, y)| (x ^ y).count_ones())
        .sum();
    let mut total = tail;
    for (x, y) in words_a.zip(words_b) {
        let (mut wx, mut wy) = ([0u8; 8], [0u8; 8]);
        wx.copy_from_slice(x);
        wy.copy_from_slice(y);
        total += (u64::from_le_bytes(wx) ^ u64::from_le_bytes(wy)).count_ones();
    }
    total
}

/// Symmetric int8 quantisation with one scale: `v[i] ≈ codes[i] * scale`.
fn quantize(v: &[f32]) -> (f32, Vec<i8>) {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        return (0.0, vec![0; v.len()]);
    }
    let scale = max / 127.0;
    let inv = 1.0 / scale;
    let codes = v
        .iter()
        .map(|x| (x * inv).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (scale, codes)
}

/// `i8 · i8` accumulated in `i32` (the row's bytes read as `i8`). Written as a plain fold over
/// fixed-width blocks so that LLVM turns it into packed multiply-adds (`pmaddwd` on SSE2/AVX2)
/// without `unsafe`.
#[inline]
fn dot_i8(a: &[u8], b: &[i8]) -> i32 {
    const LANES: usize = 32;
    let mut acc = [0i32; LANES];
    let a_blocks = a.chunks_exact(LANES);
    let b_blocks = b.chunks_exact(LANES);
    let tail: i32 = a_blocks
        .remainder()
        .iter()
        .zip(b_blocks.remainder())
        .map(|(&x, &y)| i32::from(x as i8) * i32::from(y))
        .sum();
    for (xa, xb) in a_blocks.zip(b_blocks) {
        for i in 0..LANES {
            acc[i] += i32::from(xa[i] as i8) * i32::from(xb[i]);
        }
    }
    acc.iter().sum::<i32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hamming_rows_equals_hamming_of_each_row() {
        let query = sign_bits(&(0..200).map(|i| (i % 7) as f32 - 3.0).collect::<Vec<_>>());
        let rows: Vec<Vec<u8>> = (0..37)
            .map(|r| {
                sign_bits(
                    &(0..200)
                        .map(|i| ((i * r) % 11) as f32 - 5.0)
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let codes: Vec<u8> = rows.concat();
        let mut out = vec![u16::MAX; rows.len()];
        hamming_rows(&codes, query.len(), &query, &mut out);
        let each: Vec<u16> = rows.iter().map(|r| hamming(r, &query) as u16).collect();
        assert_eq!(out, each);
        assert!(each.iter().any(|&d| d > 0) && each.iter().any(|&d| d < 200));
        let mut portable = vec![0; rows.len()];
        hamming_rows_portable(&codes, query.len(), &query, &mut portable);
        assert_eq!(portable, each);
    }

    #[test]
    fn hamming_counts_differing_signs() {
        let a = sign_bits(&[1.0, -1.0, 1.0, 1.0, -1.0, 0.5, -0.5, 1.0, 1.0, -1.0]);
        let b = sign_bits(&[1.0, 1.0, 1.0, -1.0, -1.0, 0.5, -0.5, 1.0, -1.0, -1.0]);
        assert_eq!(a.len(), 2);
        assert_eq!(hamming(&a, &b), 3);
        assert_eq!(hamming(&a, &a), 0);
        // Across the u64 words and the tail.
        let long_a: Vec<f32> = (0..200)
            .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
            .collect();
        let long_b: Vec<f32> = long_a.iter().map(|x| -x).collect();
        assert_eq!(hamming(&sign_bits(&long_a), &sign_bits(&long_b)), 200);
    }

    #[test]
    fn codes_from_f16_bytes_equal_codes_from_their_values() {
        let mut values: Vec<f32> = (0..200)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 60.0)
            .collect();
        values.extend([
            0.0,
            -0.0,
            1e-7,
            -1e-7,
            65504.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ]);
        let bytes: Vec<u8> = values
            .iter()
            .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
            .collect();
        let decoded: Vec<f32> = bytes
            .chunks_exact(2)
            .map(|p| half::f16::from_le_bytes([p[0], p[1]]).to_f32())
            .collect();
        for codes in [VectorCodes::Binary, VectorCodes::Int8] {
            let (scale, expected) = encode(codes, &decoded);
            let mut out = vec![9u8];
            let got = encode_f16(codes, &bytes, &mut Vec::new(), &mut out);
            assert_eq!(out[0], 9, "{codes}: appended, not overwritten");
            assert_eq!(out[1..], expected[..], "{codes}");
            assert_eq!(got.to_bits(), scale.to_bits(), "{codes}");
        }
    }

    #[test]
    fn binary_scores_follow_the_angle() {
        let q = QueryCode::new(VectorCodes::Binary, &[1.0, 1.0, 1.0, 1.0]);
        let (_, same) = encode(VectorCodes::Binary, &[0.5, 0.5, 0.5, 0.5]);
        let (_, opposite) = encode(VectorCodes::Binary, &[-0.5, -0.5, -0.5, -0.5]);
        let (_, half) = encode(VectorCodes::Binary, &[0.5, 0.5, -0.5, -0.5]);
        let sim = |row: &[u8]| similarity(VectorCodes::Binary, q.rank_key(row, 1.0), 4);
        assert!((sim(&same) - 1.0).abs() < 1e-6);
        assert!((sim(&opposite) + 1.0).abs() < 1e-6);
        assert!(sim(&half).abs() < 1e-6);
    }

    #[test]
    fn codes_parse_and_print() {
        for c in [VectorCodes::Binary, VectorCodes::Int8] {
            assert_eq!(c.as_str().parse::<VectorCodes>(), Ok(c));
        }
        assert!("f16"
            .parse::<VectorCodes>()
            .unwrap_err()
            .contains("binary or int8"));
        assert_eq!(VectorCodes::Binary.row_bytes(768), 96);
        assert_eq!(VectorCodes::Binary.row_bytes(10), 2);
        assert_eq!(VectorCodes::Int8.row_bytes(768), 768);
    }
}
