//! One entry of the log.

use crate::id::NodeId;
use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// Which leadership appended an entry: its epoch and its leader. Under `quorum` an
/// epoch has one leader by the vote; under `bully` and `ring` two leaders that never
/// heard of each other can claim the same epoch, so entries are matched by both.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Stamp {
    /// The epoch.
    pub epoch: u64,
    /// The leader that appended in it.
    pub leader: NodeId,
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "e{}@{}", self.epoch, self.leader)
    }
}

/// A client message's identity: the client and its own sequence number, 1, 2, 3, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientMsgId {
    /// The client.
    pub client: u64,
    /// The client's number for this message, starting at 1.
    pub seq: u64,
}

impl fmt::Display for ClientMsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.client == MARKER_CLIENT {
            // What a new leader appends to commit its epoch: no client's.
            return f.write_str("a leader's epoch marker");
        }
        write!(f, "client c{}'s message {}", self.client, self.seq)
    }
}

/// A committed-or-not message of the totally ordered history.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    /// Epoch of the leader that appended it.
    pub epoch: u64,
    /// The leader that appended it.
    pub leader: NodeId,
    /// Position in the log, from 1.
    pub index: u64,
    /// The client message it carries.
    pub id: ClientMsgId,
    /// What was written. Shared: an entry is copied to every follower's
    /// message and every copy of the log, its bytes only once.
    #[serde(with = "shared_bytes")]
    pub payload: Arc<[u8]>,
    /// When the leader appended it, on the leader's clock.
    pub at: Instant,
}

/// The client id reserved for the leader's own entries: a new leader appends one
/// marker entry in its epoch before anything else, so entries of earlier epochs
/// can commit with it (Raft's rule: only an entry of the leader's own epoch is
/// committed by counting acknowledgements). Real clients use ids from 1.
pub const MARKER_CLIENT: u64 = 0;

impl Entry {
    /// An upper bound of the entry's encoded size: its bytes plus the most its
    /// numbers and length prefixes can take as varints.
    pub fn encoded_len_bound(&self) -> usize {
        const NUMBERS_MAX: usize = 10 * 6 + 5 * 3;
        self.payload.len().saturating_add(NUMBERS_MAX)
    }

    /// The marker a new leader appends; epoch and index are set when appended.
    pub fn marker(leader: NodeId, at: Instant) -> Entry {
        Entry {
            epoch: 0,
            leader,
            index: 0,
            id: ClientMsgId {
                client: MARKER_CLIENT,
                seq: 0,
            },
            payload: Arc::default(),
            at,
        }
    }

    /// The leadership that appended it.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            epoch: self.epoch,
            leader: self.leader,
        }
    }

    /// True for a leader's marker, false for a client's message.
    pub fn is_marker(&self) -> bool {
        self.id.client == MARKER_CLIENT
    }

    /// A new entry for the leader to offer; epoch and index are set when
    /// appended. What `payload` means is its writer's business (a chat
    /// message is one: see [`crate::chat`]).
    pub fn new(id: ClientMsgId, payload: impl Into<Arc<[u8]>>, at: Instant) -> Entry {
        Entry {
            epoch: 0,
            leader: NodeId(0),
            index: 0,
            id,
            payload: payload.into(),
            at,
        }
    }
}

/// An entry's payload on the wire: plain bytes, as `serde_bytes` writes
/// them, whatever holds them in memory.
mod shared_bytes {
    use serde::{Deserializer, Serializer};
    use std::sync::Arc;

    pub(super) fn serialize<S: Serializer>(payload: &Arc<[u8]>, s: S) -> Result<S::Ok, S::Error> {
        serde_bytes::serialize(&**payload, s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<[u8]>, D::Error> {
        let bytes: Box<[u8]> = serde_bytes::deserialize(d)?;
        Ok(Arc::from(bytes))
    }
}
