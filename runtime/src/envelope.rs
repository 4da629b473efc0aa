//! What the runtime wraps around the core's messages on real sockets.
//!
//! - A TCP connection starts with one [`Preface`] frame saying who is calling: a
//!   peer, a chat client, or a status query. Peers and clients share one port.
//! - A UDP datagram is one [`Datagram`]: a server message (multicast or unicast to a
//!   static peer), a client's probe for the leader, or a server's answer to it.
//! - With keys, a connection starts with an `Auth*` preface and the handshake of
//!   [`crate::auth`], and a datagram is [`Datagram::Sealed`]: the plain datagram,
//!   encoded, with its sender's numbers and tag.

use crate::auth::{ClientSecret, Sealed, NONCE_LEN};
use crate::status::Status;
use ringleader_core::wire::Message;
use ringleader_core::wire::{ClientId, ServerMsg};
use ringleader_core::NodeId;
use serde::{Deserialize, Serialize};

/// The first frame on every TCP connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preface {
    /// A peer server; its `Message` frames follow.
    Peer {
        /// The calling node.
        from: NodeId,
        /// Its cluster: a connection from another cluster is closed.
        cluster: String,
    },
    /// A chat client; its `ClientMsg` frames follow and `ServerMsg` frames answer.
    Client {
        /// The client's self-chosen id.
        id: ClientId,
        /// The secret a node gave this id on its first connection, if any.
        secret: Option<ClientSecret>,
    },
    /// `ringleader status`: the node answers with one [`StatusReply`] and closes.
    /// Status is read-only and needs no key.
    Status,
    /// A peer server that holds the cluster key; the handshake follows.
    AuthPeer {
        /// The calling node: the only sender its frames may carry.
        from: NodeId,
        /// Its cluster.
        cluster: String,
        /// Its fresh nonce.
        nonce: [u8; NONCE_LEN],
    },
    /// A chat client that holds the client key; the handshake follows.
    AuthClient {
        /// The client's self-chosen id.
        id: ClientId,
        /// Its fresh nonce.
        nonce: [u8; NONCE_LEN],
        /// The secret a node gave this id on its first connection, if any.
        secret: Option<ClientSecret>,
    },
}

/// The answer to a status query.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusReply(pub Status);

/// One UDP datagram.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Datagram {
    /// A server's message: announcements, probes and leaves.
    Server(Message),
    /// A client looking for the leader; every server answers to the source.
    ClientProbe {
        /// The client.
        client: ClientId,
    },
    /// A server's answer to a client's probe.
    ToClient(ServerMsg),
    /// One of the above, encoded as a datagram, authenticated.
    Sealed(Sealed),
}
