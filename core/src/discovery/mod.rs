//! Discovery and failure detection.
//!
//! A starting node multicasts a probe; every member that hears it admits the newcomer
//! and answers directly, so the newcomer learns the group at once. Every node
//! multicasts an announcement each announce interval (jittered within the last
//! quarter of the interval so announcements of nodes started together drift apart)
//! and sends a heartbeat to every member it knows, dead ones included, each heartbeat
//! interval. Anything heard from a member refreshes it; silence past the suspect and
//! failure timeouts makes it suspect, then dead. A member is re-admitted as soon as
//! it is heard from again, in the same life (a healed partition) or in a new one (a
//! restart). Whoever admits a member from its announcement answers with a heartbeat,
//! so the member learns of it too even if its own announcement was lost.

use crate::action::Action;
use crate::config::Config;
use crate::id::{Incarnation, NodeId, NodeInfo};
use crate::membership::{Member, MemberState, Membership, MembershipChange};
use crate::time::Instant;
use crate::wire::{Announce, Message};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How many distinct foreign senders are logged at warn level before going quiet.
const FOREIGN_REPORT_LIMIT: usize = 32;

/// Counters of what discovery ignored, for status and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiscoveryStats {
    /// Messages from nodes of another cluster.
    pub foreign: u64,
    /// Messages from another node claiming this node's id.
    pub id_conflicts: u64,
    /// Messages from an earlier life of a member.
    pub stale: u64,
    /// Newcomers refused because the view was full.
    pub view_full: u64,
}

/// A change of a member's state, as discovery reports it to the other parts
/// (the driver hears of it as an [`Action::Member`]).
pub(crate) type Change = (NodeInfo, MembershipChange);

/// Reports a change both ways: to the driver and to the node's other parts.
fn report(
    out: &mut Vec<Action>,
    changes: &mut Vec<Change>,
    node: NodeInfo,
    change: MembershipChange,
) {
    out.push(Action::Member { node, change });
    changes.push((node, change));
}

/// The discovery and failure-detection part of a node.
#[derive(Clone, Debug)]
pub(crate) struct Discovery {
    me: NodeInfo,
    cluster: String,
    announce_interval: Duration,
    heartbeat_interval: Duration,
    suspect_timeout: Duration,
    failure_timeout: Duration,
    max_members: usize,
    view: Membership,
    next_announce: Instant,
    next_heartbeat: Instant,
    /// No member changes state before this; a lower bound, so it may wake us early.
    next_check: Instant,
    foreign_reported: BTreeSet<(String, NodeId)>,
    /// Per member whose disk was wiped: the latest of its lives before the
    /// wipe. Those lives have higher start counters than the new one, yet a
    /// message of theirs is stale. One entry per member of the view at most.
    retired: BTreeMap<NodeId, Incarnation>,
    stats: DiscoveryStats,
}

impl Discovery {
    pub(crate) fn new(config: &Config, me: NodeInfo) -> Self {
        Discovery {
            me,
            cluster: config.cluster.clone(),
            announce_interval: config.announce_interval,
            heartbeat_interval: config.heartbeat_interval,
            suspect_timeout: config.suspect_timeout,
            failure_timeout: config.failure_timeout,
            max_members: config.max_members,
            view: Membership::default(),
            next_announce: Instant::MAX,
            next_heartbeat: Instant::MAX,
            next_check: Instant::MAX,
            foreign_reported: BTreeSet::new(),
            retired: BTreeMap::new(),
            stats: DiscoveryStats::default(),
        }
    }

    pub(crate) fn view(&self) -> &Membership {
        &self.view
    }

    pub(crate) fn stats(&self) -> DiscoveryStats {
        self.stats
    }

    pub(crate) fn next_deadline(&self) -> Instant {
        self.next_announce
            .min(self.next_heartbeat)
            .min(self.next_check)
    }

    fn announce(&self) -> Announce {
        Announce {
            cluster: self.cluster.clone(),
            node: self.me,
        }
    }

    fn jittered_announce(&self, now: Instant, rng: &mut ChaCha8Rng) -> Instant {
        let full = self.announce_interval.as_micros() as u64;
        let jitter = rng.random_range(0..=full / 4);
        now + Duration::from_micros(full - jitter)
    }

    pub(crate) fn start(&mut self, now: Instant, rng: &mut ChaCha8Rng, out: &mut Vec<Action>) {
        out.push(Action::Multicast(Message::Probe(self.announce())));
        self.next_announce = self.jittered_announce(now, rng);
        self.next_heartbeat = now + self.heartbeat_interval;
    }

    pub(crate) fn leave(&mut self, out: &mut Vec<Action>) {
        let bye = Message::Leave(self.announce());
        for m in self.view.iter().filter(|m| m.state != MemberState::Left) {
            out.push(Action::Send {
                to: m.info.id,
                msg: bye.clone(),
            });
        }
        out.push(Action::Multicast(bye));
        self.next_announce = Instant::MAX;
        self.next_heartbeat = Instant::MAX;
        self.next_check = Instant::MAX;
    }

    /// First half of a tick: members silent for too long become suspect or dead.
    /// The node lets the election react before [`emit`](Self::emit) sends anything,
    /// so this tick's heartbeats carry the leadership as it stands after the tick.
    /// Returns the members that changed.
    pub(crate) fn expire(&mut self, now: Instant, out: &mut Vec<Action>) -> Vec<Change> {
        self.forgive_own_pause(now);
        let mut changes = Vec::new();
        if now >= self.next_check {
            self.check_timeouts(now, out, &mut changes);
        }
        changes
    }

    /// Second half of a tick: announcements and heartbeats that are due.
    pub(crate) fn emit(
        &mut self,
        now: Instant,
        rng: &mut ChaCha8Rng,
        leading: Option<u64>,
        out: &mut Vec<Action>,
    ) {
        if now >= self.next_announce {
            out.push(Action::Multicast(Message::Announce(self.announce())));
            self.next_announce = self.jittered_announce(now, rng);
        }
        if now >= self.next_heartbeat {
            for m in self.view.iter().filter(|m| m.state != MemberState::Left) {
                out.push(Action::Send {
                    to: m.info.id,
                    msg: Message::Heartbeat {
                        from: self.me,
                        leading,
                    },
                });
            }
            // Catch up without a burst if the driver was late.
            self.next_heartbeat = (self.next_heartbeat + self.heartbeat_interval)
                .max(now + self.heartbeat_interval / 2);
        }
    }

    /// Life `life` of `peer` is proven over: a live member in that life is
    /// declared dead now; the change is returned.
    pub(crate) fn process_gone(
        &mut self,
        now: Instant,
        peer: NodeId,
        life: Incarnation,
        out: &mut Vec<Action>,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        if let Some(m) = self.view.get_mut(peer) {
            if m.state.is_live() && m.info.incarnation == life {
                tracing::info!(member = %peer, "its connection ended and its port refuses: its process is gone");
                m.state = MemberState::Dead;
                m.since = now;
                report(out, &mut changes, m.info, MembershipChange::Died);
            }
        }
        changes
    }

    /// A tick far later than the earliest deadline this node asked for means the
    /// node itself stood still: a stopped process, a long collection, a suspended
    /// machine. The others' silence over that time is ours, not theirs (their
    /// messages are waiting to be read), so it does not count against them;
    /// otherwise a paused node would wake, declare everyone dead and lead alone.
    fn forgive_own_pause(&mut self, now: Instant) {
        let overslept = now.saturating_since(self.next_deadline());
        if overslept <= self.heartbeat_interval * 2 {
            return;
        }
        tracing::warn!(
            paused_ms = overslept.as_millis() as u64,
            "this node stood still; not counting the others' silence over that time"
        );
        for m in self.view.iter_mut().filter(|m| m.state.is_live()) {
            m.last_heard = (m.last_heard + overslept).min(now);
        }
        self.next_check = now;
    }

    fn check_timeouts(&mut self, now: Instant, out: &mut Vec<Action>, changes: &mut Vec<Change>) {
        let mut next = Instant::MAX;
        for m in self.view.iter_mut() {
            let suspect_at = m.last_heard + self.suspect_timeout;
            let dead_at = m.last_heard + self.failure_timeout;
            if m.state.is_live() && now >= dead_at {
                m.state = MemberState::Dead;
                m.since = now;
                report(out, changes, m.info, MembershipChange::Died);
            } else if m.state == MemberState::Alive && now >= suspect_at {
                m.state = MemberState::Suspect;
                m.since = now;
                report(out, changes, m.info, MembershipChange::Suspected);
            }
            next = next.min(match m.state {
                MemberState::Alive => suspect_at,
                MemberState::Suspect => dead_at,
                MemberState::Dead | MemberState::Left => Instant::MAX,
            });
        }
        self.next_check = next;
    }

    /// Handles a message from a peer. Returns the members that changed, or `None`
    /// if the message was ignored (another cluster, a conflicting id, a stale
    /// life), so the other parts skip it too.
    pub(crate) fn on_message(
        &mut self,
        now: Instant,
        msg: &Message,
        out: &mut Vec<Action>,
    ) -> Option<Vec<Change>> {
        if let Some(cluster) = msg.cluster() {
            if cluster != self.cluster {
                self.report_foreign(cluster, msg.from());
                return None;
            }
        }
        let sender = *msg.sender();
        if sender.id == self.me.id {
            // Our own multicast looped back is normal; anyone else with our id is a
            // misconfiguration the operator must hear about.
            if sender != self.me {
                self.stats.id_conflicts += 1;
                // The 1st, 2nd, 4th, 8th... time: a flood cannot fill the log.
                if self.stats.id_conflicts.is_power_of_two() {
                    tracing::warn!(id = %sender.id, addr = %sender.addr, times = self.stats.id_conflicts, "another node uses this node's id; ignoring it");
                }
            }
            return None;
        }
        let mut changes = Vec::new();
        let admitted = match msg {
            Message::Leave(_) => self.on_leave(now, &sender, out, &mut changes),
            _ => self.observe(now, &sender, out, &mut changes),
        };
        match admitted {
            Observed::Ignored => return None,
            Observed::Admitted if matches!(msg, Message::Announce(_)) => {
                out.push(Action::Send {
                    to: sender.id,
                    msg: Message::Heartbeat {
                        from: self.me,
                        leading: None,
                    },
                });
            }
            _ => {}
        }
        if let Message::Probe(_) = msg {
            out.push(Action::Send {
                to: sender.id,
                msg: Message::ProbeResponse(self.announce()),
            });
        }
        Some(changes)
    }

    fn report_foreign(&mut self, cluster: &str, from: NodeId) {
        self.stats.foreign += 1;
        let key = (cluster.to_owned(), from);
        if self.foreign_reported.len() < FOREIGN_REPORT_LIMIT
            && !self.foreign_reported.contains(&key)
        {
            tracing::warn!(cluster, node = %from, ours = %self.cluster, "ignoring a node of another cluster");
            self.foreign_reported.insert(key);
        } else {
            tracing::debug!(cluster, node = %from, "ignoring a node of another cluster");
        }
    }

    fn observe(
        &mut self,
        now: Instant,
        sender: &NodeInfo,
        out: &mut Vec<Action>,
        changes: &mut Vec<Change>,
    ) -> Observed {
        let suspect_at = now + self.suspect_timeout;
        let Some(m) = self.view.get_mut(sender.id) else {
            if !self.admit(now, sender, MemberState::Alive, out, changes) {
                return Observed::Ignored;
            }
            self.next_check = self.next_check.min(suspect_at);
            return Observed::Admitted;
        };
        if m.state == MemberState::Alive && m.info == *sender {
            // A live member's life as known, on nearly every message: only
            // the time it was heard changes (what follows would find no new
            // life and no change either).
            m.last_heard = now;
            return Observed::Refreshed;
        }
        let new_life = later_life(&self.retired, sender, m);
        if !new_life && sender.incarnation != m.info.incarnation {
            self.stats.stale += 1;
            return Observed::Ignored;
        }
        if new_life && sender.incarnation < m.info.incarnation {
            // A wiped disk: every life up to the one it replaces is over.
            let old = m.info.incarnation;
            let r = self.retired.entry(sender.id).or_insert(old);
            *r = (*r).max(old);
        }
        if !new_life && m.state == MemberState::Left {
            // A late message from a life that already said goodbye.
            return Observed::Ignored;
        }
        m.last_heard = now;
        let change = match (new_life, m.state) {
            (true, _) | (false, MemberState::Dead) => Some(MembershipChange::Rejoined),
            (false, MemberState::Suspect) => Some(MembershipChange::Recovered),
            _ => None,
        };
        m.info = *sender;
        let Some(change) = change else {
            return Observed::Refreshed;
        };
        m.state = MemberState::Alive;
        m.since = now;
        report(out, changes, *sender, change);
        self.next_check = self.next_check.min(suspect_at);
        if change == MembershipChange::Rejoined {
            Observed::Admitted
        } else {
            Observed::Refreshed
        }
    }

    /// Puts a node not in the view into it, in `state` (`Alive`: it joined;
    /// `Left`: its goodbye came first), and reports that. False when the view
    /// is full: the node is ignored (counted and logged).
    fn admit(
        &mut self,
        now: Instant,
        sender: &NodeInfo,
        state: MemberState,
        out: &mut Vec<Action>,
        changes: &mut Vec<Change>,
    ) -> bool {
        if self.view.len() >= self.max_members {
            self.stats.view_full += 1;
            if self.stats.view_full.is_power_of_two() {
                tracing::warn!(node = %sender.id, max = self.max_members, times = self.stats.view_full, "view is full; ignoring a newcomer");
            }
            return false;
        }
        self.view.insert(Member {
            info: *sender,
            state,
            last_heard: now,
            since: now,
        });
        let change = if state == MemberState::Left {
            MembershipChange::Left
        } else {
            MembershipChange::Joined
        };
        report(out, changes, *sender, change);
        true
    }

    fn on_leave(
        &mut self,
        now: Instant,
        sender: &NodeInfo,
        out: &mut Vec<Action>,
        changes: &mut Vec<Change>,
    ) -> Observed {
        let Some(m) = self.view.get_mut(sender.id) else {
            // A stranger's goodbye: remember that life as over, or its
            // announcement, overtaken on the way, would admit it afterwards.
            return if self.admit(now, sender, MemberState::Left, out, changes) {
                Observed::Refreshed
            } else {
                Observed::Ignored
            };
        };
        let current =
            sender.incarnation == m.info.incarnation || later_life(&self.retired, sender, m);
        if !current || m.state == MemberState::Left {
            return Observed::Ignored;
        }
        m.info = *sender;
        m.state = MemberState::Left;
        m.since = now;
        m.last_heard = now;
        report(out, changes, *sender, MembershipChange::Left);
        Observed::Refreshed
    }
}

/// Whether `sender` is a later life of member `m` (see
/// [`Incarnation::supersedes`]), and not one of the lives a wiped disk retired.
fn later_life(retired: &BTreeMap<NodeId, Incarnation>, sender: &NodeInfo, m: &Member) -> bool {
    let gone = matches!(m.state, MemberState::Dead | MemberState::Left);
    let retired = retired
        .get(&sender.id)
        .is_some_and(|r| sender.incarnation <= *r);
    !retired && sender.incarnation.supersedes(&m.info.incarnation, gone)
}

/// What observing a sender did to the view.
enum Observed {
    /// Nothing: unknown, stale, or gone.
    Ignored,
    /// Already a live member; refreshed.
    Refreshed,
    /// Newly admitted, or re-admitted after death or a restart.
    Admitted,
}

#[cfg(test)]
mod tests;
