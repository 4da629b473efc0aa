//! The log on disk: `DIR/log/`, append-only segment files (`00000001.seg`,
//! `00000002.seg`, ...) of checksummed records (see [`records`]), each an entry,
//! a cut (entries from an index on were replaced), or a commit index. A segment
//! is closed once it passes a size and the next one begun; records never span
//! two. Only the last segment may end in a torn record. (A `DIR/log.bin` of an
//! earlier version is moved into the first segment.)
//!
//! After every step, and before any of the step's messages leave, the driver
//! writes what the step changed in the log, so an acknowledgement is never sent for
//! an entry that a crash of the process would lose. With `sync` each write is also
//! flushed to the disk (`fdatasync`), so it survives a power loss too, at a cost in
//! throughput. A torn last record (a crash in the middle of a write) is cut off
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
use ringleader_core::log::Log;
use ringleader_core::Node;
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
    sync: bool,
    buf: Vec<u8>,
    /// The committed history's digest, kept up to date by every save.
    digest: CommitDigest,
}

impl LogFile {
    /// Opens the log in `dir`, reading back what it holds (empty if nothing).
    pub fn open(dir: &Path, sync: bool) -> Result<(LogFile, Log), StoreError> {
        Self::open_with(dir, sync, SEGMENT_BYTES)
    }

    /// [`open`](Self::open), closing segments at `segment_bytes`.
    pub fn open_with(
        data_dir: &Path,
        sync: bool,
        segment_bytes: u64,
    ) -> Result<(LogFile, Log), StoreError> {
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
            sync,
            buf: Vec::new(),
            digest: CommitDigest::of(&log),
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

    /// The digest of the committed history, as of the last save.
    pub fn commit_digest(&self) -> u64 {
        self.digest.value
    }

    /// Writes what changed in `node`'s log since the last call.
    pub fn save(&mut self, node: &mut Node) -> Result<(), StoreError> {
        let cut = node.take_log_rewritten_from();
        let log = node.log();
        self.digest.update(log, cut);
        let mut wrote = false;
        if let Some(from) = cut.filter(|f| *f <= self.last) {
            self.write(&RecordOut::CutFrom(from))?;
            self.last = from - 1;
            wrote = true;
        }
        // The log may also have been cut without a record of it (never: every cut
        // goes through `take_log_rewritten_from`), or be shorter after a restart.
        self.last = self.last.min(log.last_index());
        for e in log.all_from(self.last + 1) {
            self.last = e.index;
            self.written += Self::write_to(
                &mut self.out,
                &mut self.buf,
                &self.path,
                &RecordOut::Entry(e),
            )?;
            wrote = true;
        }
        let commit = log.commit_index();
        if commit != self.commit {
            self.commit = commit;
            self.write(&RecordOut::Commit(commit))?;
            wrote = true;
        }
        if wrote {
            self.out
                .flush()
                .map_err(|e| StoreError::Write(self.path.clone(), e))?;
            if self.sync {
                self.out
                    .get_ref()
                    .sync_data()
                    .map_err(|e| StoreError::Write(self.path.clone(), e))?;
            }
            if self.written >= self.segment_bytes {
                self.next_segment()?;
            }
        }
        Ok(())
    }

    fn write(&mut self, record: &RecordOut<'_>) -> Result<(), StoreError> {
        self.written += Self::write_to(&mut self.out, &mut self.buf, &self.path, record)?;
        Ok(())
    }

    // Split from `write` so a record can borrow the node's log while it is
    // written. Returns the bytes written.
    fn write_to(
        out: &mut BufWriter<File>,
        buf: &mut Vec<u8>,
        path: &Path,
        record: &RecordOut<'_>,
    ) -> Result<u64, StoreError> {
        records::write(out, buf, record).map_err(|e| StoreError::Write(path.to_owned(), e))
    }
}
