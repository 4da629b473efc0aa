//! An application's state kept up with the committed history on a real node:
//! a task reads [`NodeHandle::committed`](super::NodeHandle::committed) into a
//! [`Replica`], follows rewrites (restore the newest snapshot before the
//! rewritten index, replay), and saves each new snapshot to a file so a
//! restart resumes from it instead of replaying everything.

use super::{CommittedEvent, NodeHandle};
use ringleader_core::app::{AppSnapshot, Replica, StateMachine};
use ringleader_core::log::Stamp;
use ringleader_core::NodeId;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// Bytes before the state in a snapshot file: a magic, the index, the epoch
/// and the leader of its stamp.
const HEADER: usize = 8 + 8 + 8 + 4;
const MAGIC: &[u8; 8] = b"rlapp v1";

/// A state machine followed on a node (see the [module docs](self)).
#[derive(Debug)]
pub struct Follower<S> {
    replica: Arc<Mutex<Replica<S>>>,
    applied: watch::Receiver<u64>,
    failed: watch::Receiver<Option<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl<S: StateMachine + Send + 'static> Follower<S> {
    /// Starts following `node`'s committed history with `state` (the state
    /// before any entry), taking a snapshot every `every` entries and saving
    /// it to `snapshot_file` (resumed from there if it holds one).
    pub fn start(
        node: &NodeHandle,
        state: S,
        every: u64,
        snapshot_file: Option<PathBuf>,
    ) -> Result<Follower<S>, String> {
        let saved = match &snapshot_file {
            Some(path) => load(path)?,
            None => None,
        };
        let replica = match saved {
            Some(snap) => Replica::resume(state, every, snap).map_err(|e| e.to_string())?,
            None => Replica::new(state, every),
        };
        let (from, after) = (replica.applied() + 1, replica.applied_stamp());
        let resumed = replica.latest_snapshot().filter(|s| s.index > 0).cloned();
        if snapshot_file.is_some() {
            // What a restart will replay from the saved snapshot must stay.
            node.retain_after(replica.applied());
        }
        let writer = node.writer.clone();
        let inbox = node.inbox.downgrade();
        let (applied_tx, applied) = watch::channel(replica.applied());
        let (failed_tx, failed) = watch::channel(None);
        let replica = Arc::new(Mutex::new(replica));
        let stream = writer.committed(from, after);
        let shared = Arc::clone(&replica);
        let task = tokio::spawn(async move {
            let mut stream = stream;
            let mut saved_at = 0;
            if let Some(snap) = resumed {
                // The node sends it to followers behind its retained log.
                super::share_snapshot(&writer, &inbox, snap).await;
            }
            while let Some(event) = stream.next().await {
                let step = {
                    let Ok(mut r) = shared.lock() else { return };
                    apply(&mut r, event)
                };
                match step {
                    Ok(Some((next, after))) => {
                        stream = writer.committed(next, after);
                        // A snapshot of the replaced history may be on file.
                        // Saving the one restored writes over it.
                        saved_at = saved_at.min(next.saturating_sub(2));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "the application cannot follow the history");
                        let _ = failed_tx.send(Some(e));
                        return;
                    }
                }
                let newest = {
                    let Ok(r) = shared.lock() else { return };
                    let _ = applied_tx.send(r.applied());
                    r.latest_snapshot().filter(|s| s.index > saved_at).cloned()
                };
                if let (Some(snap), Some(path)) = (newest, &snapshot_file) {
                    saved_at = snap.index;
                    match save(path, &snap) {
                        Ok(()) => super::share_snapshot(&writer, &inbox, snap).await,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot save the application's snapshot");
                        }
                    }
                }
            }
        });
        Ok(Follower {
            replica,
            applied,
            failed,
            task,
        })
    }

    /// The state, locked while the guard lives (keep it short: the follower
    /// waits for it).
    pub fn state(&self) -> MutexGuard<'_, Replica<S>> {
        match self.replica.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Waits until the state has applied `index` (a read that must reflect
    /// a write at `index`, or a fence's commit index). `Err` with the reason
    /// if the follower stopped first.
    pub async fn wait_applied(&self, index: u64) -> Result<(), String> {
        let mut applied = self.applied.clone();
        let mut failed = self.failed.clone();
        tokio::select! {
            done = applied.wait_for(|a| *a >= index) => done.map(|_| ()).map_err(|_| "the node stopped".to_owned()),
            why = failed.wait_for(Option::is_some) => Err(why.ok().and_then(|w| w.clone()).unwrap_or_default()),
        }
    }

    /// The last index applied.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }
}

impl<S> Drop for Follower<S> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One event into the replica; `Some((index, stamp))`: read again from
/// there, after an entry of that stamp.
fn apply<S: StateMachine>(
    r: &mut Replica<S>,
    event: CommittedEvent,
) -> Result<Option<(u64, Stamp)>, String> {
    match event {
        CommittedEvent::Entry(e) => r.apply(&e).map(|()| None).map_err(|e| e.to_string()),
        CommittedEvent::Rewritten { from } => {
            let next = r.rewritten(from).map_err(|e| e.to_string())?;
            tracing::warn!(
                from,
                replay_from = next,
                "the committed history was rewritten: replaying"
            );
            Ok(Some((next, r.applied_stamp())))
        }
        CommittedEvent::Snapshot(app) => {
            tracing::info!(
                at = app.index,
                "the entries the application needed were deleted: restoring the state its leader sent"
            );
            r.install(AppSnapshot::clone(&app))
                .map(|()| None)
                .map_err(|e| e.to_string())
        }
        CommittedEvent::Compacted { first } => {
            r.compacted(first).map(|()| None).map_err(|e| e.to_string())
        }
    }
}

/// Writes `snap` to `path` whole or not at all (a temporary file renamed).
fn save(path: &Path, snap: &AppSnapshot) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(HEADER + snap.state.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&snap.index.to_be_bytes());
    bytes.extend_from_slice(&snap.stamp.epoch.to_be_bytes());
    bytes.extend_from_slice(&snap.stamp.leader.0.to_be_bytes());
    bytes.extend_from_slice(&snap.state);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &bytes)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The snapshot saved at `path`, if any.
fn load(path: &Path) -> Result<Option<AppSnapshot>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let bad = || format!("{}: not an application snapshot", path.display());
    if bytes.len() < HEADER || bytes.get(..8) != Some(MAGIC.as_slice()) {
        return Err(bad());
    }
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
    };
    let leader = bytes
        .get(24..28)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes);
    let (Some(index), Some(epoch), Some(leader)) = (u64_at(8), u64_at(16), leader) else {
        return Err(bad());
    };
    Ok(Some(AppSnapshot {
        index,
        stamp: Stamp {
            epoch,
            leader: NodeId(leader),
        },
        state: bytes.get(HEADER..).unwrap_or_default().to_vec(),
    }))
}
