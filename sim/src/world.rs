//! The run loop: nodes, network, faults and checker driven by one event queue.

use crate::clock::NodeClock;
use crate::config::SimConfig;
use crate::faults::{generate, Fault, GeneratorOptions, ScheduledFault};
use crate::invariants::{DiscoveryChecker, ElectionChecker, Observed};
use crate::network::{Fate, Network};
use crate::queue::EventQueue;
use crate::report::Report;
use crate::trace::{DropReason, Tracer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ringleader_core::wire::Message;
use ringleader_core::{Action, Config, Event, Instant, MembershipChange, Node, NodeId, Persisted};
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

/// The nodes a fault names.
pub fn fault_nodes(fault: &Fault) -> Vec<NodeId> {
    match fault {
        Fault::Crash(n) | Fault::Restart(n) | Fault::Leave(n) => vec![*n],
        Fault::Skew { node, .. } => vec![*node],
        Fault::Cut { from, to } => vec![*from, *to],
        Fault::Partition(groups) => groups.iter().flatten().copied().collect(),
        Fault::Heal => Vec::new(),
    }
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

enum Item {
    Start(usize),
    Tick(usize),
    Deliver { to: usize, msg: Message },
    Fault(Fault),
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
}

struct Slots(Vec<Slot>);

impl Observed for Slots {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn node(&self, i: usize) -> Option<&Node> {
        self.0.get(i).and_then(|s| s.node.as_ref())
    }
    fn up_since(&self, i: usize) -> Option<Instant> {
        self.0
            .get(i)
            .filter(|s| s.node.is_some())
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
    counters: Counters,
    actions: Vec<Action>,
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
            });
            let random = Instant::from_micros(setup.random_range(0..=spread));
            let at = config
                .start_at
                .iter()
                .find(|(n, _)| *n == id)
                .map_or(random, |(_, at)| *at);
            queue.push(at, Item::Start(i));
        }
        for f in fault_schedule(config) {
            queue.push(f.at, Item::Fault(f.fault));
        }
        let max_delay = config.network.max_delay();
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
            election: ElectionChecker::new(&node_config, n, max_delay),
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
        })
    }

    fn handle(&mut self, item: Item) {
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
            Item::Deliver { to, msg } => {
                self.counters.events += 1;
                let Some(slot) = self.slots.0.get(to) else {
                    return;
                };
                if slot.node.is_none() {
                    self.counters.to_down += 1;
                    self.tracer
                        .dropped(self.now, msg.from(), slot.id, &msg, DropReason::Down);
                    return;
                }
                self.counters.messages += 1;
                self.tracer.deliver(self.now, slot.id, &msg);
                self.step(to, Event::Received(msg));
            }
            Item::Start(i) => {
                self.counters.events += 1;
                self.election.on_fault(self.now);
                self.start(i);
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
                        },
                    );
                }
                self.queue.push(self.now + delay, Item::Deliver { to, msg });
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
                    self.now,
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
        let Ok(node) = Node::restore(slot.config.clone(), slot.id, seed, local, slot.persisted)
        else {
            return;
        };
        let incarnation = node.info().incarnation.counter;
        slot.node = Some(node);
        slot.up_since = now;
        slot.tick_at = None;
        let id = slot.id;
        self.tracer.start(now, id, incarnation);
        self.step(i, Event::Start);
        self.checker.on_up(now, i, first, &self.slots);
    }

    fn down(&mut self, i: usize, left: bool) {
        if self.slots.0.get(i).is_some_and(|s| s.node.is_some()) {
            self.checker.on_down(self.now, i, left, &self.slots);
        }
        if let Some(slot) = self.slots.0.get_mut(i) {
            slot.node = None;
            slot.tick_at = None;
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        let index = |n: NodeId| (n.0 as usize).wrapping_sub(1);
        match fault {
            Fault::Crash(n) => self.down(index(n), false),
            Fault::Leave(n) => {
                let i = index(n);
                if self.slots.node(i).is_some() {
                    self.step(i, Event::Leave);
                    self.down(i, true);
                }
            }
            Fault::Restart(n) => {
                let i = index(n);
                self.down(i, false);
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
}
