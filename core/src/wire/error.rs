//! The protocol version, and the typed errors of decoding.

use std::fmt;

/// Version of the wire protocol; a peer speaking another version is refused.
pub const PROTOCOL_VERSION: u8 = 1;

/// Why bytes from the network could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Fewer bytes than the header or the announced length needs.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The announced or actual size is over the limit.
    Oversized {
        /// The size seen.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// A datagram that does not start with ringleader's magic bytes.
    WrongMagic,
    /// A protocol version this node does not speak.
    WrongVersion(u8),
    /// The payload is not a valid message.
    Garbage(postcard::Error),
    /// A valid message followed by bytes that belong to nothing.
    TrailingBytes(usize),
    /// A frame whose authentication tag does not verify (the driver's check).
    Unauthentic,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated { needed, got } => {
                write!(f, "truncated: needed {needed} bytes, got {got}")
            }
            WireError::Oversized { len, max } => {
                write!(f, "oversized: {len} bytes, limit {max}")
            }
            WireError::WrongMagic => write!(f, "not a ringleader datagram (wrong magic)"),
            WireError::WrongVersion(v) => write!(
                f,
                "protocol version {v} is not supported (this node speaks {})",
                PROTOCOL_VERSION
            ),
            WireError::Garbage(e) => write!(f, "undecodable payload: {e}"),
            WireError::TrailingBytes(n) => write!(f, "{n} trailing bytes after the message"),
            WireError::Unauthentic => write!(f, "authentication tag does not verify"),
        }
    }
}

impl std::error::Error for WireError {}
