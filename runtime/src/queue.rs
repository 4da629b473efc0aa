//! Write queues of connections, bounded in frames and in bytes: a peer or a
//! client that does not read cannot make the node hold more than the byte
//! bound for it, however large the frames.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Why a frame was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueError {
    /// The queue holds its bound of frames or bytes: the reader is too slow.
    Full,
    /// The writer is gone.
    Closed,
}

/// The sending side of a frame queue.
#[derive(Clone, Debug)]
pub struct FrameTx {
    tx: mpsc::Sender<Vec<u8>>,
    bytes: Arc<AtomicUsize>,
    limit: usize,
}

/// The receiving side (the connection's writer).
#[derive(Debug)]
pub struct FrameRx {
    rx: mpsc::Receiver<Vec<u8>>,
    bytes: Arc<AtomicUsize>,
    flow: Option<crate::metrics::Flow>,
}

/// A queue of at most `frames` frames and `bytes` bytes.
pub fn frame_queue(frames: usize, bytes: usize) -> (FrameTx, FrameRx) {
    let (tx, rx) = mpsc::channel(frames.max(1));
    let counted = Arc::new(AtomicUsize::new(0));
    (
        FrameTx {
            tx,
            bytes: counted.clone(),
            limit: bytes,
        },
        FrameRx {
            rx,
            bytes: counted,
            flow: None,
        },
    )
}

impl FrameTx {
    /// Queues `frame` unless the queue is full (in frames or bytes) or closed.
    pub fn try_send(&self, frame: Vec<u8>) -> Result<(), QueueError> {
        let len = frame.len();
        if self.tx.is_closed() {
            return Err(QueueError::Closed);
        }
        // One frame may always wait, whatever its size, so nothing is refused for
        // being large alone.
        let queued = self.bytes.load(Ordering::Relaxed);
        if queued > 0 && queued.saturating_add(len) > self.limit {
            return Err(QueueError::Full);
        }
        self.bytes.fetch_add(len, Ordering::Relaxed);
        self.tx.try_send(frame).map_err(|e| {
            self.bytes.fetch_sub(len, Ordering::Relaxed);
            match e {
                mpsc::error::TrySendError::Full(_) => QueueError::Full,
                mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
            }
        })
    }

    /// Bytes waiting.
    pub fn queued_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

impl FrameRx {
    /// Counts the frames and bytes written from this queue on `flow`.
    pub fn counted(mut self, flow: crate::metrics::Flow) -> Self {
        self.flow = Some(flow);
        self
    }

    /// Where what is written is counted.
    pub fn flow(&self) -> Option<&crate::metrics::Flow> {
        self.flow.as_ref()
    }

    /// The next frame; `None` once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        let frame = self.rx.recv().await?;
        self.bytes.fetch_sub(frame.len(), Ordering::Relaxed);
        Some(frame)
    }

    /// Whether no frame waits.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// The next frame if one waits.
    pub fn try_recv(&mut self) -> Option<Vec<u8>> {
        let frame = self.rx.try_recv().ok()?;
        self.bytes.fetch_sub(frame.len(), Ordering::Relaxed);
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_queue_is_bounded_in_bytes_and_frees_what_is_taken() {
        let (tx, mut rx) = frame_queue(100, 1000);
        assert_eq!(
            tx.try_send(vec![0; 2000]),
            Ok(()),
            "one large frame may wait"
        );
        assert_eq!(tx.try_send(vec![0; 1]), Err(QueueError::Full));
        assert_eq!(rx.recv().await.map(|f| f.len()), Some(2000));
        assert_eq!(tx.queued_bytes(), 0);
        for _ in 0..10 {
            assert_eq!(tx.try_send(vec![0; 100]), Ok(()));
        }
        assert_eq!(tx.try_send(vec![0; 100]), Err(QueueError::Full));
        assert!(rx.try_recv().is_some());
        assert_eq!(tx.try_send(vec![0; 100]), Ok(()));
        drop(rx);
        assert_eq!(tx.try_send(vec![0; 1]), Err(QueueError::Closed));
    }
}
