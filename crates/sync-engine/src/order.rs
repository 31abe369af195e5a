//! Sorting with one compiled copy of the sort.
//!
//! The standard library's sort is generic: every element type and every comparison closure
//! gets its own copy of the whole algorithm (about 3–4 KB of WebAssembly each), and the PWA
//! sorted in some fifty places: copies of one algorithm were 7% of its module. Sorting
//! through here made the module 128 KB smaller to compile, 13 KB smaller to download
//! (brotli had already seen through most of the repetition; docs/PERFORMANCE.md,
//! "First-visit transfer"). These functions sort the
//! *positions* `0..n` with one non-generic sort that compares through a `dyn` closure, then
//! move the items into place with one non-generic permutation: what is left per call site is
//! two small closures.
//!
//! The order is exactly the standard library's stable sort's: equal items keep their order.

use std::cmp::Ordering;

/// As `items.sort_by(cmp)` (stable).
pub fn sort_by<T>(items: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    if items.len() < 2 {
        return;
    }
    let order = positions(items.len(), &mut |a, b| cmp(&items[a], &items[b]));
    permute(order, &mut |a, b| items.swap(a, b));
}

/// As `items.sort_by_cached_key(key)`, but stable: `key` is called once per item.
pub fn sort_by_key<T, K: Ord>(items: &mut [T], key: impl FnMut(&T) -> K) {
    if items.len() < 2 {
        return;
    }
    let keys: Vec<K> = items.iter().map(key).collect();
    let order = positions(keys.len(), &mut |a, b| keys[a].cmp(&keys[b]));
    permute(order, &mut |a, b| items.swap(a, b));
}

/// As `items.sort()` (stable).
pub fn sort<T: Ord>(items: &mut [T]) {
    sort_by(items, T::cmp)
}

/// `0..n` stably sorted by `cmp`: `order[k]` is where the item that belongs at `k` is now.
#[inline(never)]
fn positions(n: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| cmp(a, b));
    order
}

/// Puts the item at `order[k]` at `k`, for every `k`, by swaps: each cycle of the
/// permutation is walked once, carrying its first item along to where it belongs.
#[inline(never)]
fn permute(mut order: Vec<usize>, swap: &mut dyn FnMut(usize, usize)) {
    const DONE: usize = usize::MAX;
    for start in 0..order.len() {
        let mut k = start;
        while order[k] != DONE {
            let from = order[k];
            order[k] = DONE;
            if from == start {
                break;
            }
            swap(k, from);
            k = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs with many equal keys (so stability shows), from a fixed xorshift.
    fn pairs(n: usize, seed: u64) -> Vec<(u8, usize)> {
        let mut x = seed | 1;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x % 7) as u8, i)
            })
            .collect()
    }

    #[test]
    fn the_same_order_as_the_standard_stable_sort() {
        for n in [0, 1, 2, 3, 8, 20, 21, 33, 100, 1000] {
            for seed in 1..20 {
                let original = pairs(n, seed);
                let mut expected = original.clone();
                expected.sort_by_key(|a| a.0);

                let mut by = original.clone();
                sort_by(&mut by, |a, b| a.0.cmp(&b.0));
                assert_eq!(by, expected, "sort_by, n {n}, seed {seed}");

                let mut by_key = original.clone();
                sort_by_key(&mut by_key, |p| p.0);
                assert_eq!(by_key, expected, "sort_by_key, n {n}, seed {seed}");

                let mut whole = original.clone();
                sort(&mut whole);
                let mut std_whole = original;
                std_whole.sort();
                assert_eq!(whole, std_whole, "sort, n {n}, seed {seed}");
            }
        }
    }

    #[test]
    fn the_key_is_worked_out_once_per_item() {
        let mut items: Vec<String> = ["pear", "fig", "apple", "fig", "kiwi"]
            .map(String::from)
            .into();
        let mut calls = 0;
        sort_by_key(&mut items, |s| {
            calls += 1;
            s.len()
        });
        assert_eq!(items, ["fig", "fig", "pear", "kiwi", "apple"]);
        assert_eq!(calls, 5);
    }

    #[test]
    fn items_that_own_memory_are_moved_not_copied_or_dropped() {
        let mut items: Vec<Vec<u32>> = (0..50u32)
            .rev()
            .map(|i| vec![i; (i % 5) as usize + 1])
            .collect();
        sort_by(&mut items, |a, b| a[0].cmp(&b[0]));
        assert_eq!(items.len(), 50);
        for (i, v) in items.iter().enumerate() {
            assert_eq!(v, &vec![i as u32; i % 5 + 1]);
        }
    }
}
