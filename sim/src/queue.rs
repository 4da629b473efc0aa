//! The event queue: ordered by (virtual time, insertion counter), so ties break in
//! the order events were scheduled and a run is reproducible.
//!
//! The heap holds only small keys; payloads sit in a slab reused across events, so
//! a push or pop moves a key and allocates nothing once the slab has grown.

use ringleader_core::Instant;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Bits of a key's low half that number pushes; the rest hold the payload's
/// slot. A run that pushes more renumbers what waits (see `renumber`).
const COUNTER_BITS: u32 = 32;

/// A heap entry in one 16-byte number: the time in the high half, then the
/// insertion counter, then the payload's slot in the slab. Time and counter
/// order entries (the counter is unique, so the slot never decides); reversed,
/// so the standard max-heap pops the earliest. Small keys keep the heap's
/// sifting cheap.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Key(u128);

impl Key {
    fn new(at: Instant, counter: u64, slot: u32) -> Key {
        let low = (counter << (64 - COUNTER_BITS)) | u64::from(slot);
        Key((u128::from(at.as_micros()) << 64) | u128::from(low))
    }

    fn at(self) -> Instant {
        Instant::from_micros((self.0 >> 64) as u64)
    }

    fn slot(self) -> u32 {
        self.0 as u32
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.cmp(&self.0)
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A priority queue of `T` keyed by virtual time, first-in first-out among equals.
#[derive(Debug)]
pub struct EventQueue<T> {
    heap: BinaryHeap<Key>,
    slab: Vec<Option<T>>,
    free: Vec<u32>,
    counter: u64,
    /// Where the counter stops and the waiting keys are renumbered.
    counter_limit: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            counter: 0,
            counter_limit: 1 << COUNTER_BITS,
        }
    }
}

impl<T> EventQueue<T> {
    /// Schedules `item` at `at`.
    pub fn push(&mut self, at: Instant, item: T) {
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(cell) = self.slab.get_mut(slot as usize) {
                    *cell = Some(item);
                }
                slot
            }
            None => {
                // Four billion waiting events would need hundreds of gigabytes:
                // the slab never outgrows a 32-bit slot.
                let Ok(slot) = u32::try_from(self.slab.len()) else {
                    return;
                };
                self.slab.push(Some(item));
                slot
            }
        };
        if self.counter >= self.counter_limit {
            self.renumber();
        }
        self.heap.push(Key::new(at, self.counter, slot));
        self.counter += 1;
    }

    /// Numbers the waiting keys again from zero, in their order, so the
    /// counter has room (after four billion pushes). Cold and out of line:
    /// inlined, it made every push save registers it never needs.
    #[cold]
    #[inline(never)]
    fn renumber(&mut self) {
        // Ascending by `Ord`: the last to pop first.
        let mut keys = std::mem::take(&mut self.heap).into_sorted_vec();
        keys.reverse();
        self.counter = 0;
        for key in &mut keys {
            *key = Key::new(key.at(), self.counter, key.slot());
            self.counter += 1;
        }
        self.heap = BinaryHeap::from(keys);
    }

    /// Takes the earliest item.
    pub fn pop(&mut self) -> Option<(Instant, T)> {
        let key = self.heap.pop()?;
        let item = self
            .slab
            .get_mut(key.slot() as usize)
            .and_then(Option::take)?;
        self.free.push(key.slot());
        Some((key.at(), item))
    }

    /// When the earliest item is due.
    pub fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|k| k.at())
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// The simulator's limit: `events` events over `nodes` senders through this
/// queue, each delayed by a seeded random 1–2,000 µs as the network model
/// delays a message, each handled by a step that only folds its time into a
/// number (no protocol, no invariants, no network model). `sim bench` prints
/// its rate beside the real workloads'. Returns the fold, so nothing is
/// optimised away.
pub fn bare_loop(nodes: usize, events: u64, seed: u64) -> u64 {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut queue = EventQueue::default();
    let mut state = vec![0u64; nodes.max(1)];
    for node in 0..state.len() {
        queue.push(Instant::ZERO, node);
    }
    for _ in 0..events {
        let Some((at, node)) = queue.pop() else {
            break;
        };
        if let Some(s) = state.get_mut(node) {
            *s = s.wrapping_mul(31).wrapping_add(at.as_micros());
        }
        let delay = std::time::Duration::from_micros(rng.random_range(1..=2000));
        queue.push(at + delay, node);
    }
    state.iter().fold(0, |a, s| a ^ s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_time_then_insertion() {
        let mut q = EventQueue::default();
        q.push(Instant::from_millis(5), "late");
        q.push(Instant::from_millis(1), "first");
        q.push(Instant::from_millis(1), "second");
        q.push(Instant::from_millis(3), "middle");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, v)| v)).collect();
        assert_eq!(order, ["first", "second", "middle", "late"]);
        assert!(q.is_empty());
    }

    #[test]
    fn slots_are_reused() {
        let mut q = EventQueue::default();
        for round in 0..100u64 {
            q.push(Instant::from_millis(round), round);
            q.push(Instant::from_millis(round), round);
            q.pop();
            q.pop();
        }
        assert!(q.slab.len() <= 2);
    }

    #[test]
    fn renumbering_keeps_the_order_of_ties() {
        let mut q = EventQueue::<u64> {
            counter_limit: 4,
            ..EventQueue::default()
        };
        let mut want = Vec::new();
        for round in 0..20u64 {
            // Ties at the same time, pushed across several renumberings.
            q.push(Instant::from_millis(round % 3), round);
            want.push((round % 3, round));
        }
        want.sort_by_key(|&(at, _)| at);
        let order: Vec<_> = std::iter::from_fn(|| q.pop())
            .map(|(at, v)| (at.as_millis(), v))
            .collect();
        assert_eq!(order, want);
    }

    /// What the queue must do, the slow way: every item by (time, push order).
    #[derive(Default)]
    struct Model {
        items: std::collections::BTreeMap<(u64, u64), u32>,
        pushed: u64,
    }

    proptest::proptest! {
        /// Whatever the times (near, far, before the last taken) and
        /// however pushes and pops interleave, items come out as a sorted list
        /// of (time, push order) gives them.
        #[test]
        fn pops_in_time_then_push_order_like_a_sorted_list(
            ops in proptest::collection::vec((0u8..8, 0u64..3, 0u64..20_000), 1..400),
        ) {
            let mut q = EventQueue::default();
            let mut m = Model::default();
            let mut now = 0u64;
            let mut next = 0u32;
            for (op, range, offset) in ops {
                if op < 3 {
                    let popped = q.pop().map(|(at, v)| (at.as_micros(), v));
                    let want = m.items.pop_first().map(|((at, _), v)| (at, v));
                    proptest::prop_assert_eq!(popped, want);
                    if let Some((at, _)) = popped {
                        now = now.max(at);
                    }
                } else {
                    // Mostly near (a message's delay), some far, a few in the past.
                    let at = match range {
                        0 => now + offset % 2_500,
                        1 => now + offset * 7,
                        _ => now.saturating_sub(offset % 50),
                    };
                    q.push(Instant::from_micros(at), next);
                    m.items.insert((at, m.pushed), next);
                    m.pushed += 1;
                    next += 1;
                }
                proptest::prop_assert_eq!(q.len(), m.items.len());
                proptest::prop_assert_eq!(
                    q.peek_time().map(Instant::as_micros),
                    m.items.keys().next().map(|k| k.0)
                );
            }
            while let Some((at, v)) = q.pop() {
                let want = m.items.pop_first().map(|((at, _), v)| (at, v));
                proptest::prop_assert_eq!(Some((at.as_micros(), v)), want);
            }
            proptest::prop_assert!(m.items.is_empty());
        }
    }
}
