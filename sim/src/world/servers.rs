//! The servers: stepping a node and carrying out what it asked for, sending
//! over the simulated network, starting and stopping nodes.

use super::state::{Item, World};
use crate::addr::node_seed;
use crate::disk::Write;
use crate::network::Fate;
use crate::trace::DropReason;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ringleader_core::link::{LinkConfig, Links};
use ringleader_core::wire::Message;
use ringleader_core::{Action, Event, MembershipChange, Node, NodeId};
use std::collections::BTreeMap;

/// Mixed into a node's seed for its links' jitter, so the two draw apart.
const LINK_SEED: u64 = 0x6c69_6e6b_7321;

impl World<'_> {
    pub(super) fn step(&mut self, i: usize, event: Event) {
        let Some(slot) = self.slots.0.get_mut(i) else {
            return;
        };
        let Some(node) = slot.node.as_mut() else {
            return;
        };
        let local = slot.clock.local(self.now);
        let mut actions = std::mem::take(&mut self.actions);
        // The one seam of planted bugs: it may bend what the node sends.
        let lie = self.bug.before_step(&event);
        let stalled = node.disk_stalled();
        node.step_into(local, event, &mut actions);
        slot.node_deadline = node.next_deadline();
        // A node whose disk stalls plays dead until it catches up: to the
        // checkers, every step of it (and the one that ends it) is silence,
        // as a pause is; the peers it does not answer may rightly be wrong
        // about it, and it about them.
        let silent = stalled || node.disk_stalled();
        if let Some(lie) = lie {
            lie.tell(&mut actions, node.info());
        }
        if silent {
            self.silenced(i);
        }
        let mut leadership_changed = false;
        for action in actions.drain(..) {
            let id = NodeId(i as u32 + 1);
            self.tracer.action(self.now, id, &action);
            self.election.on_action(self.now, id, &action);
            leadership_changed |= matches!(action, Action::RoleChanged { .. });
            self.apply(i, action);
        }
        self.actions = actions;
        if leadership_changed {
            self.election.after_change(self.now, &self.slots);
        }
        if let Some(slot) = self.slots.0.get(i) {
            if let Some(node) = slot.node.as_ref().filter(|_| slot.paused_until.is_none()) {
                self.replication
                    .after_step(self.now, i, node, slot.disk.written_log());
                let logs = self.slots.0.iter().map(|s| s.disk.written_log());
                self.replication
                    .check_majority(self.now, i, node, logs, self.majority);
            }
        }
        self.reschedule(i);
    }

    /// Queues node `i`'s next tick, if its deadline (its node's or its
    /// links') now falls before the one queued.
    #[inline]
    pub(super) fn reschedule(&mut self, i: usize) {
        let Some(slot) = self.slots.0.get_mut(i) else {
            return;
        };
        let Some(deadline) = slot.deadline() else {
            slot.tick_at = None;
            return;
        };
        if slot.tick_at.is_some() && slot.tick_for == Some(deadline) {
            // Worked out from this deadline on this clock, at an earlier (or
            // the same) time: it would come out no earlier. The common case,
            // after every step.
            return;
        }
        self.queue_tick(i, deadline);
    }

    /// Queues node `i`'s tick for `deadline` (its local time), if that falls
    /// before the one queued. Out of line: the check before it is what
    /// every step runs, and stays small enough to inline.
    #[inline(never)]
    fn queue_tick(&mut self, i: usize, deadline: ringleader_core::Instant) {
        let Some(slot) = self.slots.0.get_mut(i) else {
            return;
        };
        let at = slot.clock.virtual_at(deadline).max(self.now);
        if slot.tick_at.is_none_or(|t| at < t) {
            slot.tick_at = Some(at);
            slot.tick_for = Some(deadline);
            self.queue.push(at, Item::Tick(i));
        }
    }

    fn apply(&mut self, i: usize, action: Action) {
        if self.now >= self.idle_from
            && matches!(action, Action::Send { .. } | Action::Multicast(_))
        {
            if let Some(sent) = self.idle_sent.get_mut(i) {
                *sent += 1;
            }
        }
        match action {
            Action::Send { to, msg } => {
                self.check_durable_first(i, to, &msg);
                let j = (to.0 as usize).wrapping_sub(1);
                if j < self.slots.0.len() && j != i {
                    self.link_send(i, j, msg);
                }
            }
            Action::Multicast(msg) => {
                let n = self.slots.0.len();
                for j in (0..n).filter(|&j| j != i) {
                    self.send(i, j, msg.clone());
                }
            }
            Action::Persist { token, state } => self.disk_write(i, token, Write::State(state)),
            Action::WriteLog { token, write } => self.disk_write(i, token, Write::Log(*write)),
            Action::ReadLog { from, max } => self.disk_read(i, from, max),
            Action::RoleChanged { .. } => {}
            Action::Proposal { ticket, outcome } => {
                if let Some(app) = self.app.as_mut() {
                    app.outcome(self.now, i, ticket, outcome);
                }
            }
            Action::ToClient { client, msg } => self.server_to_client(i, client, *msg),
            Action::CloseClient(client) => {
                let Some(slot) = self.slots.0.get_mut(i) else {
                    return;
                };
                if let Some((c, link)) = slot.links.remove(&client) {
                    slot.retired.insert(client, link);
                    self.reset_link(c, link);
                }
            }
            Action::Member { node, change } => {
                if change == MembershipChange::Died {
                    self.checker
                        .on_died(self.now, i, node.id, node.incarnation, &self.slots);
                }
            }
        }
    }

    fn send(&mut self, from: usize, to: usize, msg: Message) {
        self.counters.sent += 1;
        self.transmit(from, to, msg, None);
    }

    /// Puts `msg` from `from` to `to` on the network, which delivers it (maybe
    /// twice) after a delay, loses it or cuts it. `life`: sent on a connection,
    /// the receiver's life it was made with (a datagram reaches whoever is up).
    pub(super) fn transmit(&mut self, from: usize, to: usize, msg: Message, life: Option<u64>) {
        match self.net.fate(from, to, &mut self.rng) {
            Fate::Delivered { delay, duplicate } => {
                let sent = self.now;
                let number = self.counters.transmitted as u32;
                self.counters.transmitted += 1;
                let to = to as u32;
                if let Some(extra) = duplicate {
                    self.counters.duplicated += 1;
                    let copy = Item::Deliver {
                        to,
                        number,
                        msg: msg.clone(),
                        sent,
                        life,
                    };
                    self.queue.push(self.now + extra, copy);
                }
                let item = Item::Deliver {
                    to,
                    number,
                    msg,
                    sent,
                    life,
                };
                self.queue.push(self.now + delay, item);
            }
            fate => {
                let why = if fate == Fate::Cut {
                    self.counters.cut += 1;
                    DropReason::Cut
                } else {
                    self.counters.lost += 1;
                    DropReason::Lost
                };
                self.dropped(from, to, &msg, why);
            }
        }
    }

    /// A message that never arrives, told to the checkers and the trace.
    pub(super) fn dropped(&mut self, from: usize, to: usize, msg: &Message, why: DropReason) {
        self.checker.on_drop(self.now, from, to);
        self.election.on_drop(self.now);
        self.tracer.dropped(
            (self.now, self.now),
            NodeId(from as u32 + 1),
            NodeId(to as u32 + 1),
            msg,
            why,
        );
    }

    #[inline(never)]
    pub(super) fn start(&mut self, i: usize) {
        let now = self.now;
        let Some(slot) = self.slots.0.get_mut(i) else {
            return;
        };
        slot.lives += 1;
        let first = slot.lives == 1;
        let local = slot.clock.local(now);
        let seed = node_seed(self.seed, i, slot.lives);
        // The config was validated with the run, so building cannot fail here.
        let (log, persisted) = slot.disk.read_back();
        let Ok(node) =
            Node::restore_with_log(slot.config.clone(), slot.id, seed, local, persisted, log)
        else {
            return;
        };
        let lost_power = std::mem::take(&mut slot.lost_power);
        let history = slot.disk.written_log();
        self.replication
            .on_restart(now, i, &node, history, lost_power);
        let incarnation = node.info().incarnation.counter;
        slot.node = Some(node);
        slot.machine_up = true;
        slot.peer_links = Some(Links::new(
            slot.id,
            LinkConfig::for_node(&slot.config),
            ChaCha8Rng::seed_from_u64(seed ^ LINK_SEED),
        ));
        slot.up_since = now;
        slot.tick_at = None;
        let id = slot.id;
        self.tracer.start(now, id, incarnation);
        self.step(i, Event::Start);
        if let Some(slot) = self.slots.0.get_mut(i) {
            slot.disk.sync_now();
        }
        self.checker.on_up(now, i, first, &self.slots);
    }

    /// Takes node `i` down. `reset`: its process ended (its connections are
    /// reset at once, and its disk keeps what reached the operating system);
    /// otherwise its machine crashed (its clients notice by their own timeout,
    /// and its disk keeps only what a sync made stable).
    pub(super) fn down(&mut self, i: usize, left: bool, reset: bool) {
        if self.slots.0.get(i).is_some_and(|s| s.node.is_some()) {
            self.checker.on_down(self.now, i, left, &self.slots);
            self.replication.on_down(self.now, i);
            self.links_down(i, reset);
        }
        let was_up = self.slots.0.get(i).is_some_and(|s| s.node.is_some());
        if was_up && !reset {
            // The machine went down, not just the process: its disk keeps
            // only what a sync made stable.
            self.lose_unsynced(i, "lost power");
        }
        let mut links = BTreeMap::new();
        if let Some(slot) = self.slots.0.get_mut(i) {
            if slot.node.take().is_some() {
                // What reached the operating system stays (all of it, after
                // a loss of power only what was synced was left to keep).
                slot.disk.process_crashed();
            }
            slot.tick_at = None;
            slot.paused_until = None;
            links = std::mem::take(&mut slot.links);
        }
        if reset {
            for (_, (c, link)) in links {
                self.reset_link(c, link);
            }
        }
    }
}
