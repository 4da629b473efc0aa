//! Outgoing links to peers: one TCP connection per peer, opened on first use,
//! reopened with backoff and jitter after a failure, fed from a bounded queue so a
//! slow or dead peer never blocks the node (when the queue is full, the message is
//! dropped: the core copes with loss).

use crate::envelope::Preface;
use crate::frames::{frame, pump, Pumped};
use rand::Rng;
use ringleader_core::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Frames queued per peer before new ones are dropped.
const QUEUE: usize = 4096;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

struct Link {
    addr: SocketAddr,
    tx: mpsc::Sender<Vec<u8>>,
    task: JoinHandle<()>,
}

/// The node's outgoing peer links.
pub struct PeerLinks {
    me: NodeId,
    cluster: String,
    links: BTreeMap<NodeId, Link>,
    dropped: u64,
}

impl PeerLinks {
    /// No links yet; `me` and `cluster` go in every link's preface.
    pub fn new(me: NodeId, cluster: String) -> Self {
        PeerLinks {
            me,
            cluster,
            links: BTreeMap::new(),
            dropped: 0,
        }
    }

    /// Queues `bytes` (one frame) for peer `to` at `addr`.
    pub fn send(&mut self, to: NodeId, addr: SocketAddr, bytes: Vec<u8>) {
        let stale = self
            .links
            .get(&to)
            .is_some_and(|l| l.addr != addr || l.tx.is_closed());
        if stale {
            if let Some(old) = self.links.remove(&to) {
                old.task.abort();
            }
        }
        let (me, cluster) = (self.me, self.cluster.clone());
        let link = self.links.entry(to).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let task = tokio::spawn(run_link(me, cluster, to, addr, rx));
            Link { addr, tx, task }
        });
        if link.tx.try_send(bytes).is_err() {
            self.dropped += 1;
            if self.dropped.is_power_of_two() {
                tracing::warn!(peer = %to, dropped = self.dropped, "peer link queue full; dropping messages");
            }
        }
    }

    /// Stops queueing and waits (at most `grace`) for what is queued to go out:
    /// a leaving node's last words should reach its peers.
    pub async fn drain(self, grace: Duration) {
        let tasks: Vec<JoinHandle<()>> = self
            .links
            .into_values()
            .map(|l| {
                drop(l.tx);
                l.task
            })
            .collect();
        let all = async {
            for t in tasks {
                let _ = t.await;
            }
        };
        let _ = tokio::time::timeout(grace, all).await;
    }
}

/// Connects (again and again) and writes the queue to the peer.
async fn run_link(
    me: NodeId,
    cluster: String,
    to: NodeId,
    addr: SocketAddr,
    mut rx: mpsc::Receiver<Vec<u8>>,
) {
    let mut backoff = BACKOFF_MIN;
    let Some(preface) = frame(&Preface::Peer { from: me, cluster }) else {
        return;
    };
    loop {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                tracing::debug!(peer = %to, %addr, "peer link up");
                backoff = BACKOFF_MIN;
                let (_read, mut write) = stream.into_split();
                if write.write_all(&preface).await.is_ok()
                    && pump(&mut write, &mut rx).await == Pumped::QueueClosed
                {
                    let _ = write.shutdown().await;
                    return;
                }
                tracing::debug!(peer = %to, %addr, "peer link down; reconnecting");
            }
            Ok(Err(e)) => tracing::debug!(peer = %to, %addr, "cannot connect: {e}"),
            Err(_) => tracing::debug!(peer = %to, %addr, "connect timed out"),
        }
        if rx.is_closed() {
            return;
        }
        // Jitter spreads the reconnects of many nodes after a shared failure.
        let jitter = rand::rng().random_range(0.5..1.5);
        tokio::time::sleep(backoff.mul_f64(jitter)).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
        // What queued up while the peer was unreachable is stale: drop it rather
        // than replay seconds-old heartbeats.
        while rx.try_recv().is_ok() {}
    }
}
