//! Memory and scan time of the in-memory first stage, binary against int8, at sizes no test
//! vault reaches: `cargo run --release -p vault-rag-index --example scan_timing -- 100000 500000`.
//!
//! Rows are random unit vectors of 768 dimensions (the default width); a scan's cost depends
//! only on the number of rows, not on what they hold. Timed: the full scan for the shortlist a
//! top-10 hybrid search asks for (50 chunks; 400 with binary codes). The exact re-score of the
//! shortlist from SQLite is not part of this (see `docs/benchmarks.md`).

use std::time::Instant;

use vault_rag_index::{VectorCodes, VectorMatrix};

const DIMS: usize = 768;
const QUERIES: usize = 21;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }

    fn unit(&mut self) -> Vec<f32> {
        let mut v: Vec<f32> = (0..DIMS).map(|_| self.next_f32()).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    };
    println!("| rows | codes | vector memory | bytes/row | scan p50 | scan max |");
    println!("| ---: | --- | ---: | ---: | ---: | ---: |");
    for rows in sizes {
        for codes in [VectorCodes::Binary, VectorCodes::Int8] {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
            let mut m = VectorMatrix::with_codes(DIMS, codes);
            for i in 0..rows {
                let v = rng.unit();
                if let Err(e) = m.upsert(i as i64 + 1, (i / 3) as i64, &v) {
                    eprintln!("row {i}: {e}");
                    return;
                }
            }
            let want = m.shortlist(50);
            let mut times: Vec<f64> = (0..QUERIES)
                .map(|_| {
                    let q = rng.unit();
                    let t = Instant::now();
                    let top = m.nearest(&q, want);
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    assert_eq!(top.len(), want.min(rows));
                    ms
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let bytes = m.memory_bytes();
            println!(
                "| {rows} | {codes} | {:.1} MiB | {:.0} | {:.1} ms | {:.1} ms |",
                bytes as f64 / (1024.0 * 1024.0),
                bytes as f64 / rows as f64,
                times[QUERIES / 2],
                times[QUERIES - 1]
            );
        }
    }
}
