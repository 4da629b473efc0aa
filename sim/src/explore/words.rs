//! The explorer's moves and messages in words, as scripts' comments, the
//! printed path and the trace viewer show them.

use super::flight::{Carried, InFlight};
use ringleader_core::wire::Message;
use std::fmt;

pub(super) fn node_name(i: usize) -> String {
    format!("n{}", i + 1)
}

/// A node's name, or the client's (numbered after the `nodes` nodes).
fn endpoint_name(i: usize, nodes: usize) -> String {
    if i == nodes {
        "c1".to_owned()
    } else {
        node_name(i)
    }
}

/// Who sends `f` to whom and what it carries: `n1 -> c1 Ack #1` (the client
/// is numbered after the `nodes` nodes).
pub(super) fn path(f: &InFlight, nodes: usize) -> String {
    format!(
        "{} -> {} {}",
        endpoint_name(f.from, nodes),
        endpoint_name(f.to, nodes),
        label(&f.what)
    )
}

/// What a message in flight carries, as the trace shows it.
pub(super) fn label(what: &Carried) -> String {
    match what {
        Carried::Peer(msg) => Label(msg).to_string(),
        Carried::ToServer { msg, .. } => msg.to_string(),
        Carried::Closed { .. } => "close".to_owned(),
        Carried::ToClient { msg, .. } => msg.to_string(),
        Carried::Reset { .. } => "reset".to_owned(),
    }
}

/// A message as the trace shows it, kind and sender.
struct Label<'a>(&'a Message);

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Message::Election { msg, .. } => write!(f, "{msg}"),
            Message::Replication { msg, .. } => write!(f, "{msg}"),
            Message::Heartbeat {
                leading: Some(e), ..
            } => write!(f, "Heartbeat leads e{e}"),
            other => write!(f, "{}", other.kind()),
        }
    }
}
