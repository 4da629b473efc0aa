//! Application snapshots on the wire (see [`crate::log::AppSnapshot`]): sent
//! in parts that each fit in a frame, before the log's snapshot, and taken
//! once every part is in.

use crate::context::Ctx;
use crate::id::NodeId;
use crate::log::{AppSnapshot, Stamp, APP_SNAPSHOT_BYTES_MAX, ENTRIES_BYTES_MAX};
use crate::wire::{ReplicationMsg, SNAPSHOT_PARTS_MAX};
use std::collections::BTreeMap;

/// Sends `app` to `to` in parts; false if it is too large to send (logged).
pub(super) fn send(
    cx: &mut Ctx<'_>,
    to: NodeId,
    epoch: u64,
    app: &AppSnapshot,
    commit: u64,
) -> bool {
    let len = app.state.len();
    let chunks: Vec<&[u8]> = if app.state.is_empty() {
        vec![&[]]
    } else {
        app.state.chunks(ENTRIES_BYTES_MAX).collect()
    };
    let of = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
    if len > APP_SNAPSHOT_BYTES_MAX || of > SNAPSHOT_PARTS_MAX {
        tracing::error!(%to, bytes = len, "an application snapshot larger than a catch-up can carry; the follower's application cannot follow");
        return false;
    }
    tracing::info!(%to, at = app.index, bytes = len, parts = of, "sending the application's snapshot with the log's");
    for (number, bytes) in (0u32..).zip(chunks) {
        cx.send_replication(
            to,
            ReplicationMsg::AppSnapshot {
                epoch,
                index: app.index,
                stamp: app.stamp,
                len: len as u64,
                number,
                of,
                bytes: bytes.into(),
                commit,
            },
        );
    }
    true
}

/// What every part of one application snapshot carries alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) from: NodeId,
    pub(super) epoch: u64,
    pub(super) index: u64,
    pub(super) stamp: Stamp,
    pub(super) len: u64,
    pub(super) of: u32,
}

/// An application snapshot arriving in parts.
#[derive(Clone, Debug)]
pub(super) struct AppAssembly {
    head: Head,
    parts: BTreeMap<u32, Box<[u8]>>,
}

/// Takes in part `number` (of `head.of`); the whole snapshot once every part
/// is in and their lengths add up. A part of another snapshot starts the
/// assembly over: one at a time, bounded by its part count and part size.
pub(super) fn receive(
    slot: &mut Option<AppAssembly>,
    head: Head,
    number: u32,
    bytes: &[u8],
) -> Option<AppSnapshot> {
    if slot.as_ref().is_none_or(|a| a.head != head) {
        *slot = Some(AppAssembly {
            head,
            parts: BTreeMap::new(),
        });
    }
    let a = slot.as_mut()?;
    a.parts.insert(number, bytes.into());
    if a.parts.len() < head.of as usize {
        return None;
    }
    let a = slot.take()?;
    let total: usize = a.parts.values().map(|p| p.len()).sum();
    if total as u64 != head.len {
        tracing::warn!(from = %head.from, at = head.index, "an application snapshot whose parts do not add up; dropped");
        return None;
    }
    let mut state = Vec::with_capacity(total);
    for part in a.parts.into_values() {
        state.extend_from_slice(&part);
    }
    Some(AppSnapshot {
        index: head.index,
        stamp: head.stamp,
        state,
    })
}
