//! Incoming TCP connections: each starts with a [`Preface`] and is then a peer link,
//! a client session, or a one-shot status query. What arrives is handed to the
//! node's task as an [`Input`].

use crate::auth::{FrameOpener, FrameSealer, Keys};
use crate::envelope::{Preface, StatusReply};
use crate::frames::{frame, read_one, write_queued, FrameReader};
use crate::ratelimit::LogLimit;
use crate::secure_link;
use crate::status::Status;
use crate::warn_limited;
use ringleader_core::wire::{ClientId, ClientMsg, Message};
use ringleader_core::NodeId;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// Frames queued towards one client before it counts as too slow and is closed.
pub const CLIENT_QUEUE: usize = 4096;
const PREFACE_MAX: usize = 4096;
const PREFACE_TIMEOUT: Duration = Duration::from_secs(5);

static REFUSED: LogLimit = LogLimit::new();
static FOREIGN_SENDER: LogLimit = LogLimit::new();

/// What an incoming connection must show to be let in.
#[derive(Clone, Debug)]
pub struct Gate {
    /// The cluster's name: a peer of another cluster is turned away.
    pub cluster: String,
    /// The keys in force.
    pub keys: Arc<Keys>,
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
        /// This connection's number (a client may reconnect; the newest wins).
        conn: u64,
        /// Frames to the client.
        tx: mpsc::Sender<Vec<u8>>,
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
pub async fn accept_loop(listener: TcpListener, gate: Gate, inbox: mpsc::Sender<Input>) {
    let mut next_conn = 0u64;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if inbox.is_closed() {
            return;
        }
        next_conn += 1;
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, peer, next_conn, gate.clone(), inbox.clone()));
    }
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    conn: u64,
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
            warn_limited!(REFUSED, %peer, "closing a connection: {e}");
            return;
        }
        Err(_) => {
            warn_limited!(REFUSED, %peer, "closing a connection that sent no preface in {PREFACE_TIMEOUT:?}");
            return;
        }
    };
    let keys = &gate.keys;
    match &preface {
        Preface::Peer { from, cluster } | Preface::AuthPeer { from, cluster, .. }
            if *cluster != gate.cluster =>
        {
            warn_limited!(REFUSED, %peer, node = %from, cluster = %cluster, "closing a peer link from another cluster");
        }
        Preface::Peer { from, .. } => match keys.cluster {
            None => serve_peer(read, write, peer, conn, *from, None, inbox).await,
            Some(_) => {
                warn_limited!(REFUSED, %peer, node = %from, "refused a peer link without the cluster key (this node requires it)");
            }
        },
        Preface::AuthPeer { from, nonce, .. } => {
            let Some(key) = &keys.cluster else {
                warn_limited!(REFUSED, %peer, node = %from, "refused an authenticated peer link: this node has no cluster key");
                return;
            };
            match secure_link::accept(&mut read, &mut write, key, &preface, *nonce).await {
                Ok(hs) => {
                    let (_, opener) = hs.dialer_to_acceptor();
                    serve_peer(read, write, peer, conn, *from, Some(opener), inbox).await;
                }
                Err(e) => warn_limited!(REFUSED, %peer, node = %from, "refused a peer link: {e}"),
            }
        }
        Preface::Client { id } => match keys.client {
            None => serve_client(read, write, peer, (conn, *id), None, inbox).await,
            Some(_) => {
                warn_limited!(REFUSED, %peer, client = %id, "refused a client without the client key (this node requires it)");
            }
        },
        Preface::AuthClient { id, nonce } => {
            let Some(key) = &keys.client else {
                warn_limited!(REFUSED, %peer, client = %id, "refused an authenticated client: this node has no client key");
                return;
            };
            match secure_link::accept(&mut read, &mut write, key, &preface, *nonce).await {
                Ok(hs) => {
                    let (_, opener) = hs.dialer_to_acceptor();
                    let (sealer, _) = hs.acceptor_to_dialer();
                    let sealed = Some((sealer, opener));
                    serve_client(read, write, peer, (conn, *id), sealed, inbox).await;
                }
                Err(e) => warn_limited!(REFUSED, %peer, client = %id, "refused a client: {e}"),
            }
        }
        Preface::Status => serve_status(write, inbox).await,
    }
}

/// A connection a peer dialled to talk to this node: read only, its frames go
/// to the node. This node answers on a connection of its own (see the core's
/// `link` module); the write half is held, not shut, so the peer does not take
/// an end of stream for the end of the connection.
async fn serve_peer(
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    peer: SocketAddr,
    conn: u64,
    from: NodeId,
    opener: Option<FrameOpener>,
    inbox: mpsc::Sender<Input>,
) {
    tracing::debug!(%peer, node = %from, conn, "peer dialled in");
    let mut frames = match opener {
        Some(o) => FrameReader::<Message>::authenticated(read, peer, o),
        None => FrameReader::<Message>::new(read, peer),
    };
    while let Some(msg) = frames.next().await {
        if msg.from() != from {
            warn_limited!(FOREIGN_SENDER, %peer, claimed = %from, sender = %msg.from(), "dropped a message whose sender is not the link's peer");
            continue;
        }
        if inbox.send(Input::Peer(msg)).await.is_err() {
            return;
        }
    }
    drop(write);
    tracing::debug!(%peer, node = %from, conn, "peer's connection ended");
}

/// A chat client's connection, with its frames' sealer and opener if it
/// authenticated.
async fn serve_client(
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    peer: SocketAddr,
    (conn, id): (u64, ClientId),
    sealed: Option<(FrameSealer, FrameOpener)>,
    inbox: mpsc::Sender<Input>,
) {
    let (sealer, opener) = sealed.unzip();
    let (tx, rx) = mpsc::channel(CLIENT_QUEUE);
    tokio::spawn(write_queued(write, rx, sealer));
    if inbox
        .send(Input::ClientOpened { id, conn, tx })
        .await
        .is_err()
    {
        return;
    }
    let mut frames = match opener {
        Some(o) => FrameReader::<ClientMsg>::authenticated(read, peer, o),
        None => FrameReader::<ClientMsg>::new(read, peer),
    };
    while let Some(msg) = frames.next().await {
        if inbox
            .send(Input::FromClient { id, conn, msg })
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = inbox.send(Input::ClientClosed { id, conn }).await;
}

/// A status query: one answer, then the connection closes.
async fn serve_status(mut write: OwnedWriteHalf, inbox: mpsc::Sender<Input>) {
    let (tx, rx) = oneshot::channel();
    if inbox.send(Input::Status(tx)).await.is_err() {
        return;
    }
    if let Ok(status) = rx.await {
        if let Some(bytes) = frame(&StatusReply(status)) {
            let _ = write.write_all(&bytes).await;
        }
    }
    let _ = write.shutdown().await;
}
