use super::*;
use crate::search::testdb::{random_unit_vectors, stored_vectors, TestDb};
use crate::search::NoteSet;

fn unit(v: &[f32]) -> Vec<f32> {
    let mut v = v.to_vec();
    vault_rag_core::l2_normalize(&mut v);
    v
}

#[test]
fn quantisation_is_close() {
    let vs = random_unit_vectors(20, 256, 7);
    let mut m = VectorMatrix::with_codes(256, VectorCodes::Int8);
    for (i, v) in vs.iter().enumerate() {
        m.upsert(i as i64 + 1, 1, v).unwrap();
    }
    for (i, v) in vs.iter().enumerate() {
        let back = m.get(i as i64 + 1).unwrap();
        let dot: f32 = back.iter().zip(v).map(|(a, b)| a * b).sum();
        assert!(dot > 0.999, "row {i}: cosine {dot}");
    }
}

#[test]
fn upsert_replace_remove_and_order() {
    let mut m = VectorMatrix::new(4);
    m.upsert(10, 1, &unit(&[1.0, 0.0, 0.0, 0.0])).unwrap();
    m.upsert(30, 2, &unit(&[0.0, 1.0, 0.0, 0.0])).unwrap();
    // Out-of-order insert lands in the middle and stays findable.
    m.upsert(20, 3, &unit(&[0.0, 0.0, 1.0, 0.0])).unwrap();
    assert_eq!(m.len(), 3);
    assert!(m.contains(20));
    let top = m.top_k(&unit(&[0.0, 0.0, 1.0, 0.0]), 1, &NoteFilter::All);
    assert_eq!((top[0].chunk_id, top[0].note_id), (20, 3));
    // Replacing keeps the count and moves the vector.
    m.upsert(20, 3, &unit(&[0.0, 0.0, 0.0, 1.0])).unwrap();
    assert_eq!(m.len(), 3);
    let top = m.top_k(&unit(&[0.0, 0.0, 0.0, 1.0]), 1, &NoteFilter::All);
    assert_eq!(top[0].chunk_id, 20);
    assert!(top[0].score > 0.99);
    assert!(m.remove(20));
    assert!(!m.remove(20));
    assert!(!m.contains(20));
    assert_eq!(m.len(), 2);
    let top = m.top_k(&unit(&[0.0, 0.0, 0.0, 1.0]), 5, &NoteFilter::All);
    assert_eq!(top.len(), 2);
    assert!(top.iter().all(|s| s.chunk_id != 20));
    // A removed row comes back on upsert.
    m.upsert(20, 4, &unit(&[0.0, 0.0, 0.0, 1.0])).unwrap();
    assert_eq!(m.len(), 3);
    assert_eq!(m.remove_note(4), 1);
    assert_eq!(m.len(), 2);
}

#[test]
fn wrong_dims_and_note_ids_are_errors() {
    let mut m = VectorMatrix::new(4);
    assert!(matches!(
        m.upsert(1, 1, &[1.0, 0.0]),
        Err(IndexError::VectorDims {
            chunk_id: 1,
            expected: 4,
            actual: 2
        })
    ));
    assert!(matches!(
        m.upsert(1, -5, &[1.0, 0.0, 0.0, 0.0]),
        Err(IndexError::NoteIdRange { note_id: -5 })
    ));
    assert!(m.is_empty());
    // A query of the wrong length finds nothing instead of panicking.
    m.upsert(1, 1, &[1.0, 0.0, 0.0, 0.0]).unwrap();
    assert!(m.top_k(&[1.0], 3, &NoteFilter::All).is_empty());
}

#[test]
fn compaction_keeps_the_survivors() {
    let vs = random_unit_vectors(600, 32, 3);
    let mut m = VectorMatrix::new(32);
    for (i, v) in vs.iter().enumerate() {
        m.upsert(i as i64, (i % 7) as i64, v).unwrap();
    }
    // Removing every other row crosses the tombstone threshold several times.
    for i in (0..600).step_by(2) {
        assert!(m.remove(i));
    }
    assert_eq!(m.len(), 300);
    for (i, v) in vs.iter().enumerate() {
        assert_eq!(m.contains(i as i64), i % 2 == 1, "row {i}");
        if i % 2 == 1 {
            let top = m.top_k(v, 1, &NoteFilter::All);
            assert_eq!(top[0].chunk_id, i as i64);
        }
    }
}

#[test]
fn filters_apply_inside_the_scan() {
    let vs = random_unit_vectors(500, 16, 11);
    let mut m = VectorMatrix::new(16);
    for (i, v) in vs.iter().enumerate() {
        m.upsert(i as i64, (i % 10) as i64, v).unwrap();
    }
    let only: NoteSet = [3i64, 7].into_iter().collect();
    let top = m.top_k(&vs[0], 20, &NoteFilter::Only(only.clone()));
    // Note 0 holds the query itself, yet the filter still yields a full list of allowed notes.
    assert_eq!(top.len(), 20);
    assert!(top.iter().all(|s| only.contains(s.note_id)));
    let except: NoteSet = [0i64].into_iter().collect();
    let top = m.top_k(&vs[0], 20, &NoteFilter::Except(except));
    assert_eq!(top.len(), 20);
    assert!(top.iter().all(|s| s.note_id != 0));
    // Sorted best first.
    assert!(top.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn note_set_membership() {
    let set: NoteSet = [0i64, 63, 64, 1000].into_iter().collect();
    assert_eq!(set.len(), 4);
    for id in [0, 63, 64, 1000] {
        assert!(set.contains(id));
    }
    for id in [1, 62, 65, 999, 1001, -1, 1 << 40] {
        assert!(!set.contains(id));
    }
}

#[test]
fn memory_per_chunk_at_768_dims() {
    let vs = random_unit_vectors(5000, 768, 5);
    for (codes, row, ceiling) in [
        (VectorCodes::Binary, 108.0, 128.0),
        (VectorCodes::Int8, 784.0, 840.0),
    ] {
        let mut m = VectorMatrix::with_codes(768, codes);
        for (i, v) in vs.iter().enumerate() {
            m.upsert(i as i64 + 1, i as i64 / 4, v).unwrap();
        }
        let per_chunk = m.memory_bytes() as f64 / m.len() as f64;
        assert!(
            per_chunk <= ceiling,
            "{codes}: {per_chunk:.1} bytes per chunk"
        );
        assert!(
            per_chunk >= row,
            "{codes}: {per_chunk:.1} bytes per chunk is below the row size"
        );
    }
}

/// Binary rows survive replacement, out-of-order inserts and compaction with their own codes.
#[test]
fn binary_rows_keep_their_codes_through_compaction() {
    let vs = random_unit_vectors(300, 64, 9);
    let mut m = VectorMatrix::new(64);
    // Even ids first, then odd ones in between: inserts in the middle.
    for i in (0..300).step_by(2).chain((1..300).step_by(2)) {
        m.upsert(i as i64 + 1, 1, &vs[i]).unwrap();
    }
    for i in 0..100 {
        assert!(m.remove(i as i64 + 1));
    }
    assert_eq!(m.len(), 200);
    for (i, v) in vs.iter().enumerate().skip(100) {
        let back = m.get(i as i64 + 1).unwrap();
        assert!(back.iter().zip(v).all(|(b, x)| (*b > 0.0) == (*x > 0.0)));
        let top = m.top_k(v, 1, &NoteFilter::All);
        assert_eq!(top[0].chunk_id, i as i64 + 1);
        assert!((top[0].score - 1.0).abs() < 1e-6);
    }
}

/// Recall@10 of each first stage + f16 re-scoring against exact f32 brute force, over a real
/// SQLite index of 10,000 random unit vectors (the hardest case for sign bits: no structure).
#[test]
fn compact_search_agrees_with_brute_force_on_random_vectors() {
    const N: usize = 10_000;
    const DIMS: usize = 256;
    let db = TestDb::new();
    let vectors = random_unit_vectors(N, DIMS, 42);
    let fp = "fp-random";
    db.bulk_vectors(fp, &vectors, 25);
    let reader = db.reader();
    let queries = random_unit_vectors(50, DIMS, 4242);
    let stored = crate::search::testdb::stored_vectors(&reader, fp, DIMS);
    let truth: Vec<(i64, Vec<f32>)> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| (i as i64 + 1, v))
        .collect();
    assert_eq!(stored.len(), N);
    for (codes, floor) in [(VectorCodes::Int8, 0.99), (VectorCodes::Binary, 0.6)] {
        let m = VectorMatrix::load(&reader, fp, DIMS, codes).unwrap();
        assert_eq!(m.len(), N);
        // Exact f32 originals, not their stored f16 copies, are the reference.
        let recall = crate::search::testdb::recall_at_10(&reader, fp, &m, &truth, &queries);
        println!("{codes}: recall@10 {recall:.3}");
        assert!(recall >= floor, "{codes}: recall@10 = {recall}");
    }
}

#[test]
fn load_skips_damaged_vectors() {
    let db = TestDb::new();
    let mut vectors = random_unit_vectors(10, 8, 1);
    // Chunk 3's stored vector has one value instead of 8.
    vectors[2] = vec![1.0];
    db.bulk_vectors("fp", &vectors, 5);
    let m = VectorMatrix::load(&db.reader(), "fp", 8, VectorCodes::Binary).unwrap();
    assert_eq!(m.len(), 9);
    assert!(!m.contains(3));
    // Another fingerprint sees nothing.
    assert!(
        VectorMatrix::load(&db.reader(), "other", 8, VectorCodes::Binary)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn load_puts_rows_read_in_hash_order_in_chunk_order() {
    let db = TestDb::new();
    let vectors = random_unit_vectors(300, 16, 4);
    db.bulk_vectors("fp", &vectors, 7);
    // The store yields rows in content-hash order, so the load has to sort them.
    let mut read = Vec::new();
    db.reader()
        .for_each_chunk_vector("fp", 16, |chunk, note, _| {
            read.push((chunk, note));
            Ok(())
        })
        .unwrap();
    assert!(!read.iter().map(|r| r.0).collect::<Vec<_>>().is_sorted());
    read.sort_unstable();
    for codes in [VectorCodes::Int8, VectorCodes::Binary] {
        let loaded = VectorMatrix::load(&db.reader(), "fp", 16, codes).unwrap();
        let mut expected = VectorMatrix::with_codes(16, codes);
        for (chunk, v) in stored_vectors(&db.reader(), "fp", 16) {
            let note = read[read.binary_search_by_key(&chunk, |r| r.0).unwrap()].1;
            expected.upsert(chunk, note, &v).unwrap();
        }
        assert_eq!(loaded.len(), 300);
        assert_eq!(loaded.chunk_ids, expected.chunk_ids);
        assert_eq!(loaded.note_ids, expected.note_ids);
        assert_eq!(loaded.codes, expected.codes);
        assert_eq!(loaded.scales, expected.scales);
        let query = &vectors[17];
        assert_eq!(
            loaded.top_k(query, 10, &NoteFilter::All),
            expected.top_k(query, 10, &NoteFilter::All)
        );
    }
}

#[test]
fn several_queries_score_their_best_match() {
    for codes in [VectorCodes::Int8, VectorCodes::Binary] {
        let mut m = VectorMatrix::with_codes(4, codes);
        m.upsert(1, 1, &unit(&[1.0, -0.1, -0.1, -0.1])).unwrap();
        m.upsert(2, 2, &unit(&[-0.1, 1.0, -0.1, -0.1])).unwrap();
        m.upsert(3, 3, &unit(&[-0.1, -0.1, 1.0, -0.1])).unwrap();
        let a = unit(&[1.0, -0.1, -0.1, -0.1]);
        let b = unit(&[-0.1, 0.6, -0.1, 0.4]);
        let top = m.top_k_max(&[&a, &b], 3, &NoteFilter::All);
        let ids: Vec<i64> = top.iter().map(|s| s.chunk_id).collect();
        assert_eq!(ids, [1, 2, 3], "{codes}");
        assert!((top[0].score - 1.0).abs() < 0.02, "{codes}");
        if codes == VectorCodes::Int8 {
            let exact: f32 = b
                .iter()
                .zip(&unit(&[-0.1, 1.0, -0.1, -0.1]))
                .map(|(x, y)| x * y)
                .sum();
            assert!((top[1].score - exact).abs() < 0.02);
        }
        // One query gives what `top_k` gives.
        assert_eq!(
            m.top_k_max(&[&b], 2, &NoteFilter::All),
            m.top_k(&b, 2, &NoteFilter::All)
        );
        assert!(m.top_k_max(&[], 2, &NoteFilter::All).is_empty());
    }
}

/// The one-query binary scan (distances counted per value) keeps exactly the rows the general
/// scan keeps (a heap; it runs for several queries, so two copies of one query take it), ties at
/// the cut included, with removed rows, filters, and more rows asked for than there are.
#[test]
fn the_binary_scan_of_one_query_keeps_what_the_general_scan_keeps() {
    let dims = 64;
    let mut m = VectorMatrix::new(dims);
    let distinct = random_unit_vectors(40, dims, 11);
    // Many rows share a code, so distances tie at the cut.
    for id in 0..400i64 {
        let v = &distinct[(id as usize * 7) % distinct.len()];
        m.upsert(id + 1, id % 23 + 1, v).unwrap();
    }
    for id in (5..400).step_by(17) {
        assert!(m.remove(id));
    }
    let queries = random_unit_vectors(6, dims, 12);
    let filters = [
        NoteFilter::All,
        NoteFilter::Only((1..=23).filter(|n| n % 3 == 0).collect::<NoteSet>()),
        NoteFilter::Except([2i64, 5, 7].into_iter().collect::<NoteSet>()),
    ];
    for q in &queries {
        for filter in &filters {
            for k in [1, 7, 50, 380, 1000] {
                let one = m.top_k(q, k, filter);
                let general = m.top_k_max(&[q.as_slice(), q.as_slice()], k, filter);
                assert_eq!(one, general, "k {k}");
                assert_eq!(one.len(), k.min(general.len()));
                assert!(one.iter().all(|s| filter.allows(s.note_id)));
            }
        }
    }
    // The cut falls inside a tie: the comparison above is not trivially about distinct distances.
    let top = m.top_k(&queries[0], 7, &NoteFilter::All);
    let full = m.top_k(&queries[0], 1000, &NoteFilter::All);
    assert!(full.iter().filter(|s| s.score == top[6].score).count() > 1);
}
