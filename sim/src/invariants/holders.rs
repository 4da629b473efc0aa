//! Who holds each committed entry, and when nodes were down: the evidence for
//! the one explanation a lost committed entry may have — every node that held
//! it was down at the same time, so the nodes still up never heard of it
//! (`bully` and `ring` commit on the live followers; see the README's limits).

use ringleader_core::Instant;

/// Holders of the one history's entries and the nodes' down times.
#[derive(Clone, Debug, Default)]
pub struct Holders {
    /// Per history slot: when it was first committed, and a bit per node
    /// that committed it since.
    slots: Vec<(Instant, u64)>,
    /// Per node: the times it went down and came back (`None`: still down).
    downs: Vec<Vec<(Instant, Option<Instant>)>>,
}

impl Holders {
    /// No history yet; `nodes` servers.
    pub fn new(nodes: usize) -> Self {
        Holders {
            slots: Vec::new(),
            downs: vec![Vec::new(); nodes],
        }
    }

    /// Node `i` committed the history's entry at `slot` (0-based) at `at`.
    pub fn committed(&mut self, slot: usize, i: usize, at: Instant) {
        let bit = 1u64.checked_shl(i as u32).unwrap_or(0);
        if let Some(s) = self.slots.get_mut(slot) {
            s.1 |= bit;
        } else if slot == self.slots.len() {
            self.slots.push((at, bit));
        }
    }

    /// Node `i` went down at `at`.
    pub fn down(&mut self, i: usize, at: Instant) {
        if let Some(d) = self.downs.get_mut(i) {
            if d.last().is_none_or(|(_, back)| back.is_some()) {
                d.push((at, None));
            }
        }
    }

    /// Node `i` came back at `at`.
    pub fn up(&mut self, i: usize, at: Instant) {
        if let Some((_, back)) = self.downs.get_mut(i).and_then(|d| d.last_mut()) {
            if back.is_none() {
                *back = Some(at);
            }
        }
    }

    fn is_down(&self, i: usize, t: Instant) -> bool {
        self.downs.get(i).is_some_and(|d| {
            d.iter()
                .any(|(from, back)| *from <= t && back.is_none_or(|b| t < b))
        })
    }

    /// An instant, after the entry at `slot` was committed and before `until`,
    /// at which every node that had committed it was down: the explanation of
    /// its loss, if there is one.
    pub fn all_down_at_once(&self, slot: usize, until: Instant) -> Option<Instant> {
        let (since, mask) = *self.slots.get(slot)?;
        let holders: Vec<usize> = (0..64).filter(|i| mask & (1u64 << i) != 0).collect();
        if holders.is_empty() {
            return None;
        }
        // The moments all could first be down together are when one went down.
        holders
            .iter()
            .filter_map(|&i| self.downs.get(i))
            .flatten()
            .map(|(from, _)| (*from).max(since))
            .filter(|t| *t < until)
            .find(|&t| holders.iter().all(|&h| self.is_down(h, t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn an_entry_is_explained_only_when_all_its_holders_were_down_together() {
        let mut h = Holders::new(3);
        h.committed(0, 0, at(10));
        h.committed(0, 1, at(11));
        h.down(0, at(20));
        h.down(1, at(25));
        h.up(0, at(30));
        assert_eq!(h.all_down_at_once(0, at(100)), Some(at(25)));
        // Never down together: no explanation.
        let mut h = Holders::new(3);
        h.committed(0, 0, at(10));
        h.committed(0, 1, at(11));
        h.down(0, at(20));
        h.up(0, at(22));
        h.down(1, at(25));
        assert_eq!(h.all_down_at_once(0, at(100)), None);
    }
}
