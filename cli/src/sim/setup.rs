//! The flags that describe a simulated run, shared by `run`, `sweep` and `stats`:
//! a scenario file and/or flags, the flags winning over the file.

use crate::parse;
use clap::Args;
use ringleader_core::{Algorithm, RankBy};
use ringleader_sim::scenario::{self, Scenario};
use ringleader_sim::FaultProfile;
use ringleader_sim::InjectedBug;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

/// Which seeds to run, and how many at once: `sweep` and `stats`.
#[derive(Args, Debug, Clone)]
pub struct SeedArgs {
    /// The seeds to run, both ends included: A..B, e.g. 1..1000 (1,000
    /// seeds; 0..300 is 301), or one seed.
    #[arg(long, value_parser = parse::seeds)]
    pub seeds: RangeInclusive<u64>,
    /// Runs at once [default: the number of CPUs].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    jobs: Option<u32>,
    /// Run only share K of N of the seeds (every N-th seed from the start +
    /// K - 1), so N machines (a CI matrix, indexed jobs) sweep one range
    /// between them: the shards are disjoint and together hold every seed.
    #[arg(long, value_name = "K/N", value_parser = parse::shard)]
    shard: Option<ringleader_sim::sweep::Shard>,
}

impl SeedArgs {
    /// Runs at once.
    pub fn jobs(&self) -> usize {
        self.jobs.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            |j| j as usize,
        )
    }

    /// How many seeds this run takes: the range's, or its shard's
    /// (saturating for 0..u64::MAX).
    pub fn count(&self) -> u64 {
        self.shard().count(&self.seeds)
    }

    /// The share of the seeds to run.
    pub fn shard(&self) -> ringleader_sim::sweep::Shard {
        self.shard.unwrap_or(ringleader_sim::sweep::Shard::ALL)
    }

    /// `K/N` when `--shard` was given, for summaries.
    pub fn shard_label(&self) -> Option<String> {
        self.shard.map(|s| format!("{}/{}", s.index + 1, s.of))
    }
}

/// What to simulate. Without `--scenario`, a default run (5 nodes, 60 s, bully, a
/// LAN, no faults, no clients) changed by the flags given.
#[derive(Args, Debug, Clone, Default)]
pub struct SetupArgs {
    /// A scenario file (TOML, see scenarios/README.md); flags given as well
    /// override its settings.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Number of servers, ids 1..=N [default: 5].
    #[arg(long)]
    nodes: Option<u32>,
    /// Virtual time to simulate, e.g. 60s, 500ms, 10m [default: 60s].
    #[arg(long, value_parser = parse::duration)]
    duration: Option<Duration>,
    /// Probability that a message is lost [default: 0].
    #[arg(long, value_parser = parse::probability)]
    loss: Option<f64>,
    /// Probability that a delivered message arrives twice [default: 0].
    #[arg(long, value_parser = parse::probability)]
    duplicate: Option<f64>,
    /// Probability that a message is held back so later ones overtake it [default: 0].
    #[arg(long, value_parser = parse::probability)]
    reorder: Option<f64>,
    /// One-way latency, a range MIN..MAX or one value [default: 200us..2ms].
    #[arg(long, value_parser = parse::latency)]
    latency: Option<(Duration, Duration)>,
    /// Random faults generated from the seed, on top of the scenario's timeline:
    /// none, light or heavy [default: none].
    #[arg(long, value_parser = parse::fault_profile)]
    faults: Option<FaultProfile>,
    /// Let the fault generator crash and restart nodes but never cut links.
    #[arg(long)]
    no_partitions: bool,
    /// Let the fault generator also fail disks: stalls (writes wait, a node
    /// whose writes wait past its stall bound resigns) and failed writes (the
    /// node stops, losing what no sync made stable). A machine crash always
    /// loses what no sync made stable.
    #[arg(long)]
    disk_faults: bool,
    /// What servers wait for before they count a write: power (a sync of the
    /// simulated disk) or process (the operating system; a machine crash
    /// loses what its writeback had not synced, reported as explained)
    /// [default: power].
    #[arg(long, value_parser = crate::parse::durability)]
    durability: Option<ringleader_core::durable::Durability>,
    /// Retention: each server's disk keeps about N committed entries and
    /// compacts the rest into a snapshot, so followers far behind catch up
    /// from snapshots [default: keep everything].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    retain: Option<u64>,
    /// Election algorithm of every node: bully, ring (Chang-Roberts) or quorum
    /// [default: bully]. `sim sweep` and `sim stats` take several,
    /// comma-separated (bully,ring,quorum), and run the seeds under each;
    /// `sim stats` without it runs all three.
    #[arg(long = "election", value_delimiter = ',', value_parser = parse::algorithm)]
    pub elections: Vec<Algorithm>,
    /// What makes a node the preferred leader under bully and ring: id (highest
    /// wins), oldest (longest running wins) or address (lowest address and port
    /// wins) [default: id].
    #[arg(long, value_parser = parse::rank)]
    rank: Option<RankBy>,
    /// How long a starting node listens before its first election [default: 300ms].
    #[arg(long, value_parser = parse::duration)]
    settle: Option<Duration>,
    /// Election timeout (bully: wait for OK; ring: longest round; quorum: randomized
    /// between one and two of it) [default: 300ms].
    #[arg(long, value_parser = parse::duration)]
    election_timeout: Option<Duration>,
    /// Heartbeat interval of every node [default: 100ms].
    #[arg(long, value_parser = parse::duration)]
    heartbeat: Option<Duration>,
    /// Silence after which a member is suspected [default: 250ms].
    #[arg(long, value_parser = parse::duration)]
    suspect_timeout: Option<Duration>,
    /// Silence after which a member is declared dead [default: 500ms].
    #[arg(long, value_parser = parse::duration)]
    failure_timeout: Option<Duration>,
    /// Interval of the multicast announcements [default: 1s].
    #[arg(long, value_parser = parse::duration)]
    announce: Option<Duration>,
    /// Simulated chat clients, each sending at --rate and checked end to end
    /// [default: 0].
    #[arg(long)]
    clients: Option<u32>,
    /// Messages per second each client sends, 0 for clients that only read
    /// [default: 5].
    #[arg(long, value_parser = parse::rate)]
    rate: Option<f64>,
    /// Entries per chunk when a new or restarted server catches up [default: 100].
    #[arg(long, value_parser = parse::count)]
    sync_chunk: Option<usize>,
    /// A deliberate bug, to test the simulator's tools against.
    #[arg(long, hide = true, value_parser = InjectedBug::from_name)]
    inject_bug: Option<InjectedBug>,
}

impl SetupArgs {
    /// The scenario these flags describe: the file's (or the default run), with
    /// every given flag applied, and `election` instead of the flag's if given.
    pub fn scenario_with(&self, election: Option<Algorithm>) -> Result<Scenario, String> {
        let mut s = match &self.scenario {
            Some(path) => scenario::load(path).map_err(|e| e.to_string())?,
            None => Scenario::default(),
        };
        let c = &mut s.config;
        let set = |field: &mut Duration, v: Option<Duration>| {
            if let Some(v) = v {
                *field = v;
            }
        };
        if let Some(n) = self.nodes {
            c.nodes = n;
        }
        set(&mut c.duration, self.duration);
        if let Some(p) = self.loss {
            c.network.loss = p;
        }
        if let Some(p) = self.duplicate {
            c.network.duplicate = p;
        }
        if let Some(p) = self.reorder {
            c.network.reorder = p;
        }
        if let Some((lo, hi)) = self.latency {
            c.network.latency_min = lo;
            c.network.latency_max = hi;
        }
        if let Some(f) = self.faults {
            c.faults = f;
        }
        if self.no_partitions {
            c.partitions = false;
        }
        if self.disk_faults {
            c.disk_faults = true;
        }
        if let Some(d) = self.durability {
            c.durability = d;
        }
        if self.retain.is_some() {
            c.retain = self.retain;
        }
        // A command that runs several algorithms (stats, sweep) names the
        // one of each run; otherwise --election names at most one.
        match (election, self.elections.as_slice()) {
            (Some(e), _) => c.node.election = e,
            (None, [e]) => c.node.election = *e,
            (None, []) => {}
            (None, more) => {
                return Err(format!(
                    "this command runs one election algorithm, but --election names {}",
                    more.len()
                ))
            }
        }
        if let Some(r) = self.rank {
            c.node.rank = r;
        }
        set(&mut c.node.settle, self.settle);
        set(&mut c.node.election_timeout, self.election_timeout);
        set(&mut c.node.heartbeat_interval, self.heartbeat);
        set(&mut c.node.suspect_timeout, self.suspect_timeout);
        set(&mut c.node.failure_timeout, self.failure_timeout);
        set(&mut c.node.announce_interval, self.announce);
        if let Some(n) = self.clients {
            c.clients = n;
        }
        if let Some(r) = self.rate {
            c.rate = r;
        }
        if let Some(n) = self.sync_chunk {
            c.node.sync_chunk = n;
        }
        if let Some(b) = self.inject_bug {
            c.inject_bug = b;
        }
        // A scenario's timeline may name nodes a smaller --nodes no longer has.
        c.validate()?;
        Ok(s)
    }

    /// The scenario these flags describe.
    pub fn scenario(&self) -> Result<Scenario, String> {
        self.scenario_with(None)
    }

    /// A short name for what is simulated, for titles and file names.
    pub fn title(&self, s: &Scenario) -> String {
        if !s.name.is_empty() {
            s.name.clone()
        } else if let Some(p) = &self.scenario {
            p.file_stem()
                .map_or("scenario".into(), |n| n.to_string_lossy().into_owned())
        } else {
            format!("{} {} nodes", s.config.node.election, s.config.nodes)
        }
    }
}
