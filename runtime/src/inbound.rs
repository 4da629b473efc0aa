//! Incoming connections once introduced: a peer's link (read only), a chat
//! client's session, a status query.

use crate::auth::{FrameOpener, FrameSealer};
use crate::envelope::StatusReply;
use crate::frames::{frame, write_queued, FrameReader, ReadDeadlines};
use crate::limits::{ConnLimits, Slot};
use crate::listener::Input;
use crate::queue::frame_queue;
use crate::ratelimit::LogLimit;
use crate::warn_limited;
use ringleader_core::wire::{ClientId, ClientMsg, Message};
use ringleader_core::NodeId;
use std::net::SocketAddr;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};

/// Frames queued towards one client before it counts as too slow and is closed.
pub const CLIENT_QUEUE: usize = 4096;
/// Bytes queued towards one client before it counts as too slow and is closed.
pub const CLIENT_QUEUE_BYTES: usize = 4 << 20;

static FOREIGN_SENDER: LogLimit = LogLimit::new();

/// An introduced connection.
pub struct Conn {
    /// Its read half.
    pub read: OwnedReadHalf,
    /// Its write half.
    pub write: OwnedWriteHalf,
    /// Where it comes from.
    pub peer: SocketAddr,
    /// Its number on this node.
    pub number: u64,
    /// Its place in its pool, given back when it ends.
    pub slot: Slot,
    /// Its deadlines.
    pub limits: ConnLimits,
    /// Where its frames are counted.
    pub traffic: crate::metrics::Traffic,
}

/// The frames of an introduced connection, opened by `opener` if it
/// authenticated, closed after `idle` of silence or a frame slower than `frame`.
fn reader<T: serde::de::DeserializeOwned>(
    read: OwnedReadHalf,
    peer: SocketAddr,
    opener: Option<FrameOpener>,
    (idle, frame): (std::time::Duration, std::time::Duration),
) -> FrameReader<T> {
    FrameReader::opened_by(read, peer, opener).with_deadlines(ReadDeadlines { idle, frame })
}

/// A connection a peer dialled to talk to this node: read only, its frames go
/// to the node. This node answers on a connection of its own (see the core's
/// `link` module); the write half is held, not shut, so the peer does not take
/// an end of stream for the end of the connection.
pub async fn serve_peer(
    c: Conn,
    from: NodeId,
    opener: Option<FrameOpener>,
    inbox: mpsc::Sender<Input>,
) {
    let Conn {
        read,
        write,
        peer,
        number: conn,
        slot,
        limits,
        traffic,
    } = c;
    tracing::debug!(%peer, node = %from, conn, "peer dialled in");
    let mut frames = reader::<Message>(read, peer, opener, (limits.peer_idle, limits.frame))
        .counted(traffic.peer_in);
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
    drop(slot);
    tracing::debug!(%peer, node = %from, conn, "peer's connection ended");
}

/// A chat client's connection, with its frames' sealer and opener if it
/// authenticated.
pub async fn serve_client(
    c: Conn,
    (id, secret): (ClientId, Option<crate::auth::ClientSecret>),
    sealed: Option<(FrameSealer, FrameOpener)>,
    inbox: mpsc::Sender<Input>,
) {
    let Conn {
        read,
        write,
        peer,
        number: conn,
        slot,
        limits,
        traffic,
    } = c;
    let (sealer, opener) = sealed.unzip();
    let (tx, rx) = frame_queue(CLIENT_QUEUE, CLIENT_QUEUE_BYTES);
    let rx = rx.counted(traffic.client_out);
    tokio::spawn(write_queued(write, rx, sealer));
    if inbox
        .send(Input::ClientOpened {
            id,
            secret,
            conn,
            tx,
        })
        .await
        .is_err()
    {
        return;
    }
    let mut frames = reader::<ClientMsg>(read, peer, opener, (limits.client_idle, limits.frame))
        .counted(traffic.client_in);
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
    drop(slot);
}

/// A status query: one answer, then the connection closes.
pub async fn serve_status(mut write: OwnedWriteHalf, inbox: mpsc::Sender<Input>) {
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
