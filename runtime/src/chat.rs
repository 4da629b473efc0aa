//! The chat client's driver: runs the sans-IO [`Client`] on a real TCP connection
//! and a UDP socket for multicast probes. The user's commands come in on a channel;
//! everything the client reports goes out on another.

use crate::auth::{ClientSecret, Key, Keys};
use crate::clock::Clock;
use crate::datagrams::DatagramAuth;
use crate::envelope::{Datagram, Preface};
use crate::frames::{frame, write_queued, FrameReader};
use crate::queue::{frame_queue, FrameTx};
use crate::secure_link;
use crate::udp::MulticastConfig;
use ringleader_core::client::{
    Client, ClientAction, ClientConfig, ClientEvent, ClientOutput, SendError,
};
use ringleader_core::wire::{ClientId, ServerMsg, MAX_DATAGRAM};
use ringleader_core::NodeId;
use std::collections::BTreeSet;
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
    /// While the buffer is full, leave commands waiting instead of refusing
    /// messages: for piped input, where a refused line would be lost.
    pub wait_when_full: bool,
    /// The client key, if the cluster requires one.
    pub client_key: Option<Key>,
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
    /// No node answered for [`NOTHING_FOUND_AFTER`] (told once per search):
    /// the client keeps trying, and the user learns what to check.
    NothingFound {
        /// How long it has looked.
        waited: Duration,
        /// The servers it was given (empty: it looks by multicast).
        servers: Vec<SocketAddr>,
        /// The multicast channel it probes.
        multicast: MulticastConfig,
    },
    /// A server could not be reached (told once per server until one answers).
    Unreachable {
        /// The server.
        server: SocketAddr,
        /// Why.
        error: String,
    },
}

/// How long a client looks for the cluster before it tells the user so.
pub const NOTHING_FOUND_AFTER: Duration = Duration::from_secs(5);

/// How a chat session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChatSummary {
    /// Messages still unacknowledged when the client quit.
    pub unacked: usize,
    /// Messages refused (buffer full or quitting) and so never sent.
    pub refused: usize,
}

enum Net {
    Connected(u64, FrameTx),
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
    let id = ClientId((rand::random::<u64>() >> 1).max(1));
    let mut config = ClientConfig::new(id, opts.user.clone());
    config.servers = opts.servers.clone();
    config.buffer_limit = opts.buffer_limit;
    // On a real network a redirect or a "no leader yet" costs a round trip of well
    // under a millisecond; asking again every 50 ms finds a new leader within a
    // heartbeat of its election, at a negligible load.
    config.retry_interval = Duration::from_millis(50);
    let (net_tx, mut net) = mpsc::channel::<Net>(1024);
    let mut chat = ChatDriver {
        clock: Clock::start(),
        id,
        client: Client::new(config),
        probe: probe_socket(&opts.multicast)?,
        datagrams: DatagramAuth::new(Keys {
            cluster: None,
            client: opts.client_key.clone(),
        }),
        key: opts.client_key.clone(),
        secret: None,
        multicast: opts.multicast,
        net_tx,
        conn: None,
        generation: 0,
        out: Vec::new(),
        quitting: None,
        drained_at: None,
        unreachable: BTreeSet::new(),
        updates,
        refused: 0,
        queue_capacity: opts.buffer_limit.saturating_mul(2).saturating_add(64),
        searching: Some((tokio::time::Instant::now(), false)),
        servers: opts.servers.clone(),
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut commands_open = true;
    let now = chat.clock.now();
    chat.client.step(now, ClientEvent::Start, &mut chat.out);
    loop {
        chat.carry_out();
        chat.tell_if_nothing_found();
        if let Some(summary) = chat.leave_if_done().await {
            return Ok(summary);
        }
        let deadline = chat.deadline();
        tokio::select! {
            // Piped input waits for room instead of losing lines to a full buffer.
            cmd = commands.recv(), if commands_open && !(opts.wait_when_full && chat.client.is_full()) => {
                commands_open = cmd.is_some();
                chat.on_command(cmd);
            }
            got = net.recv() => {
                if let Some(got) = got {
                    chat.on_net(got);
                }
            }
            got = chat.probe.recv_from(&mut buf) => {
                if let Ok((n, from)) = got {
                    chat.on_datagram(buf.get(..n).unwrap_or_default(), from);
                }
            }
            () = tokio::time::sleep_until(deadline) => chat.step(ClientEvent::Tick),
        }
    }
}

/// The client and what connects it to the world while it runs.
struct ChatDriver {
    clock: Clock,
    id: ClientId,
    client: Client,
    /// Seals probes and opens their answers.
    datagrams: DatagramAuth,
    /// The client key for connections.
    key: Option<Key>,
    /// The secret of this client's id, once a node gave it.
    secret: Option<ClientSecret>,
    probe: UdpSocket,
    multicast: MulticastConfig,
    net_tx: mpsc::Sender<Net>,
    /// The current connection: its generation and its write queue.
    conn: Option<(u64, FrameTx)>,
    /// Bumped on every connect and disconnect, so news of a connection given up
    /// is recognised and ignored.
    generation: u64,
    out: Vec<ClientAction>,
    quitting: Option<tokio::time::Instant>,
    drained_at: Option<tokio::time::Instant>,
    unreachable: BTreeSet<SocketAddr>,
    updates: mpsc::UnboundedSender<ChatUpdate>,
    /// Messages the client refused to take.
    refused: usize,
    /// Frames a connection's write queue holds: room for the whole buffer to be
    /// resent after a reconnection, so no resent message is dropped.
    queue_capacity: usize,
    /// Since when no leader has been connected, and whether the user was
    /// told; `None` while connected.
    searching: Option<(tokio::time::Instant, bool)>,
    /// The servers given, for the user's hint.
    servers: Vec<SocketAddr>,
}

impl ChatDriver {
    fn step(&mut self, event: ClientEvent) {
        self.client.step(self.clock.now(), event, &mut self.out);
    }

    /// Carries out what the client asked for.
    fn carry_out(&mut self) {
        for action in self.out.drain(..) {
            match action {
                ClientAction::Probe(_) => {
                    let probe = Datagram::ClientProbe { client: self.id };
                    if let Some(bytes) = self.datagrams.encode(&probe, self.id.0) {
                        let _ = self.probe.try_send_to(&bytes, self.multicast.dest());
                    }
                }
                ClientAction::Connect(addr) => {
                    self.generation += 1;
                    self.conn = None;
                    let net = self.net_tx.clone();
                    let conn = Conn {
                        addr,
                        id: self.id,
                        generation: self.generation,
                        capacity: self.queue_capacity,
                        key: self.key.clone(),
                        secret: self.secret,
                    };
                    tokio::spawn(connect(conn, net));
                }
                ClientAction::Send(msg) => {
                    if let (Some((_, tx)), Some(bytes)) = (&self.conn, frame(&msg)) {
                        let _ = tx.try_send(bytes);
                    }
                }
                ClientAction::Disconnect => {
                    self.generation += 1;
                    self.conn = None;
                }
                ClientAction::Output(o) => {
                    match &o {
                        ClientOutput::Connected { .. } | ClientOutput::LeaderChanged { .. } => {
                            self.searching = None;
                        }
                        ClientOutput::LeaderLost { .. } if self.searching.is_none() => {
                            self.searching = Some((tokio::time::Instant::now(), false));
                        }
                        _ => {}
                    }
                    let _ = self.updates.send(ChatUpdate::Output(o));
                }
            }
        }
    }

    /// Tells the user, once per search, that nothing answered for a while.
    fn tell_if_nothing_found(&mut self) {
        let Some((since, false)) = self.searching else {
            return;
        };
        let waited = since.elapsed();
        if waited >= NOTHING_FOUND_AFTER {
            self.searching = Some((since, true));
            let _ = self.updates.send(ChatUpdate::NothingFound {
                waited,
                servers: self.servers.clone(),
                multicast: self.multicast,
            });
        }
    }

    /// While quitting: once everything is acknowledged (or the grace is over),
    /// says goodbye and ends.
    async fn leave_if_done(&mut self) -> Option<ChatSummary> {
        let until = self.quitting?;
        let now = tokio::time::Instant::now();
        if self.client.unacked() == 0 && self.drained_at.is_none() {
            // The entries of the last acknowledged messages may still be on
            // their way: let them arrive before leaving.
            self.drained_at = Some(now + Duration::from_millis(150));
        }
        if self.drained_at.is_none_or(|d| now < d) && now < until {
            return None;
        }
        self.client.quit(&mut self.out);
        let goodbye = self.out.iter().find_map(|a| match a {
            ClientAction::Send(m) => frame(m),
            _ => None,
        });
        if let (Some((_, tx)), Some(bytes)) = (&self.conn, goodbye) {
            let _ = tx.try_send(bytes);
        }
        // Give the goodbye a moment to leave before the connection drops.
        drop(self.conn.take());
        tokio::time::sleep(Duration::from_millis(50)).await;
        Some(ChatSummary {
            unacked: self.client.unacked(),
            refused: self.refused,
        })
    }

    /// When the loop must wake up at the latest.
    fn deadline(&self) -> tokio::time::Instant {
        let deadline = self.client.next_deadline().map_or_else(
            || tokio::time::Instant::now() + Duration::from_secs(3600),
            |t| self.clock.to_tokio(t),
        );
        let deadline = self.quitting.map_or(deadline, |q| deadline.min(q));
        let deadline = match self.searching {
            Some((since, false)) => deadline.min(since + NOTHING_FOUND_AFTER),
            _ => deadline,
        };
        self.drained_at.map_or(deadline, |d| deadline.min(d))
    }

    /// A command from the user; `None` when the command channel closed.
    fn on_command(&mut self, cmd: Option<ChatCommand>) {
        match cmd {
            Some(ChatCommand::Send(text)) => {
                if let Err(e) = self.client.send(self.clock.now(), text, &mut self.out) {
                    self.refused += 1;
                    let _ = self.updates.send(ChatUpdate::Refused(e));
                }
            }
            Some(ChatCommand::History(n)) => {
                if !self.client.history(n, &mut self.out) {
                    let _ = self.updates.send(ChatUpdate::NoSession);
                }
            }
            Some(ChatCommand::Status) => {
                let _ = self.updates.send(ChatUpdate::Status {
                    leader: self.client.leader(),
                    unacked: self.client.unacked(),
                    next_index: self.client.next_index(),
                });
            }
            Some(ChatCommand::Quit(grace)) => {
                self.quitting = Some(tokio::time::Instant::now() + grace);
            }
            None => {
                let grace = tokio::time::Instant::now() + Duration::from_secs(10);
                self.quitting.get_or_insert(grace);
            }
        }
    }

    /// News of a connection; news of one given up already is ignored.
    fn on_net(&mut self, got: Net) {
        let current = self.generation;
        let event = match got {
            Net::Connected(g, tx) if g == current => {
                self.conn = Some((g, tx));
                self.unreachable.clear();
                ClientEvent::Connected
            }
            Net::Failed(g, server, error) if g == current => {
                if self.unreachable.insert(server) {
                    let _ = self.updates.send(ChatUpdate::Unreachable { server, error });
                }
                ClientEvent::Disconnected
            }
            // The id's secret is the driver's to keep, for the next connections.
            Net::Received(g, ServerMsg::Secret(s)) if g == current => {
                self.secret = Some(s);
                return;
            }
            Net::Received(g, msg) if g == current => ClientEvent::Received(msg),
            Net::Closed(g) if g == current => {
                self.conn = None;
                ClientEvent::Disconnected
            }
            _ => return,
        };
        self.step(event);
    }

    /// A datagram on the probe socket: a server's answer to a probe.
    fn on_datagram(&mut self, bytes: &[u8], from: SocketAddr) {
        match self.datagrams.decode(bytes) {
            Ok(Datagram::ToClient(msg)) => self.step(ClientEvent::Received(msg)),
            Ok(_) => {}
            Err(e) => tracing::debug!(%from, "dropped a datagram: {e}"),
        }
    }
}

fn probe_socket(m: &MulticastConfig) -> std::io::Result<UdpSocket> {
    let bind = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
    crate::udp::unicast_socket(bind, Some(m))
}

/// One connection attempt.
struct Conn {
    addr: SocketAddr,
    id: ClientId,
    generation: u64,
    capacity: usize,
    key: Option<Key>,
    secret: Option<ClientSecret>,
}

async fn connect(conn: Conn, net: mpsc::Sender<Net>) {
    let Conn {
        addr,
        id,
        generation,
        capacity,
        key,
        secret,
    } = conn;
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
    let (mut read, mut write) = stream.into_split();
    let (sealer, opener) = match secure_link::introduce(
        &mut read,
        &mut write,
        key.as_ref(),
        Preface::Client { id, secret },
        |nonce| Preface::AuthClient { id, nonce, secret },
    )
    .await
    {
        Ok(sealed) => sealed.unzip(),
        Err(e) => {
            let _ = net.send(Net::Failed(generation, addr, e)).await;
            return;
        }
    };
    let bytes = capacity.saturating_mul(ringleader_core::wire::MAX_CHAT_BYTES + 256);
    let (tx, rx) = frame_queue(capacity, bytes);
    tokio::spawn(write_queued(write, rx, sealer));
    if net.send(Net::Connected(generation, tx)).await.is_err() {
        return;
    }
    let mut frames = FrameReader::<ServerMsg>::opened_by(read, addr, opener);
    while let Some(msg) = frames.next().await {
        if net.send(Net::Received(generation, msg)).await.is_err() {
            return;
        }
    }
    let _ = net.send(Net::Closed(generation)).await;
}
