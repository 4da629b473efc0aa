//! What travels between the explorer's endpoints: the servers, by index, and
//! the client, numbered after them (index = the number of servers).

use ringleader_core::wire::{ClientMsg, Message, ServerMsg};

/// What a message in flight carries.
#[derive(Clone, Debug)]
pub(crate) enum Carried {
    /// A message between two servers.
    Peer(Message),
    /// From the client: on its connection to the server's life `life`, or a
    /// probe datagram (`None`) that reaches whichever life is up.
    ToServer { msg: ClientMsg, life: Option<u64> },
    /// The client closed its connection to the server's life `life`.
    Closed { life: u64 },
    /// To the client: on its connection `conn`, or a datagram (`None`).
    ToClient { msg: ServerMsg, conn: Option<u64> },
    /// The server closed the client's connection `conn`.
    Reset { conn: u64 },
}

/// A message on its way.
#[derive(Clone, Debug)]
pub(crate) struct InFlight {
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) what: Carried,
    /// The move it was sent in (for the viewer; not part of the state).
    pub(crate) sent: u64,
}

impl InFlight {
    /// `what` from `from` to `to` (the move it leaves in is set when it is sent).
    pub(crate) fn new(from: usize, to: usize, what: Carried) -> Self {
        InFlight {
            from,
            to,
            what,
            sent: 0,
        }
    }

    /// What it says if it only keeps a session or a membership alive: its
    /// kind and what tells two of a kind apart (the leadership a heartbeat
    /// claims, the connection a ping or pong travels on).
    fn keepalive(&self) -> Option<(u8, Option<u64>)> {
        match &self.what {
            Carried::Peer(Message::Heartbeat { leading, .. }) => Some((0, *leading)),
            Carried::ToServer {
                msg: ClientMsg::Ping,
                life,
            } => Some((1, *life)),
            Carried::ToClient {
                msg: ServerMsg::Pong,
                conn,
            } => Some((2, *conn)),
            _ => None,
        }
    }

    /// Only keeps a session or a membership alive: a newer one in flight on
    /// the same path makes it worthless.
    pub(crate) fn is_keepalive(&self) -> bool {
        self.keepalive().is_some()
    }

    /// Says the same as `other` for [`is_keepalive`](Self::is_keepalive)'s
    /// purpose: same path, same kind, same claim.
    pub(crate) fn same_keepalive(&self, other: &InFlight) -> bool {
        (self.from, self.to) == (other.from, other.to)
            && self.keepalive().is_some()
            && self.keepalive() == other.keepalive()
    }
}
