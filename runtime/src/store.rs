//! The data directory: what a node keeps across restarts.
//!
//! `state.json` holds [`Persisted`] (start count, and under `quorum` the term and the
//! vote). It is replaced atomically (write a temporary file, sync it, rename it over
//! the old one, sync the directory), so a crash leaves the old or the new state,
//! never a torn one, and a vote is on disk before the message that casts it leaves.

use ringleader_core::Persisted;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A node's data directory.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
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
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Dir(p, e) => write!(f, "data directory {}: {e}", p.display()),
            StoreError::Read(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            StoreError::Corrupt(p, e) => {
                write!(f, "{} is not a valid state file: {e}", p.display())
            }
            StoreError::Write(p, e) => write!(f, "cannot write {}: {e}", p.display()),
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
        Ok(Store {
            dir: dir.to_owned(),
        })
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The state persisted by the last life, or the default on a first start.
    pub fn load(&self) -> Result<Persisted, StoreError> {
        let path = self.state_path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Corrupt(path.clone(), e.to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Persisted::default()),
            Err(e) => Err(StoreError::Read(path, e)),
        }
    }

    /// Writes the state durably.
    pub fn save(&self, state: &Persisted) -> Result<(), StoreError> {
        let path = self.state_path();
        let tmp = self.dir.join("state.json.tmp");
        let write = || -> io::Result<()> {
            let json = serde_json::to_vec_pretty(state).map_err(io::Error::other)?;
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| StoreError::Write(path, e))
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
        assert_eq!(store.load().unwrap(), Persisted::default());
        let state = Persisted {
            starts: 3,
            term: 7,
            voted_for: Some(NodeId(2)),
        };
        store.save(&state).unwrap();
        assert_eq!(Store::open(&dir).unwrap().load().unwrap(), state);
        fs::write(dir.join("state.json"), b"{ not json").unwrap();
        assert!(matches!(store.load(), Err(StoreError::Corrupt(..))));
        let _ = fs::remove_dir_all(&dir);
    }
}
