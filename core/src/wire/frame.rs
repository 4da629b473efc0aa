//! Stream frames: a 4-byte big-endian length, then the version byte and the postcard
//! payload. The length counts the version byte and the payload.

use super::codec::decode_payload;
use super::error::{WireError, PROTOCOL_VERSION};
use serde::{de::DeserializeOwned, Serialize};
use std::marker::PhantomData;

/// Bytes of the length prefix.
pub const FRAME_HEADER: usize = 4;
/// Default largest frame body (version byte + payload): 1 MiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;
/// Room a decoder keeps between frames.
const RETAINED: usize = 64 * 1024;

/// Appends `msg` to `out` as one frame, refusing a body larger than `max` bytes.
/// On error `out` is left as it was.
pub fn encode_frame<T: Serialize>(msg: &T, out: &mut Vec<u8>, max: usize) -> Result<(), WireError> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    out.push(PROTOCOL_VERSION);
    let body_start = start + FRAME_HEADER;
    let result = postcard::to_io(msg, &mut *out)
        .map(|_| ())
        .map_err(WireError::Garbage);
    let body_len = out.len() - body_start;
    let checked = result.and_then(|()| {
        if body_len > max {
            Err(WireError::Oversized { len: body_len, max })
        } else {
            u32::try_from(body_len).map_err(|_| WireError::Oversized { len: body_len, max })
        }
    });
    match checked {
        Ok(len) => {
            if let Some(prefix) = out.get_mut(start..body_start) {
                prefix.copy_from_slice(&len.to_be_bytes());
            }
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Cuts a byte stream into frames and decodes them.
///
/// Feed it whatever the socket read with [`push`](Self::push), then call
/// [`next_frame`](Self::next_frame) until it returns `Ok(None)`. A frame whose body does
/// not decode is skipped (the error is returned once, the stream stays usable). An
/// oversized length prefix cannot be skipped safely: the decoder stays failed and
/// the caller should close the connection.
#[derive(Debug)]
pub struct FrameDecoder<T> {
    buf: Vec<u8>,
    read: usize,
    max: usize,
    failed: Option<WireError>,
    _msg: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> FrameDecoder<T> {
    /// A decoder that accepts frame bodies of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameDecoder {
            buf: Vec::new(),
            read: 0,
            max,
            failed: None,
            _msg: PhantomData,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        // Reclaim consumed space before growing, so a long-lived link does not creep.
        if self.read > 0 && self.read * 2 >= self.buf.len() {
            self.buf.drain(..self.read);
            self.read = 0;
            // One large frame must not keep its room for the connection's life.
            let keep = self.buf.len().max(RETAINED);
            if self.buf.capacity() > 2 * keep {
                self.buf.shrink_to(keep);
            }
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.read
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<T>, WireError> {
        self.next_frame_opened(|body| Some(body.len()))
    }

    /// The next complete frame whose body `open` accepts: `open` sees the whole
    /// body (version byte, payload, and whatever the driver appended, such as
    /// an authentication tag) and returns how many of its first bytes are the
    /// frame proper, or `None` to refuse it. A refused frame fails the decoder
    /// for good ([`WireError::Unauthentic`]): the stream cannot be trusted.
    pub fn next_frame_opened(
        &mut self,
        open: impl FnOnce(&[u8]) -> Option<usize>,
    ) -> Result<Option<T>, WireError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let pending = self.buf.get(self.read..).unwrap_or_default();
        let Some((prefix, rest)) = pending.split_first_chunk::<FRAME_HEADER>() else {
            return Ok(None);
        };
        let len = usize::try_from(u32::from_be_bytes(*prefix)).unwrap_or(usize::MAX);
        if len > self.max {
            let e = WireError::Oversized { len, max: self.max };
            self.failed = Some(e.clone());
            return Err(e);
        }
        let Some(sealed) = rest.get(..len) else {
            return Ok(None);
        };
        self.read += FRAME_HEADER + len;
        let Some(body) = open(sealed).and_then(|n| sealed.get(..n)) else {
            self.failed = Some(WireError::Unauthentic);
            return Err(WireError::Unauthentic);
        };
        match body.split_first() {
            None => Err(WireError::Truncated { needed: 1, got: 0 }),
            Some((&PROTOCOL_VERSION, payload)) => decode_payload(payload).map(Some),
            Some((&v, _)) => Err(WireError::WrongVersion(v)),
        }
    }

    /// Decodes `bytes` as exactly one complete frame.
    pub fn decode_one(bytes: &[u8], max: usize) -> Result<T, WireError> {
        let mut d = Self::new(max);
        d.push(bytes);
        match d.next_frame()? {
            Some(msg) if d.buffered() == 0 => Ok(msg),
            Some(_) => Err(WireError::TrailingBytes(d.buffered())),
            None => {
                let needed = bytes
                    .first_chunk::<FRAME_HEADER>()
                    .map(|p| FRAME_HEADER + u32::from_be_bytes(*p) as usize)
                    .unwrap_or(FRAME_HEADER);
                Err(WireError::Truncated {
                    needed,
                    got: bytes.len(),
                })
            }
        }
    }
}
