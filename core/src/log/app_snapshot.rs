//! An application's snapshot as the log carries it: a follower too far behind
//! its leader's retained log takes the log's [`Snapshot`](super::Snapshot) and,
//! with it, the newest snapshot the leader's application saved (at or after
//! the log's), so the follower's application restores that state instead of
//! needing entries that were deleted (see [`crate::app`]).
//!
//! The node only carries it: its bytes mean something to the application
//! alone.

use super::entry::Stamp;
use serde::{Deserialize, Serialize};

/// The largest application snapshot a node carries to its followers: 32
/// parts of a frame's share, sent at once, half of what a real peer
/// connection queues before it counts as stalled. A larger one is kept by its
/// application but not sent: a follower behind the retained log then cannot
/// rebuild that state (logged on the leader, and when the application hands
/// it over).
pub const APP_SNAPSHOT_BYTES_MAX: usize = 16 << 20;

/// An application's state as of a committed index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AppSnapshot {
    /// The last index applied.
    pub index: u64,
    /// Its stamp (the history it belongs to).
    pub stamp: Stamp,
    /// The state.
    #[serde(with = "serde_bytes")]
    pub state: Vec<u8>,
}

impl AppSnapshot {
    /// Whether a reader whose next entry is `next`, in a log whose first held
    /// entry is `start` (`next < start`: the entries it needs were deleted),
    /// can go on from this snapshot: it is ahead of the reader and reaches
    /// the held entries.
    pub fn bridges(&self, next: u64, start: u64) -> bool {
        self.index >= next && self.index.saturating_add(1) >= start
    }
}
