//! Snapshots on the wire: a node too far behind what its leader (or a
//! helper, or a `bully`/`ring` leader's sync source) retains is sent the
//! snapshot of the compacted entries (see [`crate::log::Snapshot`]) in
//! parts that each fit in a frame, and takes it once every part is in.

use crate::context::Ctx;
use crate::id::NodeId;
use crate::log::{AppSnapshot, Snapshot, ENTRIES_BYTES_MAX};
use crate::wire::{ReplicationMsg, SNAPSHOT_PARTS_MAX};
use std::collections::BTreeMap;

/// Clients per part: at most 30 bytes each (three varints), so a part stays
/// within what one message may carry.
const CLIENTS_PER_PART: usize = ENTRIES_BYTES_MAX / 32;

/// Sends `snap` to `to` in parts, after `app` (the newest application
/// snapshot the sender has) if that reaches as far; false if it has too many
/// clients to send (more than [`SNAPSHOT_PARTS_MAX`] parts' worth: logged).
pub(super) fn send(
    cx: &mut Ctx<'_>,
    to: NodeId,
    epoch: u64,
    (snap, app): (&Snapshot, Option<&AppSnapshot>),
    commit: u64,
) -> bool {
    let app = match app {
        Some(app) if app.index >= snap.index && app.index <= commit => {
            super::app_snapshot::send(cx, to, epoch, app, commit).then_some(app.index)
        }
        Some(app) => {
            tracing::warn!(%to, app = app.index, log = snap.index, commit, "the application's newest snapshot does not reach the log's (or is not committed here): the follower's application cannot follow");
            None
        }
        None => None,
    };
    let chunks: Vec<&[(u64, u64, u64)]> = if snap.clients.is_empty() {
        vec![&[]]
    } else {
        snap.clients.chunks(CLIENTS_PER_PART).collect()
    };
    let Ok(of) = u32::try_from(chunks.len()) else {
        return false;
    };
    if of > SNAPSHOT_PARTS_MAX {
        tracing::error!(%to, clients = snap.clients.len(), "a snapshot with more clients than a catch-up can carry; the follower stays behind");
        return false;
    }
    tracing::info!(%to, through = snap.index, parts = of, "sending a snapshot: the follower is behind the retained log");
    for (number, clients) in (0u32..).zip(chunks) {
        let part = Snapshot {
            clients: clients.to_vec(),
            ..snap.clone()
        };
        cx.send_replication(
            to,
            ReplicationMsg::Snapshot {
                epoch,
                part,
                number,
                of,
                commit,
                app,
            },
        );
    }
    true
}

/// A snapshot arriving in parts.
#[derive(Clone, Debug)]
pub(super) struct Assembly {
    from: NodeId,
    epoch: u64,
    head: Snapshot,
    of: u32,
    parts: BTreeMap<u32, Vec<(u64, u64, u64)>>,
}

/// Takes in part `number` of `of` from `from`; the whole snapshot once every
/// part is in. A part of another snapshot (other sender, epoch, index) starts
/// the assembly over: one snapshot at a time, bounded by its part count.
pub(super) fn receive(
    slot: &mut Option<Assembly>,
    from: NodeId,
    epoch: u64,
    part: &Snapshot,
    number: u32,
    of: u32,
) -> Option<Snapshot> {
    let head = Snapshot {
        clients: Vec::new(),
        ..part.clone()
    };
    let same = slot
        .as_ref()
        .is_some_and(|a| a.from == from && a.epoch == epoch && a.head == head && a.of == of);
    if !same {
        *slot = Some(Assembly {
            from,
            epoch,
            head,
            of,
            parts: BTreeMap::new(),
        });
    }
    let a = slot.as_mut()?;
    a.parts.insert(number, part.clients.clone());
    if a.parts.len() < of as usize {
        return None;
    }
    let a = slot.take()?;
    let snap = Snapshot {
        clients: a.parts.into_values().flatten().collect(),
        ..a.head
    };
    // Parts of one sorted list, in order: the whole is sorted, or damaged.
    snap.plausible().then_some(snap)
}
