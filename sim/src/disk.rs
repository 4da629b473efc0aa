//! A server's simulated disk: what the node wrote, what the operating system
//! holds, what a sync made stable, and the one sync in progress (group commit:
//! a sync covers every write issued before it began).
//!
//! A process crash (`kill`) keeps what reached the operating system; a machine
//! crash (`crash`: the power goes) keeps only what a sync made stable. What a
//! node's acknowledgements and votes may rely on is only the latter, and the
//! world checks exactly that on every message that depends on it.

use ringleader_core::log::{Log, LogWrite};
use ringleader_core::wire::{AppendOutcome, ElectionMsg, Message, ReplicationMsg};
use ringleader_core::{Node, NodeId, Persisted};

/// One write the node asked for.
#[derive(Clone, Debug)]
pub(crate) enum Write {
    /// What a step changed in the log.
    Log(LogWrite),
    /// The term, vote and start count.
    State(Persisted),
}

/// One server's disk, across its lives.
#[derive(Clone, Debug, Default)]
pub(crate) struct Disk {
    /// What a sync made stable.
    synced_log: Log,
    synced_state: Persisted,
    /// Written after the last sync began, in order, with their tokens.
    unsynced: Vec<(u64, Write)>,
    /// The sync in progress: the highest token it covers.
    syncing: Option<u64>,
    /// The disk hangs until then: no sync completes before.
    stalled_until: Option<ringleader_core::Instant>,
    /// What the operating system holds (synced or not): what a read sees,
    /// and the whole history the checkers read (the node keeps only a window
    /// in memory).
    written_log: Log,
    /// Reads fail until then.
    reads_fail_until: Option<ringleader_core::Instant>,
    /// Reads find a damaged record until then.
    reads_flip_until: Option<ringleader_core::Instant>,
}

/// What a read of the disk gave.
#[derive(Debug)]
pub(crate) enum ReadOutcome {
    /// The entries.
    Entries(Vec<ringleader_core::log::Entry>),
    /// An I/O error: the node is answered with nothing.
    Failed,
    /// A record whose checksum does not match: the driver stops the node,
    /// as the runtime does.
    Corrupt,
}

impl Disk {
    /// The node wrote (to the operating system). Returns the token a sync
    /// that begins now must cover, if none is in progress.
    pub(crate) fn write(&mut self, token: u64, write: Write) -> Option<u64> {
        if let Write::Log(w) = &write {
            let fits = self.written_log.apply(w).is_ok();
            debug_assert!(fits, "a log write that does not continue the disk's log");
        }
        self.unsynced.push((token, write));
        self.begin_sync()
    }

    fn begin_sync(&mut self) -> Option<u64> {
        if self.syncing.is_some() {
            return None;
        }
        let last = self.unsynced.last().map(|(t, _)| *t)?;
        self.syncing = Some(last);
        Some(last)
    }

    /// The sync covering `token` finished: those writes are stable. Returns
    /// the token the next sync must cover, when more writes are waiting.
    pub(crate) fn synced(&mut self, token: u64) -> Option<u64> {
        if self.syncing != Some(token) {
            return None; // a sync of an earlier life
        }
        self.syncing = None;
        let done = self.unsynced.partition_point(|(t, _)| *t <= token);
        self.make_stable(done);
        self.begin_sync()
    }

    /// The first `count` unsynced writes reach stable storage.
    fn make_stable(&mut self, count: usize) {
        // Drained in place: the list keeps its room for the next writes.
        let count = count.min(self.unsynced.len());
        for (_, write) in self.unsynced.drain(..count) {
            match write {
                Write::Log(w) => {
                    // The node writes its log in order: a misfit is its bug.
                    let fits = self.synced_log.apply_owned(w).is_ok();
                    debug_assert!(fits, "a log write that does not continue the disk's log");
                }
                Write::State(s) => self.synced_state = s,
            }
        }
    }

    /// Makes every write so far stable at once: the start's writes, which the
    /// driver contract has durable before anything else the start asked for.
    pub(crate) fn sync_now(&mut self) {
        self.make_stable(self.unsynced.len());
    }

    /// The process crashed: the operating system still writes out what it was
    /// handed, and the sync in progress dies with the process's life.
    pub(crate) fn process_crashed(&mut self) {
        self.syncing = None;
        self.sync_now();
    }

    /// The disk hangs until `until`.
    pub(crate) fn stall_until(&mut self, until: ringleader_core::Instant) {
        self.stalled_until = Some(self.stalled_until.map_or(until, |u| u.max(until)));
    }

    /// When a sync that would finish at `at` really finishes: after any hang.
    pub(crate) fn finishes_at(&self, at: ringleader_core::Instant) -> ringleader_core::Instant {
        self.stalled_until.map_or(at, |u| u.max(at))
    }

    /// The machine lost power (it crashed): what no sync made stable is
    /// gone, but for the first `kept` unsynced writes (the system had
    /// written them back) and, `torn`, the first entries of the one after
    /// (a write cut short: what the runtime finds as a torn last record).
    /// Returns whether anything was lost.
    pub(crate) fn power_lost(&mut self, kept: usize, torn: usize) -> bool {
        self.syncing = None;
        let kept = kept.min(self.unsynced.len());
        let lost = kept < self.unsynced.len();
        let partial = self.unsynced.get(kept).map(|(t, w)| match w {
            Write::Log(w) => {
                let entries = w
                    .entries
                    .get(..torn.min(w.entries.len()))
                    .unwrap_or_default();
                let torn = LogWrite {
                    entries: entries.to_vec(),
                    commit: None,
                    ..w.clone()
                };
                (*t, Write::Log(torn))
            }
            Write::State(_) => (*t, Write::Log(LogWrite::default())),
        });
        self.unsynced.truncate(kept);
        self.unsynced.extend(partial);
        self.sync_now();
        self.written_log = self.synced_log.clone();
        lost
    }

    /// Reads fail until `until`.
    pub(crate) fn fail_reads_until(&mut self, until: ringleader_core::Instant) {
        self.reads_fail_until = Some(self.reads_fail_until.map_or(until, |u| u.max(until)));
    }

    /// Reads find a record with a flipped bit until `until`.
    pub(crate) fn flip_reads_until(&mut self, until: ringleader_core::Instant) {
        self.reads_flip_until = Some(self.reads_flip_until.map_or(until, |u| u.max(until)));
    }

    /// Reads up to `max` entries from `from` on, as the driver would, at `now`.
    pub(crate) fn read(
        &mut self,
        now: ringleader_core::Instant,
        from: u64,
        max: usize,
    ) -> ReadOutcome {
        if self.reads_flip_until.is_some_and(|u| now < u) {
            return ReadOutcome::Corrupt;
        }
        if self.reads_fail_until.is_some_and(|u| now < u) {
            return ReadOutcome::Failed;
        }
        let log = &self.written_log;
        let entries = log.entries_from(from, max).to_vec();
        ReadOutcome::Entries(entries)
    }

    /// Retention: once the synced log holds more than twice `retain`
    /// committed entries past its start, everything but the newest `retain`
    /// is compacted away (in what a sync made stable and in what the system
    /// holds), but nothing after `floor` (what an application on the node
    /// still needs: see the runtime's `LogFile::set_floor`); the snapshot
    /// they amount to, for the node.
    pub(crate) fn compact(
        &mut self,
        retain: u64,
        floor: Option<u64>,
    ) -> Option<ringleader_core::log::Snapshot> {
        let log = &self.synced_log;
        let held = log.commit_index().saturating_sub(log.start() - 1);
        if held <= retain.saturating_mul(2) {
            return None;
        }
        let through = (log.commit_index() - retain).min(floor.unwrap_or(u64::MAX));
        if through < log.start() {
            return None;
        }
        let snap = log.snapshot_through(through, 0)?;
        let both = self.synced_log.compact(snap.clone()) && self.written_log.compact(snap.clone());
        both.then_some(snap)
    }

    /// Everything written, synced or not: the history as the node holds it.
    pub(crate) fn written_log(&self) -> &Log {
        &self.written_log
    }

    /// What a restarting node reads back: its log and state.
    pub(crate) fn read_back(&self) -> (Log, Persisted) {
        (self.synced_log.clone(), self.synced_state)
    }

    /// What a sync made stable: the log.
    pub(crate) fn stable_log(&self) -> &Log {
        &self.synced_log
    }

    /// What a sync made stable: the term and vote.
    pub(crate) fn stable_state(&self) -> Persisted {
        self.synced_state
    }

    /// The token the sync in progress covers, if one is.
    pub(crate) fn syncing(&self) -> Option<u64> {
        self.syncing
    }

    /// Writes no sync has made stable yet.
    pub(crate) fn unsynced_writes(&self) -> usize {
        self.unsynced.len()
    }
}

/// The write-ahead rule for one message node `node` sends to `to`: `None`
/// when the message depends on no write; otherwise what is broken, if
/// anything (an acknowledgement of entries, a vote or a request for votes
/// that left before what it promises was on `disk`'s stable storage).
pub(crate) fn write_ahead(
    disk: &Disk,
    node: &Node,
    to: NodeId,
    msg: &Message,
) -> Option<Option<String>> {
    let broken = match msg {
        Message::Replication { msg, .. } => match **msg {
            ReplicationMsg::AppendReply {
                outcome: AppendOutcome::Matched(n),
                ..
            } => {
                // An acknowledgement released late may name entries a newer
                // leader has replaced since (as a delayed message would):
                // what must never be is an index the node holds that its
                // disk has nothing at.
                let stable = disk.stable_log();
                let on_disk = stable.stamp_at(n).is_some() || n < stable.start();
                (!on_disk && node.log().stamp_at(n).is_some()).then(|| {
                    format!(
                        "{} acknowledged entries up to {n} before they were on its disk",
                        node.id()
                    )
                })
            }
            _ => return None,
        },
        Message::Election { msg, .. } => {
            let stable = disk.stable_state();
            // A later term on disk keeps a vote too: no second vote in the
            // earlier term can follow it.
            let kept = |term: u64, voted: NodeId| {
                stable.term > term || stable.term == term && stable.voted_for == Some(voted)
            };
            match *msg {
                ElectionMsg::VoteReply {
                    term,
                    granted: true,
                } => (!kept(term, to)).then(|| {
                    format!(
                        "{} granted its vote in term {term} to {to} before it was on its disk",
                        node.id()
                    )
                }),
                ElectionMsg::RequestVote { term, .. } => (!kept(term, node.id())).then(|| {
                    format!(
                        "{} asked for votes in term {term} before its own was on its disk",
                        node.id()
                    )
                }),
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(broken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{run, FaultProfile, InjectedBug, SimConfig};
    use ringleader_core::log::{ClientMsgId, Entry};
    use ringleader_core::{Algorithm, Instant};
    use std::time::Duration;

    fn write(index: u64) -> Write {
        let mut e = Entry::new(
            ClientMsgId {
                client: 1,
                seq: index,
            },
            b"hi".to_vec(),
            Instant::ZERO,
        );
        e.index = index;
        Write::Log(LogWrite {
            entries: vec![e],
            ..LogWrite::default()
        })
    }

    #[test]
    fn only_a_finished_sync_makes_writes_stable_and_one_covers_a_group() {
        let mut disk = Disk::default();
        assert_eq!(disk.write(1, write(1)), Some(1), "a sync begins");
        assert_eq!(disk.write(2, write(2)), None, "it waits for the sync");
        assert_eq!(disk.write(3, write(3)), None);
        assert_eq!(disk.stable_log().last_index(), 0);
        assert_eq!(disk.synced(1), Some(3), "the next sync covers both");
        assert_eq!(disk.stable_log().last_index(), 1);
        assert_eq!(disk.synced(3), None);
        assert_eq!(disk.stable_log().last_index(), 3);
        // A process crash keeps what reached the operating system.
        assert_eq!(disk.write(4, write(4)), Some(4));
        disk.process_crashed();
        assert_eq!(disk.read_back().0.last_index(), 4);
        assert_eq!(disk.synced(4), None, "the crashed life's sync is void");
        // A loss of power keeps only what a sync made stable.
        assert_eq!(disk.write(5, write(5)), Some(5));
        assert!(disk.power_lost(0, 0));
        assert_eq!(disk.read_back().0.last_index(), 4);
        // ... and what the system wrote back, and a torn last write's start.
        let two = |first: u64| {
            let (Write::Log(mut a), Write::Log(b)) = (write(first), write(first + 1)) else {
                unreachable!()
            };
            a.entries.extend(b.entries);
            Write::Log(a)
        };
        disk.write(6, two(5));
        disk.write(7, two(7));
        disk.write(8, two(9));
        assert!(disk.power_lost(1, 1));
        assert_eq!(
            disk.read_back().0.last_index(),
            7,
            "5, 6 written back; 7 of 7..8 torn"
        );
    }

    fn config(bug: InjectedBug, seed: u64) -> SimConfig {
        let mut c = SimConfig {
            seed,
            nodes: 3,
            clients: 2,
            duration: Duration::from_secs(20),
            faults: FaultProfile::Light,
            inject_bug: bug,
            ..SimConfig::default()
        };
        c.node.election = Algorithm::Quorum;
        c
    }

    #[test]
    fn an_acknowledgement_before_the_disk_holds_the_entries_is_caught() {
        for seed in 1..=3 {
            let clean = run(&config(InjectedBug::None, seed)).unwrap();
            assert!(clean.violations.is_empty(), "{:?}", clean.violations);
            assert!(clean.checks["durable_before_ack"].checked > 0);
            let buggy = run(&config(InjectedBug::AckBeforeDurable, seed)).unwrap();
            assert!(
                buggy
                    .violations
                    .iter()
                    .any(|v| v.invariant == "durable_before_ack"),
                "{:?}",
                buggy.violations
            );
        }
    }
}
