//! The messages servers exchange.

use super::election::ElectionMsg;
use super::replication::ReplicationMsg;
use crate::id::{NodeId, NodeInfo};
use crate::leadership::Algorithm;
use serde::{Deserialize, Serialize};

/// A node introducing itself on the multicast channel, with the cluster it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Announce {
    /// The sender's cluster; receivers of another cluster ignore the message.
    pub cluster: String,
    /// The sender.
    pub node: NodeInfo,
}

/// A message between servers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Message {
    /// Periodic "I am here", multicast.
    Announce(Announce),
    /// "Who is there?", multicast by a starting node; every member answers directly.
    Probe(Announce),
    /// The direct answer to a probe.
    ProbeResponse(Announce),
    /// "Still alive", sent directly to every member of the view; a leader adds its claim.
    Heartbeat {
        /// The sender.
        from: NodeInfo,
        /// `Some(epoch)` when the sender leads that epoch.
        leading: Option<u64>,
    },
    /// An election message, tagged with the sender's algorithm.
    Election {
        /// The sender.
        from: NodeInfo,
        /// The algorithm the sender runs; a node running another ignores it.
        algorithm: Algorithm,
        /// The message.
        msg: ElectionMsg,
    },
    /// "I am leaving", multicast and sent directly, so peers react at once.
    Leave(Announce),
    /// A replication message (boxed: it may carry entries, and would bloat every
    /// other message).
    Replication {
        /// The sender.
        from: NodeInfo,
        /// The message.
        msg: Box<ReplicationMsg>,
    },
}

impl Message {
    /// The node that sent the message.
    pub fn from(&self) -> NodeId {
        self.sender().id
    }

    /// The sender's self-description carried by every message.
    pub fn sender(&self) -> &NodeInfo {
        match self {
            Message::Announce(a)
            | Message::Probe(a)
            | Message::ProbeResponse(a)
            | Message::Leave(a) => &a.node,
            Message::Heartbeat { from, .. }
            | Message::Election { from, .. }
            | Message::Replication { from, .. } => from,
        }
    }

    /// The cluster named in the message, where it names one.
    pub fn cluster(&self) -> Option<&str> {
        match self {
            Message::Announce(a)
            | Message::Probe(a)
            | Message::ProbeResponse(a)
            | Message::Leave(a) => Some(&a.cluster),
            Message::Heartbeat { .. } | Message::Election { .. } | Message::Replication { .. } => {
                None
            }
        }
    }

    /// A short name of the message's kind, for traces and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Announce(_) => "Announce",
            Message::Probe(_) => "Probe",
            Message::ProbeResponse(_) => "ProbeResponse",
            Message::Heartbeat { .. } => "Heartbeat",
            Message::Election { msg, .. } => msg.kind(),
            Message::Leave(_) => "Leave",
            Message::Replication { msg, .. } => msg.kind(),
        }
    }
}
