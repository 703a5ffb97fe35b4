//! What the benchmarks share.

/// The median of `v` (not empty); `mid` makes the middle value of an even count
/// from its two middle values.
pub fn median<T: Copy + PartialOrd>(mut v: Vec<T>, mid: impl Fn(T, T) -> T) -> T {
    assert!(!v.is_empty(), "a median of no samples");
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        mid(v[n / 2 - 1], v[n / 2])
    }
}
