//! The segment files: naming, listing, creating, reading back, and moving a
//! single `log.bin` of an earlier version into the first segment.

use super::records::{self, replay, RecordOut, MAGIC};
use crate::store::StoreError;
use ringleader_core::log::Log;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

fn name(n: u64) -> String {
    format!("{n:08}.seg")
}

/// The segments in `dir`, by number.
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let entries = std::fs::read_dir(dir).map_err(|e| StoreError::Read(dir.to_owned(), e))?;
    let mut out: Vec<(u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            let n = path
                .file_name()?
                .to_str()?
                .strip_suffix(".seg")?
                .parse()
                .ok()?;
            Some((n, path))
        })
        .collect();
    out.sort();
    if let Some(gap) = out.windows(2).find(|w| w[1].0 != w[0].0 + 1) {
        return Err(StoreError::Corrupt(
            gap[1].1.clone(),
            format!("segment {} is missing before it", gap[0].0 + 1),
        ));
    }
    Ok(out)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates segment `n` in `dir` (its magic, synced, and the directory synced).
pub fn create(dir: &Path, n: u64) -> Result<PathBuf, StoreError> {
    let path = dir.join(name(n));
    let err = |e| StoreError::Write(path.clone(), e);
    let mut f = File::options()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(err)?;
    f.write_all(MAGIC)
        .and_then(|()| f.sync_all())
        .map_err(err)?;
    sync_dir(dir).map_err(err)?;
    Ok(path)
}

/// The records of the segment at `path` and its length once a torn tail is
/// cut off (only the `last` segment may have one: in any other it is
/// corruption).
pub fn read(path: &Path, last: bool) -> Result<(Vec<records::Record>, u64), StoreError> {
    let bytes = std::fs::read(path).map_err(|e| StoreError::Read(path.to_owned(), e))?;
    let corrupt = |offset: u64, why: String| {
        StoreError::Corrupt(
            path.to_owned(),
            format!(
                "at byte {offset}: {why}. Committed entries may be lost: restore the file, or \
                 move the log directory away to start with an empty log (the node then catches \
                 up from its peers)"
            ),
        )
    };
    if !bytes.starts_with(MAGIC) {
        return Err(corrupt(0, "not a ringleader log segment (no magic)".into()));
    }
    let read = records::read_checksummed(&bytes).map_err(|(at, why)| corrupt(at, why))?;
    let len = bytes.len() as u64;
    if read.good_len < len {
        if !last {
            return Err(corrupt(
                read.good_len,
                "a record cut short in a segment that is not the last".into(),
            ));
        }
        tracing::warn!(path = %path.display(), at = read.good_len, "cutting off a torn last record");
        let file = File::options()
            .write(true)
            .open(path)
            .map_err(|e| StoreError::Write(path.to_owned(), e))?;
        file.set_len(read.good_len)
            .and_then(|()| file.sync_all())
            .map_err(|e| StoreError::Write(path.to_owned(), e))?;
    }
    Ok((read.records, read.good_len))
}

/// Moves `data_dir/log.bin` (of an earlier version, with or without checksums)
/// into segment 1 of `dir`, if there is one.
pub fn adopt_single_file(data_dir: &Path, dir: &Path) -> Result<(), StoreError> {
    let old = data_dir.join("log.bin");
    let bytes = match std::fs::read(&old) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::Read(old, e)),
    };
    let read = if bytes.starts_with(MAGIC) {
        records::read_checksummed(&bytes)
    } else {
        records::read_legacy(&bytes)
    };
    let read =
        read.map_err(|(at, why)| StoreError::Corrupt(old.clone(), format!("at byte {at}: {why}")))?;
    let (entries, commit) = replay(read.records);
    let log = Log::restore(entries, commit)
        .ok_or_else(|| StoreError::Corrupt(old.clone(), "entries out of order".into()))?;
    write_whole(&dir.join(name(1)), &log)?;
    std::fs::remove_file(&old).map_err(|e| StoreError::Write(old.clone(), e))?;
    sync_dir(data_dir).map_err(|e| StoreError::Write(old.clone(), e))?;
    tracing::info!(from = %old.display(), to = %dir.display(), "log moved into segments, with checksums");
    Ok(())
}

/// Writes `log` whole as the segment at `path` (temporary file, sync, rename,
/// directory sync).
fn write_whole(path: &Path, log: &Log) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    let err = |e| StoreError::Write(path.to_owned(), e);
    let mut out = BufWriter::new(File::create(&tmp).map_err(err)?);
    out.write_all(MAGIC).map_err(err)?;
    let mut buf = Vec::new();
    for e in log.all_from(1) {
        records::write(&mut out, &mut buf, &RecordOut::Entry(e)).map_err(err)?;
    }
    records::write(&mut out, &mut buf, &RecordOut::Commit(log.commit_index())).map_err(err)?;
    let file = out.into_inner().map_err(|e| err(e.into_error()))?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir).map_err(err)?;
    }
    Ok(())
}
