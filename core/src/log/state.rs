//! The log's state: what a node's log holds (see [`super`] for what it means
//! and the operations on it).

use super::app_snapshot::AppSnapshot;
use super::cache::ReadCache;
use super::entry::Entry;
use super::runs::StampRuns;
use super::snapshot::Snapshot;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Entries kept in memory whatever the limit: enough for a client's
/// `/history` (the last [`crate::wire::MAX_HISTORY`] messages) to be
/// answered from memory.
pub const KEEP_MIN: usize = 2_000;

/// The log of one node.
#[derive(Clone, Debug)]
pub struct Log {
    /// The entries in memory: `entries[i]` has index `base + 1 + i`.
    pub(super) entries: Vec<Entry>,
    /// How many entries before the window are out of memory (on the disk).
    pub(super) base: u64,
    /// The stamps of every entry, in memory or not.
    pub(super) runs: StampRuns,
    pub(super) commit: u64,
    /// Per client: the last message number in the log and its index.
    pub(super) clients: BTreeMap<u64, (u64, u64)>,
    /// The same, counting only the entries out of memory (up to `base`): what
    /// `clients` is rebuilt from when entries in memory are replaced.
    pub(super) clients_base: BTreeMap<u64, (u64, u64)>,
    /// Entries read back from the disk for readers older than the window.
    pub(super) cache: ReadCache,
    /// How many bytes of entries the window may hold, and holds.
    pub(super) memory_limit: usize,
    pub(super) memory: usize,
    /// Entries kept in memory whatever the limit.
    pub(super) keep: usize,
    /// The lowest index replaced since the driver last asked
    /// ([`take_rewritten_from`](Self::take_rewritten_from)): a driver that mirrors the
    /// log on disk must cut its copy there before appending.
    pub(super) rewritten_from: Option<u64>,
    /// How many times committed entries were replaced by a merged history
    /// (`bully`/`ring` after a split brain healed; see [`Log::rewrite`]).
    pub(super) rewrites: u64,
    /// The first index the log holds: what comes before was compacted away
    /// into `snapshot`.
    pub(super) start: u64,
    /// What the entries before `start` amount to (see [`Snapshot`]).
    pub(super) snapshot: Option<Snapshot>,
    /// A snapshot installed since the driver last asked: its copy must
    /// start over from it.
    pub(super) installed: Option<Snapshot>,
    /// The newest application snapshot this node knows (its own
    /// application's, or one its leader sent): what it sends with `snapshot`.
    pub(super) app: Option<Arc<AppSnapshot>>,
    /// An application snapshot received since the driver last asked: its
    /// copy on disk keeps it (see [`super::LogWrite::app`]).
    pub(super) app_received: Option<Arc<AppSnapshot>>,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            entries: Vec::new(),
            base: 0,
            runs: StampRuns::default(),
            commit: 0,
            clients: BTreeMap::new(),
            clients_base: BTreeMap::new(),
            cache: ReadCache::default(),
            memory_limit: usize::MAX,
            memory: 0,
            keep: KEEP_MIN,
            rewritten_from: None,
            rewrites: 0,
            start: 1,
            snapshot: None,
            installed: None,
            app: None,
            app_received: None,
        }
    }
}

/// Notes `entry` as its client's last in `clients` (client to its last
/// message number and that message's index); a marker has no client. A
/// client known already, nearly always, is updated in place: cheaper than an
/// insert on every entry.
#[inline]
pub(super) fn note_client(clients: &mut BTreeMap<u64, (u64, u64)>, entry: &Entry) {
    if entry.is_marker() {
        return;
    }
    let last = (entry.id.seq, entry.index);
    match clients.get_mut(&entry.id.client) {
        Some(slot) => *slot = last,
        None => {
            clients.insert(entry.id.client, last);
        }
    }
}
