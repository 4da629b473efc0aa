//! The run loop: nodes, network, faults and checker driven by one event queue.

use crate::clients::{client_id, number, ordered, Link, SimClient};
use crate::clock::NodeClock;
use crate::config::SimConfig;
use crate::faults::{generate, Fault, GeneratorOptions, ScheduledFault};
use crate::invariants::{DiscoveryChecker, ElectionChecker, Observed, ReplicationChecker};
use crate::network::{Fate, Network};
use crate::queue::EventQueue;
use crate::report::Report;
use crate::trace::{DropReason, Tracer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ringleader_core::client::{Client, ClientAction, ClientConfig, ClientEvent};
use ringleader_core::log::Log;
use ringleader_core::wire::{ClientId, ClientMsg, Message, ServerMsg};
use ringleader_core::{
    Action, Algorithm, Config, Event, Instant, MembershipChange, Node, NodeId, Persisted,
};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

/// Why a run could not be carried out.
#[derive(Debug)]
pub enum SimError {
    /// The configuration is unusable.
    Config(String),
    /// Writing the trace failed.
    Trace(std::io::Error),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Config(e) => write!(f, "invalid simulation: {e}"),
            SimError::Trace(e) => write!(f, "cannot write the trace: {e}"),
        }
    }
}

impl std::error::Error for SimError {}

/// Runs `config` to the end, keeping only the trace digest.
pub fn run(config: &SimConfig) -> Result<Report, SimError> {
    World::new(config, Tracer::digest_only())?.run()
}

/// Runs `config` to the end, writing the readable trace to `out`.
pub fn run_traced(config: &SimConfig, out: &mut dyn Write) -> Result<Report, SimError> {
    World::new(config, Tracer::to_writer(out))?.run()
}

/// Runs `config` to the end, writing the readable trace to `out` and keeping
/// structured records of it in `records` (for the trace viewer).
pub fn run_recorded(
    config: &SimConfig,
    out: &mut dyn Write,
    records: &mut Vec<crate::trace::Record>,
) -> Result<Report, SimError> {
    World::new(config, Tracer::to_writer(out).recording(records))?.run()
}

/// The concrete fault schedule a run of `config` applies: generated and explicit faults.
pub fn fault_schedule(config: &SimConfig) -> Vec<ScheduledFault> {
    let opts = GeneratorOptions {
        profile: config.faults,
        partitions: config.partitions,
    };
    let mut all = generate(config.seed, config.nodes, config.duration, opts);
    all.extend(config.schedule.iter().cloned());
    // Stable: explicit faults at the same time as generated ones come after them.
    all.sort_by_key(|f| f.at);
    all
}

/// The address a simulated node advertises: 10.0.x.y:7000.
pub fn sim_addr(id: NodeId) -> SocketAddr {
    let [_, _, hi, lo] = id.0.to_be_bytes();
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, hi, lo), 7000))
}

/// A seed for node `index` in its `life`-th life, derived from the run's seed.
fn node_seed(seed: u64, index: usize, life: u64) -> u64 {
    let mut z = seed ^ ((index as u64) << 40) ^ life.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The node a simulated address belongs to (see [`sim_addr`]).
fn addr_node(addr: SocketAddr) -> Option<usize> {
    match addr {
        SocketAddr::V4(a) if a.port() == 7000 => {
            let [ten, zero, hi, lo] = a.ip().octets();
            let id = u32::from(u16::from_be_bytes([hi, lo]));
            ((ten, zero) == (10, 0) && id > 0).then(|| id as usize - 1)
        }
        _ => None,
    }
}

enum Item {
    Start(usize),
    Tick(usize),
    Deliver {
        to: usize,
        msg: Message,
        /// When it was sent, for the trace viewer.
        sent: Instant,
    },
    Fault(Fault),
    /// A paused node carries on.
    Resume(usize),
    ClientStart(usize),
    ClientTick(usize),
    ClientSend(usize),
    /// A client's segment reaches a server on connection `link`.
    ToServer {
        server: usize,
        life: u64,
        client: usize,
        link: u64,
        msg: Box<ClientMsg>,
    },
    /// A client's probe datagram reaches a server.
    Probe {
        server: usize,
        client: usize,
    },
    /// A server's message reaches a client (`link: None`: a datagram).
    ToClient {
        client: usize,
        from: NodeId,
        link: Option<u64>,
        msg: Box<ServerMsg>,
    },
    /// A connection came up (the handshake finished) or went down, client side.
    LinkState {
        client: usize,
        link: u64,
        up: bool,
    },
    /// The client closed connection `link`; the server hears of it.
    LinkClosed {
        server: usize,
        life: u64,
        client: usize,
        link: u64,
    },
}

struct Slot {
    id: NodeId,
    config: Config,
    node: Option<Node>,
    up_since: Instant,
    clock: NodeClock,
    persisted: Persisted,
    lives: u64,
    tick_at: Option<Instant>,
    /// The durable log, kept across crashes.
    log: Log,
    /// Client connections this server holds: client -> (client index, link).
    links: BTreeMap<ClientId, (usize, u64)>,
    /// Per client, the newest connection this server closed or saw replaced by a
    /// newer one. Like a TCP server, it reads nothing more from such a connection:
    /// a late message on it must not be taken for the client's current session.
    retired: BTreeMap<ClientId, u64>,
    /// While the node is paused: when it carries on. What arrives for it until
    /// then waits in the queue.
    paused_until: Option<Instant>,
}

struct Slots(Vec<Slot>);

impl Observed for Slots {
    fn len(&self) -> usize {
        self.0.len()
    }
    // A paused node is, to the checkers, not there: it cannot act, and the others
    // are right to carry on without it.
    fn node(&self, i: usize) -> Option<&Node> {
        self.0
            .get(i)
            .filter(|s| s.paused_until.is_none())
            .and_then(|s| s.node.as_ref())
    }
    fn up_since(&self, i: usize) -> Option<Instant> {
        self.0
            .get(i)
            .filter(|s| s.node.is_some() && s.paused_until.is_none())
            .map(|s| s.up_since)
    }
}

struct Counters {
    events: u64,
    messages: u64,
    sent: u64,
    lost: u64,
    cut: u64,
    duplicated: u64,
    to_down: u64,
    faults: u64,
}

struct World<'w> {
    seed: u64,
    end: Instant,
    now: Instant,
    slots: Slots,
    queue: EventQueue<Item>,
    net: Network,
    rng: ChaCha8Rng,
    tracer: Tracer<'w>,
    checker: DiscoveryChecker,
    election: ElectionChecker,
    replication: ReplicationChecker,
    counters: Counters,
    actions: Vec<Action>,
    clients: Vec<SimClient>,
    client_actions: Vec<ClientAction>,
    client_rng: ChaCha8Rng,
    /// Clients send until then.
    send_until: Instant,
    /// Mean time between two messages of one client.
    send_every: Option<Duration>,
    /// When the run last changed (a fault or start); liveness needs quiet after it.
    last_disturbance: Instant,
    drain_bound: Duration,
}

impl<'w> World<'w> {
    fn new(config: &SimConfig, tracer: Tracer<'w>) -> Result<Self, SimError> {
        config.validate().map_err(SimError::Config)?;
        let n = config.nodes as usize;
        let node_config = config.node_config();
        let mut setup = ChaCha8Rng::seed_from_u64(config.seed);
        setup.set_stream(3);
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(1);
        let mut queue = EventQueue::default();
        let spread = config.start_spread.as_micros() as u64;
        let mut slots = Vec::with_capacity(n);
        for i in 0..n {
            let id = NodeId(i as u32 + 1);
            // Every node's clock has its own epoch, as on real machines.
            let max_offset = config.max_clock_offset.as_micros() as u64;
            let offset = Duration::from_micros(setup.random_range(0..max_offset.max(1)));
            slots.push(Slot {
                id,
                config: Config {
                    addr: sim_addr(id),
                    ..node_config.clone()
                },
                node: None,
                up_since: Instant::ZERO,
                clock: NodeClock::new(offset),
                persisted: Persisted::default(),
                lives: 0,
                tick_at: None,
                log: Log::default(),
                links: BTreeMap::new(),
                retired: BTreeMap::new(),
                paused_until: None,
            });
            let random = Instant::from_micros(setup.random_range(0..=spread));
            let at = config
                .start_at
                .iter()
                .find(|(n, _)| *n == id)
                .map_or(random, |(_, at)| *at);
            queue.push(at, Item::Start(i));
        }
        let mut last_disturbance = Instant::ZERO + config.start_spread;
        for (_, at) in &config.start_at {
            last_disturbance = last_disturbance.max(*at);
        }
        let schedule = fault_schedule(config);
        // Two leaders at once are the documented limit of bully and ring under
        // partitions (see `strict` below). Judged on the concrete schedule, so a
        // replay file (random faults written out) is checked exactly as the run it
        // came from.
        let cuts = schedule
            .iter()
            .any(|f| matches!(f.fault, Fault::Partition(_) | Fault::Cut { .. }));
        for f in schedule {
            match f.fault {
                Fault::ClientLeave(_) => {}
                Fault::Pause { lasts, .. } => last_disturbance = last_disturbance.max(f.at + lasts),
                _ => last_disturbance = last_disturbance.max(f.at),
            }
            queue.push(f.at, Item::Fault(f.fault));
        }
        let mut client_rng = ChaCha8Rng::seed_from_u64(config.seed);
        client_rng.set_stream(5);
        let mut clients = Vec::with_capacity(config.clients as usize);
        for c in 0..config.clients as usize {
            let mut cc = ClientConfig::new(client_id(c), format!("user{}", number(c)));
            cc.buffer_limit = config.client_buffer;
            cc.servers = config
                .client_servers
                .iter()
                .find(|(n, _)| *n == number(c))
                .map(|(_, servers)| servers.iter().map(|id| sim_addr(*id)).collect())
                .unwrap_or_default();
            clients.push(SimClient::new(Client::new(cc)));
            let random = Instant::from_micros(client_rng.random_range(500_000..1_500_000));
            let at = config
                .client_start_at
                .iter()
                .find(|(n, _)| *n == number(c))
                .map_or(random, |(_, at)| *at);
            queue.push(at, Item::ClientStart(c));
        }
        let end = Instant::ZERO + config.duration;
        let quiet = config.client_quiet.min(config.duration / 2);
        let send_until =
            Instant::from_micros(end.as_micros().saturating_sub(quiet.as_micros() as u64));
        let send_every = (config.rate > 0.0 && config.clients > 0)
            .then(|| Duration::from_secs_f64(1.0 / config.rate));
        if send_every.is_some() {
            last_disturbance = last_disturbance.max(send_until);
        }
        let max_delay = config.network.max_delay();
        let election = ElectionChecker::new(&node_config, n, max_delay);
        let client_timeout = ClientConfig::new(ClientId(1), "x").server_timeout;
        let drain_bound = election.bound() + client_timeout + Duration::from_secs(1);
        // Two leaders at once are the documented limit of bully and ring under
        // partitions; there the replication checks count divergence instead.
        let strict = node_config.election == Algorithm::Quorum || !cuts;
        Ok(World {
            seed: config.seed,
            end: Instant::ZERO + config.duration,
            now: Instant::ZERO,
            slots: Slots(slots),
            queue,
            net: Network::new(config.network.clone(), n),
            rng,
            tracer,
            checker: DiscoveryChecker::new(n, &node_config, max_delay),
            election,
            replication: ReplicationChecker::new(n, config.clients as usize, strict),
            counters: Counters {
                events: 0,
                messages: 0,
                sent: 0,
                lost: 0,
                cut: 0,
                duplicated: 0,
                to_down: 0,
                faults: 0,
            },
            actions: Vec::new(),
            clients,
            client_actions: Vec::new(),
            client_rng,
            send_until,
            send_every,
            last_disturbance,
            drain_bound,
        })
    }

    fn run(mut self) -> Result<Report, SimError> {
        let wall = std::time::Instant::now();
        while let Some(at) = self.queue.peek_time() {
            if at > self.end {
                break;
            }
            let Some((at, item)) = self.queue.pop() else {
                break;
            };
            self.checker.check_due(at, &self.slots);
            self.election.check_due(at, &self.slots);
            self.now = at;
            self.handle(item);
        }
        self.now = self.end;
        self.checker
            .check_due(self.end + Duration::from_micros(1), &self.slots);
        if let Some(e) = self.tracer.take_error() {
            return Err(SimError::Trace(e));
        }
        let digest = self.tracer.digest().hex();
        let leaders = (0..self.slots.0.len())
            .filter_map(|i| self.slots.node(i))
            .map(|n| (n.id().0, n.leadership().leader.map(|l| l.0)))
            .collect();
        let algorithm = self
            .slots
            .0
            .first()
            .map(|s| s.config.election.to_string())
            .unwrap_or_default();
        let (mut violations, mut checks) = self.checker.finish();
        let (more, more_checks, election_stats) = self.election.finish(self.end);
        violations.extend(more);
        checks.extend(more_checks);
        let unacked: Vec<usize> = self.clients.iter().map(|c| c.client.unacked()).collect();
        let settled = self.end >= self.last_disturbance + self.drain_bound;
        let clients = self.clients.len() as u32;
        let (more, more_checks, replication) = if clients > 0 {
            self.replication
                .finish(self.end, &self.slots, &unacked, settled)
        } else {
            // Without clients only leaders' markers are replicated: safety is still
            // checked as the run goes, liveness needs no judging.
            let (v, mut c, r) = self
                .replication
                .finish(self.end, &self.slots, &unacked, false);
            c.retain(|name, _| {
                !matches!(*name, "logs_converge" | "acked_durable" | "clients_drain")
            });
            (v, c, r)
        };
        violations.extend(more);
        checks.extend(more_checks);
        violations.sort_by_key(|v| v.at_ms);
        let c = &self.counters;
        Ok(Report {
            seed: self.seed,
            nodes: self.slots.0.len() as u32,
            events: c.events,
            messages: c.messages,
            sent: c.sent,
            lost: c.lost,
            cut: c.cut,
            duplicated: c.duplicated,
            to_down_node: c.to_down,
            faults: c.faults,
            virtual_ms: self.end.as_millis(),
            wall_ms: wall.elapsed().as_millis() as u64,
            digest,
            violations,
            checks,
            election: algorithm,
            election_stats,
            leaders,
            clients,
            replication,
        })
    }

    /// The server an item is addressed to, for the items a paused server must not
    /// see yet.
    fn server_of(item: &Item) -> Option<usize> {
        match item {
            Item::Tick(i) => Some(*i),
            Item::Deliver { to, .. } => Some(*to),
            Item::ToServer { server, .. }
            | Item::Probe { server, .. }
            | Item::LinkClosed { server, .. } => Some(*server),
            _ => None,
        }
    }

    /// Holds `item` back until its server carries on, if it is paused now.
    fn held_back(&mut self, item: Item) -> Option<Item> {
        let Some(i) = Self::server_of(&item) else {
            return Some(item);
        };
        let Some(slot) = self.slots.0.get_mut(i) else {
            return Some(item);
        };
        match slot.paused_until {
            Some(until) if until > self.now && slot.node.is_some() => {
                if let Item::Tick(_) = item {
                    if slot.tick_at != Some(self.now) {
                        return None; // superseded anyway
                    }
                    slot.tick_at = Some(until);
                }
                self.queue.push(until, item);
                None
            }
            _ => Some(item),
        }
    }

    fn handle(&mut self, item: Item) {
        let Some(item) = self.held_back(item) else {
            return;
        };
        match item {
            Item::Tick(i) => {
                let Some(slot) = self.slots.0.get_mut(i) else {
                    return;
                };
                if slot.tick_at != Some(self.now) {
                    return; // superseded by an earlier tick, or the node went down
                }
                slot.tick_at = None;
                self.counters.events += 1;
                self.tracer.tick(self.now, slot.id);
                self.step(i, Event::Tick);
            }
            Item::Deliver { to, msg, sent } => {
                self.counters.events += 1;
                let Some(slot) = self.slots.0.get(to) else {
                    return;
                };
                if slot.node.is_none() {
                    self.counters.to_down += 1;
                    self.tracer.dropped(
                        (sent, self.now),
                        msg.from(),
                        slot.id,
                        &msg,
                        DropReason::Down,
                    );
                    return;
                }
                self.counters.messages += 1;
                self.tracer.deliver(sent, self.now, slot.id, &msg);
                self.step(to, Event::Received(msg));
            }
            Item::Start(i) => {
                self.counters.events += 1;
                self.election.on_fault(self.now);
                self.start(i);
                self.election.after_change(self.now, &self.slots);
            }
            Item::ClientStart(c) => {
                self.counters.events += 1;
                self.tracer.client_note(self.now, number(c), "start");
                self.client_step(c, ClientEvent::Start);
                self.schedule_send(c);
            }
            Item::ClientTick(c) => {
                let Some(sc) = self.clients.get_mut(c) else {
                    return;
                };
                if sc.tick_at != Some(self.now) {
                    return;
                }
                sc.tick_at = None;
                self.counters.events += 1;
                self.client_step(c, ClientEvent::Tick);
            }
            Item::ClientSend(c) => self.client_send(c),
            Item::ToServer {
                server,
                life,
                client,
                link,
                msg,
            } => {
                self.counters.events += 1;
                let Some(slot) = self.slots.0.get_mut(server) else {
                    return;
                };
                if slot.node.is_none() || slot.lives != life {
                    return; // the server died; the client will time out
                }
                let id = client_id(client);
                if slot.retired.get(&id).is_some_and(|r| link <= *r) {
                    return; // a connection this server closed or replaced
                }
                if let Some(&(_, current)) = slot.links.get(&id) {
                    if link < current {
                        return;
                    }
                    if link > current {
                        slot.retired.insert(id, current);
                    }
                }
                slot.links.insert(id, (client, link));
                let node = slot.id;
                self.tracer.client_msg(self.now, node, id, &msg);
                self.step(
                    server,
                    Event::FromClient {
                        client: id,
                        msg: *msg,
                    },
                );
            }
            Item::Probe { server, client } => {
                self.counters.events += 1;
                if self.slots.node(server).is_none() {
                    return;
                }
                let id = client_id(client);
                let node = NodeId(server as u32 + 1);
                self.tracer
                    .client_msg(self.now, node, id, &ClientMsg::Probe);
                self.step(
                    server,
                    Event::FromClient {
                        client: id,
                        msg: ClientMsg::Probe,
                    },
                );
            }
            Item::ToClient {
                client,
                from,
                link,
                msg,
            } => {
                self.counters.events += 1;
                let Some(sc) = self.clients.get_mut(client) else {
                    return;
                };
                if sc.quit || link.is_some_and(|l| sc.link_if(l).is_none()) {
                    return; // a connection the client has given up
                }
                self.tracer.server_msg(self.now, number(client), from, &msg);
                self.client_step(client, ClientEvent::Received(*msg));
            }
            Item::LinkState { client, link, up } => {
                self.counters.events += 1;
                let Some(sc) = self.clients.get_mut(client) else {
                    return;
                };
                let Some(l) = sc.link_if(link) else {
                    return;
                };
                let server = NodeId(l.server as u32 + 1);
                if !up {
                    sc.link = None;
                }
                let what = if up {
                    "connected to"
                } else {
                    "disconnected from"
                };
                self.tracer
                    .client_link(self.now, number(client), what, server);
                let event = if up {
                    ClientEvent::Connected
                } else {
                    ClientEvent::Disconnected
                };
                self.client_step(client, event);
            }
            Item::LinkClosed {
                server,
                life,
                client,
                link,
            } => {
                self.counters.events += 1;
                let id = client_id(client);
                let Some(slot) = self.slots.0.get_mut(server) else {
                    return;
                };
                if slot.node.is_none()
                    || slot.lives != life
                    || slot.links.get(&id) != Some(&(client, link))
                {
                    return;
                }
                slot.links.remove(&id);
                self.step(server, Event::ClientGone { client: id });
            }
            Item::Resume(i) => {
                let Some(slot) = self.slots.0.get_mut(i) else {
                    return;
                };
                if slot.paused_until != Some(self.now) {
                    return; // it crashed or restarted meanwhile
                }
                slot.paused_until = None;
                self.counters.events += 1;
                let id = slot.id;
                self.tracer.resume(self.now, id);
                self.election.on_fault(self.now);
                self.silenced(i);
                self.election.after_change(self.now, &self.slots);
            }
            Item::Fault(fault) => {
                self.counters.events += 1;
                self.counters.faults += 1;
                self.tracer.fault(self.now, &fault);
                self.election.on_fault(self.now);
                self.apply_fault(fault);
                self.election.after_change(self.now, &self.slots);
            }
        }
    }

    fn step(&mut self, i: usize, event: Event) {
        let Some(slot) = self.slots.0.get_mut(i) else {
            return;
        };
        let Some(node) = slot.node.as_mut() else {
            return;
        };
        let local = slot.clock.local(self.now);
        let mut actions = std::mem::take(&mut self.actions);
        node.step_into(local, event, &mut actions);
        let mut leadership_changed = false;
        for action in actions.drain(..) {
            let id = NodeId(i as u32 + 1);
            self.tracer.action(self.now, id, &action);
            self.election.on_action(self.now, id, &action);
            leadership_changed |= matches!(action, Action::RoleChanged { .. });
            self.apply(i, action);
        }
        self.actions = actions;
        if leadership_changed {
            self.election.after_change(self.now, &self.slots);
        }
        if let Some(node) = self.slots.node(i) {
            self.replication.after_step(self.now, i, node);
        }
        self.reschedule(i);
    }

    fn reschedule(&mut self, i: usize) {
        let Some(slot) = self.slots.0.get_mut(i) else {
            return;
        };
        let Some(deadline) = slot.node.as_ref().and_then(Node::next_deadline) else {
            slot.tick_at = None;
            return;
        };
        let at = slot.clock.virtual_at(deadline).max(self.now);
        if slot.tick_at.is_none_or(|t| at < t) {
            slot.tick_at = Some(at);
            self.queue.push(at, Item::Tick(i));
        }
    }

    fn apply(&mut self, i: usize, action: Action) {
        match action {
            Action::Send { to, msg } => {
                let j = (to.0 as usize).wrapping_sub(1);
                if j < self.slots.0.len() && j != i {
                    self.send(i, j, msg);
                }
            }
            Action::Multicast(msg) => {
                let n = self.slots.0.len();
                for j in (0..n).filter(|&j| j != i) {
                    self.send(i, j, msg.clone());
                }
            }
            Action::Persist(p) => {
                if let Some(slot) = self.slots.0.get_mut(i) {
                    slot.persisted = p;
                }
            }
            Action::RoleChanged { .. } => {}
            Action::ToClient { client, msg } => self.server_to_client(i, client, msg),
            Action::CloseClient(client) => {
                let Some(slot) = self.slots.0.get_mut(i) else {
                    return;
                };
                if let Some((c, link)) = slot.links.remove(&client) {
                    slot.retired.insert(client, link);
                    self.reset_link(c, link);
                }
            }
            Action::Member { node, change } => {
                if change == MembershipChange::Died {
                    self.checker
                        .on_died(self.now, i, node.id, node.incarnation, &self.slots);
                }
            }
        }
    }

    fn send(&mut self, from: usize, to: usize, msg: Message) {
        self.counters.sent += 1;
        match self.net.fate(from, to, &mut self.rng) {
            Fate::Delivered { delay, duplicate } => {
                if let Some(extra) = duplicate {
                    self.counters.duplicated += 1;
                    self.queue.push(
                        self.now + extra,
                        Item::Deliver {
                            to,
                            msg: msg.clone(),
                            sent: self.now,
                        },
                    );
                }
                let sent = self.now;
                self.queue
                    .push(self.now + delay, Item::Deliver { to, msg, sent });
            }
            fate => {
                let why = if fate == Fate::Cut {
                    self.counters.cut += 1;
                    DropReason::Cut
                } else {
                    self.counters.lost += 1;
                    DropReason::Lost
                };
                self.checker.on_drop(self.now, from, to);
                self.election.on_drop(self.now);
                self.tracer.dropped(
                    (self.now, self.now),
                    NodeId(from as u32 + 1),
                    NodeId(to as u32 + 1),
                    &msg,
                    why,
                );
            }
        }
    }

    fn start(&mut self, i: usize) {
        let now = self.now;
        let Some(slot) = self.slots.0.get_mut(i) else {
            return;
        };
        slot.lives += 1;
        let first = slot.lives == 1;
        let local = slot.clock.local(now);
        let seed = node_seed(self.seed, i, slot.lives);
        // The config was validated with the run, so building cannot fail here.
        let log = std::mem::take(&mut slot.log);
        let Ok(node) = Node::restore_with_log(
            slot.config.clone(),
            slot.id,
            seed,
            local,
            slot.persisted,
            log,
        ) else {
            return;
        };
        self.replication.on_restart(now, i, &node);
        let incarnation = node.info().incarnation.counter;
        slot.node = Some(node);
        slot.up_since = now;
        slot.tick_at = None;
        let id = slot.id;
        self.tracer.start(now, id, incarnation);
        self.step(i, Event::Start);
        self.checker.on_up(now, i, first, &self.slots);
    }

    /// Takes node `i` down. Its log survives (it is durable). `reset` tells its
    /// clients at once (a process that exits resets its connections); a crash
    /// leaves them to notice by their own timeout.
    fn down(&mut self, i: usize, left: bool, reset: bool) {
        if self.slots.0.get(i).is_some_and(|s| s.node.is_some()) {
            self.checker.on_down(self.now, i, left, &self.slots);
        }
        let mut links = BTreeMap::new();
        if let Some(slot) = self.slots.0.get_mut(i) {
            if let Some(node) = slot.node.take() {
                slot.log = node.into_log();
            }
            slot.tick_at = None;
            slot.paused_until = None;
            links = std::mem::take(&mut slot.links);
        }
        if reset {
            for (_, (c, link)) in links {
                self.reset_link(c, link);
            }
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        let index = |n: NodeId| (n.0 as usize).wrapping_sub(1);
        match fault {
            Fault::Crash(n) => self.down(index(n), false, false),
            Fault::Leave(n) => {
                let i = index(n);
                if self.slots.node(i).is_some() {
                    self.step(i, Event::Leave);
                    self.down(i, true, true);
                }
            }
            Fault::ClientLeave(c) => {
                let c = (c as usize).wrapping_sub(1);
                self.client_quit(c);
            }
            Fault::Restart(n) => {
                let i = index(n);
                self.down(i, false, true);
                if i < self.slots.0.len() {
                    self.start(i);
                }
            }
            Fault::Partition(groups) => {
                let n = self.slots.0.len();
                let extra = groups.len();
                let group_of = |i: usize| {
                    groups
                        .iter()
                        .position(|g| g.contains(&NodeId(i as u32 + 1)))
                        .unwrap_or(extra)
                };
                let links: Vec<(usize, usize, bool)> = (0..n)
                    .flat_map(|a| (0..n).map(move |b| (a, b)))
                    .map(|(a, b)| (a, b, group_of(a) == group_of(b)))
                    .collect();
                self.set_links(links);
            }
            Fault::Cut { from, to } => {
                self.net.set(index(from), index(to), false);
            }
            Fault::Heal => {
                let n = self.slots.0.len();
                let links: Vec<(usize, usize, bool)> = (0..n)
                    .flat_map(|a| (0..n).map(move |b| (a, b, true)))
                    .collect();
                self.set_links(links);
            }
            Fault::Pause { node, lasts } => {
                let i = index(node);
                let until = self.now + lasts;
                if let Some(slot) = self.slots.0.get_mut(i).filter(|s| s.node.is_some()) {
                    let until = slot.paused_until.map_or(until, |u| u.max(until));
                    slot.paused_until = Some(until);
                    self.queue.push(until, Item::Resume(i));
                    self.silenced(i);
                }
            }
            Fault::Skew { node, drift_ppm } => {
                let i = index(node);
                if let Some(slot) = self.slots.0.get_mut(i) {
                    slot.clock.set_drift(self.now, drift_ppm);
                    self.checker.on_drift(i, slot.clock.drift_ppm());
                    // The node's deadline now falls at another virtual time.
                    slot.tick_at = None;
                    self.reschedule(i);
                }
            }
        }
    }

    /// Node `i` falls silent or wakes from a pause: to the checkers, as if every
    /// message between it and the others had just been lost, since its silence
    /// may rightly get it declared dead and its late timers may make it declare
    /// others dead.
    fn silenced(&mut self, i: usize) {
        for j in (0..self.slots.0.len()).filter(|&j| j != i) {
            self.checker.on_drop(self.now, i, j);
            self.checker.on_drop(self.now, j, i);
        }
        self.election.on_drop(self.now);
    }

    /// Sets links, then raises a `heal` obligation for each pair reconnected both ways.
    fn set_links(&mut self, links: Vec<(usize, usize, bool)>) {
        let n = self.slots.0.len();
        let before: Vec<bool> = (0..n * n).map(|k| self.net.is_up(k / n, k % n)).collect();
        for (a, b, up) in links {
            self.net.set(a, b, up);
        }
        for a in 0..n {
            for b in a + 1..n {
                let was = before.get(a * n + b).copied().unwrap_or(true)
                    && before.get(b * n + a).copied().unwrap_or(true);
                if !was && self.net.is_up(a, b) && self.net.is_up(b, a) {
                    self.checker.on_reconnect(self.now, a, b, &self.slots);
                }
            }
        }
    }

    /// Carries out a server's message to a client: on the client's connection to
    /// that server, or (an answer to a probe) as a datagram.
    fn server_to_client(&mut self, i: usize, client: ClientId, msg: ServerMsg) {
        let from = NodeId(i as u32 + 1);
        let link = self
            .slots
            .0
            .get(i)
            .and_then(|s| s.links.get(&client).copied());
        let delay = self.net.delay(&mut self.rng);
        match link {
            Some((c, link)) => {
                let Some(l) = self.clients.get_mut(c).and_then(|sc| sc.link_if(link)) else {
                    return;
                };
                let at = ordered(self.now, delay, &mut l.down_last);
                self.queue.push(
                    at,
                    Item::ToClient {
                        client: c,
                        from,
                        link: Some(link),
                        msg: Box::new(msg),
                    },
                );
            }
            None if matches!(msg, ServerMsg::Here { .. }) => {
                let c = (client.0 as usize).wrapping_sub(1);
                if c < self.clients.len() {
                    self.queue.push(
                        self.now + delay,
                        Item::ToClient {
                            client: c,
                            from,
                            link: None,
                            msg: Box::new(msg),
                        },
                    );
                }
            }
            None => {} // the client is not connected here any more
        }
    }

    /// The server side closed connection `link` of client `c`: the client hears
    /// of it after whatever is still in flight towards it.
    fn reset_link(&mut self, c: usize, link: u64) {
        let delay = self.net.delay(&mut self.rng);
        let Some(l) = self.clients.get_mut(c).and_then(|sc| sc.link_if(link)) else {
            return;
        };
        let at = ordered(self.now, delay, &mut l.down_last);
        self.queue.push(
            at,
            Item::LinkState {
                client: c,
                link,
                up: false,
            },
        );
    }

    fn client_step(&mut self, c: usize, event: ClientEvent) {
        self.with_client(c, |sc, now, out| sc.client.step(now, event, out));
    }

    /// Lets client `c` act, then carries out what it asked for.
    fn with_client<R>(
        &mut self,
        c: usize,
        f: impl FnOnce(&mut SimClient, Instant, &mut Vec<ClientAction>) -> R,
    ) -> Option<R> {
        let sc = self.clients.get_mut(c)?;
        let mut out = std::mem::take(&mut self.client_actions);
        let result = f(sc, self.now, &mut out);
        self.client_apply(c, &mut out);
        self.client_actions = out;
        Some(result)
    }

    fn client_apply(&mut self, c: usize, out: &mut Vec<ClientAction>) {
        for action in out.drain(..) {
            match action {
                ClientAction::Probe(_) => {
                    for server in 0..self.slots.0.len() {
                        let delay = self.net.delay(&mut self.rng);
                        self.queue
                            .push(self.now + delay, Item::Probe { server, client: c });
                    }
                }
                ClientAction::Connect(addr) => self.client_connect(c, addr),
                ClientAction::Send(msg) => {
                    let delay = self.net.delay(&mut self.rng);
                    let Some(l) = self.clients.get_mut(c).and_then(|sc| sc.link.as_mut()) else {
                        continue;
                    };
                    let at = ordered(self.now, delay, &mut l.up_last);
                    let (server, life, link) = (l.server, l.life, l.id);
                    self.queue.push(
                        at,
                        Item::ToServer {
                            server,
                            life,
                            client: c,
                            link,
                            msg: Box::new(msg),
                        },
                    );
                }
                ClientAction::Disconnect => self.client_close(c),
                ClientAction::Output(o) => {
                    self.tracer.client_output(self.now, number(c), &o);
                    self.replication.on_client_output(self.now, c, &o);
                }
            }
        }
        let Some(sc) = self.clients.get_mut(c) else {
            return;
        };
        match sc.client.next_deadline() {
            Some(at) if sc.tick_at.is_none_or(|t| at < t || t < self.now) => {
                let at = at.max(self.now);
                sc.tick_at = Some(at);
                self.queue.push(at, Item::ClientTick(c));
            }
            Some(_) => {}
            None => sc.tick_at = None,
        }
    }

    /// Closes the client's current connection; the server hears of it.
    fn client_close(&mut self, c: usize) {
        let delay = self.net.delay(&mut self.rng);
        let Some(sc) = self.clients.get_mut(c) else {
            return;
        };
        if let Some(mut l) = sc.link.take() {
            let at = ordered(self.now, delay, &mut l.up_last);
            self.queue.push(
                at,
                Item::LinkClosed {
                    server: l.server,
                    life: l.life,
                    client: c,
                    link: l.id,
                },
            );
        }
    }

    fn client_connect(&mut self, c: usize, addr: SocketAddr) {
        self.client_close(c);
        let server = addr_node(addr).filter(|&i| i < self.slots.0.len());
        let life = server
            .and_then(|i| self.slots.0.get(i))
            .map(|s| (s.lives, s.node.is_some()));
        let delay = self.net.delay(&mut self.rng) * 2; // the handshake's round trip
        let Some(sc) = self.clients.get_mut(c) else {
            return;
        };
        sc.next_link += 1;
        let id = sc.next_link;
        let at = self.now + delay;
        sc.link = Some(Link {
            id,
            server: server.unwrap_or(usize::MAX),
            life: life.map_or(0, |(l, _)| l),
            up_last: at,
            down_last: at,
        });
        let up = life.is_some_and(|(_, running)| running);
        let target = server.map_or(NodeId(0), |i| NodeId(i as u32 + 1));
        self.tracer
            .client_link(self.now, number(c), "connecting to", target);
        self.queue.push(
            at,
            Item::LinkState {
                client: c,
                link: id,
                up,
            },
        );
    }

    fn schedule_send(&mut self, c: usize) {
        let Some(every) = self.send_every else {
            return;
        };
        // Spread between half and one and a half of the mean interval.
        let micros = every.as_micros() as u64;
        let wait =
            Duration::from_micros(micros / 2 + self.client_rng.random_range(0..=micros.max(1)));
        let at = self.now + wait;
        if at < self.send_until {
            self.queue.push(at, Item::ClientSend(c));
        }
    }

    fn client_send(&mut self, c: usize) {
        self.counters.events += 1;
        if self.clients.get(c).is_none_or(|sc| sc.quit) {
            return;
        }
        let sent = self.with_client(c, |sc, now, out| {
            let seq = sc.client.next_seq();
            let text = format!("message {seq} from c{}", number(c));
            let accepted = sc.client.send(now, text, out).is_ok();
            (accepted, sc.client.unacked())
        });
        if let Some((accepted, unacked)) = sent {
            self.replication.on_client_send(accepted, unacked);
        }
        self.schedule_send(c);
    }

    fn client_quit(&mut self, c: usize) {
        let quit = self.with_client(c, |sc, _, out| {
            sc.quit = true;
            sc.client.quit(out);
        });
        if quit.is_some() {
            self.replication.on_client_quit(c);
        }
    }
}
