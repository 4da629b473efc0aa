//! The data directory: what a node keeps across restarts.
//!
//! `state.json` holds [`Persisted`] (start count, and under `quorum` the term and the
//! vote). It is replaced atomically (write a temporary file, sync it, rename it over
//! the old one, sync the directory), so a crash leaves the old or the new state,
//! never a torn one, and a vote is on disk before the message that casts it leaves.
//! The file carries a CRC-32 of its fields: a state that was damaged on the disk
//! stops the node with an error naming the file, rather than be taken for a
//! term it never saw or a vote it never cast.

use ringleader_core::Persisted;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A node's data directory, locked for as long as the `Store` lives: two
/// nodes on one directory would interleave their logs and cast each other's
/// votes. The lock (`flock` on `DIR/lock`) goes with the process, however
/// it ends: a `kill -9` leaves no stale lock behind.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    _lock: fs::File,
}

/// The lock file of a data directory.
const LOCK_FILE: &str = "lock";

/// Why a data directory could not be locked: in use (with what its holder
/// wrote in the lock file, its pid), or the file could not be used.
fn lock(dir: &Path) -> Result<fs::File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StoreError::Dir(dir.to_owned(), e))?;
    match file.try_lock() {
        Ok(()) => {
            // Who holds it, for the error another node would print.
            let _ = file.set_len(0);
            let _ = writeln!(file, "{}", std::process::id());
            Ok(file)
        }
        Err(fs::TryLockError::WouldBlock) => {
            let holder = fs::read_to_string(&path).unwrap_or_default();
            Err(StoreError::InUse(
                dir.to_owned(),
                holder.trim().parse().ok(),
            ))
        }
        Err(fs::TryLockError::Error(e)) => Err(StoreError::Dir(dir.to_owned(), e)),
    }
}

/// Whether a node holds the data directory `dir` now: `Some(pid)` (0 when it
/// did not say) if one does. Nothing is created or changed.
pub fn in_use(dir: &Path) -> Option<u32> {
    let path = dir.join(LOCK_FILE);
    let file = fs::OpenOptions::new().read(true).open(&path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None, // released when `file` drops
        Err(fs::TryLockError::WouldBlock) => Some(
            fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0),
        ),
        Err(fs::TryLockError::Error(_)) => None,
    }
}

/// Why the data directory could not be used.
#[derive(Debug)]
pub enum StoreError {
    /// The directory could not be created or written.
    Dir(PathBuf, io::Error),
    /// The state file exists but could not be read.
    Read(PathBuf, io::Error),
    /// The state file is not valid.
    Corrupt(PathBuf, String),
    /// Writing the state failed.
    Write(PathBuf, io::Error),
    /// Another process (its pid, if it said) holds the directory.
    InUse(PathBuf, Option<u32>),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Dir(p, e) => write!(f, "data directory {}: {e}", p.display()),
            StoreError::Read(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            StoreError::Corrupt(p, e) => write!(f, "{} is damaged: {e}", p.display()),
            StoreError::Write(p, e) => write!(f, "cannot write {}: {e}", p.display()),
            StoreError::InUse(p, pid) => write!(
                f,
                "data directory {} is in use by another node{}: two nodes on one \
                 directory would mix their logs and votes (stop it, or give this one \
                 its own --data-dir)",
                p.display(),
                pid.map_or_else(String::new, |p| format!(" (pid {p})"))
            ),
        }
    }
}

impl std::error::Error for StoreError {}

impl Store {
    /// Opens (creating if need be) the data directory, and checks it can be written.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        fs::create_dir_all(dir).map_err(|e| StoreError::Dir(dir.to_owned(), e))?;
        let probe = dir.join(".write-test");
        fs::write(&probe, b"ok").map_err(|e| StoreError::Dir(dir.to_owned(), e))?;
        let _ = fs::remove_file(&probe);
        let lock = lock(dir)?;
        Ok(Store {
            dir: dir.to_owned(),
            _lock: lock,
        })
    }

    /// Where the state lives.
    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The state persisted by the last life; `None` on a first start (no file).
    pub fn load(&self) -> Result<Option<Persisted>, StoreError> {
        let path = self.state_path();
        match fs::read(&path) {
            Ok(bytes) => decode_state(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(path.clone(), e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Read(path, e)),
        }
    }

    /// Writes the state durably.
    pub fn save(&self, state: &Persisted) -> Result<(), StoreError> {
        let path = self.state_path();
        let tmp = self.dir.join("state.json.tmp");
        let write = || -> io::Result<()> {
            let json = encode_state(state);
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| StoreError::Write(path, e))
    }
}

/// `state.json` on the disk: the state and the CRC-32 of its fields.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    starts: u64,
    term: u64,
    voted_for: Option<ringleader_core::NodeId>,
    /// Absent only in files written before checksums (read once, then rewritten).
    #[serde(default)]
    crc32: Option<u32>,
}

/// The checksum covers the fields in a fixed binary order, so it does not depend
/// on how JSON happened to format them.
fn checksum(state: &Persisted) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(b"ringleader state v1");
    h.update(&state.starts.to_le_bytes());
    h.update(&state.term.to_le_bytes());
    match state.voted_for {
        Some(n) => {
            h.update(&[1]);
            h.update(&n.0.to_le_bytes());
        }
        None => h.update(&[0]),
    }
    h.finalize()
}

fn encode_state(state: &Persisted) -> Vec<u8> {
    let file = StateFile {
        starts: state.starts,
        term: state.term,
        voted_for: state.voted_for,
        crc32: Some(checksum(state)),
    };
    let mut json = serde_json::to_vec_pretty(&file).unwrap_or_default();
    json.push(b'\n');
    json
}

fn decode_state(bytes: &[u8]) -> Result<Persisted, String> {
    let file: StateFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let state = Persisted {
        starts: file.starts,
        term: file.term,
        voted_for: file.voted_for,
    };
    match file.crc32 {
        Some(sum) if sum == checksum(&state) => Ok(state),
        Some(sum) => Err(format!(
            "checksum mismatch (file says {sum:#010x}, its fields give {:#010x}): \
             the file was damaged or edited",
            checksum(&state)
        )),
        None => {
            tracing::warn!("state.json has no checksum (written by an older version); it gets one at the next write");
            Ok(state)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringleader_core::NodeId;

    #[test]
    fn state_survives_a_reopen_and_a_corrupt_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("ringleader-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.load().unwrap(), None);
        let state = Persisted {
            starts: 3,
            term: 7,
            voted_for: Some(NodeId(2)),
        };
        store.save(&state).unwrap();
        drop(store);
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.load().unwrap(), Some(state));
        fs::write(dir.join("state.json"), b"{ not json").unwrap();
        assert!(matches!(store.load(), Err(StoreError::Corrupt(..))));
        // A damaged field that still parses is caught by the checksum.
        store.save(&state).unwrap();
        let text = fs::read_to_string(dir.join("state.json")).unwrap();
        assert!(text.contains("\"term\": 7"), "{text}");
        fs::write(
            dir.join("state.json"),
            text.replace("\"term\": 7", "\"term\": 9"),
        )
        .unwrap();
        let err = store.load().unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(..)), "{err}");
        assert!(err.to_string().contains("state.json"), "{err}");
        assert!(err.to_string().contains("checksum"), "{err}");
        // Files from before checksums are read as they are.
        fs::write(
            dir.join("state.json"),
            r#"{"starts": 3, "term": 7, "voted_for": 2}"#,
        )
        .unwrap();
        assert_eq!(store.load().unwrap(), Some(state));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_in_use_is_refused_with_its_holder_and_free_once_it_is_dropped() {
        let dir = std::env::temp_dir().join(format!("ringleader-lock-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(in_use(&dir), None, "no directory yet: nothing holds it");
        let store = Store::open(&dir).unwrap();
        assert_eq!(in_use(&dir), Some(std::process::id()));
        let err = Store::open(&dir).unwrap_err();
        assert!(matches!(err, StoreError::InUse(_, Some(p)) if p == std::process::id()));
        assert!(err.to_string().contains("in use by another node"), "{err}");
        drop(store);
        assert_eq!(in_use(&dir), None);
        assert!(Store::open(&dir).is_ok());
        let _ = fs::remove_dir_all(&dir);
    }
}
