//! `vault_bm25()`: FTS5's `bm25()` with each term's matching rows given, scoring chosen phrases.
//!
//! A restricted ranking (see `search::prune`) matches `(rarer) AND (common OR rarer)`: FTS5 then
//! walks only the rarer terms' rows and seeks in the common terms' lists where it would walk them
//! all, and every term's hits in a row are still there to score. But its phrases are the rarer
//! terms twice and the common ones once, and the built-in `bm25()` scores every phrase and counts
//! each one's rows on every search. This function scores the phrases it is told to, in the order
//! given, with counts the search already has: called with the full query's terms in the full
//! query's order, it computes the built-in's score for that query bit for bit (the same formula,
//! the same operations in the same order).
//!
//! Arguments: the table, one weight per column as for `bm25()`, then a blob naming the scored
//! phrases (see [`slots`]). A blob that does not fit the expression is an SQL error.

use std::os::raw::{c_int, c_void};

use rusqlite::ffi;
use rusqlite::Connection;

/// FTS5's BM25 constants.
pub(crate) const K1: f64 = 1.2;
const B: f64 = 0.75;

/// FTS5's inverse document frequency of a term in `matching` of `rows` rows, as its `bm25()`
/// computes it: `ln((N − n + 0.5) / (n + 0.5))`, at least 1e-6 (a term in more than half the rows
/// counts next to nothing). Not finite when `matching` exceeds `rows`.
pub(crate) fn idf(rows: u64, matching: u64) -> f64 {
    let idf = ((rows as f64 - matching as f64 + 0.5) / (matching as f64 + 0.5)).ln();
    if idf <= 0.0 {
        1e-6
    } else {
        idf
    }
}

/// The phrase list for `vault_bm25`: the expression's phrase count, then for each scored phrase (in
/// scoring order) its index in the expression and the rows matching it.
pub(crate) fn slots(phrases: usize, scored: &[(usize, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + scored.len() * 12);
    out.extend_from_slice(&u32::try_from(phrases).unwrap_or(u32::MAX).to_le_bytes());
    for &(phrase, rows) in scored {
        out.extend_from_slice(&u32::try_from(phrase).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(&rows.to_le_bytes());
    }
    out
}

/// Parsed [`slots`]: the phrase count and `(phrase, rows)` pairs; `None` if malformed.
fn parse_slots(blob: &[u8]) -> Option<(usize, Vec<(usize, u64)>)> {
    let (head, rest) = blob.split_first_chunk::<4>()?;
    if rest.len() % 12 != 0 {
        return None;
    }
    let scored = rest
        .chunks_exact(12)
        .map(|s| {
            let (p, n) = s.split_at(4);
            Some((
                u32::from_le_bytes(p.try_into().ok()?) as usize,
                u64::from_le_bytes(n.try_into().ok()?),
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    Some((u32::from_le_bytes(*head) as usize, scored))
}

/// Registers `vault_bm25` on `conn`.
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    let api = fts5_api(conn)?;
    let name = c"vault_bm25";
    // SAFETY: `api` is FTS5's registration object for this connection (checked non-null), alive
    // as long as the connection; the name is a NUL-terminated constant FTS5 copies; the function
    // has the signature FTS5 calls and keeps no user data.
    let rc = unsafe {
        match (*api).xCreateFunction {
            Some(create) => create(api, name.as_ptr(), std::ptr::null_mut(), Some(score), None),
            None => ffi::SQLITE_MISUSE,
        }
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(rc),
            Some("registering vault_bm25".into()),
        ))
    }
}

/// FTS5's API object for `conn`, as its documentation says to get it: `SELECT fts5(?1)` with a
/// pointer bound under the type name "fts5_api_ptr".
fn fts5_api(conn: &Connection) -> rusqlite::Result<*mut ffi::fts5_api> {
    let failed =
        |rc| rusqlite::Error::SqliteFailure(ffi::Error::new(rc), Some("finding FTS5's API".into()));
    let mut api: *mut ffi::fts5_api = std::ptr::null_mut();
    // SAFETY: the handle is this open connection's; the statement is prepared, bound, stepped
    // and finalized here, and the bound pointer (to `api`) outlives it.
    let rc = unsafe {
        let db = conn.handle();
        let mut stmt = std::ptr::null_mut();
        let rc = ffi::sqlite3_prepare_v2(
            db,
            c"SELECT fts5(?1)".as_ptr(),
            -1,
            &mut stmt,
            std::ptr::null_mut(),
        );
        if rc != ffi::SQLITE_OK {
            return Err(failed(rc));
        }
        ffi::sqlite3_bind_pointer(
            stmt,
            1,
            (&mut api as *mut *mut ffi::fts5_api).cast::<c_void>(),
            c"fts5_api_ptr".as_ptr(),
            None,
        );
        ffi::sqlite3_step(stmt);
        ffi::sqlite3_finalize(stmt)
    };
    if rc != ffi::SQLITE_OK {
        return Err(failed(rc));
    }
    if api.is_null() {
        return Err(failed(ffi::SQLITE_ERROR));
    }
    Ok(api)
}

/// What one search computes once: the average row length and each scored phrase's idf.
struct PerQuery {
    avgdl: f64,
    /// `(phrase, idf)` in scoring order.
    scored: Vec<(usize, f64)>,
    /// Hits per phrase in the current row (reused from row to row).
    freq: Vec<f64>,
}

/// Frees a [`PerQuery`] (FTS5 calls this when the search ends).
unsafe extern "C" fn free_per_query(p: *mut c_void) {
    // SAFETY: `p` came from `Box::into_raw` in `per_query`, and FTS5 frees it once.
    drop(unsafe { Box::from_raw(p.cast::<PerQuery>()) });
}

/// Reports `msg` as the function's SQL error.
unsafe fn fail(ctx: *mut ffi::sqlite3_context, msg: &std::ffi::CStr) {
    // SAFETY: `ctx` is the context of the current call; SQLite copies the message.
    unsafe { ffi::sqlite3_result_error(ctx, msg.as_ptr(), -1) };
}

/// The function FTS5 calls for each row.
unsafe extern "C" fn score(
    api: *const ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    ctx: *mut ffi::sqlite3_context,
    n_val: c_int,
    ap_val: *mut *mut ffi::sqlite3_value,
) {
    // SAFETY: FTS5 passes its API table, this row's context and `n_val` argument values.
    let (api, args) = unsafe {
        (
            &*api,
            std::slice::from_raw_parts(ap_val, usize::try_from(n_val).unwrap_or(0)),
        )
    };
    // SAFETY: as above; every pointer is FTS5's for this call.
    match unsafe { row_score(api, fts, args) } {
        Ok(s) => unsafe { ffi::sqlite3_result_double(ctx, -s) },
        Err(msg) => unsafe { fail(ctx, msg) },
    }
}

/// The row's BM25 score (positive), or why it cannot be computed.
///
/// # Safety
/// `api`, `fts` and `args` are what FTS5 passed to the current call.
unsafe fn row_score(
    api: &ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    args: &[*mut ffi::sqlite3_value],
) -> Result<f64, &'static std::ffi::CStr> {
    let (
        Some(phrase_count),
        Some(inst_count),
        Some(inst),
        Some(column_size),
        Some(get_aux),
        Some(set_aux),
        Some(row_count),
        Some(total_size),
    ) = (
        api.xPhraseCount,
        api.xInstCount,
        api.xInst,
        api.xColumnSize,
        api.xGetAuxdata,
        api.xSetAuxdata,
        api.xRowCount,
        api.xColumnTotalSize,
    )
    else {
        return Err(c"vault_bm25: FTS5 API incomplete");
    };
    let Some((&blob, weights)) = args.split_last() else {
        return Err(c"vault_bm25: no phrase list given");
    };
    // SAFETY (all calls below): FTS5 API calls on this call's context, with out-pointers to
    // locals; the aux data is this function's own `PerQuery`, used by one call at a time.
    let mut data = unsafe { get_aux(fts, 0) }.cast::<PerQuery>();
    if data.is_null() {
        let bytes = unsafe {
            let n = usize::try_from(ffi::sqlite3_value_bytes(blob)).unwrap_or(0);
            let p = ffi::sqlite3_value_blob(blob).cast::<u8>();
            if n == 0 || p.is_null() {
                &[][..]
            } else {
                std::slice::from_raw_parts(p, n)
            }
        };
        let Some((phrases, scored)) = parse_slots(bytes) else {
            return Err(c"vault_bm25: malformed phrase list");
        };
        let actual = usize::try_from(unsafe { phrase_count(fts) }).unwrap_or(0);
        if phrases != actual || scored.iter().any(|&(p, _)| p >= actual) {
            return Err(c"vault_bm25: phrase list does not fit the expression");
        }
        let (mut rows, mut tokens) = (0i64, 0i64);
        if unsafe { row_count(fts, &mut rows) } != ffi::SQLITE_OK
            || unsafe { total_size(fts, -1, &mut tokens) } != ffi::SQLITE_OK
        {
            return Err(c"vault_bm25: no row totals");
        }
        let per_query = PerQuery {
            avgdl: tokens as f64 / rows as f64,
            // As FTS5's bm25(): ln((N − n + 0.5) / (n + 0.5)), at least 1e-6.
            scored: scored
                .into_iter()
                .map(|(p, n)| (p, idf(u64::try_from(rows).unwrap_or(0), n)))
                .collect(),
            freq: vec![0.0; actual],
        };
        let raw = Box::into_raw(Box::new(per_query));
        if unsafe { set_aux(fts, raw.cast(), Some(free_per_query)) } != ffi::SQLITE_OK {
            // FTS5 has already freed it through `free_per_query`.
            return Err(c"vault_bm25: out of memory");
        }
        data = raw;
    }
    let data = unsafe { &mut *data };
    data.freq.fill(0.0);
    let mut n_inst: c_int = 0;
    if unsafe { inst_count(fts, &mut n_inst) } != ffi::SQLITE_OK {
        return Err(c"vault_bm25: no hits");
    }
    for i in 0..n_inst {
        let (mut phrase, mut col, mut off) = (0, 0, 0);
        if unsafe { inst(fts, i, &mut phrase, &mut col, &mut off) } != ffi::SQLITE_OK {
            return Err(c"vault_bm25: no hits");
        }
        let w = usize::try_from(col)
            .ok()
            .and_then(|c| weights.get(c))
            .map_or(1.0, |&v| unsafe { ffi::sqlite3_value_double(v) });
        if let Some(f) = usize::try_from(phrase)
            .ok()
            .and_then(|p| data.freq.get_mut(p))
        {
            *f += w;
        }
    }
    let mut tokens: c_int = 0;
    if unsafe { column_size(fts, -1, &mut tokens) } != ffi::SQLITE_OK {
        return Err(c"vault_bm25: no row length");
    }
    let d = f64::from(tokens);
    let mut score = 0.0;
    for &(p, idf) in &data.scored {
        let f = data.freq[p];
        score += idf * ((f * (K1 + 1.0)) / (f + K1 * (1.0 - B + B * d / data.avgdl)));
    }
    Ok(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_round_trip_and_reject_bad_lengths() {
        let blob = slots(3, &[(2, 7), (0, u64::MAX)]);
        assert_eq!(parse_slots(&blob), Some((3, vec![(2, 7), (0, u64::MAX)])));
        assert_eq!(parse_slots(&blob[..blob.len() - 1]), None);
        assert_eq!(parse_slots(&[1, 0]), None);
        assert_eq!(parse_slots(&slots(0, &[])), Some((0, vec![])));
    }
}
