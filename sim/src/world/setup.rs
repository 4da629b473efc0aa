//! Building a run: the servers with their clocks and start times, the fault
//! schedule, the clients, the checkers.

use super::error::SimError;
use super::state::{Counters, Item, Slot, Slots, World};
use crate::addr::sim_addr;
use crate::clients::{client_id, number, SimClient};
use crate::clock::NodeClock;
use crate::config::SimConfig;
use crate::faults::Fault;
use crate::invariants::{DiscoveryChecker, ElectionChecker, ReplicationChecker};
use crate::network::Network;
use crate::queue::EventQueue;
use crate::trace::Tracer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ringleader_core::client::{Client, ClientConfig};
use ringleader_core::wire::ClientId;
use ringleader_core::{Algorithm, Config, Instant, NodeId};
use std::collections::BTreeMap;
use std::time::Duration;

impl<'w> World<'w> {
    pub(super) fn new(config: &SimConfig, tracer: Tracer<'w>) -> Result<Self, SimError> {
        config.validate().map_err(SimError::Config)?;
        let n = config.nodes as usize;
        let node_config = config.node_config();
        let mut queue = EventQueue::default();
        let slots = build_slots(config, &node_config, &mut queue);
        let schedule = queue_faults(config, &mut queue);
        let mut client_rng = ChaCha8Rng::seed_from_u64(config.seed);
        client_rng.set_stream(5);
        let clients = build_clients(config, &mut client_rng, &mut queue);
        let end = Instant::ZERO + config.duration;
        let quiet = config.client_quiet.min(config.duration / 2);
        let send_until =
            Instant::from_micros(end.as_micros().saturating_sub(quiet.as_micros() as u64));
        let send_every = (config.rate > 0.0 && config.clients > 0)
            .then(|| Duration::from_secs_f64(1.0 / config.rate));
        let mut last_disturbance = schedule.last_disturbance;
        if send_every.is_some() {
            last_disturbance = last_disturbance.max(send_until);
        }
        let max_delay = config.network.max_delay();
        let election = ElectionChecker::new(&node_config, n, max_delay);
        let client_timeout = ClientConfig::new(ClientId(1), "x").server_timeout;
        let drain_bound = election.bound() + client_timeout + Duration::from_secs(1);
        // Two leaders at once are the documented limit of bully and ring under
        // partitions; there the replication checks count divergence instead.
        // Judged on the concrete schedule, so a replay file (random faults written
        // out) is checked exactly as the run it came from.
        let strict = node_config.election == Algorithm::Quorum || !schedule.cuts;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(1);
        Ok(World {
            seed: config.seed,
            end,
            now: Instant::ZERO,
            slots: Slots(slots),
            queue,
            net: Network::new(config.network.clone(), n),
            rng,
            tracer,
            checker: DiscoveryChecker::new(n, &node_config, max_delay),
            election,
            replication: ReplicationChecker::new(
                n,
                config.clients as usize,
                strict,
                node_config.election == Algorithm::Quorum,
            ),
            counters: Counters::default(),
            actions: Vec::new(),
            clients,
            client_actions: Vec::new(),
            client_rng,
            send_until,
            send_every,
            last_disturbance,
            drain_bound,
            bug: config.inject_bug,
            conns: super::conns::Conns::new(n),
            next_accept: 0,
            link_actions: Vec::new(),
            busy_loop: None,
            idle_from: last_disturbance + drain_bound,
            idle_sent: vec![0; n],
            idle_budget: super::run_loop::idle_budget(&node_config, n),
            disk_latency: config.disk_latency,
            durability: config.durability,
            retain: config.retain,
            majority: ringleader_core::leadership::majority(node_config.voters.len()),
            app: None,
        })
    }
}

/// One slot per server, each with a clock of its own, and its start queued.
fn build_slots(config: &SimConfig, node: &Config, queue: &mut EventQueue<Item>) -> Vec<Slot> {
    let mut setup = ChaCha8Rng::seed_from_u64(config.seed);
    setup.set_stream(3);
    let spread = config.start_spread.as_micros() as u64;
    let max_offset = config.max_clock_offset.as_micros() as u64;
    let mut slots = Vec::with_capacity(config.nodes as usize);
    for i in 0..config.nodes as usize {
        let id = NodeId(i as u32 + 1);
        // Every node's clock has its own epoch, as on real machines.
        let offset = Duration::from_micros(setup.random_range(0..max_offset.max(1)));
        let mut own = Config {
            addr: sim_addr(id),
            ..node.clone()
        };
        config.inject_bug.configure(&mut own, id);
        slots.push(Slot {
            id,
            config: own,
            node: None,
            up_since: Instant::ZERO,
            clock: NodeClock::new(offset),
            lives: 0,
            tick_at: None,
            tick_for: None,
            node_deadline: None,
            disk: Default::default(),
            lost_power: false,
            links: BTreeMap::new(),
            peer_links: None,
            machine_up: true,
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
    slots
}

/// What the fault schedule means for the checkers.
struct Schedule {
    /// When the run last changed (a start or a fault); liveness needs quiet after it.
    last_disturbance: Instant,
    /// Whether any link is ever cut.
    cuts: bool,
}

/// Queues every fault of the run's concrete schedule.
fn queue_faults(config: &SimConfig, queue: &mut EventQueue<Item>) -> Schedule {
    let mut last_disturbance = Instant::ZERO + config.start_spread;
    for (_, at) in &config.start_at {
        last_disturbance = last_disturbance.max(*at);
    }
    let schedule = config.fault_schedule();
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
    Schedule {
        last_disturbance,
        cuts,
    }
}

/// The simulated clients, each with its start queued.
fn build_clients(
    config: &SimConfig,
    rng: &mut ChaCha8Rng,
    queue: &mut EventQueue<Item>,
) -> Vec<SimClient> {
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
        let random = Instant::from_micros(rng.random_range(500_000..1_500_000));
        let at = config
            .client_start_at
            .iter()
            .find(|(n, _)| *n == number(c))
            .map_or(random, |(_, at)| *at);
        queue.push(at, Item::ClientStart(c));
    }
    clients
}
