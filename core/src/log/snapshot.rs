//! Compaction and snapshots: a log that lives for years does not keep every
//! entry. The driver deletes old entries from its disk (by its retention
//! policy) and tells the node what they amount to: a [`Snapshot`] — the
//! last compacted index, its stamp, the per-client numbering there (so a
//! client resending an old message is still not duplicated), and the
//! driver's digest of the history up to it. For the chat, that is the whole
//! state the compacted entries describe.
//!
//! A follower too far behind for what its leader retains is sent the
//! snapshot instead of the entries, then the entries after it.

use super::entry::Stamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the entries up to `index` amount to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Snapshot {
    /// The last index compacted.
    pub index: u64,
    /// Its stamp: entries after it continue a log that ends there.
    pub stamp: Stamp,
    /// Per client (by client): its last message number up to `index`, and
    /// that message's index.
    pub clients: Vec<(u64, u64, u64)>,
    /// The driver's digest of the committed history up to `index` (opaque to
    /// the node: it carries it to the followers it installs on).
    pub digest: u64,
}

impl Snapshot {
    /// The per-client numbering as a map.
    pub fn client_map(&self) -> BTreeMap<u64, (u64, u64)> {
        self.clients
            .iter()
            .map(|(c, seq, index)| (*c, (*seq, *index)))
            .collect()
    }

    /// Whether its numbers fit together: every client's message at or
    /// before `index`, clients in order.
    pub fn plausible(&self) -> bool {
        let ordered = self
            .clients
            .iter()
            .zip(self.clients.iter().skip(1))
            .all(|(a, b)| a.0 < b.0);
        ordered && self.clients.iter().all(|(_, _, i)| *i <= self.index)
    }
}
