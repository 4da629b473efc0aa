//! `DIR/log/snapshot`: what the compacted entries amount to (see
//! [`ringleader_core::log::Snapshot`]). Unlike the summary it is not derived
//! data — the entries it stands for are gone — so a damaged one stops the
//! node with an error. Written whole, synced, renamed.

use crate::store::StoreError;
use ringleader_core::log::Snapshot;
use ringleader_core::wire::{encode_frame, FrameDecoder};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"RLDRSNP1";
/// The largest snapshot read back (a million clients' numbering fits).
const MAX_BYTES: usize = 64 << 20;

/// The snapshot's path in the segments' directory.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("snapshot")
}

/// Writes `snap` (synced, renamed, directory synced).
pub fn write(dir: &Path, snap: &Snapshot) -> Result<(), StoreError> {
    let path = path(dir);
    let err = |e| StoreError::Write(path.clone(), e);
    let mut body = Vec::new();
    encode_frame(snap, &mut body, MAX_BYTES).map_err(|e| err(std::io::Error::other(e)))?;
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(err)?;
    f.write_all(MAGIC)
        .and_then(|()| f.write_all(&crc32c::crc32c(&body).to_be_bytes()))
        .and_then(|()| f.write_all(&body))
        .and_then(|()| f.sync_all())
        .map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
    Ok(())
}

/// Reads the snapshot back: `None` if there is none (nothing compacted).
pub fn read(dir: &Path) -> Result<Option<Snapshot>, StoreError> {
    let path = path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::Read(path, e)),
    };
    let corrupt = |why: &str| {
        StoreError::Corrupt(
            path.clone(),
            format!("{why}: the compacted history's snapshot is damaged; restore the file, or move the log directory away (the node then catches up from its peers)"),
        )
    };
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| corrupt("no magic"))?;
    let (sum, body) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt("cut short"))?;
    if crc32c::crc32c(body) != u32::from_be_bytes(*sum) {
        return Err(corrupt("checksum does not match"));
    }
    let snap: Snapshot =
        FrameDecoder::decode_one(body, MAX_BYTES).map_err(|_| corrupt("does not decode"))?;
    if !snap.plausible() || snap.index == 0 {
        return Err(corrupt("numbers that do not fit together"));
    }
    Ok(Some(snap))
}
