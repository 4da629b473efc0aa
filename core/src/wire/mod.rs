//! What goes over the network, and how it is encoded.
//!
//! Messages are serde enums encoded with postcard. Every encoding carries a protocol
//! version byte. Datagrams (multicast discovery) start with a magic + version header;
//! streams (TCP peer and client links) carry length-prefixed frames. Every decoder
//! enforces a size limit and returns a typed [`WireError`] for bad input: nothing
//! that arrives from the network can make it panic.

mod client;
mod codec;
mod datagram;
mod election;
mod error;
mod frame;
mod message;
mod replication;

pub use client::{
    ClientId, ClientMsg, ServerMsg, MAX_CHAT_BYTES, MAX_HISTORY, MAX_SEEN_RUNS, MAX_USER_NAME,
};
pub use datagram::{decode_datagram, encode_datagram, DATAGRAM_HEADER, MAGIC, MAX_DATAGRAM};
pub use election::ElectionMsg;
pub use error::{WireError, PROTOCOL_VERSION};
pub use frame::{encode_frame, FrameDecoder, DEFAULT_MAX_FRAME, FRAME_HEADER};
pub use message::{Announce, Message};
pub use replication::{AppendOutcome, ReplicationMsg, SNAPSHOT_PARTS_MAX};

#[cfg(test)]
mod tests;
