//! What a simulation run is made of.

use crate::bugs::InjectedBug;
use crate::faults::{generate, FaultProfile, GeneratorOptions, ScheduledFault};
use crate::network::NetworkConfig;
use ringleader_core::durable::Durability;
use ringleader_core::Config;
use std::time::Duration;

/// Largest cluster the simulator runs; the link matrix grows with its square.
pub const MAX_NODES: u32 = 256;
/// Most simulated clients in one run.
pub const MAX_CLIENTS: u32 = 10_000;

/// Everything that determines a run. The same `SimConfig` gives the same run.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The one seed every random choice derives from.
    pub seed: u64,
    /// Number of servers, with ids 1..=nodes.
    pub nodes: u32,
    /// Virtual time the run lasts.
    pub duration: Duration,
    /// The network model.
    pub network: NetworkConfig,
    /// Node settings shared by all nodes (each gets its own address).
    pub node: Config,
    /// Nodes start at random times within this window.
    pub start_spread: Duration,
    /// Each node's clock reads a random offset in `0..max_clock_offset` at virtual time
    /// zero, as unsynchronised machines do; zero gives every node the same epoch
    /// (needed when ranking by start time should mean what it says).
    pub max_clock_offset: Duration,
    /// Nodes that start at a given time instead (servers started one after another).
    pub start_at: Vec<(ringleader_core::NodeId, ringleader_core::Instant)>,
    /// Random faults generated from the seed.
    pub faults: FaultProfile,
    /// Whether the random generator may cut links.
    pub partitions: bool,
    /// Whether the random generator adds disk faults (stalls, failed writes).
    pub disk_faults: bool,
    /// Faults given explicitly, applied in addition to generated ones.
    pub schedule: Vec<ScheduledFault>,
    /// Simulated chat clients, `c1..=c<clients>`.
    pub clients: u32,
    /// Messages per second each client sends (0: clients only read).
    pub rate: f64,
    /// Clients that start at a given time (others start within the first second).
    pub client_start_at: Vec<(u32, ringleader_core::Instant)>,
    /// Clients that know these servers instead of probing by multicast (the first
    /// is tried first).
    pub client_servers: Vec<(u32, Vec<ringleader_core::NodeId>)>,
    /// Clients stop sending this long before the end, so the run closes with a
    /// quiet period in which every buffer must drain and every log converge.
    pub client_quiet: Duration,
    /// Unacknowledged messages a client keeps at most.
    pub client_buffer: usize,
    /// A bug planted on purpose, for proving that sweeps and shrinking find real
    /// mistakes. Never set outside tests and the hidden debug option.
    #[doc(hidden)]
    pub inject_bug: InjectedBug,
    /// How long one sync of a server's disk takes; every write issued before a
    /// sync begins becomes durable when it ends (group commit).
    pub disk_latency: Duration,
    /// What the servers wait for before they count a write durable: a sync
    /// (`power`), or the operating system (`process`: the machine's own
    /// writeback syncs later, and a machine crash before it loses writes the
    /// node counted on, which the run reports as explained).
    pub durability: Durability,
    /// Retention: a server's disk keeps about this many committed entries
    /// and compacts the rest away (telling its node the snapshot they amount
    /// to), so followers far behind catch up from snapshots. `None` keeps
    /// everything.
    pub retain: Option<u64>,
}

/// Why retention is refused under `bully` and `ring`.
pub const RETAIN_NEEDS_QUORUM: &str = "retention needs the quorum election: under bully and ring \
    a healed split brain merges committed histories, which needs the entries retention deletes";

/// The simulated nodes' memory window: a few KiB and a few dozen entries,
/// so that catch-up and resuming clients read from the disk in most runs
/// (the real default keeps 32 MiB in memory).
pub const SIM_LOG_MEMORY: usize = 8 << 10;
/// Entries the simulated nodes keep in memory at least.
pub const SIM_LOG_KEEP: usize = 32;

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            nodes: 5,
            duration: Duration::from_secs(60),
            network: NetworkConfig::default(),
            node: Config {
                log_memory: SIM_LOG_MEMORY,
                log_keep: SIM_LOG_KEEP,
                ..Config::default()
            },
            start_spread: Duration::from_millis(100),
            start_at: Vec::new(),
            max_clock_offset: Duration::from_secs(10),
            faults: FaultProfile::None,
            partitions: true,
            disk_faults: false,
            schedule: Vec::new(),
            clients: 0,
            rate: 5.0,
            client_start_at: Vec::new(),
            client_servers: Vec::new(),
            client_quiet: Duration::from_secs(10),
            client_buffer: 1000,
            inject_bug: InjectedBug::None,
            // A flash disk's fsync.
            disk_latency: Duration::from_millis(1),
            durability: Durability::Power,
            retain: None,
        }
    }
}

impl SimConfig {
    /// The node settings with the defaults the simulator fills in: under `quorum`
    /// without explicit voters, every node votes.
    pub fn node_config(&self) -> Config {
        let mut node = self.node.clone();
        if node.voters.is_empty() {
            node.voters = (1..=self.nodes).map(ringleader_core::NodeId).collect();
        }
        node
    }

    /// The concrete fault schedule a run applies: generated and explicit faults.
    pub fn fault_schedule(&self) -> Vec<ScheduledFault> {
        let opts = GeneratorOptions {
            profile: self.faults,
            partitions: self.partitions,
            disk: self.disk_faults,
        };
        let mut all = generate(self.seed, self.nodes, self.duration, opts);
        all.extend(self.schedule.iter().cloned());
        // Stable: explicit faults at the same time as generated ones come after them.
        all.sort_by_key(|f| f.at);
        all
    }

    /// Checks the parts a user can get wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes == 0 || self.nodes > MAX_NODES {
            return Err(format!(
                "nodes must be between 1 and {MAX_NODES}, got {}",
                self.nodes
            ));
        }
        if self.duration.is_zero() {
            return Err("duration must be greater than zero".into());
        }
        if self.retain.is_some() && self.node.election != ringleader_core::Algorithm::Quorum {
            return Err(RETAIN_NEEDS_QUORUM.into());
        }
        self.network.validate()?;
        self.node_config().validate().map_err(|e| e.to_string())?;
        for (id, _) in &self.start_at {
            if id.0 == 0 || id.0 > self.nodes {
                return Err(format!(
                    "start time given for {id}, but the cluster has nodes n1..n{}",
                    self.nodes
                ));
            }
        }
        if self.clients > MAX_CLIENTS {
            return Err(format!(
                "clients must be at most {MAX_CLIENTS}, got {}",
                self.clients
            ));
        }
        if !self.rate.is_finite() || self.rate < 0.0 || self.rate > 10_000.0 {
            return Err(format!(
                "rate must be between 0 and 10000 messages per second, got {}",
                self.rate
            ));
        }
        if self.client_buffer == 0 {
            return Err("client buffer must hold at least 1 message".into());
        }
        let named = self
            .client_start_at
            .iter()
            .map(|(c, _)| *c)
            .chain(self.client_servers.iter().map(|(c, _)| *c))
            .chain(self.schedule.iter().filter_map(|f| match f.fault {
                crate::faults::Fault::ClientLeave(c) => Some(c),
                _ => None,
            }));
        for c in named {
            if c == 0 || c > self.clients {
                return Err(format!(
                    "client c{c} is named, but the run has clients c1..c{}",
                    self.clients
                ));
            }
        }
        for (c, servers) in &self.client_servers {
            if let Some(bad) = servers.iter().find(|id| id.0 == 0 || id.0 > self.nodes) {
                return Err(format!(
                    "client c{c} is given server {bad}, but the cluster has nodes n1..n{}",
                    self.nodes
                ));
            }
        }
        for f in &self.schedule {
            for id in crate::faults::fault_nodes(&f.fault) {
                if id.0 == 0 || id.0 > self.nodes {
                    return Err(format!(
                        "fault '{}' at {} names {id}, but the cluster has nodes n1..n{}",
                        f.fault, f.at, self.nodes
                    ));
                }
            }
        }
        Ok(())
    }
}
