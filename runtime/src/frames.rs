//! Length-prefixed frames on TCP streams: reading them (dropping garbage, closing on
//! what cannot be skipped) and writing them from a bounded queue.

use crate::auth::{FrameOpener, FrameSealer, TAG_LEN};
use crate::ratelimit::LogLimit;
use crate::warn_limited;
use ringleader_core::wire::{encode_frame, FrameDecoder, WireError, DEFAULT_MAX_FRAME};
use serde::{de::DeserializeOwned, Serialize};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

static BAD_FRAME: LogLimit = LogLimit::new();
static CLOSED: LogLimit = LogLimit::new();

/// Reads frames of `T` from a stream.
pub struct FrameReader<T> {
    half: OwnedReadHalf,
    decoder: FrameDecoder<T>,
    buf: Vec<u8>,
    peer: SocketAddr,
    opener: Option<FrameOpener>,
}

impl<T: DeserializeOwned> FrameReader<T> {
    /// Frames from `half`, whose other end is `peer` (for logs).
    pub fn new(half: OwnedReadHalf, peer: SocketAddr) -> Self {
        FrameReader {
            half,
            // Room for the tag of an authenticated connection.
            decoder: FrameDecoder::new(DEFAULT_MAX_FRAME + TAG_LEN),
            buf: vec![0; 64 * 1024],
            peer,
            opener: None,
        }
    }

    /// Frames from `half` that must carry tags `opener` verifies; the first
    /// that does not closes the stream.
    pub fn authenticated(half: OwnedReadHalf, peer: SocketAddr, opener: FrameOpener) -> Self {
        let mut r = Self::new(half, peer);
        r.opener = Some(opener);
        r
    }

    /// The next frame that decodes; `None` when the stream ended or must be closed
    /// (an oversized length cannot be skipped). Frames that do not decode are
    /// logged and skipped: the link goes on.
    pub async fn next(&mut self) -> Option<T> {
        loop {
            let opener = &mut self.opener;
            let next = self.decoder.next_frame_opened(|body| match opener {
                Some(o) => o.open(body),
                None => Some(body.len()),
            });
            match next {
                Ok(Some(msg)) => return Some(msg),
                Ok(None) => {}
                Err(e @ (WireError::Oversized { .. } | WireError::Unauthentic)) => {
                    warn_limited!(CLOSED, peer = %self.peer, "closing the connection: {e}");
                    return None;
                }
                Err(e) => {
                    warn_limited!(BAD_FRAME, peer = %self.peer, "dropped a frame that does not decode: {e}");
                    continue;
                }
            }
            match self.half.read(&mut self.buf).await {
                Ok(0) => return None,
                Ok(n) => self.decoder.push(self.buf.get(..n).unwrap_or_default()),
                Err(e) => {
                    tracing::debug!(peer = %self.peer, "read failed: {e}");
                    return None;
                }
            }
        }
    }
}

/// Reads exactly one small frame (a connection's preface), no byte further, so
/// the frames after it are left for the reader of the link's own type.
pub async fn read_one<T: DeserializeOwned>(
    half: &mut OwnedReadHalf,
    max: usize,
) -> Result<T, String> {
    let mut header = [0u8; ringleader_core::wire::FRAME_HEADER];
    half.read_exact(&mut header)
        .await
        .map_err(|e| format!("no preface: {e}"))?;
    let len = u32::from_be_bytes(header) as usize;
    if len > max {
        return Err(format!("preface of {len} bytes, limit {max}"));
    }
    let mut bytes = header.to_vec();
    bytes.resize(header.len() + len, 0);
    half.read_exact(bytes.get_mut(header.len()..).unwrap_or_default())
        .await
        .map_err(|e| format!("truncated preface: {e}"))?;
    FrameDecoder::<T>::decode_one(&bytes, max).map_err(|e| format!("bad preface: {e}"))
}

/// Encodes `msg` as one frame; `None` (logged) if it is too large to send.
pub fn frame<T: Serialize>(msg: &T) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match encode_frame(msg, &mut out, DEFAULT_MAX_FRAME) {
        Ok(()) => Some(out),
        Err(e) => {
            tracing::error!("not sent: {e}");
            None
        }
    }
}

/// How [`pump`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Pumped {
    /// The sending side dropped the queue: nothing more to write.
    QueueClosed,
    /// A write failed: the stream is gone.
    WriteFailed,
}

/// Writes queued frames to `half` until the queue closes or a write fails, each
/// sealed by `sealer` if there is one. Frames waiting together go out in one
/// write, so a burst costs one system call.
pub async fn pump(
    half: &mut OwnedWriteHalf,
    rx: &mut mpsc::Receiver<Vec<u8>>,
    mut sealer: Option<FrameSealer>,
) -> Pumped {
    let mut batch = Vec::with_capacity(64 * 1024);
    let mut add = |batch: &mut Vec<u8>, mut frame: Vec<u8>| {
        if let Some(s) = sealer.as_mut() {
            s.seal(&mut frame);
        }
        batch.extend_from_slice(&frame);
    };
    while let Some(first) = rx.recv().await {
        batch.clear();
        add(&mut batch, first);
        while batch.len() < 256 * 1024 {
            match rx.try_recv() {
                Ok(more) => add(&mut batch, more),
                Err(_) => break,
            }
        }
        if let Err(e) = half.write_all(&batch).await {
            tracing::debug!("write failed: {e}");
            return Pumped::WriteFailed;
        }
    }
    Pumped::QueueClosed
}

/// Writes the queue to the stream (sealed by `sealer` if there is one), then
/// closes the stream's sending side.
pub async fn write_queued(
    mut half: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Vec<u8>>,
    sealer: Option<FrameSealer>,
) {
    if pump(&mut half, &mut rx, sealer).await == Pumped::QueueClosed {
        let _ = half.shutdown().await;
    }
}
