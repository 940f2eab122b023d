//! Typo tolerance for names: whether a typed word is a slip of the keyboard away from a word of a
//! note's title.

/// Shortest word that may differ from a title word by one edit; shorter words collide too often
/// (`tips`/`tops`, `plan`/`plat`).
const MIN_TYPO_CHARS: usize = 5;
/// From this length on, two edits are allowed.
const TWO_EDITS_CHARS: usize = 9;

/// Whether `typed` (folded) is within one edit of `word` (two for long words): a letter dropped,
/// added, changed, or two neighbours swapped. Equal words are not typos.
pub(crate) fn near(typed: &str, word: &str) -> bool {
    let a: Vec<char> = typed.chars().collect();
    let b: Vec<char> = word.chars().collect();
    if a.len() < MIN_TYPO_CHARS || a == b {
        return false;
    }
    let max = if a.len() >= TWO_EDITS_CHARS { 2 } else { 1 };
    a.len().abs_diff(b.len()) <= max && edit_distance(&a, &b) <= max
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (i, row) in d.chunks_exact_mut(w).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(w).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slip_is_near_two_are_not() {
        assert!(near("rebse", "rebase")); // dropped
        assert!(near("rythm", "rhythm"));
        assert!(near("sourdugh", "sourdough"));
        assert!(near("kitchne", "kitchen")); // swapped
        assert!(near("lisbn", "lisbon"));
        assert!(near("meditaton", "meditation"));
        assert!(near("zettlekasten", "zettelkasten")); // long: two edits
        assert!(near("zetelkastn", "zettelkasten"));
        assert!(!near("rebase", "rebase"));
        assert!(!near("tips", "tops")); // too short to guess
        assert!(!near("budget", "gadget")); // two edits in a short word
        assert!(!near("network", "networking"));
    }

    #[test]
    fn distances() {
        let d = |a: &str, b: &str| {
            edit_distance(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("abc", "abc"), 0);
        assert_eq!(d("abcd", "abdc"), 1);
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("日本語", "日本"), 1);
    }
}
