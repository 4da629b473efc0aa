//! Counts by name, for the checkers' tallies: a short list found by the
//! name's address (callers pass literals, which the compiler merges), where a
//! map keyed by text compares strings on every count.

use std::collections::BTreeMap;

/// Where a name was last found, by its address: a small direct-mapped
/// cache, so a count is one comparison, not a walk of the list.
const CACHE: usize = 64;

/// Values of `V` by static name, in the order first named.
#[derive(Clone, Debug)]
pub(crate) struct Tally<V> {
    entries: Vec<(&'static str, V)>,
    /// By a hash of a name's address: that address and the name's position.
    cache: [(usize, usize); CACHE],
}

impl<V> Default for Tally<V> {
    fn default() -> Self {
        Tally {
            entries: Vec::new(),
            cache: [(0, 0); CACHE],
        }
    }
}

impl<V: Default + Copy> Tally<V> {
    /// The value of `name`, made at its default the first time. Inlined:
    /// the checkers count on nearly every event, and a hit in the cache is
    /// a few instructions, fewer than a call's.
    #[inline]
    pub(crate) fn entry(&mut self, name: &'static str) -> &mut V {
        let addr = name.as_ptr() as usize;
        let line = (addr ^ (addr >> 7)) % CACHE;
        let cached = self.cache.get(line).and_then(|&(a, k)| {
            let hit = a == addr
                && self
                    .entries
                    .get(k)
                    .is_some_and(|(n, _)| std::ptr::eq(*n, name));
            hit.then_some(k)
        });
        let k = match cached {
            Some(k) => k,
            None => self.miss(name, line),
        };
        &mut self.entries[k].1
    }

    /// Finds (or adds) `name` and caches where it is in `line`.
    #[inline(never)]
    fn miss(&mut self, name: &'static str, line: usize) -> usize {
        let k = self.find_or_add(name);
        if let Some(c) = self.cache.get_mut(line) {
            *c = (name.as_ptr() as usize, k);
        }
        k
    }

    fn find_or_add(&mut self, name: &'static str) -> usize {
        let at = self
            .entries
            .iter()
            .position(|(n, _)| std::ptr::eq(*n, name))
            // Another copy of the same text: found by content.
            .or_else(|| self.entries.iter().position(|(n, _)| *n == name));
        at.unwrap_or_else(|| {
            self.entries.push((name, V::default()));
            self.entries.len() - 1
        })
    }

    /// Every value, by name.
    pub(crate) fn to_map(&self) -> BTreeMap<&'static str, V> {
        self.entries.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_counts_once_wherever_it_lives() {
        let mut t = Tally::<u64>::default();
        let copy = String::from("vote").leak();
        *t.entry("vote") += 1;
        *t.entry(copy) += 1;
        *t.entry("ack") += 2;
        let map = t.to_map();
        assert_eq!(map.len(), 2);
        assert_eq!((map["vote"], map["ack"]), (2, 2));
    }

    #[test]
    fn names_counted_in_any_order_count_where_they_belong() {
        let mut t = Tally::<u64>::default();
        for name in ["a", "b", "c", "b", "b", "a", "c", "c", "c"] {
            *t.entry(name) += 1;
        }
        let map = t.to_map();
        assert_eq!((map["a"], map["b"], map["c"]), (2, 3, 4));
        assert_eq!(map.len(), 3);
    }
}
