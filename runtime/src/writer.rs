//! The node's writer: a thread of its own that carries out the node's writes
//! in order and reports them durable, so the event loop (heartbeats, votes,
//! timers) never waits for the disk.
//!
//! Group commit: the writer takes every write waiting when it wakes, appends
//! them, and flushes once — with `power` durability one `fdatasync` covers the
//! whole batch — then reports the batch's last token. Under load a batch grows
//! to what arrived during the previous sync, so the syncs per second stay near
//! the disk's limit whatever the message rate.

use crate::embed::committed::{CommitMark, Request, WriterLink};
use crate::logfile::{CommitDigest, LogFile};
use crate::store::{Store, StoreError};
use ringleader_core::durable::Durability;
use ringleader_core::log::{Entry, LogWrite, Snapshot, ENTRIES_BYTES_MAX};
use ringleader_core::Persisted;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc as tokio_mpsc;
use tokio::sync::watch;

/// Most writes taken into one batch: a bound on one flush's work, so reports
/// keep coming under a flood.
const BATCH_MAX: usize = 4096;

/// One write the node asked for, with its token, or a read.
pub(crate) enum Job {
    Log(u64, LogWrite),
    State(u64, Persisted),
    /// Entries older than the node's memory window: up to `max` from `from`.
    Read {
        from: u64,
        max: usize,
    },
    /// An embedding application's reader of the committed history (not
    /// counted in the queue: each reader has one request out at most).
    Committed(Request),
    /// Retention deletes no entry after this index (see
    /// [`LogFile::set_floor`]).
    Floor(u64),
    /// The node stops: the thread ends once what came before is done
    /// (readers of the committed history may still hold senders).
    Stop,
}

/// What the writer tells the event loop.
#[derive(Debug)]
pub(crate) enum Report {
    /// Every write up to this token is durable.
    Durable(u64),
    /// The entries read back from `from` on.
    Read { from: u64, entries: Vec<Entry> },
    /// Retention deleted old segments: what they amounted to.
    Compacted(Snapshot),
    /// A write failed: the node must stop (what it acknowledged may not be on disk).
    Failed(StoreError),
}

/// What the writer measured: flushes, and how long their syncs took.
#[derive(Debug, Default)]
pub struct DiskStats {
    /// Jobs handed to the writer and not yet taken into a batch.
    pub queued: AtomicU64,
    /// Where each sync's time goes as well (the node's metrics).
    pub fsync: Option<prometheus_client::metrics::histogram::Histogram>,
    /// Batches flushed.
    pub flushes: AtomicU64,
    /// Writes carried out.
    pub writes: AtomicU64,
    /// Syncs (`fdatasync`) done, and their total and longest time in µs.
    pub syncs: AtomicU64,
    /// Total time of the syncs, µs.
    pub sync_total_us: AtomicU64,
    /// Longest sync, µs.
    pub sync_max_us: AtomicU64,
    /// The digest of the committed history written so far (folded by the
    /// writer: see [`crate::logfile::fold`]).
    pub digest: Mutex<CommitDigest>,
}

impl DiskStats {
    fn sync_took(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.sync_total_us.fetch_add(us, Ordering::Relaxed);
        self.sync_max_us.fetch_max(us, Ordering::Relaxed);
        if let Some(h) = &self.fsync {
            h.observe(took.as_secs_f64());
        }
    }

    /// The mean sync time in µs, 0 before the first.
    pub fn sync_mean_us(&self) -> u64 {
        let n = self.syncs.load(Ordering::Relaxed);
        self.sync_total_us
            .load(Ordering::Relaxed)
            .checked_div(n)
            .unwrap_or(0)
    }
}

/// The handle the event loop keeps.
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
    mark: watch::Receiver<CommitMark>,
    stats: Arc<DiskStats>,
    thread: std::thread::JoinHandle<()>,
}

impl Writer {
    /// Starts the writer thread over the node's log and state files.
    pub(crate) fn spawn(
        mut log: LogFile,
        store: Store,
        durability: Durability,
        stats: Arc<DiskStats>,
        reports: tokio_mpsc::UnboundedSender<Report>,
    ) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::channel::<Job>();
        let stats_handle = stats.clone();
        let (mark_tx, mark) = watch::channel(mark_of(&log));
        let thread = std::thread::Builder::new()
            .name("ringleader-writer".into())
            .spawn(move || {
                let mut batch = Vec::new();
                let mut out = Vec::new();
                let mut stopping = false;
                while let Ok(first) = rx.recv() {
                    batch.push(first);
                    batch.extend(rx.try_iter().take(BATCH_MAX - 1));
                    if let Some(at) = batch.iter().position(|j| matches!(j, Job::Stop)) {
                        stopping = true;
                        batch.truncate(at); // nothing is sent after the stop
                    }
                    let counted = batch.iter().filter(|j| !matches!(j, Job::Committed(_)));
                    stats
                        .queued
                        .fetch_sub(counted.count() as u64, Ordering::Relaxed);
                    let done =
                        write_batch(&mut log, &store, durability, &stats, &mut batch, &mut out);
                    mark_tx.send_if_modified(|m| {
                        let now = mark_of(&log);
                        std::mem::replace(m, now) != now
                    });
                    if let Err(e) = done {
                        out.push(Report::Failed(e));
                    }
                    let failed = out.iter().any(|r| matches!(r, Report::Failed(_)));
                    if out.drain(..).any(|r| reports.send(r).is_err()) || failed || stopping {
                        break;
                    }
                }
            });
        Ok(Writer {
            jobs: tx,
            mark,
            stats: stats_handle,
            thread: thread?,
        })
    }

    /// Hands a write to the writer. `false` if the writer is gone (it failed,
    /// and said why).
    pub(crate) fn send(&self, job: Job) -> bool {
        // Counted before it is sent: the thread may take it at once.
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        let sent = self.jobs.send(job).is_ok();
        if !sent {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
        }
        sent
    }

    /// The line readers of the committed history (and the retention floor)
    /// take to this writer.
    pub(crate) fn link(&self) -> WriterLink {
        WriterLink {
            jobs: self.jobs.clone(),
            mark: self.mark.clone(),
        }
    }

    /// Waits until every write handed over is carried out.
    pub(crate) fn finish(self) {
        // The thread ends once it has done what is queued before the stop.
        let _ = self.jobs.send(Job::Stop);
        drop(self.jobs);
        let _ = self.thread.join();
    }
}

/// Carries out one batch (leaving `batch` empty): its writes, then its
/// reads (which see the writes); what to tell the event loop goes to `out`.
fn write_batch(
    log: &mut LogFile,
    store: &Store,
    durability: Durability,
    stats: &DiskStats,
    batch: &mut Vec<Job>,
    out: &mut Vec<Report>,
) -> Result<(), StoreError> {
    let mut last = None;
    let mut reads = Vec::new();
    let mut readers = Vec::new();
    let count = batch.len() as u64;
    for job in batch.drain(..) {
        match job {
            Job::Log(token, write) => {
                log.append(write)?;
                last = Some(token);
            }
            Job::State(token, state) => {
                // Rare (a term or a vote), and always synced: it is replaced by
                // a rename, which only a sync makes stable.
                store.save(&state)?;
                last = Some(token);
            }
            Job::Read { from, max } => reads.push((from, max)),
            Job::Committed(req) => readers.push(req),
            Job::Floor(index) => log.set_floor(index),
            Job::Stop => {}
        }
    }
    let sync = durability == Durability::Power;
    let began = Instant::now();
    if log.flush(sync)? && sync {
        stats.sync_took(began.elapsed());
    }
    stats.flushes.fetch_add(1, Ordering::Relaxed);
    stats.writes.fetch_add(count, Ordering::Relaxed);
    if let Ok(mut digest) = stats.digest.lock() {
        *digest = log.digest();
    }
    out.extend(last.map(Report::Durable));
    out.extend(log.take_compacted().into_iter().map(Report::Compacted));
    for (from, max) in reads {
        // A damaged record stops the node (see the log file's docs).
        let entries = log.read(from, max, ENTRIES_BYTES_MAX)?;
        out.push(Report::Read { from, entries });
    }
    for req in readers {
        crate::embed::committed::answer(log, req)?;
    }
    Ok(())
}

/// What the log on disk holds of the committed history.
fn mark_of(log: &LogFile) -> CommitMark {
    CommitMark {
        upto: log.committed().0.last(),
        rewrites: log.rewrites(),
    }
}
