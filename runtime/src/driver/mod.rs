//! One tokio task drives one [`Node`]: datagrams, peer and client frames, status
//! queries and its timer go in as events; its actions go out on the sockets.

use crate::auth::Keys;
use crate::clock::Clock;
use crate::datagrams::DatagramAuth;
use crate::embed::glue::Glue;
use crate::embed::Attach;
use crate::envelope::Datagram;
use crate::frames::frame;
use crate::hooks::RoleChange;
use crate::listener::{accept_loop, Gate, Input};
use crate::logfile::{LogFile, Window};
use crate::metrics::Metrics;
use crate::peers::PeerLinks;
use crate::ratelimit::LogLimit;
use crate::status::Status;
use crate::store::Store;
use crate::udp::{multicast_socket, unicast_socket};
use crate::warn_limited;
use crate::writer::{DiskStats, Job, Report, Writer};
pub use options::{HttpOptions, NodeEvent, NodeOptions, RuntimeError};
use ringleader_core::link::LinkConfig;
use ringleader_core::log::Log;
use ringleader_core::wire::{ClientId, ClientMsg, Message, ServerMsg, MAX_DATAGRAM};
use ringleader_core::{Action, Algorithm, Event, Instant, Node, NodeId, Persisted, Role};
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

mod options;

/// Inputs from connections waiting for the event loop.
const INBOX: usize = 8192;
/// How long a leaving node waits for its last messages to go out.
const LEAVE_GRACE: Duration = Duration::from_millis(500);
/// Probe sources remembered for answers, before the table is cleared.
const PROBE_SOURCES_MAX: usize = 4096;

static CLIENT_ID_TAKEN: LogLimit = LogLimit::new();
/// One log limit per kind of refused datagram (see [`crate::datagrams::Rejected::class`]),
/// so a flood of one kind does not hide another.
static BAD_DATAGRAM: [LogLimit; 4] = [
    LogLimit::new(),
    LogLimit::new(),
    LogLimit::new(),
    LogLimit::new(),
];

fn warn_if_open(keys: &Keys) {
    if keys.cluster.is_none() {
        tracing::warn!(
            "NO CLUSTER KEY: anyone who can reach this node's ports can join the cluster, \
             take the leadership and rewrite the history. Fine on loopback; elsewhere run \
             `ringleader keygen` and start every node with --cluster-key-file"
        );
    }
    if keys.client.is_none() {
        tracing::info!("no client key: any program that reaches this node may chat");
    }
}

/// Runs a node until `shutdown` completes, then leaves gracefully: the peers hear
/// of it at once instead of after their failure timeout.
pub async fn run_node(
    opts: NodeOptions,
    events: Option<mpsc::UnboundedSender<NodeEvent>>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RuntimeError> {
    run(opts, events, shutdown, None).await
}

/// [`run_node`] for [`crate::embed::NodeHandle`]: once started, hands what the
/// handle needs over `attach`.
pub(crate) async fn run_embedded(
    opts: NodeOptions,
    shutdown: impl Future<Output = ()>,
    attach: tokio::sync::oneshot::Sender<Attach>,
) -> Result<(), RuntimeError> {
    run(opts, None, shutdown, Some(attach)).await
}

async fn run(
    opts: NodeOptions,
    events: Option<mpsc::UnboundedSender<NodeEvent>>,
    shutdown: impl Future<Output = ()>,
    attach: Option<tokio::sync::oneshot::Sender<Attach>>,
) -> Result<(), RuntimeError> {
    let data = DataDir::open(&opts)?;
    let sockets = Sockets::bind(&opts).await?;
    let (inbox_tx, mut inbox) = mpsc::channel(INBOX);
    warn_if_open(&opts.keys);
    let metrics = Metrics::new();
    let (peers, gate) = links(&opts, &inbox_tx, &metrics);
    let http = sockets.http.map(|listener| {
        let open_key = opts.keys.cluster.is_some();
        crate::http::start(listener, inbox_tx.clone(), metrics.clone(), open_key)
    });
    let accept = tokio::spawn(accept_loop(sockets.listener, gate, inbox_tx.clone()));
    let unicast = sockets.unicast;
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let mut d = Driver::new(
        opts,
        events,
        data,
        (peers, metrics),
        unicast.clone(),
        report_tx,
    )?;
    d.inbox = Some(inbox_tx.downgrade());
    d.http = http.as_ref().and_then(|(addr, _)| *addr);
    d.start()?;
    if let Some(attach) = attach {
        let _ = attach.send(d.attach(inbox_tx));
    } else {
        drop(inbox_tx);
    }
    tokio::pin!(shutdown);
    let mut group_buf = vec![0u8; MAX_DATAGRAM];
    let mut unicast_buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let deadline = [d.node.next_deadline(), d.peers.next_deadline()]
            .into_iter()
            .flatten()
            .min()
            .map_or_else(
                || d.clock.to_tokio(ringleader_core::Instant::MAX),
                |t| d.clock.to_tokio(t),
            );
        tokio::select! {
            () = &mut shutdown => break,
            input = inbox.recv() => match input {
                Some(input) => d.on_input(input)?,
                None => break,
            },
            report = reports.recv() => match report {
                Some(Report::Durable(token)) => d.step(Event::Durable { token })?,
                Some(Report::Read { from, entries }) => d.step(Event::LogRead { from, entries })?,
                Some(Report::Compacted(snapshot)) => d.step(Event::LogCompacted { snapshot })?,
                Some(Report::Failed(e)) => return Err(e.into()),
                None => break,
            },
            got = recv(sockets.group.as_ref(), &mut group_buf) => {
                if let Ok((n, from)) = got {
                    d.metrics.traffic.datagram_in.add(1, n as u64);
                    d.on_datagram(group_buf.get(..n).unwrap_or_default(), from)?;
                }
            }
            got = unicast.recv_from(&mut unicast_buf) => {
                if let Ok((n, from)) = got {
                    d.metrics.traffic.datagram_in.add(1, n as u64);
                    d.on_datagram(unicast_buf.get(..n).unwrap_or_default(), from)?;
                }
            }
            () = tokio::time::sleep_until(deadline) => d.on_timer()?,
        }
    }
    tracing::info!(node = %d.opts.id, "leaving");
    d.step(Event::Leave)?;
    accept.abort();
    if let Some((_, task)) = http {
        task.abort();
    }
    d.peers.drain(LEAVE_GRACE).await;
    // What was handed to the writer reaches the disk before the process ends.
    d.writer.finish();
    Ok(())
}

/// The node's links to its peers (dialled) and the gate of its listener.
fn links(opts: &NodeOptions, inbox: &mpsc::Sender<Input>, metrics: &Metrics) -> (PeerLinks, Gate) {
    let cluster = opts.config.cluster.clone();
    let peers = PeerLinks::new(
        opts.id,
        (cluster.clone(), opts.keys.cluster.clone()),
        LinkConfig::for_node(&opts.config),
        rand::random(),
        (inbox.clone(), metrics.traffic.clone()),
    );
    let gate = Gate {
        cluster,
        keys: Arc::new(opts.keys.clone()),
        pools: crate::limits::Pools::new(opts.limits),
        traffic: metrics.traffic.clone(),
    };
    (peers, gate)
}

/// What a node keeps in its data directory, read back at start.
struct DataDir {
    store: Store,
    persisted: Persisted,
    log_file: LogFile,
    log: Log,
}

impl DataDir {
    fn open(opts: &NodeOptions) -> Result<DataDir, RuntimeError> {
        let store = Store::open(&opts.data_dir)?;
        let loaded = store.load()?;
        let window = Window {
            memory: opts.config.log_memory,
            keep: opts.config.log_keep,
        };
        let (mut log_file, log) = LogFile::open_with(&opts.data_dir, opts.segment_bytes, window)?;
        log_file.set_retain(opts.retain);
        if loaded.is_none() && log.last_index() > 0 {
            if opts.config.election == Algorithm::Quorum && !opts.allow_missing_state {
                return Err(RuntimeError::MissingState(store.state_path()));
            }
            tracing::warn!(
                path = %store.state_path().display(),
                "the state file is missing but a log is present: starting from term 0"
            );
        }
        let persisted = loaded.unwrap_or_default();
        if log.last_index() > 0 {
            tracing::info!(
                entries = log.last_index(),
                committed = log.commit_index(),
                "log read back"
            );
        }
        Ok(DataDir {
            store,
            persisted,
            log_file,
            log,
        })
    }
}

/// The node's sockets: the TCP listener for peers, clients and status, the
/// unicast UDP socket it sends datagrams from, and the multicast group.
struct Sockets {
    listener: TcpListener,
    unicast: Arc<UdpSocket>,
    group: Option<UdpSocket>,
    http: Option<TcpListener>,
}

impl Sockets {
    async fn bind(opts: &NodeOptions) -> Result<Sockets, RuntimeError> {
        let listener = TcpListener::bind(opts.listen)
            .await
            .map_err(|e| RuntimeError::Listen(opts.listen, e))?;
        let unicast = Arc::new(
            unicast_socket(opts.listen, opts.multicast.as_ref())
                .map_err(|e| RuntimeError::Listen(opts.listen, e))?,
        );
        let group = match &opts.multicast {
            Some(m) => Some(multicast_socket(m).map_err(|e| RuntimeError::Multicast(*m, e))?),
            None => None,
        };
        let http = match opts.http {
            Some(HttpOptions { addr, required }) => match TcpListener::bind(addr).await {
                Ok(l) => Some(l),
                Err(e) if required => return Err(RuntimeError::Http(addr, e)),
                Err(e) => {
                    tracing::warn!("no status page: {}", RuntimeError::Http(addr, e));
                    None
                }
            },
            None => None,
        };
        Ok(Sockets {
            listener,
            unicast,
            group,
            http,
        })
    }
}

async fn recv(socket: Option<&UdpSocket>, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    match socket {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

struct Driver {
    opts: NodeOptions,
    node: Node,
    clock: Clock,
    /// Carries the node's writes out, off this loop.
    writer: Writer,
    /// The state written before the start: the start step's `Persist` of it
    /// is not written again.
    started: Option<Persisted>,
    /// What the writer measured, and the committed history's digest it folds.
    disk: Arc<DiskStats>,
    peers: PeerLinks,
    unicast: Arc<UdpSocket>,
    /// Each connected client's newest connection and its frame queue.
    clients: BTreeMap<ClientId, (u64, crate::queue::FrameTx)>,
    /// Where clients' probes came from, to answer them by datagram.
    probe_sources: BTreeMap<ClientId, SocketAddr>,
    /// Clients whose queue overflowed during a step: closed after it.
    gone: Vec<ClientId>,
    actions: Vec<Action>,
    /// The lease the node held when its current step began (under `quorum`):
    /// a leader that steps down because it ran out led until then, not until
    /// the step (a paused process steps late).
    lease_at_step: Option<ringleader_core::Instant>,
    events: Option<mpsc::UnboundedSender<NodeEvent>>,
    /// The last push of entries to a client, encoded: (what it holds, the frame).
    last_push: Option<(PushKey, Vec<u8>)>,
    /// Seals and opens datagrams.
    datagrams: DatagramAuth,
    /// What the node counts for monitoring.
    metrics: Arc<Metrics>,
    /// The leader the node last named (a change counts in the metrics).
    named: Option<NodeId>,
    /// The latest role changes, for the status.
    recent_roles: std::collections::VecDeque<crate::status::RoleRecord>,
    /// The inbox, to read how full it is (weak: the loop must still see the
    /// inbox close when every connection's sender is gone).
    inbox: Option<mpsc::WeakSender<Input>>,
    /// Where the status page is served.
    http: Option<SocketAddr>,
    /// What an embedding application sees (see [`crate::embed`]).
    glue: Glue,
}

/// What identifies a run of committed entries: committed entries never change, so
/// the first and last index with their stamps name the run.
type PushKey = (
    u64,
    u64,
    ringleader_core::log::Stamp,
    ringleader_core::log::Stamp,
);

fn push_key(entries: &[ringleader_core::log::Entry]) -> Option<PushKey> {
    let (first, last) = (entries.first()?, entries.last()?);
    Some((first.index, last.index, first.stamp(), last.stamp()))
}

impl Driver {
    fn new(
        opts: NodeOptions,
        events: Option<mpsc::UnboundedSender<NodeEvent>>,
        data: DataDir,
        (peers, metrics): (PeerLinks, Arc<Metrics>),
        unicast: Arc<UdpSocket>,
        reports: mpsc::UnboundedSender<Report>,
    ) -> Result<Driver, RuntimeError> {
        let clock = Clock::start();
        let node = Node::restore_with_log(
            opts.config.clone(),
            opts.id,
            rand::random(),
            clock.now(),
            data.persisted,
            data.log,
        )
        .map_err(RuntimeError::Config)?;
        // The start's writes are durable before anything the start sends (the
        // incarnation it announces must never be used again): written here,
        // before the writer thread takes over.
        let started = node.persisted();
        data.store.save(&started)?;
        let disk = Arc::new(DiskStats {
            digest: std::sync::Mutex::new(data.log_file.digest()),
            fsync: Some(metrics.fsync.clone()),
            ..DiskStats::default()
        });
        let writer = Writer::spawn(
            data.log_file,
            data.store,
            opts.durability,
            disk.clone(),
            reports,
        )
        .map_err(RuntimeError::Writer)?;
        let (opts_id, opts_election) = (opts.id, opts.config.election);
        Ok(Driver {
            datagrams: DatagramAuth::new(opts.keys.clone()),
            peers,
            node,
            clock,
            writer,
            started: Some(started),
            disk,
            unicast,
            clients: BTreeMap::new(),
            probe_sources: BTreeMap::new(),
            gone: Vec::new(),
            actions: Vec::new(),
            lease_at_step: None,
            events,
            opts,
            last_push: None,
            metrics,
            named: None,
            recent_roles: std::collections::VecDeque::new(),
            inbox: None,
            http: None,
            glue: Glue::new(opts_id, opts_election),
        })
    }

    /// The node's first step, told to whoever runs it and to the log.
    fn start(&mut self) -> Result<(), RuntimeError> {
        self.step(Event::Start)?;
        self.emit(NodeEvent::Started {
            addr: self.opts.listen,
            starts: self.node.persisted().starts,
            http: self.http,
        });
        tracing::info!(node = %self.opts.id, addr = %self.opts.listen, election = %self.opts.config.election, "started");
        if let Some(addr) = self.http {
            tracing::info!("status page at http://{addr}/ (JSON at /status, metrics at /metrics)");
        }
        Ok(())
    }

    /// What a [`crate::embed::NodeHandle`] needs of the running node.
    fn attach(&self, inbox: mpsc::Sender<Input>) -> Attach {
        Attach {
            inbox,
            leadership: self.glue.subscribe(),
            writer: self.writer.link(),
        }
    }

    fn emit(&self, event: NodeEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(event);
        }
    }

    fn step(&mut self, event: Event) -> Result<(), RuntimeError> {
        let now = self.clock.now();
        let mut actions = std::mem::take(&mut self.actions);
        self.lease_at_step = self.node.lease_end();
        self.node.step_into(now, event, &mut actions);
        let result = actions.drain(..).try_for_each(|a| self.apply(a));
        self.actions = actions;
        result?;
        while let Some(client) = self.gone.pop() {
            tracing::warn!(%client, "client too slow to keep up; closing its connection");
            self.clients.remove(&client);
            self.step(Event::ClientGone { client })?;
        }
        Ok(())
    }

    /// The earliest deadline came: the node's timers, and the links'.
    fn on_timer(&mut self) -> Result<(), RuntimeError> {
        let now = self.clock.now();
        if self.node.next_deadline().is_some_and(|t| t <= now) {
            self.step(Event::Tick)?;
        }
        let node = &self.node;
        self.peers
            .tick(now, |p| node.member(p).map(|m| m.info.addr));
        Ok(())
    }

    /// A message from peer `from` arrived (by any way): its link, if backing
    /// off, dials at once, and the node takes the message.
    fn on_peer_message(&mut self, msg: Message) -> Result<(), RuntimeError> {
        let (from, life) = (msg.from(), msg.sender().incarnation);
        let node = &self.node;
        self.peers.heard_from(self.clock.now(), from, life, |p| {
            node.member(p).map(|m| m.info.addr)
        });
        self.step(Event::Received(msg))
    }

    fn on_input(&mut self, input: Input) -> Result<(), RuntimeError> {
        match input {
            Input::Peer(msg) => self.on_peer_message(msg),
            Input::Link { peer, conn, news } => {
                let node = &self.node;
                self.peers.news(self.clock.now(), peer, conn, news, |p| {
                    node.member(p).map(|m| m.info.addr)
                });
                for (peer, life) in self.peers.take_gone() {
                    self.step(Event::PeerGone { peer, life })?;
                }
                Ok(())
            }
            Input::ClientOpened {
                id,
                secret,
                conn,
                tx,
            } => {
                self.open_client(id, secret, conn, tx);
                Ok(())
            }
            Input::FromClient { id, conn, msg } => {
                if self.clients.get(&id).is_some_and(|(c, _)| *c == conn) {
                    self.step(Event::FromClient { client: id, msg })
                } else {
                    Ok(()) // a replaced or closed connection
                }
            }
            Input::ClientClosed { id, conn } => {
                if self.clients.get(&id).is_some_and(|(c, _)| *c == conn) {
                    self.clients.remove(&id);
                    self.step(Event::ClientGone { client: id })
                } else {
                    Ok(())
                }
            }
            Input::Status(reply) => {
                let _ = reply.send(self.status());
                Ok(())
            }
            Input::Propose { payload, reply } => {
                let ticket = self.glue.ticket(reply);
                self.step(Event::Propose { ticket, payload })
            }
            Input::AppSnapshot(snapshot) => self.step(Event::AppSnapshot { snapshot }),
            Input::Fence(reply) => {
                let clock = self.clock;
                let fence = Glue::fence(&self.node, clock.now(), |t| clock.to_tokio(t).into_std());
                let _ = reply.send(fence);
                Ok(())
            }
        }
    }

    /// The node's status now, with what only the driver knows.
    fn status(&self) -> Status {
        let election = self.opts.config.election.to_string();
        let mut status = Status::of(
            &self.node,
            (&self.opts.config.cluster, &election),
            self.clock.now(),
            (
                self.disk.digest.lock().map_or(0, |d| d.value),
                crate::status::DiskStatus::of(
                    &self.node,
                    &self.opts.durability.to_string(),
                    &self.disk,
                ),
            ),
        );
        status.queues = crate::status::QueueStatus {
            inbox: self
                .inbox
                .as_ref()
                .and_then(mpsc::WeakSender::upgrade)
                .map_or(0, |tx| (tx.max_capacity() - tx.capacity()) as u64),
            writer: self.disk.queued.load(std::sync::atomic::Ordering::Relaxed),
            peer_bytes: self.peers.queued_bytes() as u64,
            client_bytes: self
                .clients
                .values()
                .map(|(_, tx)| tx.queued_bytes() as u64)
                .sum(),
        };
        status.recent_roles = self.recent_roles.iter().cloned().collect();
        status.http = self.http.map(|a| format!("http://{a}/"));
        status
    }

    /// A client's new connection: admitted if its id is new or it proves the id
    /// with its secret (see [`crate::auth::admission`]). The newest admitted
    /// connection of a client wins; dropping the old queue closes the old
    /// connection, and nothing more is read from it.
    fn open_client(
        &mut self,
        id: ClientId,
        secret: Option<crate::auth::ClientSecret>,
        conn: u64,
        tx: crate::queue::FrameTx,
    ) {
        let key = self.opts.keys.cluster.as_ref();
        let taken =
            self.clients.contains_key(&id) || self.node.log().client_position(id.0) != (0, 0);
        match crate::auth::admission(key, id.0, secret.as_ref(), taken) {
            crate::auth::Admission::Refuse => {
                warn_limited!(CLIENT_ID_TAKEN, client = %id, "refused a connection under a client id in use that did not show its secret");
                let why = format!("client id {id} is in use; only its secret resumes it");
                if let Some(bytes) = frame(&ServerMsg::Refused(why)) {
                    let _ = tx.try_send(bytes);
                }
            }
            crate::auth::Admission::Admit { give_secret } => {
                if let (true, Some(key)) = (give_secret, key) {
                    let secret = crate::auth::client_secret(key, id.0);
                    if let Some(bytes) = frame(&ServerMsg::Secret(secret)) {
                        let _ = tx.try_send(bytes);
                    }
                }
                if self.clients.get(&id).is_none_or(|(c, _)| *c < conn) {
                    self.clients.insert(id, (conn, tx));
                }
            }
        }
    }

    fn on_datagram(&mut self, bytes: &[u8], from: SocketAddr) -> Result<(), RuntimeError> {
        match self.datagrams.decode(bytes) {
            Ok(Datagram::Server(msg)) => {
                if msg.from() == self.opts.id {
                    return Ok(()); // our own multicast, looped back
                }
                self.on_peer_message(msg)
            }
            Ok(Datagram::ClientProbe { client }) => {
                if self.probe_sources.len() >= PROBE_SOURCES_MAX {
                    self.probe_sources.clear();
                }
                self.probe_sources.insert(client, from);
                self.step(Event::FromClient {
                    client,
                    msg: ClientMsg::Probe,
                })
            }
            Ok(Datagram::ToClient(_) | Datagram::Sealed(_)) => Ok(()),
            Err(e) => {
                if let Some(limit) = BAD_DATAGRAM.get(e.class()) {
                    warn_limited!(limit, %from, "dropped a datagram: {e}");
                }
                Ok(())
            }
        }
    }

    fn apply(&mut self, action: Action) -> Result<(), RuntimeError> {
        match action {
            Action::Send { to, msg } => self.send(to, msg),
            Action::Multicast(msg) => self.multicast(msg),
            Action::Persist { token, state } => {
                if self.started.take() != Some(state) {
                    self.write(Job::State(token, state));
                }
            }
            Action::ReadLog { from, max } => self.write(Job::Read { from, max }),
            Action::WriteLog { token, write } => self.write(Job::Log(token, *write)),
            Action::Member { node, change } => {
                tracing::info!(member = %node.id, addr = %node.addr, "member {change}");
                self.emit(NodeEvent::Member {
                    node: node.id,
                    change: change.to_string(),
                });
            }
            Action::RoleChanged {
                old,
                new,
                leader,
                epoch,
            } => {
                let named = leader.map_or_else(|| "none".to_owned(), |l| l.to_string());
                let led_until = (old == Role::Leader && new != Role::Leader).then(|| {
                    let now = self.clock.now();
                    self.lease_at_step.map_or(now, |end| end.min(now))
                });
                tracing::info!(role = %new, leader = %named, epoch, "role changed");
                self.count_role_change(old, new, leader, epoch);
                self.glue.role(new, leader, epoch);
                self.opts.hooks.fire(
                    self.opts.id,
                    RoleChange {
                        old,
                        new,
                        leader,
                        epoch,
                        led_until_ms: led_until.map(Instant::as_millis),
                    },
                );
                self.emit(NodeEvent::Role {
                    role: new,
                    leader,
                    epoch,
                });
            }
            Action::ToClient { client, msg } => self.send_to_client(client, &msg),
            Action::CloseClient(client) => {
                self.clients.remove(&client);
            }
            Action::Proposal { ticket, outcome } => self.glue.answer(ticket, outcome),
        }
        Ok(())
    }

    /// Counts a role change in the metrics and keeps it for the status.
    fn count_role_change(&mut self, old: Role, new: Role, leader: Option<NodeId>, epoch: u64) {
        if new == Role::Candidate && old != Role::Candidate {
            self.metrics.elections.inc();
        }
        if leader != self.named {
            self.metrics.leader_changes.inc();
            self.named = leader;
        }
        if self.recent_roles.len() >= crate::status::ROLE_HISTORY {
            self.recent_roles.pop_front();
        }
        self.recent_roles.push_back(crate::status::RoleRecord {
            at_ms: self.clock.now().as_millis(),
            role: new.to_string(),
            leader: leader.map(|l| l.0),
            epoch,
        });
    }

    /// Hands a write to the writer thread. If it is gone it has reported
    /// why, and the loop stops on that report.
    fn write(&mut self, job: Job) {
        if !self.writer.send(job) {
            tracing::debug!("write not handed over: the writer stopped");
        }
    }

    fn send(&mut self, to: NodeId, msg: Message) {
        let node = &self.node;
        self.peers.send(self.clock.now(), to, msg, |p| {
            node.member(p).map(|m| m.info.addr)
        });
    }

    fn multicast(&mut self, msg: Message) {
        let sender = u64::from(self.opts.id.0);
        let Some(bytes) = self.datagrams.encode(&Datagram::Server(msg), sender) else {
            tracing::error!("datagram not sent: it does not fit in one");
            return;
        };
        let targets = self.opts.multicast.map(|m| m.dest()).into_iter().chain(
            self.opts
                .peers
                .iter()
                .copied()
                .filter(|p| *p != self.opts.listen),
        );
        for to in targets {
            match self.unicast.try_send_to(&bytes, to) {
                Ok(n) => self.metrics.traffic.datagram_out.add(1, n as u64),
                Err(e) => tracing::debug!(%to, "datagram not sent: {e}"),
            }
        }
    }

    fn send_to_client(&mut self, client: ClientId, msg: &ServerMsg) {
        if let Some((_, tx)) = self.clients.get(&client) {
            // Every client caught up gets the same push: encode it once.
            let bytes = match (msg, &self.last_push) {
                (ServerMsg::Entries(e), Some((key, bytes))) if push_key(e) == Some(*key) => {
                    Some(bytes.clone())
                }
                (ServerMsg::Entries(e), _) => {
                    let bytes = frame(msg);
                    self.last_push = push_key(e).zip(bytes.clone());
                    bytes
                }
                _ => frame(msg),
            };
            if let Some(bytes) = bytes {
                if tx.try_send(bytes).is_err() {
                    self.gone.push(client);
                }
            }
        } else if let Some(addr) = self.probe_sources.get(&client) {
            let sender = u64::from(self.opts.id.0);
            match self
                .datagrams
                .encode(&Datagram::ToClient(msg.clone()), sender)
            {
                Some(bytes) => {
                    if let Ok(n) = self.unicast.try_send_to(&bytes, *addr) {
                        self.metrics.traffic.datagram_out.add(1, n as u64);
                    }
                }
                None => tracing::debug!("answer to a probe not sent: too large"),
            }
        }
    }
}
