//! `DIR/log/snapshot`: what the compacted entries amount to (see
//! [`ringleader_core::log::Snapshot`]). Unlike the summary it is not derived
//! data — the entries it stands for are gone — so a damaged one stops the
//! node with an error. Written whole, synced, renamed.

use super::sealed;
use crate::store::StoreError;
use ringleader_core::log::Snapshot;
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
    sealed::write(dir, &path(dir), MAGIC, snap, MAX_BYTES)
}

/// Reads the snapshot back: `None` if there is none (nothing compacted).
pub fn read(dir: &Path) -> Result<Option<Snapshot>, StoreError> {
    let path = path(dir);
    let read = sealed::read::<Snapshot>(&path, MAGIC, MAX_BYTES)
        .map_err(|e| StoreError::Read(path.clone(), e))?;
    let Some(read) = read else {
        return Ok(None);
    };
    let corrupt = |why: &str| {
        StoreError::Corrupt(
            path.clone(),
            format!("{why}: the compacted history's snapshot is damaged; restore the file, or move the log directory away (the node then catches up from its peers)"),
        )
    };
    let snap = read.map_err(corrupt)?;
    if !snap.plausible() || snap.index == 0 {
        return Err(corrupt("numbers that do not fit together"));
    }
    Ok(Some(snap))
}
