//! Applying faults: crashes, restarts, leaves, partitions and cuts, clock
//! skew, pauses, and clients that quit.

use super::state::{Item, World};
use crate::faults::Fault;
use crate::invariants::Observed;
use ringleader_core::{Event, NodeId};

impl World<'_> {
    #[inline(never)]
    pub(super) fn apply_fault(&mut self, fault: Fault) {
        let index = |n: NodeId| (n.0 as usize).wrapping_sub(1);
        match fault {
            Fault::Crash(n) => self.down(index(n), false, false),
            Fault::Kill(n) => self.down(index(n), false, true),
            Fault::Leave(n) => {
                let i = index(n);
                if self.slots.node(i).is_some() {
                    self.step(i, Event::Leave);
                    self.down(i, true, true);
                }
            }
            Fault::ClientLeave(c) => {
                let c = (c as usize).wrapping_sub(1);
                self.client_quit(c);
            }
            Fault::Restart(n) => {
                let i = index(n);
                self.down(i, false, true);
                if i < self.slots.0.len() {
                    self.start(i);
                }
            }
            Fault::Partition(groups) => {
                let n = self.slots.0.len();
                let extra = groups.len();
                let group_of = |i: usize| {
                    groups
                        .iter()
                        .position(|g| g.contains(&NodeId(i as u32 + 1)))
                        .unwrap_or(extra)
                };
                let links: Vec<(usize, usize, bool)> = (0..n)
                    .flat_map(|a| (0..n).map(move |b| (a, b)))
                    .map(|(a, b)| (a, b, group_of(a) == group_of(b)))
                    .collect();
                self.set_links(links);
            }
            Fault::Cut { from, to } => {
                self.net.set(index(from), index(to), false);
                self.checker
                    .on_path(self.now, index(from), index(to), false);
            }
            Fault::Heal => {
                let n = self.slots.0.len();
                let links: Vec<(usize, usize, bool)> = (0..n)
                    .flat_map(|a| (0..n).map(move |b| (a, b, true)))
                    .collect();
                self.set_links(links);
            }
            Fault::Pause { node, lasts } => {
                let i = index(node);
                let until = self.now + lasts;
                if let Some(slot) = self.slots.0.get_mut(i).filter(|s| s.node.is_some()) {
                    let until = slot.paused_until.map_or(until, |u| u.max(until));
                    slot.paused_until = Some(until);
                    self.queue.push(until, Item::Resume(i));
                    self.silenced(i);
                }
            }
            Fault::DiskStall { node, lasts } => self.stall_disk(index(node), lasts),
            Fault::DiskFail(n) => self.fail_disk(index(n)),
            Fault::ReadFail { node, lasts } => self.bad_reads(index(node), lasts, false),
            Fault::ReadFlip { node, lasts } => self.bad_reads(index(node), lasts, true),
            Fault::Skew { node, drift_ppm } => {
                let i = index(node);
                if let Some(slot) = self.slots.0.get_mut(i) {
                    slot.clock.set_drift(self.now, drift_ppm);
                    self.checker.on_drift(i, slot.clock.drift_ppm());
                    // The node's deadline now falls at another virtual time.
                    slot.tick_at = None;
                    self.reschedule(i);
                }
            }
        }
    }

    /// Reads of node `i`'s disk fail (or, `flipped`, find a damaged record)
    /// for `lasts`.
    fn bad_reads(&mut self, i: usize, lasts: std::time::Duration, flipped: bool) {
        let until = self.now + lasts;
        if let Some(slot) = self.slots.0.get_mut(i) {
            if flipped {
                slot.disk.flip_reads_until(until);
            } else {
                slot.disk.fail_reads_until(until);
            }
        }
    }

    /// Node `i`'s disk completes no sync for `lasts`.
    fn stall_disk(&mut self, i: usize, lasts: std::time::Duration) {
        let until = self.now + lasts;
        if let Some(slot) = self.slots.0.get_mut(i) {
            slot.disk.stall_until(until);
        }
    }

    /// A write of node `i`'s disk fails: the failed sync's pages may be gone
    /// (what no sync made stable is lost), and the process exits with the error.
    fn fail_disk(&mut self, i: usize) {
        if self.slots.node(i).is_some() {
            self.lose_unsynced(i, "failed a disk write");
            self.down(i, false, true);
        }
    }

    /// Node `i` falls silent or wakes from a pause: to the checkers, as if every
    /// message between it and the others had just been lost, since its silence
    /// may rightly get it declared dead and its late timers may make it declare
    /// others dead.
    pub(super) fn silenced(&mut self, i: usize) {
        for j in (0..self.slots.0.len()).filter(|&j| j != i) {
            self.checker.on_drop(self.now, i, j);
            self.checker.on_drop(self.now, j, i);
        }
        self.election.on_drop(self.now);
    }

    /// Sets links, then raises a `heal` obligation for each pair reconnected both ways.
    fn set_links(&mut self, links: Vec<(usize, usize, bool)>) {
        let n = self.slots.0.len();
        let before: Vec<bool> = (0..n * n).map(|k| self.net.is_up(k / n, k % n)).collect();
        for (a, b, up) in links {
            self.net.set(a, b, up);
            self.checker.on_path(self.now, a, b, up);
        }
        for a in 0..n {
            for b in a + 1..n {
                let was = before.get(a * n + b).copied().unwrap_or(true)
                    && before.get(b * n + a).copied().unwrap_or(true);
                if !was && self.net.is_up(a, b) && self.net.is_up(b, a) {
                    self.checker.on_reconnect(self.now, a, b, &self.slots);
                }
            }
        }
    }
}
