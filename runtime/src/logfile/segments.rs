//! The segment files: naming, listing, creating, reading back, and moving a
//! single `log.bin` of an earlier version into the first segment.

use super::records::{self, replay, RecordOut, MAGIC};
use crate::store::StoreError;
use ringleader_core::log::Log;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

fn name(n: u64) -> String {
    format!("{n:08}.seg")
}

/// The path of segment `n` in `dir`.
pub fn path(dir: &Path, n: u64) -> PathBuf {
    dir.join(name(n))
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

/// Hands each record of the segment at `path` to `each` with its offset;
/// returns the segment's length once a torn tail is cut off (only the
/// `last` segment may have one: in any other it is corruption).
pub fn scan(
    path: &Path,
    last: bool,
    mut each: impl FnMut(u64, records::Record),
) -> Result<u64, StoreError> {
    let read_err = |e| StoreError::Read(path.to_owned(), e);
    let file = File::open(path).map_err(read_err)?;
    let len = file.metadata().map_err(read_err)?.len();
    // Streamed, not read whole: a restart's memory stays the window's.
    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; MAGIC.len()];
    let has_magic = input.read_exact(&mut magic).is_ok() && magic == *MAGIC;
    let mut at = MAGIC.len() as u64;
    let mut body = Vec::new();
    if has_magic {
        while let Ok(Some((n, record))) = records::read_one(&mut input, &mut body) {
            each(at, record);
            at += n;
        }
    }
    // What follows the last whole record (nothing, mostly) is judged as a
    // whole: a torn tail, or damage.
    let mut bytes = MAGIC.to_vec();
    if has_magic {
        input.seek(std::io::SeekFrom::Start(at)).map_err(read_err)?;
        input.read_to_end(&mut bytes).map_err(read_err)?;
    }
    let shift = at - MAGIC.len() as u64;
    let each_after = |offset: u64, record| each(offset + shift, record);
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
    if !has_magic {
        return Err(corrupt(0, "not a ringleader log segment (no magic)".into()));
    }
    let good_len = records::each_checksummed(&bytes, each_after)
        .map_err(|(at, why)| corrupt(at + shift, why))?
        + shift;
    if good_len < len {
        if !last {
            return Err(corrupt(
                good_len,
                "a record cut short in a segment that is not the last".into(),
            ));
        }
        tracing::warn!(path = %path.display(), at = good_len, "cutting off a torn last record");
        let file = File::options()
            .write(true)
            .open(path)
            .map_err(|e| StoreError::Write(path.to_owned(), e))?;
        file.set_len(good_len)
            .and_then(|()| file.sync_all())
            .map_err(|e| StoreError::Write(path.to_owned(), e))?;
    }
    Ok(good_len)
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
