//! The committed history, as an embedding application reads it: a stream of
//! committed entries from any index, read back from the node's log on disk by
//! its writer thread (so a reader far behind costs no memory), told when a
//! `bully`/`ring` split brain rewrote what it already read.
//!
//! The stream pulls: it asks the writer for the next entries once the
//! committed index (a watch the writer updates after each flush) passes its
//! position, one request at a time, so a slow reader holds nothing back and
//! queues nothing.

use crate::logfile::LogFile;
use crate::store::StoreError;
use crate::writer::Job;
use ringleader_core::log::{AppSnapshot, Entry, SeenRun, Stamp, StampRuns, ENTRIES_BYTES_MAX};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::{oneshot, watch};

/// Most entries fetched at once.
const FETCH_MAX: usize = 1024;
/// Most runs of stamps a reader names to find where histories part.
const SEEN_RUNS: usize = 16;

/// What the writer has made durable of the committed history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitMark {
    /// The last committed index on this node's disk.
    pub upto: u64,
    /// How many times committed entries were replaced (see
    /// [`CommittedEvent::Rewritten`]).
    pub rewrites: u64,
}

/// One thing a reader of the committed history learns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommittedEvent {
    /// The next committed entry.
    Entry(Entry),
    /// The entries from `from` on that this stream delivered were replaced
    /// (a healed split brain under `bully` or `ring`; never under `quorum`).
    /// Undo them — restore the latest state from before `from` — and read on:
    /// the new history follows from `from`.
    Rewritten {
        /// The first index whose entry changed.
        from: u64,
    },
    /// The entries this stream needs next were deleted before it read them
    /// (this node took its leader's snapshot: it was too far behind), and
    /// this is the application state its leader sent with it: restore it
    /// ([`Replica::install`](ringleader_core::app::Replica::install)); the
    /// history goes on after its index.
    Snapshot(Arc<AppSnapshot>),
    /// The entries before `first` were deleted by the log's retention before
    /// this stream read them, and no application snapshot reaches that far:
    /// the history goes on from `first`.
    Compacted {
        /// The first index still held.
        first: u64,
    },
}

/// A request of a reader, answered by the writer thread.
pub(crate) struct Request {
    from: u64,
    seen: Vec<SeenRun>,
    reply: oneshot::Sender<Result<Fetch, String>>,
}

/// The writer's answer.
#[derive(Debug)]
enum Fetch {
    Entries(Vec<Entry>),
    Rewritten { from: u64 },
    Snapshot(Arc<AppSnapshot>),
    Compacted { first: u64 },
}

/// Answers a reader on the writer thread (after its batch's writes).
pub(crate) fn answer(log: &mut LogFile, req: Request) -> Result<(), StoreError> {
    let (runs, start) = log.committed();
    let (upto, shared) = (runs.last(), runs.shared_with(start, &req.seen));
    let seen_up_to = req.seen.last().map_or(0, |r| r.last);
    let fetch = if shared < seen_up_to {
        Fetch::Rewritten { from: shared + 1 }
    } else if req.from < start {
        match log.app_snapshot().filter(|a| a.bridges(req.from, start)) {
            Some(app) => Fetch::Snapshot(Arc::clone(app)),
            None => Fetch::Compacted { first: start },
        }
    } else if req.from > upto {
        Fetch::Entries(Vec::new())
    } else {
        let n = usize::try_from(upto - req.from + 1).map_or(FETCH_MAX, |n| n.min(FETCH_MAX));
        match log.read(req.from, n, ENTRIES_BYTES_MAX) {
            Ok(entries) => Fetch::Entries(entries),
            Err(e) => {
                let _ = req.reply.send(Err(e.to_string()));
                return Err(e);
            }
        }
    };
    let _ = req.reply.send(Ok(fetch));
    Ok(())
}

/// The embedding handle's line to the node's writer thread: readers of the
/// committed history and the retention floor go through it.
#[derive(Clone, Debug)]
pub(crate) struct WriterLink {
    pub(crate) jobs: std::sync::mpsc::Sender<Job>,
    pub(crate) mark: watch::Receiver<CommitMark>,
}

impl WriterLink {
    /// A reader from `from` on, after an entry of stamp `after` (or
    /// `Stamp::default()` when unknown).
    pub(crate) fn committed(&self, from: u64, after: Stamp) -> Committed {
        Committed::new(self.jobs.clone(), self.mark.clone(), from, after)
    }

    /// Retention deletes nothing after `index` (see `LogFile::set_floor`).
    pub(crate) fn retain_after(&self, index: u64) {
        // A writer that is gone has stopped the node, and said why.
        let _ = self.jobs.send(Job::Floor(index));
    }
}

/// A stream of the committed history from some index on (see
/// [`NodeHandle::committed`](super::NodeHandle::committed)).
#[derive(Debug)]
pub struct Committed {
    jobs: std::sync::mpsc::Sender<Job>,
    mark: watch::Receiver<CommitMark>,
    /// The rewrites counted when this stream last asked.
    rewrites: u64,
    next: u64,
    /// The stamps of what was delivered, to notice a rewrite.
    delivered: StampRuns,
    buf: VecDeque<Entry>,
}

impl Committed {
    /// A stream from `from` on; `after`, when known, is the stamp of the
    /// entry before it (a reader resuming from its own snapshot), so a
    /// history replaced meanwhile is noticed at once.
    pub(crate) fn new(
        jobs: std::sync::mpsc::Sender<Job>,
        mark: watch::Receiver<CommitMark>,
        from: u64,
        after: Stamp,
    ) -> Committed {
        let from = from.max(1);
        let rewrites = mark.borrow().rewrites;
        Committed {
            jobs,
            mark,
            rewrites,
            next: from,
            delivered: StampRuns::starting_at(from - 1, after),
            buf: VecDeque::new(),
        }
    }

    /// The index of the next entry this stream delivers.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// The next event: waits until the next entry is committed. `None` once
    /// the node has stopped (or its log could not be read: the node stops too,
    /// and says why).
    pub async fn next(&mut self) -> Option<CommittedEvent> {
        loop {
            if let Some(e) = self.buf.pop_front() {
                self.next = e.index + 1;
                self.delivered.push(e.index, e.stamp());
                return Some(CommittedEvent::Entry(e));
            }
            // Wait for something past what was delivered, or a rewrite of it.
            let (next, rewrites) = (self.next, self.rewrites);
            self.rewrites = self
                .mark
                .wait_for(|m| m.upto >= next || m.rewrites != rewrites)
                .await
                .ok()?
                .rewrites;
            match self.fetch().await? {
                Fetch::Entries(entries) => {
                    let fits = entries.first().is_none_or(|e| e.index == self.next);
                    if fits {
                        self.buf.extend(entries);
                    }
                    if self.buf.is_empty() {
                        // Committed but not readable yet: what the mark says
                        // changes with the writer's next batch.
                        self.mark.changed().await.ok()?;
                    }
                }
                Fetch::Rewritten { from } => {
                    self.next = from;
                    self.delivered.truncate(from - 1);
                    return Some(CommittedEvent::Rewritten { from });
                }
                Fetch::Snapshot(app) => {
                    self.next = app.index + 1;
                    self.delivered = StampRuns::starting_at(app.index, app.stamp);
                    return Some(CommittedEvent::Snapshot(app));
                }
                Fetch::Compacted { first } => {
                    self.next = first;
                    self.delivered = StampRuns::starting_at(first - 1, Stamp::default());
                    return Some(CommittedEvent::Compacted { first });
                }
            }
        }
    }

    async fn fetch(&mut self) -> Option<Fetch> {
        let (reply, answer) = oneshot::channel();
        // A placeholder run (no stamp known before the first entry) proves nothing.
        let seen = self
            .delivered
            .seen(SEEN_RUNS)
            .into_iter()
            .filter(|r| r.stamp != Stamp::default())
            .collect();
        let req = Request {
            from: self.next,
            seen,
            reply,
        };
        self.jobs.send(Job::Committed(req)).ok()?;
        answer.await.ok()?.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringleader_core::log::{ClientMsgId, LogWrite};
    use ringleader_core::{Instant, NodeId};

    fn entries(from: u64, to: u64, epoch: u64, leader: u32) -> Vec<Entry> {
        (from..=to)
            .map(|index| {
                let id = ClientMsgId {
                    client: 5,
                    seq: index + 100 * epoch,
                };
                let mut e = Entry::new(id, b"x".to_vec(), Instant::ZERO);
                e.index = index;
                e.epoch = epoch;
                e.leader = NodeId(leader);
                e
            })
            .collect()
    }

    fn ask(log: &mut LogFile, from: u64, seen: Vec<SeenRun>) -> Fetch {
        let (reply, mut answer_rx) = oneshot::channel();
        answer(log, Request { from, seen, reply }).unwrap();
        answer_rx.try_recv().unwrap().unwrap()
    }

    /// A fresh log in a scratch directory named after `name`, holding
    /// entries 1..=10 of epoch 1, committed up to `commit`, flushed.
    fn ten_entries(name: &str, commit: u64) -> (std::path::PathBuf, LogFile) {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut log, _) = LogFile::open(&dir).unwrap();
        log.append(LogWrite {
            entries: entries(1, 10, 1, 1),
            commit: Some(commit),
            ..LogWrite::default()
        })
        .unwrap();
        log.flush(false).unwrap();
        (dir, log)
    }

    #[test]
    fn a_reader_is_given_what_committed_and_told_when_it_was_rewritten() {
        let (dir, mut log) = ten_entries("ringleader-committed", 8);
        // Only what committed, in order.
        let Fetch::Entries(got) = ask(&mut log, 1, Vec::new()) else {
            panic!("entries expected")
        };
        assert_eq!(
            got.iter().map(|e| e.index).collect::<Vec<_>>(),
            (1..=8).collect::<Vec<_>>()
        );
        let mut runs = StampRuns::default();
        for e in &got {
            runs.push(e.index, e.stamp());
        }
        assert!(matches!(ask(&mut log, 9, runs.seen(16)), Fetch::Entries(e) if e.is_empty()));
        // A healed split brain replaces committed entries from 6 on.
        log.append(LogWrite {
            cut_from: Some(6),
            entries: entries(6, 12, 2, 2),
            commit: Some(12),
            ..LogWrite::default()
        })
        .unwrap();
        log.flush(false).unwrap();
        assert_eq!(log.rewrites(), 1);
        assert!(matches!(
            ask(&mut log, 9, runs.seen(16)),
            Fetch::Rewritten { from: 6 }
        ));
        // Read again from there: the new history.
        runs.truncate(5);
        let Fetch::Entries(got) = ask(&mut log, 6, runs.seen(16)) else {
            panic!("entries expected")
        };
        assert_eq!(got.first().map(|e| (e.index, e.epoch)), Some((6, 2)));
        assert_eq!(got.len(), 7);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_reader_behind_a_taken_snapshot_is_given_the_application_state_that_came_with_it() {
        let (dir, mut log) = ten_entries("ringleader-app-snap", 10);
        // Too far behind: the leader's log snapshot through 40, and its
        // application's state as of 45, which the reader at 11 goes on from.
        let stamp = Stamp {
            epoch: 1,
            leader: NodeId(1),
        };
        let app = std::sync::Arc::new(AppSnapshot {
            index: 45,
            stamp,
            state: b"the state".to_vec(),
        });
        let snap = ringleader_core::log::Snapshot {
            index: 40,
            stamp,
            ..Default::default()
        };
        log.append(LogWrite {
            app: Some(std::sync::Arc::clone(&app)),
            install: Some(snap),
            commit: Some(40),
            ..LogWrite::default()
        })
        .unwrap();
        log.flush(false).unwrap();
        let Fetch::Snapshot(got) = ask(&mut log, 11, Vec::new()) else {
            panic!("the application's snapshot expected")
        };
        assert_eq!(got, app);
        // It outlives the process: after a restart the node has it too.
        drop(log);
        let (mut log, restored) = LogFile::open(&dir).unwrap();
        assert_eq!(restored.app_snapshot(), Some(&app));
        assert!(matches!(ask(&mut log, 11, Vec::new()), Fetch::Snapshot(_)));
        // Without one that reaches the held log, the reader is told what is gone.
        std::fs::remove_file(dir.join("log").join("app-snapshot")).unwrap();
        let (mut log, _) = LogFile::open(&dir).unwrap();
        assert!(matches!(
            ask(&mut log, 11, Vec::new()),
            Fetch::Compacted { first: 41 }
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
