//! What goes over the network, and how it is encoded.
//!
//! Messages are serde enums encoded with postcard. Every encoding carries a protocol
//! version byte. Datagrams (multicast discovery) start with a magic + version header;
//! streams (TCP peer and client links) carry length-prefixed frames. Every decoder
//! enforces a size limit and returns a typed [`WireError`] for bad input: nothing
//! that arrives from the network can make it panic.

mod client;
mod datagram;
mod error;
mod frame;
mod message;
mod replication;

pub use client::{ClientId, ClientMsg, ServerMsg, MAX_CHAT_BYTES, MAX_HISTORY, MAX_USER_NAME};
pub use datagram::{decode_datagram, encode_datagram, DATAGRAM_HEADER, MAGIC, MAX_DATAGRAM};
pub use error::WireError;
pub use frame::{encode_frame, FrameDecoder, DEFAULT_MAX_FRAME, FRAME_HEADER};
pub use message::{Announce, Message};
pub use replication::{AppendOutcome, ReplicationMsg};

/// Version of the wire protocol; a peer speaking another version is refused.
pub const PROTOCOL_VERSION: u8 = 1;

/// Decodes a postcard payload that must use up all of `bytes`.
fn decode_payload<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    let (value, rest) = postcard::take_from_bytes(bytes).map_err(WireError::Garbage)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(WireError::TrailingBytes(rest.len()))
    }
}

#[cfg(test)]
mod tests;
