//! The log on disk: `DIR/log.bin`, an append-only file of frames, each an entry, a
//! cut (entries from an index on were replaced), or a commit index.
//!
//! After every step, and before any of the step's messages leave, the driver
//! writes what the step changed in the log, so an acknowledgement is never sent for
//! an entry that a crash of the process would lose. With `sync` each write is also
//! flushed to the disk (`fdatasync`), so it survives a power loss too, at a cost in
//! throughput. A torn last frame (a crash in the middle of a write) is cut off when
//! the file is read back; anything else that does not decode stops the node with
//! an error rather than start it with a silently shortened history.

use crate::store::StoreError;
use ringleader_core::log::{Entry, Log};
use ringleader_core::wire::{encode_frame, FrameDecoder, DEFAULT_MAX_FRAME};
use ringleader_core::Node;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
enum Record {
    Entry(Entry),
    /// Entries from this index on are gone (replaced by the ones that follow).
    CutFrom(u64),
    Commit(u64),
}

/// [`Record`] as written: borrows the entry instead of copying it. The variants
/// must stay in the same order (postcard encodes the variant's position).
#[derive(Serialize)]
enum RecordOut<'a> {
    Entry(&'a Entry),
    CutFrom(u64),
    Commit(u64),
}

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
}

impl LogFile {
    /// Opens `dir/log.bin`, reading back the log it holds (empty if there is none).
    pub fn open(dir: &Path, sync: bool) -> Result<(LogFile, Log), StoreError> {
        let path = dir.join("log.bin");
        let (entries, commit, good_len) = read_back(&path)?;
        let log = Log::restore(entries, commit)
            .ok_or_else(|| StoreError::Corrupt(path.clone(), "entries out of order".into()))?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| StoreError::Write(path.clone(), e))?;
        if file.metadata().map(|m| m.len()).unwrap_or(0) > good_len {
            tracing::warn!(path = %path.display(), "cutting off a torn last record");
            file.set_len(good_len)
                .map_err(|e| StoreError::Write(path.clone(), e))?;
        }
        let lf = LogFile {
            path,
            out: BufWriter::with_capacity(1 << 20, file),
            last: log.last_index(),
            commit: log.commit_index(),
            sync,
            buf: Vec::new(),
        };
        Ok((lf, log))
    }

    /// Writes what changed in `node`'s log since the last call.
    pub fn save(&mut self, node: &mut Node) -> Result<(), StoreError> {
        let cut = node.take_log_rewritten_from();
        let log = node.log();
        let mut wrote = false;
        if let Some(from) = cut.filter(|f| *f <= self.last) {
            self.write(&RecordOut::CutFrom(from))?;
            self.last = from - 1;
            wrote = true;
        }
        // The log may also have been cut without a record of it (never: every cut
        // goes through `take_log_rewritten_from`), or be shorter after a restart.
        self.last = self.last.min(log.last_index());
        for e in log.entries_from(self.last + 1, usize::MAX) {
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
        encode_frame(record, buf, DEFAULT_MAX_FRAME)
            .map_err(|e| StoreError::Write(path.to_owned(), io::Error::other(e.to_string())))?;
        out.write_all(buf)
            .map_err(|e| StoreError::Write(path.to_owned(), e))
    }
}

/// Entries, commit index and the length of the well-formed prefix of the file.
fn read_back(path: &Path) -> Result<(Vec<Entry>, u64, u64), StoreError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0, 0)),
        Err(e) => return Err(StoreError::Read(path.to_owned(), e)),
    };
    let mut decoder = FrameDecoder::<Record>::new(DEFAULT_MAX_FRAME);
    let mut chunk = vec![0u8; 1 << 20];
    let (mut entries, mut commit, mut read, mut records) = (Vec::new(), 0u64, 0u64, 0u64);
    loop {
        let n = file
            .read(&mut chunk)
            .map_err(|e| StoreError::Read(path.to_owned(), e))?;
        if n == 0 {
            break;
        }
        read += n as u64;
        decoder.push(chunk.get(..n).unwrap_or_default());
        loop {
            match decoder.next_frame() {
                Ok(Some(record)) => {
                    records += 1;
                    match record {
                        Record::Entry(e) => entries.push(e),
                        Record::CutFrom(from) => {
                            entries.truncate(usize::try_from(from.saturating_sub(1)).unwrap_or(usize::MAX));
                        }
                        Record::Commit(c) => commit = c,
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(StoreError::Corrupt(
                        path.to_owned(),
                        format!("record {} does not decode ({e}); move the file away to start with an empty log", records + 1),
                    ))
                }
            }
        }
    }
    let good = read - decoder.buffered() as u64;
    Ok((entries, commit, good))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringleader_core::log::{ClientMsgId, Stamp};
    use ringleader_core::{Instant, NodeId};

    fn entry(index: u64, epoch: u64) -> Entry {
        let mut e = Entry::new(
            ClientMsgId {
                client: 1,
                seq: index,
            },
            "alice",
            format!("m{index}").into_bytes(),
            Instant::ZERO,
        );
        e.index = index;
        e.epoch = epoch;
        e.leader = NodeId(1);
        e
    }

    #[test]
    fn records_read_back_cuts_applied_and_a_torn_tail_dropped() {
        let dir = std::env::temp_dir().join(format!("ringleader-logfile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.bin");
        let mut bytes = Vec::new();
        let (e1, e2, e3, e3b) = (entry(1, 1), entry(2, 1), entry(3, 1), entry(3, 2));
        for r in [
            RecordOut::Entry(&e1),
            RecordOut::Entry(&e2),
            RecordOut::Entry(&e3),
            RecordOut::Commit(1),
            RecordOut::CutFrom(3),
            RecordOut::Entry(&e3b),
        ] {
            encode_frame(&r, &mut bytes, DEFAULT_MAX_FRAME).unwrap();
        }
        let whole = bytes.len() as u64;
        bytes.extend_from_slice(&[0, 0, 0, 50, 1, 2]); // a write cut short by a crash
        std::fs::write(&path, &bytes).unwrap();
        let (file, log) = LogFile::open(&dir, false).unwrap();
        drop(file);
        assert_eq!(log.last_index(), 3);
        assert_eq!(log.commit_index(), 1);
        assert_eq!(
            log.stamp_at(3),
            Some(Stamp {
                epoch: 2,
                leader: NodeId(1)
            })
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            whole,
            "the torn tail is cut off"
        );
        // Garbage in the middle is an error, not a shorter history.
        let mut bad = bytes.clone();
        bad.truncate(whole as usize);
        bad.splice(4..8, [0xff, 0xff, 0xff, 0xff]);
        std::fs::write(&path, &bad).unwrap();
        assert!(matches!(
            LogFile::open(&dir, false),
            Err(StoreError::Corrupt(..))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
