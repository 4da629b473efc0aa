//! `DIR/log/snapshot`: what the compacted entries amount to (see
//! [`ringleader_core::log::Snapshot`]). Unlike the summary it is not derived
//! data — the entries it stands for are gone — so a damaged one stops the
//! node with an error. Written whole, synced, renamed.
//!
//! `DIR/log/app-snapshot`: the newest application snapshot a leader sent
//! with its log's snapshot, for the node's application.

use super::sealed;
use crate::store::StoreError;
use ringleader_core::log::{AppSnapshot, Snapshot, APP_SNAPSHOT_BYTES_MAX};
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

const APP_MAGIC: &[u8; 8] = b"RLDRAPP1";
/// The largest application snapshot file: the state and its header.
const APP_MAX_BYTES: usize = APP_SNAPSHOT_BYTES_MAX + 1024;

/// The path of the application snapshot a leader sent (see
/// [`ringleader_core::log::AppSnapshot`]).
pub fn app_path(dir: &Path) -> PathBuf {
    dir.join("app-snapshot")
}

/// Writes the application snapshot the leader sent (synced, renamed).
pub fn write_app(dir: &Path, app: &AppSnapshot) -> Result<(), StoreError> {
    sealed::write(dir, &app_path(dir), APP_MAGIC, app, APP_MAX_BYTES)
}

/// The application snapshot a leader sent, if one is on file. A damaged one
/// is set aside with a warning: it is a copy of the leader's, needed only by
/// an application whose entries were deleted before it read them.
pub fn read_app(dir: &Path) -> Option<AppSnapshot> {
    let path = app_path(dir);
    match sealed::read::<AppSnapshot>(&path, APP_MAGIC, APP_MAX_BYTES) {
        Ok(Some(Ok(app))) => Some(app),
        Ok(None) => None,
        Ok(Some(Err(why))) => {
            tracing::warn!(path = %path.display(), why, "the leader's application snapshot on file is damaged; set aside");
            let _ = std::fs::rename(&path, path.with_extension("damaged"));
            None
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the leader's application snapshot");
            None
        }
    }
}
