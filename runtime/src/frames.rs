//! Length-prefixed frames on TCP streams: reading them (dropping garbage, closing on
//! what cannot be skipped) and writing them from a bounded queue.

use crate::auth::{FrameOpener, FrameSealer, TAG_LEN};
use crate::queue::FrameRx;
use crate::ratelimit::LogLimit;
use crate::warn_limited;
use ringleader_core::wire::{encode_frame, FrameDecoder, WireError, DEFAULT_MAX_FRAME};
use serde::{de::DeserializeOwned, Serialize};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

static BAD_FRAME: LogLimit = LogLimit::new();
static CLOSED: LogLimit = LogLimit::new();
static TIMED_OUT: LogLimit = LogLimit::new();

/// How long a connection may stay silent, and how long a frame may take to
/// arrive in full once its first byte has (a slow sender holding a connection
/// open with a frame that never ends is closed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadDeadlines {
    /// Longest silence between frames.
    pub idle: Duration,
    /// Longest time from a frame's first byte to its last.
    pub frame: Duration,
}

/// Reads frames of `T` from a stream.
pub struct FrameReader<T> {
    half: OwnedReadHalf,
    decoder: FrameDecoder<T>,
    buf: Vec<u8>,
    peer: SocketAddr,
    opener: Option<FrameOpener>,
    deadlines: Option<ReadDeadlines>,
    /// When bytes last arrived (or the reader began). With nothing buffered the
    /// last bytes ended a frame, so this is when the last frame arrived.
    last_read: Instant,
    /// When the first byte of a frame not yet whole arrived.
    partial_since: Option<Instant>,
    /// Where the frames and bytes read are counted.
    flow: Option<crate::metrics::Flow>,
}

impl<T: DeserializeOwned> FrameReader<T> {
    /// Frames from `half`, whose other end is `peer` (for logs).
    pub fn new(half: OwnedReadHalf, peer: SocketAddr) -> Self {
        FrameReader {
            half,
            // Room for the tag of an authenticated connection.
            decoder: FrameDecoder::new(DEFAULT_MAX_FRAME + TAG_LEN),
            buf: vec![0; 8 * 1024],
            peer,
            opener: None,
            deadlines: None,
            last_read: Instant::now(),
            partial_since: None,
            flow: None,
        }
    }

    /// Counts the frames and bytes read on `flow`.
    pub fn counted(mut self, flow: crate::metrics::Flow) -> Self {
        self.flow = Some(flow);
        self
    }

    /// Closes the stream when `deadlines` pass.
    pub fn with_deadlines(mut self, deadlines: ReadDeadlines) -> Self {
        self.deadlines = Some(deadlines);
        self
    }

    fn deadline(&mut self) -> Option<(Instant, &'static str)> {
        let d = self.deadlines?;
        if self.decoder.buffered() > 0 {
            let since = *self.partial_since.get_or_insert_with(Instant::now);
            Some((
                since + d.frame,
                "a frame that did not arrive in full in time",
            ))
        } else {
            self.partial_since = None;
            Some((self.last_read + d.idle, "silent for too long"))
        }
    }

    /// Frames from `half`, authenticated by `opener` if there is one: a frame
    /// whose tag does not verify closes the stream.
    pub fn opened_by(half: OwnedReadHalf, peer: SocketAddr, opener: Option<FrameOpener>) -> Self {
        let mut r = Self::new(half, peer);
        r.opener = opener;
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
                Ok(Some(msg)) => {
                    self.partial_since = None;
                    if let Some(flow) = &self.flow {
                        flow.add(1, 0);
                    }
                    return Some(msg);
                }
                Ok(None) => {}
                Err(e @ (WireError::Oversized { .. } | WireError::Unauthentic)) => {
                    warn_limited!(CLOSED, peer = %self.peer, "closing the connection: {e}");
                    return None;
                }
                Err(e) => {
                    self.partial_since = None;
                    warn_limited!(BAD_FRAME, peer = %self.peer, "dropped a frame that does not decode: {e}");
                    continue;
                }
            }
            let read = match self.deadline() {
                Some((at, why)) => {
                    match tokio::time::timeout_at(at, self.half.read(&mut self.buf)).await {
                        Ok(r) => r,
                        Err(_) => {
                            warn_limited!(TIMED_OUT, peer = %self.peer, "closing the connection: {why}");
                            return None;
                        }
                    }
                }
                None => self.half.read(&mut self.buf).await,
            };
            match read {
                Ok(0) => return None,
                Ok(n) => {
                    if let Some(flow) = &self.flow {
                        flow.add(0, n as u64);
                    }
                    // One clock read per read system call, none per frame.
                    if self.deadlines.is_some() {
                        self.last_read = Instant::now();
                    }
                    self.decoder.push(self.buf.get(..n).unwrap_or_default());
                }
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
    rx: &mut FrameRx,
    mut sealer: Option<FrameSealer>,
) -> Pumped {
    // Kept while frames keep coming, freed when the queue runs dry: an idle
    // connection holds no buffer (a node may hold a thousand of them).
    let mut batch = Vec::new();
    let mut add = |batch: &mut Vec<u8>, mut frame: Vec<u8>| {
        if let Some(s) = sealer.as_mut() {
            s.seal(&mut frame);
        }
        batch.extend_from_slice(&frame);
    };
    while let Some(first) = rx.recv().await {
        add(&mut batch, first);
        let mut frames = 1;
        while batch.len() < 256 * 1024 {
            match rx.try_recv() {
                Some(more) => add(&mut batch, more),
                None => break,
            }
            frames += 1;
        }
        if let Err(e) = half.write_all(&batch).await {
            tracing::debug!("write failed: {e}");
            return Pumped::WriteFailed;
        }
        if let Some(flow) = rx.flow() {
            flow.add(frames, batch.len() as u64);
        }
        if rx.is_empty() {
            batch = Vec::new();
        } else {
            batch.clear();
        }
    }
    Pumped::QueueClosed
}

/// Writes the queue to the stream (sealed by `sealer` if there is one), then
/// closes the stream's sending side.
pub async fn write_queued(mut half: OwnedWriteHalf, mut rx: FrameRx, sealer: Option<FrameSealer>) {
    if pump(&mut half, &mut rx, sealer).await == Pumped::QueueClosed {
        let _ = half.shutdown().await;
    }
}
