//! Reading the log back at start, in bounded memory: from the summary of
//! the closed segments (if there is a usable one) and the records of the
//! segments after it, into the core's log (a window of the newest entries
//! in memory), the fold of the committed history and the anchors.

use super::anchors::Anchors;
use super::fold::{Folded, Folder};
use super::records::Record;
use super::{reader, segments, snapfile, summary};
use crate::store::StoreError;
use ringleader_core::log::{Entry, Log, LogWrite, Snapshot};
use std::path::{Path, PathBuf};

/// How much of the log a node keeps in memory (see
/// [`ringleader_core::Config::log_memory`]).
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Bytes of entries.
    pub memory: usize,
    /// Entries kept whatever the bytes.
    pub keep: usize,
}

impl Window {
    /// Everything in memory (read whole at a restart).
    pub const ALL: Window = Window {
        memory: usize::MAX,
        keep: usize::MAX,
    };
}

/// Entries read or applied at a time.
const CHUNK: usize = 4096;

/// What a restart rebuilt.
pub struct Restored {
    /// The core's log.
    pub log: Log,
    /// The fold of the committed history, and what is written past it.
    pub folder: Folder,
    /// Where entries live.
    pub anchors: Anchors,
    /// The length of the last segment (where writing goes on).
    pub last_len: u64,
    /// What the compacted entries amount to, if any were.
    pub snapshot: Option<Snapshot>,
}

struct Rebuild<'a> {
    dir: &'a Path,
    window: Window,
    log: Log,
    folder: Folder,
    anchors: Anchors,
    batch: Vec<Entry>,
    failed: Option<StoreError>,
    /// Records of entries up to here are compacted away (a whole-log read
    /// after a compaction starts from the snapshot).
    floor: u64,
}

/// Reads back the log of `dir` made of `segments` (not empty).
pub fn restore(
    dir: &Path,
    segments: &[(u64, PathBuf)],
    window: Window,
) -> Result<Restored, StoreError> {
    let snapshot = snapfile::read(dir)?;
    // A log kept whole in memory is read whole (unless compacted).
    let usable = (window.memory != usize::MAX || snapshot.is_some())
        .then(|| summary::read(dir))
        .flatten()
        .filter(|s| segments.iter().any(|(n, _)| *n == s.segment));
    let mut restored = restore_from(dir, segments, window, usable, snapshot.as_ref())?;
    if let Some(snap) = snapshot {
        if !restored.log.compact(snap.clone()) && restored.log.start() <= snap.index {
            tracing::warn!(
                through = snap.index,
                "the log's snapshot does not fit what the segments hold"
            );
        }
        restored.snapshot = Some(snap);
    }
    Ok(restored)
}

fn restore_from(
    dir: &Path,
    segments: &[(u64, PathBuf)],
    window: Window,
    summary: Option<summary::Summary>,
    snapshot: Option<&Snapshot>,
) -> Result<Restored, StoreError> {
    let whole = summary.is_none();
    let (first, last, folded, anchors) = match (summary, snapshot) {
        (Some(s), _) => (s.segment, s.last, s.folded, s.anchors),
        (None, Some(snap)) => (
            1,
            snap.index,
            Folded::from_snapshot(snap),
            Anchors::default(),
        ),
        (None, None) => (1, 0, Folded::default(), Anchors::default()),
    };
    let floor = if whole { last } else { 0 };
    let log = Log::resume(folded.log_summary(), Vec::new(), folded.upto())
        .ok_or_else(|| StoreError::Corrupt(dir.to_owned(), "summary does not fit".into()))?;
    let mut r = Rebuild {
        dir,
        window,
        log,
        folder: Folder::new(folded),
        anchors,
        batch: Vec::new(),
        failed: None,
        floor,
    };
    r.log.set_memory_limit(window.memory, window.keep);
    // Entries written before the first segment read, not yet folded.
    while r.folder.last() < last {
        let from = r.folder.last() + 1;
        let chunk = reader::read(dir, &r.anchors, from, CHUNK, usize::MAX)?;
        if chunk.is_empty() && !whole {
            tracing::warn!(
                from,
                last,
                "the log summary names entries the segments lack; reading every segment"
            );
            return restore_from(dir, segments, window, None, snapshot);
        }
        r.apply(chunk);
    }
    let mut last_len = 0;
    let count = segments.len();
    for (i, (n, path)) in segments
        .iter()
        .enumerate()
        .filter(|(_, (n, _))| *n >= first)
    {
        last_len = segments::scan(path, i + 1 == count, |offset, record| {
            r.record(*n, offset, record);
        })?;
        if let Some(e) = r.failed.take() {
            return Err(e);
        }
    }
    r.flush();
    r.log.evict(r.log.commit_index());
    Ok(Restored {
        log: r.log,
        folder: r.folder,
        anchors: r.anchors,
        last_len,
        snapshot: None,
    })
}

impl Rebuild<'_> {
    fn record(&mut self, segment: u64, offset: u64, record: Record) {
        if self.failed.is_some() {
            return;
        }
        match record {
            Record::Entry(e) if e.index <= self.floor => {}
            Record::CutFrom(from) if from <= self.floor => {}
            Record::Entry(e) => {
                self.anchors.written(e.index, segment, offset);
                self.batch.push(e);
                if self.batch.len() >= CHUNK {
                    self.flush();
                }
            }
            Record::CutFrom(from) => {
                self.flush();
                self.anchors.cut(from);
                self.write(LogWrite {
                    cut_from: Some(from),
                    ..LogWrite::default()
                });
                if self.folder.cut(from).is_err() {
                    // Committed entries replaced (bully/ring): fold again.
                    if let Err(e) = self.refold() {
                        self.failed = Some(e);
                    }
                }
            }
            Record::Commit(commit) => {
                self.flush();
                self.write(LogWrite {
                    commit: Some(commit),
                    ..LogWrite::default()
                });
                self.folder.commit(commit);
            }
        }
    }

    fn flush(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        if !batch.is_empty() {
            self.apply(batch);
        }
    }

    /// Entries in order after the last.
    fn apply(&mut self, entries: Vec<Entry>) {
        for e in &entries {
            self.folder.entry(e.clone());
        }
        self.write(LogWrite {
            entries,
            ..LogWrite::default()
        });
    }

    fn write(&mut self, write: LogWrite) {
        if let Err(misfit) = self.log.apply(&write) {
            self.failed = Some(StoreError::Corrupt(
                self.dir.to_owned(),
                format!("entries out of order: {misfit}"),
            ));
        }
        self.log.evict(self.log.commit_index());
    }

    /// Folds the history again from the disk, and rebuilds the log from the
    /// fold (its numbering per client as it is after the cut).
    fn refold(&mut self) -> Result<(), StoreError> {
        let commit = self.log.commit_index();
        self.folder = refold(self.dir, &self.anchors, self.log.last_index(), commit)?;
        let pending = self.folder.pending().iter().cloned().collect();
        let summary = self.folder.folded().log_summary();
        let mut log = Log::resume(summary, pending, commit).ok_or_else(|| {
            StoreError::Corrupt(self.dir.to_owned(), "entries out of order".into())
        })?;
        log.set_memory_limit(self.window.memory, self.window.keep);
        self.log = log;
        Ok(())
    }
}

/// The fold of entries `1..=last` read back from the disk, `commit` of them
/// committed.
pub fn refold(dir: &Path, anchors: &Anchors, last: u64, commit: u64) -> Result<Folder, StoreError> {
    tracing::info!(
        last,
        "committed entries were replaced: folding the history again"
    );
    let mut folder = Folder::default();
    while folder.last() < last {
        let from = folder.last() + 1;
        let want = usize::try_from(last - folder.last())
            .unwrap_or(CHUNK)
            .min(CHUNK);
        let chunk = reader::read(dir, anchors, from, want, usize::MAX)?;
        if chunk.is_empty() {
            return Err(StoreError::Corrupt(
                dir.to_owned(),
                format!("entry {from} is missing from the segments"),
            ));
        }
        for e in chunk {
            folder.entry(e);
            folder.commit(commit);
        }
    }
    Ok(folder)
}
