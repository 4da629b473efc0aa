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

mod digest;
pub mod records;
mod segments;
#[cfg(test)]
mod tests;

pub use digest::CommitDigest;

use crate::store::StoreError;
use records::{replay, RecordOut, MAGIC};
use ringleader_core::log::{Log, LogWrite};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

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
}

impl LogFile {
    /// Opens the log in `dir`, reading back what it holds (empty if nothing).
    pub fn open(dir: &Path) -> Result<(LogFile, Log), StoreError> {
        Self::open_with(dir, SEGMENT_BYTES)
    }

    /// [`open`](Self::open), closing segments at `segment_bytes`.
    pub fn open_with(data_dir: &Path, segment_bytes: u64) -> Result<(LogFile, Log), StoreError> {
        let dir = data_dir.join("log");
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::Dir(dir.clone(), e))?;
        let mut segments = segments::list(&dir)?;
        if segments.is_empty() {
            segments::adopt_single_file(data_dir, &dir)?;
            segments = segments::list(&dir)?;
        }
        let mut all = Vec::new();
        let count = segments.len();
        let mut last_len = 0;
        for (i, (_, path)) in segments.iter().enumerate() {
            let (records, len) = segments::read(path, i + 1 == count)?;
            all.extend(records);
            last_len = len;
        }
        let (entries, commit) = replay(all);
        let log = Log::restore(entries, commit)
            .ok_or_else(|| StoreError::Corrupt(dir.clone(), "entries out of order".into()))?;
        let (segment, path) = match segments.last() {
            Some((n, p)) => (*n, p.clone()),
            None => {
                let p = segments::create(&dir, 1)?;
                last_len = MAGIC.len() as u64;
                (1, p)
            }
        };
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| StoreError::Write(path.clone(), e))?;
        let lf = LogFile {
            dir,
            segment,
            path,
            written: last_len,
            segment_bytes,
            out: BufWriter::with_capacity(1 << 20, file),
            last: log.last_index(),
            commit: log.commit_index(),
            buf: Vec::new(),
            dirty: false,
        };
        Ok((lf, log))
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
    pub fn append(&mut self, write: &LogWrite) -> Result<(), StoreError> {
        if let Some(from) = write.cut_from.filter(|f| *f <= self.last) {
            self.write(&RecordOut::CutFrom(from))?;
            self.last = from - 1;
        }
        for e in &write.entries {
            if e.index != self.last + 1 {
                // The node writes its log in order; anything else is a bug that
                // must not reach the disk as a history with a hole.
                return Err(StoreError::Corrupt(
                    self.path.clone(),
                    format!("write of entry {} after entry {}", e.index, self.last),
                ));
            }
            self.last = e.index;
            self.write(&RecordOut::Entry(e))?;
        }
        if let Some(commit) = write.commit.filter(|c| *c != self.commit) {
            self.commit = commit;
            self.write(&RecordOut::Commit(commit))?;
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
            // The closed segment is complete on disk before the next begins
            // (a sync of the new file does not cover the old one).
            if !sync {
                self.out
                    .get_ref()
                    .sync_data()
                    .map_err(|e| StoreError::Write(self.path.clone(), e))?;
            }
            self.next_segment()?;
        }
        Ok(true)
    }

    fn write(&mut self, record: &RecordOut<'_>) -> Result<(), StoreError> {
        self.dirty = true;
        self.written += records::write(&mut self.out, &mut self.buf, record)
            .map_err(|e| StoreError::Write(self.path.clone(), e))?;
        Ok(())
    }
}
