//! Incoming TCP connections: each starts with a [`Preface`] and is then a peer link,
//! a client session, or a one-shot status query. What arrives is handed to the
//! node's task as an [`Input`].

use crate::auth::{FrameSealer, Keys};
use crate::envelope::Preface;
use crate::frames::{frame, read_one};
use crate::inbound::{serve_client, serve_peer, serve_status, Conn};
use crate::limits::{Pool, Pools};
use crate::queue::FrameTx;
use crate::ratelimit::LogLimit;
use crate::secure_link;
use crate::status::Status;
use crate::warn_limited;
use ringleader_core::wire::{ClientId, ClientMsg, Message, ServerMsg};
use ringleader_core::NodeId;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

const PREFACE_MAX: usize = 4096;
const PREFACE_TIMEOUT: Duration = Duration::from_secs(5);

// One limit per kind of refusal, so a flood of one does not hide another.
static ACCEPT_FAILED: LogLimit = LogLimit::new();
static EVICTED: LogLimit = LogLimit::new();
static NO_PREFACE: LogLimit = LogLimit::new();
static HANDSHAKE: LogLimit = LogLimit::new();
static OVER_CAP: LogLimit = LogLimit::new();
static FOREIGN_CLUSTER: LogLimit = LogLimit::new();
static NO_KEY: LogLimit = LogLimit::new();

/// What an incoming connection must show to be let in.
#[derive(Clone, Debug)]
pub struct Gate {
    /// The cluster's name: a peer of another cluster is turned away.
    pub cluster: String,
    /// The keys in force.
    pub keys: Arc<Keys>,
    /// The connection pools and their caps.
    pub pools: Arc<Pools>,
    /// Where the connections' frames are counted.
    pub traffic: crate::metrics::Traffic,
}

/// What the connections hand to the node's task.
#[derive(Debug)]
pub enum Input {
    /// A message from a peer.
    Peer(Message),
    /// A client connected; `tx` carries frames to it.
    ClientOpened {
        /// The client.
        id: ClientId,
        /// The secret it showed for its id, if any.
        secret: Option<crate::auth::ClientSecret>,
        /// This connection's number (a client may reconnect; the newest wins).
        conn: u64,
        /// Frames to the client.
        tx: FrameTx,
    },
    /// A message from a client.
    FromClient {
        /// The client.
        id: ClientId,
        /// The connection it came on.
        conn: u64,
        /// The message.
        msg: ClientMsg,
    },
    /// A client's connection closed.
    ClientClosed {
        /// The client.
        id: ClientId,
        /// The connection.
        conn: u64,
    },
    /// A status query waits for the answer.
    Status(oneshot::Sender<Status>),
    /// The embedding application proposes an entry (see [`crate::embed`]).
    Propose {
        /// What to append.
        payload: Box<[u8]>,
        /// Where its outcome goes.
        reply: crate::embed::glue::ProposeReply,
    },
    /// The embedding application saved a snapshot of its state: the node
    /// sends it to a follower too far behind its retained log.
    AppSnapshot(Arc<ringleader_core::log::AppSnapshot>),
    /// The embedding application asks whether this node may act as leader now.
    Fence(oneshot::Sender<Result<crate::embed::Fence, crate::embed::ProposeError>>),
    /// News of a connection this node dialled to a peer.
    Link {
        /// The peer.
        peer: NodeId,
        /// The connection's number (given by the core's links).
        conn: u64,
        /// What happened.
        news: crate::peers::DialNews,
    },
}

/// Accepts connections until the node's task goes away.
///
/// Connections not yet introduced (preface and handshake) are capped: when the
/// cap is reached the oldest of them is closed to make room. A flood of idle or
/// slow connections then only shortens how long each may take to introduce
/// itself, down to what the flood's rate allows, while an honest peer or client
/// introduces itself in a round trip or two; the kernel never refuses.
pub async fn accept_loop(listener: TcpListener, gate: Gate, inbox: mpsc::Sender<Input>) {
    let mut next_conn = 0u64;
    let mut pending: VecDeque<(Arc<AtomicBool>, AbortHandle)> = VecDeque::new();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                warn_limited!(ACCEPT_FAILED, "accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if inbox.is_closed() {
            return;
        }
        pending.retain(|(introduced, task)| {
            !introduced.load(Ordering::Acquire) && !task.is_finished()
        });
        let max = gate.pools.limits().max_pending;
        while pending.len() >= max {
            let Some((_, oldest)) = pending.pop_front() else {
                break; // a cap of 0 admits one at a time
            };
            warn_limited!(EVICTED, %peer, max, "closed the oldest connection not yet introduced to make room");
            oldest.abort();
        }
        next_conn += 1;
        let _ = stream.set_nodelay(true);
        let introduced = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(serve(
            stream,
            peer,
            (next_conn, introduced.clone()),
            gate.clone(),
            inbox.clone(),
        ));
        pending.push_back((introduced, task.abort_handle()));
    }
}

/// Writes a refusal to a client (sealed if it authenticated) and closes; reads
/// what the client had already sent (for at most a second) so the close is a
/// clean end of stream, not a reset that could lose the refusal.
async fn refuse_client(
    mut read: OwnedReadHalf,
    mut write: OwnedWriteHalf,
    sealer: Option<FrameSealer>,
    reason: String,
) {
    if let Some(mut bytes) = frame(&ServerMsg::Refused(reason)) {
        if let Some(mut s) = sealer {
            s.seal(&mut bytes);
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), write.write_all(&bytes)).await;
    }
    let _ = write.shutdown().await;
    let drain = async {
        let mut sink = [0u8; 1024];
        while matches!(read.read(&mut sink).await, Ok(n) if n > 0) {}
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// The sealer and opener of an authenticated connection.
type Sealed = (FrameSealer, crate::auth::FrameOpener);

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    (conn, introduced): (u64, Arc<AtomicBool>),
    gate: Gate,
    inbox: mpsc::Sender<Input>,
) {
    let (mut read, mut write) = stream.into_split();
    let preface = match tokio::time::timeout(
        PREFACE_TIMEOUT,
        read_one::<Preface>(&mut read, PREFACE_MAX),
    )
    .await
    {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            warn_limited!(NO_PREFACE, %peer, "closing a connection: {e}");
            return;
        }
        Err(_) => {
            warn_limited!(NO_PREFACE, %peer, "closing a connection that sent no preface in {PREFACE_TIMEOUT:?}");
            return;
        }
    };
    let Ok(sealed) = handshake(&mut read, &mut write, peer, &preface, &gate.keys).await else {
        return;
    };
    introduced.store(true, Ordering::Release);
    let limits = gate.pools.limits();
    // A status query is answered at once and holds no place.
    let pool = match &preface {
        Preface::Peer { .. } | Preface::AuthPeer { .. } => Pool::Peer,
        Preface::Client { .. } | Preface::AuthClient { .. } => Pool::Client,
        Preface::Status => return serve_status(write, inbox).await,
    };
    let Some(slot) = gate.pools.take(pool) else {
        let (max, what) = match pool {
            Pool::Client => (limits.max_clients, "clients"),
            Pool::Peer => (limits.max_peers, "peer links"),
        };
        warn_limited!(OVER_CAP, %peer, max, "closing a connection: too many {what}");
        let reason = format!("this node holds at most {max} {what}; try another");
        refuse_client(read, write, sealed.map(|s| s.0), reason).await;
        return;
    };
    let c = Conn {
        read,
        write,
        peer,
        number: conn,
        slot,
        limits,
        traffic: gate.traffic.clone(),
    };
    dispatch(c, &preface, sealed, &gate, inbox).await;
}

/// The handshake, if the preface asks for one and this node holds its key:
/// `Ok(None)` when there is none to run, `Err` (logged) when it failed.
async fn handshake(
    read: &mut OwnedReadHalf,
    write: &mut OwnedWriteHalf,
    peer: SocketAddr,
    preface: &Preface,
    keys: &Keys,
) -> Result<Option<Sealed>, ()> {
    let (nonce, key) = match preface {
        Preface::AuthPeer { nonce, .. } => (nonce, keys.cluster.as_ref()),
        Preface::AuthClient { nonce, .. } => (nonce, keys.client.as_ref()),
        _ => return Ok(None),
    };
    let Some(key) = key else {
        return Ok(None); // refused by `dispatch`, which says why
    };
    match secure_link::accept(read, write, key, preface, *nonce).await {
        Ok(hs) => Ok(Some((hs.acceptor_to_dialer().0, hs.dialer_to_acceptor().1))),
        Err(e) => {
            warn_limited!(HANDSHAKE, %peer, "refused a connection: {e}");
            Err(())
        }
    }
}

/// Serves an introduced connection as its preface says, if the keys in force
/// allow it.
async fn dispatch(
    c: Conn,
    preface: &Preface,
    sealed: Option<Sealed>,
    gate: &Gate,
    inbox: mpsc::Sender<Input>,
) {
    let (peer, keys) = (c.peer, &gate.keys);
    match (preface, sealed) {
        (Preface::Peer { from, cluster } | Preface::AuthPeer { from, cluster, .. }, _)
            if *cluster != gate.cluster =>
        {
            warn_limited!(FOREIGN_CLUSTER, %peer, node = %from, cluster = %cluster, "closing a peer link from another cluster");
        }
        (Preface::Peer { from, .. }, _) if keys.cluster.is_none() => {
            serve_peer(c, *from, None, inbox).await;
        }
        (Preface::Peer { from, .. }, _) => {
            warn_limited!(NO_KEY, %peer, node = %from, "refused a peer link without the cluster key (this node requires it)");
        }
        (Preface::AuthPeer { from, .. }, Some((_, opener))) => {
            serve_peer(c, *from, Some(opener), inbox).await;
        }
        (Preface::AuthPeer { from, .. }, None) => {
            warn_limited!(NO_KEY, %peer, node = %from, "refused an authenticated peer link: this node has no cluster key");
        }
        (Preface::Client { id, secret }, _) if keys.client.is_none() => {
            serve_client(c, (*id, *secret), None, inbox).await;
        }
        (Preface::Client { id, .. }, _) => {
            warn_limited!(NO_KEY, %peer, client = %id, "refused a client without the client key (this node requires it)");
            let reason = "this cluster requires the client key (--client-key-file)".to_owned();
            refuse_client(c.read, c.write, None, reason).await;
        }
        (Preface::AuthClient { id, secret, .. }, Some(sealed)) => {
            serve_client(c, (*id, *secret), Some(sealed), inbox).await;
        }
        (Preface::AuthClient { id, .. }, None) => {
            warn_limited!(NO_KEY, %peer, client = %id, "refused an authenticated client: this node has no client key");
        }
        (Preface::Status, _) => {}
    }
}
