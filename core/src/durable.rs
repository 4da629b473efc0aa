//! Durability: what a node asks its driver to write, and what waits for it.
//!
//! Every write (a [`LogWrite`] of what a step changed in the log, or the
//! [`Persisted`] term and vote) leaves the node as an action carrying a token,
//! 1, 2, 3, ... in the order issued. The driver carries the writes out in that
//! order, off the node's event loop, and reports [`Event::Durable`] with the
//! highest token whose write (and every earlier one) is on stable storage.
//!
//! Until then the node holds back only what depends on the writes: a
//! follower's acknowledgement of entries, a vote, a candidate's request for
//! votes (its own vote counts in it), and the leader's own count toward
//! commit (it counts itself only for entries its disk holds). Heartbeats,
//! timers, elections and everything else go out at once: a slow disk slows
//! commits, never failure detection. Held messages leave in the step that
//! reports their write durable, in the order they were made.
//!
//! A write that stays pending for [`Config::disk_stall_timeout`] makes the disk
//! count as stalled: see [`crate::Node`]'s handling (the node resigns and plays
//! dead until the writes complete).
//!
//! [`Event::Durable`]: crate::Event::Durable
//! [`Config::disk_stall_timeout`]: crate::Config::disk_stall_timeout

use crate::action::Action;
use crate::log::{Log, LogWrite};
use crate::persist::Persisted;
use crate::time::Instant;
use std::collections::VecDeque;

/// What a driver waits for before it reports a write durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Handed to the operating system: survives a crash of the process, not a
    /// loss of power (the writes since the last sync may be gone).
    Process,
    /// On stable storage (`fdatasync`): survives a loss of power too. With
    /// group commit one sync covers every write that arrived meanwhile.
    Power,
}

impl Default for Durability {
    /// `power`, under every algorithm: group commit makes it cheap (see the
    /// README's figures); `process` is the opt-in for disks whose syncs are
    /// slow, for data that may lose its last moments to a power cut.
    fn default() -> Durability {
        Durability::Power
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Durability::Process => "process",
            Durability::Power => "power",
        })
    }
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "process" => Ok(Durability::Process),
            "power" => Ok(Durability::Power),
            other => Err(format!(
                "unknown durability '{other}': expected 'process' (survives a crash of the \
                 process) or 'power' (survives a loss of power: fsync, group commit)"
            )),
        }
    }
}

/// Most messages held for writes at once. Messages are best effort, so the
/// oldest held give way (as if lost) when a disk far slower than the network
/// lets them pile up.
const HELD_MAX: usize = 4096;

/// A write not yet reported durable.
#[derive(Debug, Clone, Copy)]
struct Pending {
    token: u64,
    /// For a log write: the last index the copy on disk holds once it is done
    /// (lowered by cuts issued after it: those entries differ in memory now).
    log_last: Option<u64>,
    /// For a log write: the commit index the copy on disk records once it is done.
    commit: Option<u64>,
    issued_at: Instant,
}

/// The node's side of the write-ahead contract.
#[derive(Clone, Debug)]
pub(crate) struct Journal {
    /// The last token issued.
    issued: u64,
    /// The writes not yet durable, oldest first.
    pending: VecDeque<Pending>,
    /// The log's entries up to this index are on stable storage as they are in
    /// memory.
    durable_index: u64,
    /// The commit index recorded on stable storage: entries up to it and to
    /// `durable_index` are ones the driver can read back as they are.
    durable_commit: u64,
    /// How far the writes issued mirror the log: its last index and commit.
    written_last: u64,
    written_commit: u64,
    /// Messages of the current step that depend on its writes.
    step_holds: Vec<Action>,
    /// Messages waiting for the write of the given token.
    held: VecDeque<(u64, Action)>,
    /// Held messages dropped for room so far.
    held_dropped: u64,
}

impl Journal {
    /// The journal of a node whose log `log` was read back from stable storage.
    pub(crate) fn new(log: &Log) -> Self {
        Journal {
            issued: 0,
            pending: VecDeque::new(),
            durable_index: log.last_index(),
            durable_commit: log.commit_index(),
            written_last: log.last_index(),
            written_commit: log.commit_index(),
            step_holds: Vec::new(),
            held: VecDeque::new(),
            held_dropped: 0,
        }
    }

    fn issue(&mut self, now: Instant, log_last: Option<u64>, commit: Option<u64>) -> u64 {
        self.issued += 1;
        self.pending.push_back(Pending {
            token: self.issued,
            log_last,
            commit,
            issued_at: now,
        });
        self.issued
    }

    /// Asks for `state` to be persisted.
    pub(crate) fn persist(&mut self, now: Instant, state: Persisted, out: &mut Vec<Action>) {
        let token = self.issue(now, None, None);
        out.push(Action::Persist { token, state });
    }

    /// The start's writes: the driver makes them durable before anything else
    /// the start asked for (see the crate docs), so nothing waits for them.
    pub(crate) fn start_written(&mut self) {
        self.pending.clear();
    }

    /// Holds `action` (a message) until every write of this step is durable.
    pub(crate) fn hold(&mut self, action: Action) {
        self.step_holds.push(action);
    }

    /// End of a step: what it changed in `log` leaves as one write, and the
    /// messages that depend on the step's writes leave now (nothing pending) or
    /// wait for them.
    pub(crate) fn end_step(&mut self, now: Instant, log: &mut Log, out: &mut Vec<Action>) {
        // Most steps (a heartbeat heard, a timer) change nothing on disk.
        if self.step_holds.is_empty() && log.unchanged_since(self.written_last, self.written_commit)
        {
            return;
        }
        let mut write = LogWrite {
            app: log.take_app_received(),
            ..LogWrite::default()
        };
        if let Some(snap) = log.take_installed() {
            // The copy on disk starts over: nothing of it counts as durable
            // until this write is, and the writes before it name the old log.
            self.written_last = snap.index;
            self.written_commit = snap.index;
            self.durable_index = 0;
            self.durable_commit = 0;
            for p in &mut self.pending {
                p.log_last = p.log_last.map(|_| 0);
                p.commit = p.commit.map(|_| 0);
            }
            write.install = Some(snap);
            write.commit = Some(self.written_commit);
        }
        if let Some(cut) = log
            .take_rewritten_from()
            .filter(|c| *c <= self.written_last)
        {
            let kept = cut.saturating_sub(1);
            write.cut_from = Some(cut);
            self.written_last = kept;
            self.durable_index = self.durable_index.min(kept);
            self.durable_commit = self.durable_commit.min(kept);
            // The copy's commit index goes down with the cut (as a `bully`/
            // `ring` rewrite lowers it): the write says again where it stands.
            self.written_commit = self.written_commit.min(kept);
            for p in &mut self.pending {
                p.log_last = p.log_last.map(|l| l.min(kept));
            }
        }
        // Markers and entries appended after a cut in the same step follow it.
        self.written_last = self.written_last.min(log.last_index());
        write.entries = log.all_from(self.written_last + 1).to_vec();
        self.written_last = log.last_index();
        if log.commit_index() != self.written_commit {
            self.written_commit = log.commit_index();
            write.commit = Some(self.written_commit);
        }
        if !write.is_empty() {
            let token = self.issue(now, Some(self.written_last), write.commit);
            out.push(Action::WriteLog {
                token,
                write: Box::new(write),
            });
        }
        if self.step_holds.is_empty() {
            return;
        }
        if self.pending.is_empty() {
            out.append(&mut self.step_holds);
            return;
        }
        let token = self.issued;
        for action in self.step_holds.drain(..) {
            if self.held.len() >= HELD_MAX {
                self.held.pop_front();
                self.held_dropped += 1;
                if self.held_dropped.is_power_of_two() {
                    tracing::warn!(
                        dropped = self.held_dropped,
                        "messages waiting for the disk overflowed; dropped the oldest"
                    );
                }
            }
            self.held.push_back((token, action));
        }
    }

    /// The driver reports every write up to `token` durable: the messages that
    /// waited for them leave. Returns whether anything became durable.
    pub(crate) fn durable(&mut self, token: u64, out: &mut Vec<Action>) -> bool {
        // A token never issued proves nothing about writes not yet asked for.
        let token = token.min(self.issued);
        if self.pending.front().is_none_or(|p| p.token > token) {
            return false; // nothing pending up to it: an old or repeated report
        }
        while let Some(p) = self.pending.front().filter(|p| p.token <= token) {
            if let Some(last) = p.log_last {
                self.durable_index = last;
            }
            if let Some(commit) = p.commit {
                self.durable_commit = commit;
            }
            self.pending.pop_front();
        }
        while self.held.front().is_some_and(|(t, _)| *t <= token) {
            if let Some((_, action)) = self.held.pop_front() {
                out.push(action);
            }
        }
        true
    }

    /// The highest log index whose entries (and all before) are durable as
    /// `log` holds them now.
    pub(crate) fn durable_tip(&self, log: &Log) -> u64 {
        let cut = log.pending_cut().map_or(u64::MAX, |c| c.saturating_sub(1));
        self.durable_index.min(cut).min(log.last_index())
    }

    /// Up to where the log may let entries go from memory: committed, and
    /// so recorded on stable storage (so the driver can read them back, and
    /// has seen every write that carried them).
    pub(crate) fn evictable(&self) -> u64 {
        self.durable_index.min(self.durable_commit)
    }

    /// The process stood still for `gap` (it was not stepped): the writes
    /// pending waited no longer on the disk than the process ran.
    pub(crate) fn stood_still(&mut self, gap: std::time::Duration) {
        for p in &mut self.pending {
            p.issued_at = p.issued_at + gap;
        }
    }

    /// When the disk counts as stalled, with `bound` for a write to become
    /// durable: `None` while nothing is pending.
    pub(crate) fn stalled_at(&self, bound: std::time::Duration) -> Option<Instant> {
        self.pending.front().map(|p| p.issued_at + bound)
    }

    /// Whether every write issued is durable.
    pub(crate) fn all_durable(&self) -> bool {
        self.pending.is_empty()
    }

    /// How many messages wait for writes.
    pub(crate) fn held_len(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests;
