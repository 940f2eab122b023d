//! The on-disk vector format: f16, little-endian, `dims` values per blob (`vectors.vec`).

/// Decodes an f16 little-endian blob into `out`; false when the length does not match.
pub(crate) fn decode_f16_into(bytes: &[u8], out: &mut [f32]) -> bool {
    if bytes.len() != out.len() * 2 {
        return false;
    }
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = half::f16::from_le_bytes([pair[0], pair[1]]).to_f32();
    }
    true
}

/// Encodes a vector as the f16 little-endian blob stored in `vectors.vec`.
pub(crate) fn encode_f16(v: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * 2);
    for &x in v {
        out.extend_from_slice(&half::f16::from_f32(x).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_round_trip() {
        let v = [0.1f32, -0.5, 0.25, 0.8];
        let blob = encode_f16(&v);
        assert_eq!(blob.len(), 8);
        let mut back = [0f32; 4];
        assert!(decode_f16_into(&blob, &mut back));
        for (a, b) in v.iter().zip(back) {
            assert!((a - b).abs() < 1e-3);
        }
        assert!(!decode_f16_into(&blob[..6], &mut back));
    }
}
