//! From model output to unit vectors: pooling, the Matryoshka cut and L2 normalisation.

use vault_rag_core::l2_normalize;

/// Averages `[rows, width, dim]` token states over the positions whose mask is non-zero.
/// Rows without any unmasked token (impossible with special tokens, but cheap to guard) stay zero.
pub fn masked_mean(
    states: &[f32],
    mask: &[i64],
    rows: usize,
    width: usize,
    dim: usize,
) -> Vec<Vec<f32>> {
    (0..rows)
        .map(|r| {
            let mut sum = vec![0f32; dim];
            let mut count = 0f32;
            for t in 0..width {
                if mask[r * width + t] != 0 {
                    let base = (r * width + t) * dim;
                    sum.iter_mut()
                        .zip(&states[base..base + dim])
                        .for_each(|(s, x)| *s += x);
                    count += 1.0;
                }
            }
            if count > 0.0 {
                sum.iter_mut().for_each(|s| *s /= count);
            }
            sum
        })
        .collect()
}

/// Splits a `[rows, dim]` output into rows.
pub fn rows(data: &[f32], rows: usize, dim: usize) -> Vec<Vec<f32>> {
    data.chunks_exact(dim)
        .take(rows)
        .map(<[f32]>::to_vec)
        .collect()
}

/// Keeps the first `dim` values (Matryoshka) and scales to unit length. Models trained with
/// Matryoshka losses put the most information first, so the cut needs a re-normalisation.
pub fn finish(mut v: Vec<f32>, dim: usize) -> Vec<f32> {
    v.truncate(dim);
    l2_normalize(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(v: &[f32]) -> f32 {
        v.iter().map(|x| x * x).sum::<f32>().sqrt()
    }

    #[test]
    fn mean_ignores_padding() {
        // 2 rows, width 3, dim 2; row 0 has one padded position, row 1 none.
        let states = [
            1.0, 2.0, 3.0, 4.0, 100.0, 100.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0,
        ];
        let mask = [1, 1, 0, 1, 1, 1];
        let out = masked_mean(&states, &mask, 2, 3, 2);
        assert_eq!(out, vec![vec![2.0, 3.0], vec![0.0, 1.0]]);
    }

    #[test]
    fn matryoshka_cut_is_unit_at_every_width() {
        let v: Vec<f32> = (0..768)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        for dim in [768, 512, 256, 128] {
            let cut = finish(v.clone(), dim);
            assert_eq!(cut.len(), dim);
            assert!((norm(&cut) - 1.0).abs() < 1e-5, "dim {dim}");
            // Same direction as the prefix of the original.
            let scale = norm(&v[..dim]);
            for (a, b) in cut.iter().zip(&v[..dim]) {
                assert!((a * scale - b).abs() < 1e-3);
            }
        }
    }

    #[test]
    fn rows_split() {
        let out = rows(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, 2);
        assert_eq!(out, vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]]);
    }
}
