//! The log on disk: `DIR/log/`, append-only segment files (`00000001.seg`,
//! `00000002.seg`, ...) of checksummed records (see [`records`]), each an entry,
//! a cut (entries from an index on were replaced), or a commit index. A segment
//! is closed once it passes a size and the next one begun; records never span
//! two. Only the last segment may end in a torn record. (A `DIR/log.bin` of an
//! earlier version is moved into the first segment.)
//!
//! The driver's writer thread appends what each step changed in the log
//! ([`LogWrite`]s, in order) and then [`flush`](LogFile::flush)es a whole batch
//! at once: to the operating system, and with `sync` to the disk
//! (`fdatasync`), so one sync covers every write that arrived meanwhile (group
//! commit). The node learns which writes are durable only after that, and holds
//! back what depends on them (see [`ringleader_core::durable`]). A torn last record (a crash in the middle of a write) is cut off
//! when the file is read back; anything else that is wrong stops the node with an
//! error naming the file and the offset, rather than start it with a silently
//! shortened history.
//!
//! Memory stays bounded however long the log: a restart reads the summary
//! of the closed segments ([`summary`]) and only the segments after it, and
//! entries older than the node's window are read back through a sparse
//! index of record positions ([`anchors`]).

pub mod anchors;
mod digest;
pub mod fold;
mod reader;
pub mod records;
mod restore;
pub mod retain;
#[cfg(test)]
mod retain_tests;
mod sealed;
mod segments;
mod snapfile;
pub mod summary;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod window_tests;

pub use digest::CommitDigest;
pub use restore::Window;
pub use retain::Retain;

use crate::store::StoreError;
use anchors::Anchors;
use fold::Folder;
use records::{RecordOut, MAGIC};
use ringleader_core::log::{AppSnapshot, Entry, Log, LogWrite, Snapshot};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Bytes after which a segment is closed and the next one begun.
pub const SEGMENT_BYTES: u64 = 64 << 20;

/// The open log and how far it mirrors the node's log.
pub struct LogFile {
    /// The segments' directory.
    dir: PathBuf,
    /// The segment being written: its number, path and length.
    segment: u64,
    path: PathBuf,
    written: u64,
    segment_bytes: u64,
    out: BufWriter<File>,
    /// Last index written.
    last: u64,
    /// Commit index written.
    commit: u64,
    buf: Vec<u8>,
    /// Whether records were written since the last flush.
    dirty: bool,
    /// Where entries live, to read them back.
    anchors: Anchors,
    /// The fold of the committed history (stamps, client numbering, digest).
    folder: Folder,
    /// How much history to keep, and what it knows of the segments.
    retain: Retain,
    segs: retain::Segments,
    /// What the compacted entries amount to, if any were.
    snapshot: Option<Snapshot>,
    /// Compactions not yet reported to the node.
    compacted: Vec<Snapshot>,
    /// Times committed entries were replaced since the file was opened.
    rewrites: u64,
    /// Retention deletes nothing after this index (an embedding
    /// application's newest saved snapshot: what it needs after it stays).
    floor: Option<u64>,
    /// The newest application snapshot a leader sent (see
    /// [`AppSnapshot`]): a reader of the committed history whose entries
    /// were deleted goes on from it.
    app: Option<Arc<AppSnapshot>>,
}

impl LogFile {
    /// Opens the log in `dir`, reading back what it holds (empty if nothing),
    /// all of it in memory.
    pub fn open(dir: &Path) -> Result<(LogFile, Log), StoreError> {
        Self::open_with(dir, SEGMENT_BYTES, Window::ALL)
    }

    /// [`open`](Self::open), closing segments at `segment_bytes`.
    pub fn open_with(
        data_dir: &Path,
        segment_bytes: u64,
        window: Window,
    ) -> Result<(LogFile, Log), StoreError> {
        let dir = data_dir.join("log");
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::Dir(dir.clone(), e))?;
        let mut segments = segments::list(&dir)?;
        if segments.is_empty() {
            segments::adopt_single_file(data_dir, &dir)?;
            segments = segments::list(&dir)?;
        }
        if segments.is_empty() {
            segments::create(&dir, 1)?;
            segments = segments::list(&dir)?;
        }
        let restored = restore::restore(&dir, &segments, window)?;
        let (segment, path) = segments
            .last()
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(dir.clone(), "no segment".into()))?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| StoreError::Write(path.clone(), e))?;
        let mut log = restored.log;
        let app = snapfile::read_app(&dir).map(Arc::new);
        if let Some(app) = &app {
            log.keep_app(Arc::clone(app));
        }
        let lf = LogFile {
            dir,
            segment,
            path,
            written: restored.last_len.max(MAGIC.len() as u64),
            segment_bytes,
            out: BufWriter::with_capacity(1 << 20, file),
            last: log.last_index(),
            commit: log.commit_index(),
            buf: Vec::new(),
            dirty: false,
            anchors: restored.anchors,
            folder: restored.folder,
            retain: Retain::All,
            segs: retain::Segments::default(),
            snapshot: restored.snapshot,
            compacted: Vec::new(),
            rewrites: 0,
            floor: None,
            app,
        };
        Ok((lf, log))
    }

    /// Keeps `retain` of the history: older closed segments are deleted as
    /// segments close (see [`retain`]).
    pub fn set_retain(&mut self, retain: Retain) {
        self.retain = retain;
    }

    /// The compactions since the last call: the node must be told.
    pub fn take_compacted(&mut self) -> Vec<Snapshot> {
        std::mem::take(&mut self.compacted)
    }

    /// The digest of the committed history written so far.
    pub fn digest(&self) -> CommitDigest {
        self.folder.folded().digest
    }

    /// Up to `max` entries from `from` on, no more than `max_bytes` of them
    /// (at least one), read back from the segments; fewer at the end of the
    /// log. A damaged record is an error naming the file and offset.
    pub fn read(
        &mut self,
        from: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.out
            .flush()
            .map_err(|e| StoreError::Write(self.path.clone(), e))?;
        reader::read(&self.dir, &self.anchors, from, max, max_bytes)
    }

    /// Retention may delete entries up to `index` and no later: an
    /// application built from the log saved its state as of `index`, and a
    /// restart replays what follows.
    pub fn set_floor(&mut self, index: u64) {
        self.floor = Some(index);
    }

    /// Times committed entries were replaced (a healed `bully`/`ring` split
    /// brain) since the file was opened.
    pub fn rewrites(&self) -> u64 {
        self.rewrites
    }

    /// The committed history written so far: the stamps of its entries (up
    /// to the last committed index), and the first index still on disk.
    pub fn committed(&self) -> (&ringleader_core::log::StampRuns, u64) {
        let start = self.snapshot.as_ref().map_or(1, |s| s.index + 1);
        (&self.folder.folded().runs, start)
    }

    /// The newest application snapshot a leader sent, if any.
    pub fn app_snapshot(&self) -> Option<&Arc<AppSnapshot>> {
        self.app.as_ref()
    }

    /// Closes the segment being written and begins the next.
    fn next_segment(&mut self) -> Result<(), StoreError> {
        let path = segments::create(&self.dir, self.segment + 1)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| StoreError::Write(path.clone(), e))?;
        self.out = BufWriter::with_capacity(1 << 20, file);
        self.segment += 1;
        self.path = path;
        self.written = MAGIC.len() as u64;
        Ok(())
    }

    /// Appends one step's changes (buffered: see [`flush`](Self::flush)).
    pub fn append(&mut self, write: LogWrite) -> Result<(), StoreError> {
        if let Some(app) = write.app {
            // Before the log's snapshot replaces what the application needs.
            snapfile::write_app(&self.dir, &app)?;
            self.app = Some(app);
        }
        if let Some(snap) = write.install {
            self.install(snap)?;
        }
        if let Some(from) = write.cut_from.filter(|f| *f <= self.last) {
            self.write(&RecordOut::CutFrom(from))?;
            self.last = from - 1;
            self.anchors.cut(from);
            if self.folder.cut(from).is_err() {
                // Committed entries replaced (bully/ring after a split brain):
                // the fold starts again from what the disk holds before them.
                let commit = self.commit.min(self.last);
                self.rewrites += 1;
                self.out
                    .flush()
                    .map_err(|e| StoreError::Write(self.path.clone(), e))?;
                self.folder = restore::refold(&self.dir, &self.anchors, self.last, commit)?;
            }
        }
        for e in write.entries {
            if self.written >= self.segment_bytes {
                // Full in the middle of a batch (group commit makes batches
                // large): a segment stays near its size whatever the load.
                self.roll(false)?;
            }
            if e.index != self.last + 1 {
                // The node writes its log in order; anything else is a bug that
                // must not reach the disk as a history with a hole.
                return Err(StoreError::Corrupt(
                    self.path.clone(),
                    format!("write of entry {} after entry {}", e.index, self.last),
                ));
            }
            self.last = e.index;
            self.anchors.written(e.index, self.segment, self.written);
            self.write(&RecordOut::Entry(&e))?;
            self.segs
                .written(self.segment, e.index, e.at.as_micros(), self.written);
            self.folder.entry(e);
        }
        if let Some(commit) = write.commit.filter(|c| *c != self.commit) {
            self.commit = commit;
            self.write(&RecordOut::Commit(commit))?;
            let segs = &mut self.segs;
            self.folder.commit_with(commit, |f| segs.folded(f));
        }
        Ok(())
    }

    /// Hands what was appended to the operating system and, with `sync`, to
    /// the disk; closes the segment if it is full. Returns whether there was
    /// anything to flush.
    pub fn flush(&mut self, sync: bool) -> Result<bool, StoreError> {
        if !std::mem::take(&mut self.dirty) {
            return Ok(false);
        }
        self.out
            .flush()
            .map_err(|e| StoreError::Write(self.path.clone(), e))?;
        if sync {
            self.out
                .get_ref()
                .sync_data()
                .map_err(|e| StoreError::Write(self.path.clone(), e))?;
        }
        if self.written >= self.segment_bytes {
            self.roll(sync)?;
        }
        if self.retain != Retain::All {
            self.segs.folded(self.folder.folded());
            self.compact()?;
        }
        Ok(true)
    }

    /// Closes the segment being written (full) and begins the next, with a
    /// summary of what came before: the closed segment is complete on disk
    /// first (a sync of the new file does not cover the old one), unless it
    /// was `synced` just now.
    fn roll(&mut self, synced: bool) -> Result<(), StoreError> {
        let err = |path: &PathBuf, e| StoreError::Write(path.clone(), e);
        self.out.flush().map_err(|e| err(&self.path, e))?;
        if !synced {
            self.out
                .get_ref()
                .sync_data()
                .map_err(|e| err(&self.path, e))?;
        }
        self.next_segment()?;
        // A restart reads only what follows.
        summary::write(
            &self.dir,
            self.segment,
            self.last,
            self.folder.folded(),
            &self.anchors,
        )?;
        if self.retain != Retain::All {
            self.segs.closed(self.segment - 1);
        }
        Ok(())
    }

    /// Deletes the closed segments retention lets go of, once a checkpoint
    /// covers them: the snapshot first, then the files.
    fn compact(&mut self) -> Result<(), StoreError> {
        let start = self.snapshot.as_ref().map_or(1, |s| s.index + 1);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        let at = (start, self.last, now, self.segment);
        // Never past what an embedding application still needs.
        let floor = self.floor.unwrap_or(u64::MAX);
        let Some((snap, freed)) = self.segs.compaction(self.retain, at, floor) else {
            return Ok(());
        };
        snapfile::write(&self.dir, &snap)?;
        for n in &freed {
            let path = segments::path(&self.dir, *n);
            std::fs::remove_file(&path).map_err(|e| StoreError::Write(path.clone(), e))?;
        }
        tracing::info!(
            through = snap.index,
            segments = freed.len(),
            "retention: old segments deleted"
        );
        self.snapshot = Some(snap.clone());
        self.compacted.push(snap);
        Ok(())
    }

    /// The log starts over after `snap` (a follower too far behind its
    /// leader's retained log): a new segment, the snapshot and a summary
    /// that begin there, then every older segment goes.
    fn install(&mut self, snap: Snapshot) -> Result<(), StoreError> {
        self.out
            .flush()
            .and_then(|()| self.out.get_ref().sync_data())
            .map_err(|e| StoreError::Write(self.path.clone(), e))?;
        let old: Vec<u64> = segments::list(&self.dir)?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        self.next_segment()?;
        let folded = fold::Folded::from_snapshot(&snap);
        snapfile::write(&self.dir, &snap)?;
        self.anchors = Anchors::default();
        summary::write(&self.dir, self.segment, snap.index, &folded, &self.anchors)?;
        for n in old {
            let path = segments::path(&self.dir, n);
            std::fs::remove_file(&path).map_err(|e| StoreError::Write(path.clone(), e))?;
        }
        tracing::info!(
            through = snap.index,
            "log replaced by a snapshot from the leader"
        );
        self.folder = Folder::new(folded);
        self.segs = retain::Segments::default();
        self.last = snap.index;
        self.commit = snap.index;
        self.snapshot = Some(snap);
        Ok(())
    }

    fn write(&mut self, record: &RecordOut<'_>) -> Result<(), StoreError> {
        self.dirty = true;
        self.written += records::write(&mut self.out, &mut self.buf, record)
            .map_err(|e| StoreError::Write(self.path.clone(), e))?;
        Ok(())
    }
}
