//! The chat client's driver: runs the sans-IO [`Client`] on a real TCP connection
//! and a UDP socket for multicast probes. The user's commands come in on a channel;
//! everything the client reports goes out on another.

use crate::clock::Clock;
use crate::envelope::{Datagram, Preface};
use crate::frames::{frame, write_queued, FrameReader};
use crate::udp::MulticastConfig;
use ringleader_core::client::{
    Client, ClientAction, ClientConfig, ClientEvent, ClientOutput, SendError,
};
use ringleader_core::wire::{decode_datagram, encode_datagram, ClientId, ServerMsg, MAX_DATAGRAM};
use ringleader_core::NodeId;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// How to reach the cluster.
#[derive(Clone, Debug)]
pub struct ChatOptions {
    /// The user's name.
    pub user: String,
    /// Servers to try in turn; empty to find them by multicast.
    pub servers: Vec<SocketAddr>,
    /// The multicast channel for probes.
    pub multicast: MulticastConfig,
    /// Unacknowledged messages kept before sending is refused.
    pub buffer_limit: usize,
}

/// What the user asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatCommand {
    /// Send a message.
    Send(String),
    /// Show the last N messages.
    History(u32),
    /// Report where the client stands.
    Status,
    /// Leave: wait at most this long for unacknowledged messages, then say goodbye.
    Quit(Duration),
}

/// What the user is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatUpdate {
    /// Something the client reported.
    Output(ClientOutput),
    /// A message was not taken.
    Refused(SendError),
    /// The answer to [`ChatCommand::Status`].
    Status {
        /// The leader and epoch of the session, if one is open.
        leader: Option<(NodeId, u64)>,
        /// Messages not yet acknowledged.
        unacked: usize,
        /// Next committed index not yet seen.
        next_index: u64,
    },
    /// History was asked for while no leader was reachable.
    NoSession,
    /// A server could not be reached (told once per server until one answers).
    Unreachable {
        /// The server.
        server: SocketAddr,
        /// Why.
        error: String,
    },
}

/// How a chat session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChatSummary {
    /// Messages still unacknowledged when the client quit.
    pub unacked: usize,
}

enum Net {
    Connected(u64, mpsc::Sender<Vec<u8>>),
    Failed(u64, SocketAddr, String),
    Received(u64, ServerMsg),
    Closed(u64),
}

/// Runs a chat client until it is told to quit (or the command channel closes,
/// which counts as a quit with a 10 s grace for unacknowledged messages).
pub async fn run_chat(
    opts: ChatOptions,
    mut commands: mpsc::Receiver<ChatCommand>,
    updates: mpsc::UnboundedSender<ChatUpdate>,
) -> std::io::Result<ChatSummary> {
    let clock = Clock::start();
    let id = ClientId(rand::random::<u64>().max(1));
    let mut config = ClientConfig::new(id, opts.user.clone());
    config.servers = opts.servers.clone();
    config.buffer_limit = opts.buffer_limit;
    // On a real network a redirect or a "no leader yet" costs a round trip of well
    // under a millisecond; asking again every 50 ms finds a new leader within a
    // heartbeat of its election, at a negligible load.
    config.retry_interval = Duration::from_millis(50);
    let mut client = Client::new(config);
    let probe = probe_socket(&opts.multicast)?;
    let (net_tx, mut net) = mpsc::channel::<Net>(1024);
    let mut conn: Option<(u64, mpsc::Sender<Vec<u8>>)> = None;
    let mut generation = 0u64;
    let mut out = Vec::new();
    let mut quitting: Option<tokio::time::Instant> = None;
    let mut drained_at: Option<tokio::time::Instant> = None;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut commands_open = true;
    let mut unreachable = std::collections::BTreeSet::new();

    client.step(clock.now(), ClientEvent::Start, &mut out);
    loop {
        // Carry out what the client asked for.
        for action in out.drain(..) {
            match action {
                ClientAction::Probe(_) => {
                    if let Ok(bytes) =
                        encode_datagram(&Datagram::ClientProbe { client: id }, MAX_DATAGRAM)
                    {
                        let _ = probe.try_send_to(&bytes, opts.multicast.dest());
                    }
                }
                ClientAction::Connect(addr) => {
                    generation += 1;
                    conn = None;
                    tokio::spawn(connect(addr, id, generation, net_tx.clone()));
                }
                ClientAction::Send(msg) => {
                    if let (Some((_, tx)), Some(bytes)) = (&conn, frame(&msg)) {
                        let _ = tx.try_send(bytes);
                    }
                }
                ClientAction::Disconnect => {
                    generation += 1;
                    conn = None;
                }
                ClientAction::Output(o) => {
                    let _ = updates.send(ChatUpdate::Output(o));
                }
            }
        }
        if let Some(until) = quitting {
            let now = tokio::time::Instant::now();
            if client.unacked() == 0 && drained_at.is_none() {
                // The entries of the last acknowledged messages may still be on
                // their way: let them arrive before leaving.
                drained_at = Some(now + Duration::from_millis(150));
            }
            if drained_at.is_some_and(|d| now >= d) || now >= until {
                client.quit(&mut out);
                if let (Some((_, tx)), Some(bytes)) = (
                    &conn,
                    out.iter().find_map(|a| match a {
                        ClientAction::Send(m) => frame(m),
                        _ => None,
                    }),
                ) {
                    let _ = tx.send(bytes).await;
                }
                // Give the goodbye a moment to leave before the connection drops.
                drop(conn.take());
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Ok(ChatSummary {
                    unacked: client.unacked(),
                });
            }
        }
        let deadline = client.next_deadline().map_or_else(
            || tokio::time::Instant::now() + Duration::from_secs(3600),
            |t| clock.to_tokio(t),
        );
        let deadline = quitting.map_or(deadline, |q| deadline.min(q));
        let deadline = drained_at.map_or(deadline, |d| deadline.min(d));
        tokio::select! {
            cmd = commands.recv(), if commands_open => match cmd {
                Some(ChatCommand::Send(text)) => {
                    if let Err(e) = client.send(clock.now(), text, &mut out) {
                        let _ = updates.send(ChatUpdate::Refused(e));
                    }
                }
                Some(ChatCommand::History(n)) => {
                    if !client.history(n, &mut out) {
                        let _ = updates.send(ChatUpdate::NoSession);
                    }
                }
                Some(ChatCommand::Status) => {
                    let _ = updates.send(ChatUpdate::Status {
                        leader: client.leader(),
                        unacked: client.unacked(),
                        next_index: client.next_index(),
                    });
                }
                Some(ChatCommand::Quit(grace)) => {
                    quitting = Some(tokio::time::Instant::now() + grace);
                }
                None => {
                    commands_open = false;
                    quitting.get_or_insert(tokio::time::Instant::now() + Duration::from_secs(10));
                }
            },
            got = net.recv() => {
                let Some(got) = got else { continue };
                let event = match got {
                    Net::Connected(g, tx) if g == generation => {
                        conn = Some((g, tx));
                        unreachable.clear();
                        Some(ClientEvent::Connected)
                    }
                    Net::Failed(g, server, error) if g == generation => {
                        if unreachable.insert(server) {
                            let _ = updates.send(ChatUpdate::Unreachable { server, error });
                        }
                        Some(ClientEvent::Disconnected)
                    }
                    Net::Received(g, msg) if g == generation => Some(ClientEvent::Received(msg)),
                    Net::Closed(g) if g == generation => {
                        conn = None;
                        Some(ClientEvent::Disconnected)
                    }
                    _ => None, // a connection given up already
                };
                if let Some(event) = event {
                    client.step(clock.now(), event, &mut out);
                }
            }
            got = probe.recv_from(&mut buf) => {
                if let Ok((n, from)) = got {
                    match decode_datagram::<Datagram>(buf.get(..n).unwrap_or_default(), MAX_DATAGRAM) {
                        Ok(Datagram::ToClient(msg)) => client.step(clock.now(), ClientEvent::Received(msg), &mut out),
                        Ok(_) => {}
                        Err(e) => tracing::debug!(%from, "dropped a datagram: {e}"),
                    }
                }
            }
            () = tokio::time::sleep_until(deadline) => client.step(clock.now(), ClientEvent::Tick, &mut out),
        }
    }
}

fn probe_socket(m: &MulticastConfig) -> std::io::Result<UdpSocket> {
    let bind = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
    crate::udp::unicast_socket(bind, Some(m))
}

async fn connect(addr: SocketAddr, id: ClientId, generation: u64, net: mpsc::Sender<Net>) {
    let stream = match tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr)).await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let _ = net.send(Net::Failed(generation, addr, e.to_string())).await;
            return;
        }
        Err(_) => {
            let _ = net
                .send(Net::Failed(generation, addr, "timed out".into()))
                .await;
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let (tx, rx) = mpsc::channel(4096);
    if let Some(preface) = frame(&Preface::Client { id }) {
        let _ = tx.send(preface).await;
    }
    tokio::spawn(write_queued(write, rx));
    if net.send(Net::Connected(generation, tx)).await.is_err() {
        return;
    }
    let mut frames = FrameReader::<ServerMsg>::new(read, addr);
    while let Some(msg) = frames.next().await {
        if net.send(Net::Received(generation, msg)).await.is_err() {
            return;
        }
    }
    let _ = net.send(Net::Closed(generation)).await;
}
