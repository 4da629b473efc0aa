//! The servers' disks at work: writes carried out, syncs that finish (or
//! hang), the node told its writes are durable, and the write-ahead rule
//! checked on every message that depends on a write.

use super::state::{Item, World};
use crate::disk::{ReadOutcome, Write};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ringleader_core::durable::Durability;
use ringleader_core::wire::Message;
use ringleader_core::{Event, NodeId};
use std::time::Duration;

/// How long a machine's operating system keeps written pages before it writes
/// them back on its own (Linux: `dirty_writeback_centisecs`, 5 s).
const WRITEBACK: Duration = Duration::from_secs(5);

impl World<'_> {
    /// Node `i` asked for a write: its disk takes it (a sync begins if none
    /// is running), and under `process` durability the node hears at once
    /// that it counts.
    pub(super) fn disk_write(&mut self, i: usize, token: u64, write: Write) {
        let Some(slot) = self.slots.0.get_mut(i) else {
            return;
        };
        let sync = slot.disk.write(token, write);
        let life = slot.lives;
        self.begin_sync(i, sync);
        self.compact_disk(i);
        if self.durability == Durability::Process {
            let item = Item::Written {
                node: i,
                life,
                token,
            };
            self.queue.push(self.now, item);
        }
    }

    /// A sync of node `i`'s disk begins (if `covering` names its last write):
    /// the node's own under `power`, the machine's writeback under `process`.
    fn begin_sync(&mut self, i: usize, covering: Option<u64>) {
        let (Some(token), Some(slot)) = (covering, self.slots.0.get(i)) else {
            return;
        };
        let item = Item::Synced {
            node: i,
            life: slot.lives,
            token,
        };
        let after = match self.durability {
            Durability::Power => self.disk_latency,
            Durability::Process => WRITEBACK + self.disk_latency,
        };
        self.queue.push(self.now + after, item);
    }

    /// A sync of node `i`'s disk finished: the next begins if more writes
    /// wait, and under `power` the node hears its writes are durable.
    pub(super) fn on_synced(&mut self, i: usize, life: u64, token: u64) {
        let Some(slot) = self.slots.0.get_mut(i) else {
            return;
        };
        if slot.node.is_none() || slot.lives != life {
            return; // the process that asked is gone
        }
        let at = slot.disk.finishes_at(self.now);
        if at > self.now {
            // The disk hangs: the sync finishes once it is back.
            self.queue.push(
                at,
                Item::Synced {
                    node: i,
                    life,
                    token,
                },
            );
            return;
        }
        self.counters.events += 1;
        let next = slot.disk.synced(token);
        self.begin_sync(i, next);
        if self.durability == Durability::Power {
            self.step(i, Event::Durable { token });
        }
    }

    /// Retention: node `i`'s disk compacts what it may, and tells the node.
    fn compact_disk(&mut self, i: usize) {
        let Some(retain) = self.retain else {
            return;
        };
        let floor = self.app.as_ref().map(|app| app.floor(i));
        let Some(slot) = self.slots.0.get_mut(i) else {
            return;
        };
        if let Some(snapshot) = slot.disk.compact(retain, floor) {
            self.step(i, Event::LogCompacted { snapshot });
        }
    }

    /// Node `i` asked to read entries back: its disk answers after a while
    /// (later if it hangs).
    pub(super) fn disk_read(&mut self, i: usize, from: u64, max: usize) {
        let Some(slot) = self.slots.0.get_mut(i) else {
            return;
        };
        let outcome = slot.disk.read(self.now, from, max);
        let at = slot.disk.finishes_at(self.now + self.disk_latency / 2);
        let item = Item::ReadDone {
            node: i,
            life: slot.lives,
            from,
            outcome,
        };
        self.queue.push(at, item);
    }

    /// A read of node `i`'s disk is done: the node gets the entries, or
    /// nothing (a failed read), or stops (a damaged record, as the runtime
    /// stops on a checksum that does not match).
    #[inline(never)]
    pub(super) fn on_read(&mut self, i: usize, life: u64, from: u64, outcome: ReadOutcome) {
        let alive = self.slots.0.get(i);
        if !alive.is_some_and(|s| s.node.is_some() && s.lives == life) {
            return;
        }
        self.counters.events += 1;
        match outcome {
            ReadOutcome::Entries(entries) => self.step(i, Event::LogRead { from, entries }),
            ReadOutcome::Failed => self.step(
                i,
                Event::LogRead {
                    from,
                    entries: Vec::new(),
                },
            ),
            ReadOutcome::Corrupt => self.down(i, false, true),
        }
    }

    /// `process` durability: node `i` hears its writes up to `token` reached
    /// the operating system.
    #[inline(never)]
    pub(super) fn on_written(&mut self, i: usize, life: u64, token: u64) {
        let alive = self.slots.0.get(i);
        if alive.is_some_and(|s| s.node.is_some() && s.lives == life) {
            self.counters.events += 1;
            self.step(i, Event::Durable { token });
        }
    }

    /// Node `i`'s disk drops what no sync made stable (its machine lost power,
    /// or a sync failed: `how`). Under `process` durability the node had
    /// counted on some of it: the run names that as the cause of what follows.
    pub(super) fn lose_unsynced(&mut self, i: usize, how: &str) {
        let Some(slot) = self.slots.0.get_mut(i) else {
            return;
        };
        slot.lost_power = true;
        // What the system had written back, and a last write cut short: drawn
        // from a generator of this crash alone, so the run's other draws stay.
        let mut draw =
            ChaCha8Rng::seed_from_u64(self.seed ^ self.now.as_micros() ^ (i as u64) << 56);
        let kept = draw.random_range(0..4usize);
        let torn = draw.random_range(0..4usize);
        if slot.disk.power_lost(kept, torn) && self.durability == Durability::Process {
            let why = format!(
                "{} {how} with writes it had counted on but its disk had not synced (--durability process survives a crash of the process, not of the machine)",
                slot.id
            );
            self.replication.on_unsynced_loss(self.now, why);
        }
    }

    /// The write-ahead rule, checked on every message that depends on a write:
    /// an acknowledgement of entries, a vote, a request for votes leaves only
    /// when what it promises is on node `i`'s stable storage.
    pub(super) fn check_durable_first(&mut self, i: usize, to: NodeId, msg: &Message) {
        if self.durability == Durability::Process {
            return; // it promises the operating system, which has every write
        }
        let Some(slot) = self.slots.0.get(i) else {
            return;
        };
        let Some(node) = slot.node.as_ref() else {
            return;
        };
        let Some(broken) = crate::disk::write_ahead(&slot.disk, node, to, msg) else {
            return;
        };
        self.replication
            .on_dependent_send(self.now, slot.id.0, broken);
    }
}
