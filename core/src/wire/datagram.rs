//! Datagrams: `MAGIC` (4 bytes), protocol version (1 byte), postcard payload.

use super::codec::decode_payload;
use super::error::{WireError, PROTOCOL_VERSION};
use serde::{de::DeserializeOwned, Serialize};

/// The first bytes of every ringleader datagram.
pub const MAGIC: [u8; 4] = *b"RLDR";
/// Bytes before the payload: magic and version.
pub const DATAGRAM_HEADER: usize = MAGIC.len() + 1;
/// Largest UDP payload over IPv4; the hard ceiling for any datagram limit.
pub const MAX_DATAGRAM: usize = 65_507;

/// Encodes `msg` as a datagram, refusing one larger than `max` bytes.
pub fn encode_datagram<T: Serialize>(msg: &T, max: usize) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&MAGIC);
    out.push(PROTOCOL_VERSION);
    let out = postcard::to_extend(msg, out).map_err(WireError::Garbage)?;
    if out.len() > max {
        return Err(WireError::Oversized {
            len: out.len(),
            max,
        });
    }
    Ok(out)
}

/// Decodes one datagram of at most `max` bytes.
pub fn decode_datagram<T: DeserializeOwned>(bytes: &[u8], max: usize) -> Result<T, WireError> {
    if bytes.len() > max {
        return Err(WireError::Oversized {
            len: bytes.len(),
            max,
        });
    }
    let Some((header, payload)) = bytes.split_at_checked(DATAGRAM_HEADER) else {
        return Err(WireError::Truncated {
            needed: DATAGRAM_HEADER,
            got: bytes.len(),
        });
    };
    let (magic, version) = header.split_at(MAGIC.len());
    if magic != MAGIC {
        return Err(WireError::WrongMagic);
    }
    match version {
        [PROTOCOL_VERSION] => decode_payload(payload),
        [v] => Err(WireError::WrongVersion(*v)),
        _ => Err(WireError::Truncated {
            needed: DATAGRAM_HEADER,
            got: bytes.len(),
        }),
    }
}
