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
    /// Only keeps a session or a membership alive: a newer one in flight on
    /// the same path makes it worthless.
    pub(crate) fn is_keepalive(&self) -> bool {
        matches!(
            &self.what,
            Carried::Peer(Message::Heartbeat { .. })
                | Carried::ToServer {
                    msg: ClientMsg::Ping,
                    ..
                }
                | Carried::ToClient {
                    msg: ServerMsg::Pong,
                    ..
                }
        )
    }

    /// Says the same as `other` for [`is_keepalive`](Self::is_keepalive)'s
    /// purpose: same path, same kind, same claim of leadership.
    pub(crate) fn same_keepalive(&self, other: &InFlight) -> bool {
        if (self.from, self.to) != (other.from, other.to) {
            return false;
        }
        match (&self.what, &other.what) {
            (
                Carried::Peer(Message::Heartbeat { leading: a, .. }),
                Carried::Peer(Message::Heartbeat { leading: b, .. }),
            ) => a == b,
            (
                Carried::ToServer {
                    msg: ClientMsg::Ping,
                    life: a,
                },
                Carried::ToServer {
                    msg: ClientMsg::Ping,
                    life: b,
                },
            ) => a == b,
            (
                Carried::ToClient {
                    msg: ServerMsg::Pong,
                    conn: a,
                },
                Carried::ToClient {
                    msg: ServerMsg::Pong,
                    conn: b,
                },
            ) => a == b,
            _ => false,
        }
    }
}
