//! The log on disk: `DIR/log.bin`, an append-only file of checksummed records
//! (see [`records`]), each an entry, a cut (entries from an index on were
//! replaced), or a commit index.
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
#[cfg(test)]
mod tests;

pub use digest::CommitDigest;

use crate::store::StoreError;
use records::{Record, RecordOut, MAGIC};
use ringleader_core::log::{Entry, Log};
use ringleader_core::Node;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The open log file and how far it mirrors the node's log.
pub struct LogFile {
    path: PathBuf,
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
    /// Opens `dir/log.bin`, reading back the log it holds (empty if there is none).
    pub fn open(dir: &Path, sync: bool) -> Result<(LogFile, Log), StoreError> {
        let path = dir.join("log.bin");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StoreError::Read(path, e)),
        };
        let legacy = !bytes.is_empty() && !bytes.starts_with(MAGIC);
        let read = if bytes.is_empty() {
            Ok(records::ReadBack {
                records: Vec::new(),
                good_len: 0,
            })
        } else if legacy {
            records::read_legacy(&bytes)
        } else {
            records::read_checksummed(&bytes)
        };
        let read = read.map_err(|(offset, why)| {
            StoreError::Corrupt(
                path.clone(),
                format!(
                    "at byte {offset}: {why}. Committed entries may be lost: restore the file, \
                     or move it away to start with an empty log (the node then catches up from its peers)"
                ),
            )
        })?;
        let (entries, commit) = replay(read.records);
        let log = Log::restore(entries, commit)
            .ok_or_else(|| StoreError::Corrupt(path.clone(), "entries out of order".into()))?;
        if legacy || bytes.is_empty() {
            // A new file, or one from before checksums: (re)written whole.
            rewrite(&path, &log)?;
        } else if (bytes.len() as u64) > read.good_len {
            tracing::warn!(path = %path.display(), at = read.good_len, "cutting off a torn last record");
            let file = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| StoreError::Write(path.clone(), e))?;
            file.set_len(read.good_len)
                .and_then(|()| file.sync_all())
                .map_err(|e| StoreError::Write(path.clone(), e))?;
        }
        if legacy {
            tracing::info!(path = %path.display(), "log file rewritten with checksums");
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| StoreError::Write(path.clone(), e))?;
        let lf = LogFile {
            path,
            out: BufWriter::with_capacity(1 << 20, file),
            last: log.last_index(),
            commit: log.commit_index(),
            sync,
            buf: Vec::new(),
            digest: CommitDigest::of(&log),
        };
        Ok((lf, log))
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
            Self::write_to(
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
        }
        Ok(())
    }

    fn write(&mut self, record: &RecordOut<'_>) -> Result<(), StoreError> {
        Self::write_to(&mut self.out, &mut self.buf, &self.path, record)
    }

    // Split from `write` so a record can borrow the node's log while it is written.
    fn write_to(
        out: &mut BufWriter<File>,
        buf: &mut Vec<u8>,
        path: &Path,
        record: &RecordOut<'_>,
    ) -> Result<(), StoreError> {
        buf.clear();
        records::encode(record, buf)
            .map_err(|e| StoreError::Write(path.to_owned(), io::Error::other(e)))?;
        out.write_all(buf)
            .map_err(|e| StoreError::Write(path.to_owned(), e))
    }
}

/// The entries and commit index the records describe.
fn replay(records: Vec<Record>) -> (Vec<Entry>, u64) {
    let (mut entries, mut commit) = (Vec::new(), 0u64);
    for record in records {
        match record {
            Record::Entry(e) => entries.push(e),
            Record::CutFrom(from) => {
                entries.truncate(usize::try_from(from.saturating_sub(1)).unwrap_or(usize::MAX));
            }
            Record::Commit(c) => commit = c,
        }
    }
    (entries, commit)
}

/// Writes `log` whole to a new checksummed file and puts it in `path`'s place
/// (temporary file, sync, rename, directory sync).
fn rewrite(path: &Path, log: &Log) -> Result<(), StoreError> {
    let tmp = path.with_extension("bin.tmp");
    let err = |e| StoreError::Write(path.to_owned(), e);
    let mut out = BufWriter::new(File::create(&tmp).map_err(err)?);
    out.write_all(MAGIC).map_err(err)?;
    let mut buf = Vec::new();
    for e in log.all_from(1) {
        LogFile::write_to(&mut out, &mut buf, path, &RecordOut::Entry(e))?;
    }
    LogFile::write_to(
        &mut out,
        &mut buf,
        path,
        &RecordOut::Commit(log.commit_index()),
    )?;
    let file = out.into_inner().map_err(|e| err(e.into_error()))?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
    }
    Ok(())
}
