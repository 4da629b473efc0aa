//! Peer links on real sockets. Every decision — when to dial, how long to back
//! off, what waits and what is dropped — is made by the core's sans-IO
//! [`Links`]; this module only opens TCP connections, moves frames, and reports
//! back what the sockets did.

use crate::auth::{FrameOpener, Key};
use crate::envelope::Preface;
use crate::frames::{frame, pump, FrameReader, Pumped};
use crate::listener::Input;
use crate::queue::{frame_queue, FrameTx, QueueError};
use crate::ratelimit::LogLimit;
use crate::secure_link;
use crate::warn_limited;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ringleader_core::link::{LinkAction, LinkConfig, LinkFailure, Links};
use ringleader_core::wire::Message;
use ringleader_core::{Incarnation, Instant, NodeId};
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Frames one connection's writer holds before the link counts as stalled.
const CONN_QUEUE: usize = 4096;
/// Bytes one connection's writer holds before the link counts as stalled.
const CONN_QUEUE_BYTES: usize = 32 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

static HANDSHAKE_FAILED: LogLimit = LogLimit::new();
static FOREIGN_SENDER: LogLimit = LogLimit::new();

/// What became of a dial, or of a dialled connection, reported to the node.
#[derive(Debug)]
pub enum DialNews {
    /// Up: frames for the peer go to `tx`.
    Up(FrameTx),
    /// Could not connect, or the connection ended.
    Failed(LinkFailure),
}

/// The node's peer links.
pub struct PeerLinks {
    me: NodeId,
    cluster: String,
    /// The cluster key: links are authenticated with it when there is one.
    key: Option<Key>,
    links: Links,
    /// Connections up, by peer and number: their write queues.
    conns: BTreeMap<(NodeId, u64), FrameTx>,
    tasks: Vec<JoinHandle<()>>,
    /// Where news of dialled connections and the messages read from them go.
    inbox: mpsc::Sender<Input>,
    out: Vec<LinkAction>,
    dropped_reported: u64,
    /// Lives of peers the links proved over, for the node to hear of.
    gone: Vec<(NodeId, Incarnation)>,
    /// Where the links' frames are counted.
    traffic: crate::metrics::Traffic,
}

impl PeerLinks {
    /// No links yet; `me` and `cluster` go in every link's preface, `key`
    /// authenticates them, and what happens on dialled links goes to `inbox`.
    pub fn new(
        me: NodeId,
        (cluster, key): (String, Option<Key>),
        config: LinkConfig,
        seed: u64,
        (inbox, traffic): (mpsc::Sender<Input>, crate::metrics::Traffic),
    ) -> Self {
        PeerLinks {
            me,
            cluster,
            key,
            links: Links::new(me, config, ChaCha8Rng::seed_from_u64(seed)),
            conns: BTreeMap::new(),
            tasks: Vec::new(),
            inbox,
            out: Vec::new(),
            dropped_reported: 0,
            gone: Vec::new(),
            traffic,
        }
    }

    /// Peer lives proven over since the last call (see [`LinkAction::ProcessGone`]).
    pub fn take_gone(&mut self) -> Vec<(NodeId, Incarnation)> {
        std::mem::take(&mut self.gone)
    }

    /// Bytes waiting in the links' write queues.
    pub fn queued_bytes(&self) -> usize {
        self.conns.values().map(FrameTx::queued_bytes).sum()
    }

    /// When [`tick`](Self::tick) is next due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.links.next_deadline()
    }

    /// Sends `msg` to `peer` (its address is looked up by `addr_of` if it must
    /// be dialled).
    pub fn send(
        &mut self,
        now: Instant,
        peer: NodeId,
        msg: Message,
        addr_of: impl Fn(NodeId) -> Option<SocketAddr>,
    ) {
        let mut out = std::mem::take(&mut self.out);
        self.links.send(now, peer, msg, &mut out);
        self.carry_out(now, &mut out, &addr_of);
        self.out = out;
    }

    /// `peer` was heard from (any message) in life `life`: a link in backoff
    /// dials at once, one up to an older life dials anew.
    pub fn heard_from(
        &mut self,
        now: Instant,
        peer: NodeId,
        life: Incarnation,
        addr_of: impl Fn(NodeId) -> Option<SocketAddr>,
    ) {
        let mut out = std::mem::take(&mut self.out);
        self.links.heard_from(now, peer, life, &mut out);
        self.carry_out(now, &mut out, &addr_of);
        self.out = out;
    }

    /// Time passed.
    pub fn tick(&mut self, now: Instant, addr_of: impl Fn(NodeId) -> Option<SocketAddr>) {
        let mut out = std::mem::take(&mut self.out);
        self.links.tick(now, &mut out);
        self.carry_out(now, &mut out, &addr_of);
        self.out = out;
    }

    /// News of connection `conn` to `peer`: dialled, or ended.
    pub fn news(
        &mut self,
        now: Instant,
        peer: NodeId,
        conn: u64,
        news: DialNews,
        addr_of: impl Fn(NodeId) -> Option<SocketAddr>,
    ) {
        let mut out = std::mem::take(&mut self.out);
        match news {
            DialNews::Up(tx) => {
                tracing::debug!(%peer, conn, "peer link up");
                self.conns.insert((peer, conn), tx);
                self.links.connected(now, peer, conn, &mut out);
            }
            DialNews::Failed(why) => {
                tracing::debug!(%peer, conn, ?why, "peer link down");
                self.conns.remove(&(peer, conn));
                self.links.failed(now, peer, conn, why, &mut out);
            }
        }
        self.carry_out(now, &mut out, &addr_of);
        self.out = out;
    }

    fn carry_out(
        &mut self,
        now: Instant,
        out: &mut Vec<LinkAction>,
        addr_of: &dyn Fn(NodeId) -> Option<SocketAddr>,
    ) {
        // Carrying out may fail a connection, which may ask for more: go on
        // until nothing is left.
        while !out.is_empty() {
            let mut more = Vec::new();
            for action in out.drain(..) {
                match action {
                    LinkAction::Dial { peer, conn } => match addr_of(peer) {
                        Some(addr) => self.dial(peer, conn, addr),
                        None => {
                            self.links
                                .failed(now, peer, conn, LinkFailure::TimedOut, &mut more)
                        }
                    },
                    LinkAction::Write { peer, conn, msg } => {
                        self.write(now, peer, conn, &msg, &mut more);
                    }
                    LinkAction::Close { peer, conn } => {
                        self.conns.remove(&(peer, conn));
                    }
                    LinkAction::ProcessGone { peer, life } => self.gone.push((peer, life)),
                }
            }
            *out = more;
        }
        self.report_drops();
    }

    fn write(
        &mut self,
        now: Instant,
        peer: NodeId,
        conn: u64,
        msg: &Message,
        more: &mut Vec<LinkAction>,
    ) {
        let Some(bytes) = frame(msg) else {
            return;
        };
        let failure = match self.conns.get(&(peer, conn)).map(|tx| tx.try_send(bytes)) {
            Some(Ok(())) => return,
            Some(Err(QueueError::Full)) => LinkFailure::Stalled,
            Some(Err(QueueError::Closed)) | None => LinkFailure::Reset,
        };
        self.conns.remove(&(peer, conn));
        self.links.failed(now, peer, conn, failure, more);
    }

    fn dial(&mut self, peer: NodeId, conn: u64, addr: SocketAddr) {
        self.tasks.retain(|t| !t.is_finished());
        let link = DialledLink {
            me: self.me,
            cluster: self.cluster.clone(),
            key: self.key.clone(),
            peer,
            conn,
            addr,
            inbox: self.inbox.clone(),
            traffic: self.traffic.clone(),
        };
        self.tasks.push(tokio::spawn(link.run()));
    }

    fn report_drops(&mut self) {
        let dropped = self.links.stats().dropped;
        if dropped > self.dropped_reported && dropped.is_power_of_two() {
            tracing::warn!(
                dropped,
                "dropped messages to peers (queue full or stale while a link was down)"
            );
        }
        self.dropped_reported = self.dropped_reported.max(dropped);
    }

    /// Stops and waits (at most `grace`) for what is queued to go out: a
    /// leaving node's last words should reach its peers.
    pub async fn drain(mut self, grace: Duration) {
        let mut out = Vec::new();
        self.links.close_all(&mut out);
        drop(self.conns); // writers flush what is queued, then close
        let tasks = std::mem::take(&mut self.tasks);
        let all = async {
            for t in tasks {
                let _ = t.await;
            }
        };
        let _ = tokio::time::timeout(grace, all).await;
    }
}

/// One connection this node dials.
struct DialledLink {
    me: NodeId,
    cluster: String,
    key: Option<Key>,
    peer: NodeId,
    conn: u64,
    addr: SocketAddr,
    inbox: mpsc::Sender<Input>,
    traffic: crate::metrics::Traffic,
}

impl DialledLink {
    async fn tell(&self, news: DialNews) -> bool {
        let input = Input::Link {
            peer: self.peer,
            conn: self.conn,
            news,
        };
        self.inbox.send(input).await.is_ok()
    }

    /// Connects, reports the outcome, writes what the node queues, and reports
    /// the end. The peer answers on a connection of its own; this one is read
    /// only to notice its end (and, from an older peer, any frame it sends).
    async fn run(self) {
        let stream =
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(self.addr)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    let why = if e.kind() == io::ErrorKind::ConnectionRefused {
                        LinkFailure::Refused
                    } else {
                        LinkFailure::Reset
                    };
                    tracing::debug!(peer = %self.peer, addr = %self.addr, "cannot connect: {e}");
                    self.tell(DialNews::Failed(why)).await;
                    return;
                }
                Err(_) => {
                    self.tell(DialNews::Failed(LinkFailure::TimedOut)).await;
                    return;
                }
            };
        let _ = stream.set_nodelay(true);
        let (mut read, mut write) = stream.into_split();
        let (me, cluster) = (self.me, self.cluster.clone());
        let plain = Preface::Peer {
            from: me,
            cluster: cluster.clone(),
        };
        let authed = |nonce| Preface::AuthPeer {
            from: me,
            cluster,
            nonce,
        };
        let introduced =
            secure_link::introduce(&mut read, &mut write, self.key.as_ref(), plain, authed).await;
        let (sealer, opener) = match introduced {
            Ok(sealed) => sealed.unzip(),
            Err(e) => {
                warn_limited!(HANDSHAKE_FAILED, peer = %self.peer, addr = %self.addr, "peer link refused: {e}");
                self.tell(DialNews::Failed(LinkFailure::Reset)).await;
                return;
            }
        };
        let (tx, rx) = frame_queue(CONN_QUEUE, CONN_QUEUE_BYTES);
        let mut rx = rx.counted(self.traffic.peer_out.clone());
        if !self.tell(DialNews::Up(tx)).await {
            return;
        }
        let reader = tokio::spawn(read_back(
            read,
            self.addr,
            (self.peer, self.conn),
            (opener, self.traffic.peer_in.clone()),
            self.inbox.clone(),
        ));
        let ended = pump(&mut write, &mut rx, sealer).await;
        if ended == Pumped::QueueClosed {
            // The node gave the connection up (or is leaving): close it cleanly.
            let _ = write.shutdown().await;
            reader.abort();
            return;
        }
        reader.abort();
        self.tell(DialNews::Failed(LinkFailure::Reset)).await;
    }
}

/// Hands the messages a dialled peer sends back to the node; when the peer
/// closes, says so (the writer may be idle and would not notice).
async fn read_back(
    read: tokio::net::tcp::OwnedReadHalf,
    addr: SocketAddr,
    (from, conn): (NodeId, u64),
    (opener, flow): (Option<FrameOpener>, crate::metrics::Flow),
    inbox: mpsc::Sender<Input>,
) {
    let mut frames = FrameReader::<Message>::opened_by(read, addr, opener).counted(flow);
    while let Some(msg) = frames.next().await {
        if msg.from() != from {
            warn_limited!(FOREIGN_SENDER, %addr, "dropped a message whose sender is not the link's peer");
            continue;
        }
        if inbox.send(Input::Peer(msg)).await.is_err() {
            return;
        }
    }
    let news = DialNews::Failed(LinkFailure::Reset);
    let _ = inbox
        .send(Input::Link {
            peer: from,
            conn,
            news,
        })
        .await;
}
