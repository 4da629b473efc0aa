//! Length-prefixed frames on TCP streams: reading them (dropping garbage, closing on
//! what cannot be skipped) and writing them from a bounded queue.

use ringleader_core::wire::{encode_frame, FrameDecoder, WireError, DEFAULT_MAX_FRAME};
use serde::{de::DeserializeOwned, Serialize};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

/// Reads frames of `T` from a stream.
pub struct FrameReader<T> {
    half: OwnedReadHalf,
    decoder: FrameDecoder<T>,
    buf: Vec<u8>,
    peer: SocketAddr,
}

impl<T: DeserializeOwned> FrameReader<T> {
    /// Frames from `half`, whose other end is `peer` (for logs).
    pub fn new(half: OwnedReadHalf, peer: SocketAddr) -> Self {
        FrameReader {
            half,
            decoder: FrameDecoder::new(DEFAULT_MAX_FRAME),
            buf: vec![0; 64 * 1024],
            peer,
        }
    }

    /// The next frame that decodes; `None` when the stream ended or must be closed
    /// (an oversized length cannot be skipped). Frames that do not decode are
    /// logged and skipped: the link goes on.
    pub async fn next(&mut self) -> Option<T> {
        loop {
            match self.decoder.next_frame() {
                Ok(Some(msg)) => return Some(msg),
                Ok(None) => {}
                Err(e @ WireError::Oversized { .. }) => {
                    tracing::warn!(peer = %self.peer, "closing the connection: {e}");
                    return None;
                }
                Err(e) => {
                    tracing::warn!(peer = %self.peer, "dropped a frame that does not decode: {e}");
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

/// Writes queued frames to `half` until the queue closes or a write fails. Frames
/// waiting together go out in one write, so a burst costs one system call.
pub async fn pump(half: &mut OwnedWriteHalf, rx: &mut mpsc::Receiver<Vec<u8>>) -> Pumped {
    let mut batch = Vec::with_capacity(64 * 1024);
    while let Some(first) = rx.recv().await {
        batch.clear();
        batch.extend_from_slice(&first);
        while batch.len() < 256 * 1024 {
            match rx.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
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

/// Writes the queue to the stream, then closes the stream's sending side.
pub async fn write_queued(mut half: OwnedWriteHalf, mut rx: mpsc::Receiver<Vec<u8>>) {
    if pump(&mut half, &mut rx).await == Pumped::QueueClosed {
        let _ = half.shutdown().await;
    }
}
