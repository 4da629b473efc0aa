//! One entry of the log.

use crate::time::Instant;
use serde::{Deserialize, Serialize};

/// A client message's identity: the client and its own sequence number, 1, 2, 3, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientMsgId {
    /// The client.
    pub client: u64,
    /// The client's number for this message, starting at 1.
    pub seq: u64,
}

/// A committed-or-not message of the totally ordered history.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    /// Epoch of the leader that appended it.
    pub epoch: u64,
    /// Position in the log, from 1.
    pub index: u64,
    /// The client message it carries.
    pub id: ClientMsgId,
    /// Who wrote it (the chat user name).
    pub author: String,
    /// What was written.
    pub payload: Vec<u8>,
    /// When the leader appended it, on the leader's clock.
    pub at: Instant,
}

impl Entry {
    /// A new entry for the leader to offer; epoch and index are set when appended.
    pub fn new(
        id: ClientMsgId,
        author: impl Into<String>,
        payload: impl Into<Vec<u8>>,
        at: Instant,
    ) -> Entry {
        Entry {
            epoch: 0,
            index: 0,
            id,
            author: author.into(),
            payload: payload.into(),
            at,
        }
    }
}
