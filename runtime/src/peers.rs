//! Links to peers: one TCP connection per pair of nodes, used both ways. The node
//! with the lower id dials (on first use; again with backoff and jitter after a
//! failure) and reads the other's messages from the same connection; the higher
//! one sends on the connection it accepted. Each direction is fed from a bounded
//! queue, so a slow or dead peer never blocks the node: when the queue is full, or
//! the lower peer has not dialled yet, the message is dropped (the core copes with
//! loss, and the lower peer dials at its first message, a heartbeat at the latest).

use crate::envelope::Preface;
use crate::frames::{frame, pump, FrameReader, Pumped};
use crate::listener::Input;
use rand::Rng;
use ringleader_core::wire::Message;
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

/// The node's peer links.
pub struct PeerLinks {
    me: NodeId,
    cluster: String,
    /// Links this node dialled (to peers with a higher id).
    links: BTreeMap<NodeId, Link>,
    /// Links peers with a lower id dialled: (connection number, queue to it).
    accepted: BTreeMap<NodeId, (u64, mpsc::Sender<Vec<u8>>)>,
    /// Where messages read from dialled links go.
    inbox: mpsc::Sender<Input>,
    dropped: u64,
}

impl PeerLinks {
    /// No links yet; `me` and `cluster` go in every link's preface, and messages
    /// that arrive on dialled links go to `inbox`.
    pub fn new(me: NodeId, cluster: String, inbox: mpsc::Sender<Input>) -> Self {
        PeerLinks {
            me,
            cluster,
            links: BTreeMap::new(),
            accepted: BTreeMap::new(),
            inbox,
            dropped: 0,
        }
    }

    /// A lower peer dialled in: send to it on that connection from now on.
    pub fn accepted(&mut self, from: NodeId, conn: u64, tx: mpsc::Sender<Vec<u8>>) {
        if self.accepted.get(&from).is_none_or(|(c, _)| *c < conn) {
            self.accepted.insert(from, (conn, tx));
        }
    }

    /// A dialled-in connection closed.
    pub fn closed(&mut self, from: NodeId, conn: u64) {
        if self.accepted.get(&from).is_some_and(|(c, _)| *c == conn) {
            self.accepted.remove(&from);
        }
    }

    fn dropping(&mut self, to: NodeId, why: &str) {
        self.dropped += 1;
        if self.dropped.is_power_of_two() {
            tracing::warn!(peer = %to, dropped = self.dropped, "dropping messages to a peer: {why}");
        }
    }

    /// Queues `bytes` (one frame) for peer `to` at `addr`.
    pub fn send(&mut self, to: NodeId, addr: SocketAddr, bytes: Vec<u8>) {
        if to < self.me {
            // The lower peer dials; until it has, there is no link to it.
            match self.accepted.get(&to) {
                Some((_, tx)) => {
                    if tx.try_send(bytes).is_err() {
                        self.dropping(to, "its queue is full or its link closed");
                    }
                }
                None => tracing::trace!(peer = %to, "no link yet from the lower peer"),
            }
            return;
        }
        let stale = self
            .links
            .get(&to)
            .is_some_and(|l| l.addr != addr || l.tx.is_closed());
        if stale {
            if let Some(old) = self.links.remove(&to) {
                old.task.abort();
            }
        }
        let (me, cluster, inbox) = (self.me, self.cluster.clone(), self.inbox.clone());
        let link = self.links.entry(to).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let task = tokio::spawn(run_link(me, cluster, to, addr, rx, inbox));
            Link { addr, tx, task }
        });
        if link.tx.try_send(bytes).is_err() {
            self.dropping(to, "its queue is full");
        }
    }

    /// Stops queueing and waits (at most `grace`) for what is queued to go out:
    /// a leaving node's last words should reach its peers.
    pub async fn drain(self, grace: Duration) {
        drop(self.accepted); // their writers flush what is queued, then close
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

/// Connects (again and again), writes the queue to the peer and hands what the
/// peer sends back on the same connection to the node.
async fn run_link(
    me: NodeId,
    cluster: String,
    to: NodeId,
    addr: SocketAddr,
    mut rx: mpsc::Receiver<Vec<u8>>,
    inbox: mpsc::Sender<Input>,
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
                let (read, mut write) = stream.into_split();
                let reader = tokio::spawn(read_back(read, addr, to, inbox.clone()));
                let ended = if write.write_all(&preface).await.is_ok() {
                    pump(&mut write, &mut rx).await
                } else {
                    Pumped::WriteFailed
                };
                if ended == Pumped::QueueClosed {
                    let _ = write.shutdown().await;
                    reader.abort();
                    return;
                }
                reader.abort();
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

/// Hands the messages a dialled peer sends back to the node.
async fn read_back(
    read: tokio::net::tcp::OwnedReadHalf,
    addr: SocketAddr,
    from: NodeId,
    inbox: mpsc::Sender<Input>,
) {
    let mut frames = FrameReader::<Message>::new(read, addr);
    while let Some(msg) = frames.next().await {
        if msg.from() != from {
            tracing::warn!(%addr, "dropped a message whose sender is not the link's peer");
            continue;
        }
        if inbox.send(Input::Peer(msg)).await.is_err() {
            return;
        }
    }
}
