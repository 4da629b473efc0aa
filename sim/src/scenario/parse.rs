//! Reading a scenario file. Every mistake is reported with the line it is on.

use super::spec::{Expect, Scenario};
use crate::bugs::InjectedBug;
use crate::config::SimConfig;
use crate::faults::{Fault, FaultProfile, ScheduledFault};
use crate::units::{parse_client, parse_duration, parse_latency, parse_node};
use ringleader_core::{Algorithm, Instant, NodeId, RankBy};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use toml::Spanned;

/// A scenario file that cannot be used, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file, as given.
    pub file: String,
    /// The 1-based line the problem is on, when it is on one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// A node or client written as a name (`"n2"`) or a number (`2`).
#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
enum Name {
    Number(u32),
    Text(String),
}

impl Name {
    fn node(&self) -> Result<NodeId, String> {
        match self {
            Name::Number(n) => parse_node(&n.to_string()),
            Name::Text(s) => parse_node(s),
        }
    }
}

type Text = Spanned<String>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Doc {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    seed: Option<u64>,
    duration: Option<Text>,
    #[serde(default)]
    cluster: ClusterDoc,
    #[serde(default)]
    network: NetworkDoc,
    #[serde(default)]
    clients: ClientsDoc,
    #[serde(default)]
    faults: FaultsDoc,
    #[serde(default)]
    timeline: Vec<StepDoc>,
    #[serde(default)]
    expect: ExpectDoc,
    #[serde(default)]
    debug: DebugDoc,
    explore: Option<ExploreDoc>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClusterDoc {
    nodes: Option<Spanned<u32>>,
    election: Option<Text>,
    rank: Option<Text>,
    voters: Option<Spanned<Vec<Name>>>,
    heartbeat: Option<Text>,
    suspect_timeout: Option<Text>,
    failure_timeout: Option<Text>,
    announce: Option<Text>,
    settle: Option<Text>,
    election_timeout: Option<Text>,
    sync_chunk: Option<Spanned<usize>>,
    start_spread: Option<Text>,
    max_clock_offset: Option<Text>,
    max_drift: Option<Text>,
    durability: Option<Text>,
    retain: Option<Spanned<u64>>,
    #[serde(default)]
    start: BTreeMap<String, Text>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NetworkDoc {
    latency: Option<Text>,
    loss: Option<Spanned<f64>>,
    duplicate: Option<Spanned<f64>>,
    reorder: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClientsDoc {
    count: Option<Spanned<u32>>,
    rate: Option<Spanned<f64>>,
    quiet: Option<Text>,
    buffer: Option<Spanned<usize>>,
    #[serde(default)]
    start: BTreeMap<String, Text>,
    #[serde(default)]
    servers: BTreeMap<String, Spanned<Vec<Name>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FaultsDoc {
    random: Option<Text>,
    partitions: Option<bool>,
    /// Disk faults from the generator too.
    disk: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepDoc {
    at: Text,
    fault: Text,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExpectDoc {
    ok: Option<bool>,
    leader: Option<Spanned<Name>>,
    violation: Option<String>,
    digest: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DebugDoc {
    inject_bug: Option<Text>,
}

/// `[explore]`: a path `sim explore` found, as scripted moves.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExploreDoc {
    clock: Option<Text>,
    syncs: Option<Text>,
    #[serde(default)]
    any_order: bool,
    client_messages: Option<Spanned<i64>>,
    #[serde(default)]
    moves: Vec<Text>,
}

/// The script of an `[explore]` scenario.
fn explore_script(
    r: &Reader<'_>,
    doc: &ExploreDoc,
    timeline: &[StepDoc],
    nodes: u32,
) -> Result<crate::explore::Script, ScenarioError> {
    if let Some(step) = timeline.first() {
        return Err(r.at(
            &step.at,
            "an [explore] scenario replays scripted moves: it takes no timeline".into(),
        ));
    }
    let mut script = crate::explore::Script {
        any_order: doc.any_order,
        ..Default::default()
    };
    script.mode.shared_clock = match doc.clock.as_ref().map(|c| (c, c.get_ref().as_str())) {
        None | Some((_, "shared")) => true,
        Some((_, "own")) => false,
        Some((c, other)) => {
            return Err(r.at(c, format!("clock is shared or own, not '{other}'")));
        }
    };
    script.mode.syncs_at_once = match doc.syncs.as_ref().map(|c| (c, c.get_ref().as_str())) {
        None | Some((_, "moves")) => false,
        Some((_, "at-once")) => true,
        Some((c, other)) => {
            return Err(r.at(c, format!("syncs is moves or at-once, not '{other}'")));
        }
    };
    if let Some(n) = &doc.client_messages {
        let max = crate::explore::CLIENT_MESSAGES_MAX;
        script.mode.client_messages = u32::try_from(*n.get_ref())
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| r.at(n, format!("client_messages is 0 to {max}")))?;
    }
    for text in &doc.moves {
        let m = crate::explore::script::parse_move(text.get_ref()).map_err(|e| r.at(text, e))?;
        let node = m.node().map(|i| u32::from(i) + 1);
        if let Some(n) = node.filter(|n| *n > nodes) {
            return Err(r.at(text, format!("n{n} is not in the cluster of {nodes}")));
        }
        script.moves.push(m);
    }
    Ok(script)
}

/// Turns byte offsets into line numbers and values into errors.
struct Reader<'a> {
    text: &'a str,
    file: &'a str,
}

impl Reader<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text
            .get(..end)
            .map_or(1, |t| t.bytes().filter(|b| *b == b'\n').count() + 1)
    }

    fn error(&self, span: Option<std::ops::Range<usize>>, message: String) -> ScenarioError {
        ScenarioError {
            file: self.file.to_owned(),
            line: span.map(|s| self.line(s.start)),
            message,
        }
    }

    fn at<T>(&self, value: &Spanned<T>, message: String) -> ScenarioError {
        self.error(Some(value.span()), message)
    }

    fn duration(&self, value: &Text, what: &str) -> Result<Duration, ScenarioError> {
        parse_duration(value.get_ref()).map_err(|e| self.at(value, format!("{what}: {e}")))
    }

    fn probability(&self, value: &Spanned<f64>, what: &str) -> Result<f64, ScenarioError> {
        let p = *value.get_ref();
        if (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(self.at(
                value,
                format!("{what} must be a probability between 0 and 1, got {p}"),
            ))
        }
    }

    fn node(&self, value: &Spanned<Name>, nodes: u32) -> Result<NodeId, ScenarioError> {
        let id = value.get_ref().node().map_err(|e| self.at(value, e))?;
        self.in_cluster(value, id, nodes)
    }

    fn in_cluster<T>(
        &self,
        at: &Spanned<T>,
        id: NodeId,
        nodes: u32,
    ) -> Result<NodeId, ScenarioError> {
        if id.0 > nodes {
            return Err(self.at(
                at,
                format!("{id} is not in the cluster, which has nodes n1..n{nodes}"),
            ));
        }
        Ok(id)
    }
}

/// The `[faults]` table: what the generator adds to the timeline.
fn random_faults(
    r: &Reader<'_>,
    f: &FaultsDoc,
    config: &mut SimConfig,
) -> Result<(), ScenarioError> {
    if let Some(p) = &f.random {
        config.faults = p
            .get_ref()
            .parse::<FaultProfile>()
            .map_err(|e| r.at(p, e))?;
    }
    if let Some(p) = f.partitions {
        config.partitions = p;
    }
    if let Some(d) = f.disk {
        config.disk_faults = d;
    }
    Ok(())
}

/// Reads a scenario from `text`; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    let r = Reader { text, file };
    let doc: Doc =
        toml::from_str(text).map_err(|e| r.error(e.span(), e.message().trim().to_owned()))?;
    let mut config = SimConfig::default();
    if let Some(seed) = doc.seed {
        config.seed = seed;
    }
    if let Some(d) = &doc.duration {
        config.duration = r.duration(d, "duration")?;
        if config.duration.is_zero() {
            return Err(r.at(d, "duration must be greater than zero".into()));
        }
    }
    cluster(&r, &doc.cluster, &mut config)?;
    network(&r, &doc.network, &mut config)?;
    clients(&r, &doc.clients, &mut config)?;
    random_faults(&r, &doc.faults, &mut config)?;
    for step in &doc.timeline {
        let at = r.duration(&step.at, "at")?;
        if at >= config.duration {
            return Err(r.at(
                &step.at,
                format!(
                    "fault at {} falls after the end of the run ({})",
                    step.at.get_ref(),
                    crate::units::format_duration(config.duration)
                ),
            ));
        }
        let fault: Fault = step
            .fault
            .get_ref()
            .parse()
            .map_err(|e| r.at(&step.fault, e))?;
        for id in crate::faults::fault_nodes(&fault) {
            r.in_cluster(&step.fault, id, config.nodes)?;
        }
        if let Fault::ClientLeave(c) = fault {
            if c > config.clients {
                return Err(r.at(
                    &step.fault,
                    format!(
                        "client c{c} is not in the run, which has {} clients",
                        config.clients
                    ),
                ));
            }
        }
        config.schedule.push(ScheduledFault {
            at: Instant::ZERO + at,
            fault,
        });
    }
    if let Some(bug) = &doc.debug.inject_bug {
        config.inject_bug = InjectedBug::from_name(bug.get_ref()).map_err(|e| r.at(bug, e))?;
    }
    let expect = Expect {
        ok: doc.expect.ok,
        leader: match &doc.expect.leader {
            Some(l) => Some(r.node(l, config.nodes)?),
            None => None,
        },
        violation: doc.expect.violation.clone(),
        digest: doc.expect.digest.clone(),
    };
    config.validate().map_err(|e| r.error(None, e))?;
    let explore = match &doc.explore {
        Some(e) => Some(explore_script(&r, e, &doc.timeline, config.nodes)?),
        None => None,
    };
    Ok(Scenario {
        name: doc.name,
        description: doc.description,
        config,
        expect,
        explore,
    })
}

fn cluster(r: &Reader<'_>, c: &ClusterDoc, config: &mut SimConfig) -> Result<(), ScenarioError> {
    if let Some(n) = &c.nodes {
        let nodes = *n.get_ref();
        if nodes == 0 || nodes > crate::config::MAX_NODES {
            return Err(r.at(
                n,
                format!(
                    "nodes must be between 1 and {}, got {nodes}",
                    crate::config::MAX_NODES
                ),
            ));
        }
        config.nodes = nodes;
    }
    if let Some(d) = &c.durability {
        config.durability = d.get_ref().parse().map_err(|err: String| r.at(d, err))?;
    }
    if let Some(n) = &c.retain {
        if *n.get_ref() == 0 {
            return Err(r.at(n, "retain must keep at least 1 entry".into()));
        }
        config.retain = Some(*n.get_ref());
    }
    let node = &mut config.node;
    if let Some(e) = &c.election {
        node.election = e
            .get_ref()
            .parse::<Algorithm>()
            .map_err(|err| r.at(e, err.to_string()))?;
    }
    if let Some(k) = &c.rank {
        node.rank = k
            .get_ref()
            .parse::<RankBy>()
            .map_err(|err| r.at(k, err.to_string()))?;
    }
    if let Some(v) = &c.voters {
        node.voters = v
            .get_ref()
            .iter()
            .map(|n| {
                let id = n.node().map_err(|e| r.at(v, e))?;
                r.in_cluster(v, id, config.nodes)
            })
            .collect::<Result<_, _>>()?;
    }
    for (field, value) in [
        (&mut node.heartbeat_interval, &c.heartbeat),
        (&mut node.suspect_timeout, &c.suspect_timeout),
        (&mut node.failure_timeout, &c.failure_timeout),
        (&mut node.announce_interval, &c.announce),
        (&mut node.settle, &c.settle),
        (&mut node.election_timeout, &c.election_timeout),
        (&mut config.start_spread, &c.start_spread),
        (&mut config.max_clock_offset, &c.max_clock_offset),
    ] {
        if let Some(v) = value {
            *field = r.duration(v, "duration")?;
        }
    }
    if let Some(d) = &c.max_drift {
        node.max_drift_ppm = crate::units::parse_drift(d.get_ref())
            .map_err(|e| r.at(d, format!("max_drift: {e}")))?;
    }
    if let Some(chunk) = &c.sync_chunk {
        if *chunk.get_ref() == 0 {
            return Err(r.at(chunk, "sync_chunk must be at least 1".into()));
        }
        node.sync_chunk = *chunk.get_ref();
    }
    for (name, at) in &c.start {
        let id = parse_node(name).map_err(|e| r.at(at, format!("in [cluster.start]: {e}")))?;
        r.in_cluster(at, id, config.nodes)?;
        config
            .start_at
            .push((id, Instant::ZERO + r.duration(at, "start")?));
    }
    config.start_at.sort();
    Ok(())
}

fn network(r: &Reader<'_>, n: &NetworkDoc, config: &mut SimConfig) -> Result<(), ScenarioError> {
    let net = &mut config.network;
    if let Some(l) = &n.latency {
        let (lo, hi) = parse_latency(l.get_ref()).map_err(|e| r.at(l, e))?;
        net.latency_min = lo;
        net.latency_max = hi;
    }
    for (field, value, what) in [
        (&mut net.loss, &n.loss, "loss"),
        (&mut net.duplicate, &n.duplicate, "duplicate"),
        (&mut net.reorder, &n.reorder, "reorder"),
    ] {
        if let Some(v) = value {
            *field = r.probability(v, what)?;
        }
    }
    Ok(())
}

fn clients(r: &Reader<'_>, c: &ClientsDoc, config: &mut SimConfig) -> Result<(), ScenarioError> {
    if let Some(n) = &c.count {
        if *n.get_ref() > crate::config::MAX_CLIENTS {
            return Err(r.at(
                n,
                format!("count must be at most {}", crate::config::MAX_CLIENTS),
            ));
        }
        config.clients = *n.get_ref();
    }
    if let Some(rate) = &c.rate {
        let v = *rate.get_ref();
        if !(v.is_finite() && (0.0..=10_000.0).contains(&v)) {
            return Err(r.at(
                rate,
                format!("rate must be between 0 and 10000 messages per second, got {v}"),
            ));
        }
        config.rate = v;
    }
    if let Some(q) = &c.quiet {
        config.client_quiet = r.duration(q, "quiet")?;
    }
    if let Some(b) = &c.buffer {
        if *b.get_ref() == 0 {
            return Err(r.at(b, "buffer must hold at least 1 message".into()));
        }
        config.client_buffer = *b.get_ref();
    }
    let client = |name: &str, at: &dyn Fn(String) -> ScenarioError| -> Result<u32, ScenarioError> {
        let c = parse_client(name).map_err(at)?;
        if c > config.clients {
            return Err(at(format!(
                "client c{c} is not in the run, which has {} clients",
                config.clients
            )));
        }
        Ok(c)
    };
    let mut starts = Vec::new();
    for (name, at) in &c.start {
        let c = client(name, &|e| r.at(at, format!("in [clients.start]: {e}")))?;
        starts.push((c, Instant::ZERO + r.duration(at, "start")?));
    }
    let mut servers = Vec::new();
    for (name, list) in &c.servers {
        let c = client(name, &|e| r.at(list, format!("in [clients.servers]: {e}")))?;
        let ids = list
            .get_ref()
            .iter()
            .map(|n| {
                let id = n.node().map_err(|e| r.at(list, e))?;
                r.in_cluster(list, id, config.nodes)
            })
            .collect::<Result<Vec<_>, _>>()?;
        servers.push((c, ids));
    }
    config.client_start_at = starts;
    config.client_servers = servers;
    Ok(())
}
