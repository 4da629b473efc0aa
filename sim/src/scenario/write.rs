//! Writing a scenario file that [`super::parse`] reads back to the same run.

use super::spec::{Expect, Scenario};
use crate::bugs::InjectedBug;
use crate::config::SimConfig;
use crate::faults::FaultProfile;
use crate::units::format_duration;
use crate::units::quoted;
use ringleader_core::Instant;
use std::fmt::Write;
use std::time::Duration;

fn since_zero(at: Instant) -> String {
    format_duration(Duration::from_micros(at.as_micros()))
}
/// `[cluster]`: the nodes and every timing.
fn write_cluster(w: &mut String, c: &SimConfig) {
    let n = &c.node;
    let _ = writeln!(w, "\n[cluster]");
    let _ = writeln!(w, "nodes = {}", c.nodes);
    let _ = writeln!(w, "election = \"{}\"", n.election);
    let _ = writeln!(w, "rank = \"{}\"", n.rank);
    let _ = writeln!(w, "durability = \"{}\"", c.durability);
    if let Some(n) = c.retain {
        let _ = writeln!(w, "retain = {n}");
    }
    if !n.voters.is_empty() {
        let v: Vec<String> = n.voters.iter().map(|id| format!("\"{id}\"")).collect();
        let _ = writeln!(w, "voters = [{}]", v.join(", "));
    }
    for (key, d) in [
        ("heartbeat", n.heartbeat_interval),
        ("suspect_timeout", n.suspect_timeout),
        ("failure_timeout", n.failure_timeout),
        ("announce", n.announce_interval),
        ("settle", n.settle),
        ("election_timeout", n.election_timeout),
        ("start_spread", c.start_spread),
        ("max_clock_offset", c.max_clock_offset),
    ] {
        let _ = writeln!(w, "{key} = \"{}\"", format_duration(d));
    }
    let _ = writeln!(
        w,
        "max_drift = \"{}\"",
        crate::units::format_drift(n.max_drift_ppm)
    );
    let _ = writeln!(w, "sync_chunk = {}", n.sync_chunk);
    if !c.start_at.is_empty() {
        let v: Vec<String> = c
            .start_at
            .iter()
            .map(|(id, at)| format!("{id} = \"{}\"", since_zero(*at)))
            .collect();
        let _ = writeln!(w, "start = {{ {} }}", v.join(", "));
    }
}

/// `[network]`: latency, loss, duplication, reordering.
fn write_network(w: &mut String, c: &SimConfig) {
    let net = &c.network;
    let _ = writeln!(w, "\n[network]");
    let _ = writeln!(
        w,
        "latency = \"{}..{}\"",
        format_duration(net.latency_min),
        format_duration(net.latency_max)
    );
    let _ = writeln!(w, "loss = {}", float(net.loss));
    let _ = writeln!(w, "duplicate = {}", float(net.duplicate));
    let _ = writeln!(w, "reorder = {}", float(net.reorder));
}

/// `[clients]`: how many, how fast, when they start, whom they know.
fn write_clients(w: &mut String, c: &SimConfig) {
    let _ = writeln!(w, "\n[clients]");
    let _ = writeln!(w, "count = {}", c.clients);
    let _ = writeln!(w, "rate = {}", float(c.rate));
    let _ = writeln!(w, "quiet = \"{}\"", format_duration(c.client_quiet));
    let _ = writeln!(w, "buffer = {}", c.client_buffer);
    if !c.client_start_at.is_empty() {
        let v: Vec<String> = c
            .client_start_at
            .iter()
            .map(|(n, at)| format!("c{n} = \"{}\"", since_zero(*at)))
            .collect();
        let _ = writeln!(w, "start = {{ {} }}", v.join(", "));
    }
    if !c.client_servers.is_empty() {
        let v: Vec<String> = c
            .client_servers
            .iter()
            .map(|(n, ids)| {
                let ids: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
                format!("c{n} = [{}]", ids.join(", "))
            })
            .collect();
        let _ = writeln!(w, "servers = {{ {} }}", v.join(", "));
    }
}

/// `[expect]`: what the run should show, if anything.
fn write_expect(w: &mut String, e: &Expect) {
    if !e.is_empty() {
        let _ = writeln!(w, "\n[expect]");
        if let Some(ok) = e.ok {
            let _ = writeln!(w, "ok = {ok}");
        }
        if let Some(l) = e.leader {
            let _ = writeln!(w, "leader = \"{l}\"");
        }
        if let Some(v) = &e.violation {
            let _ = writeln!(w, "violation = {}", quoted(v));
        }
        if let Some(d) = &e.digest {
            let _ = writeln!(w, "digest = {}", quoted(d));
        }
    }
}

fn float(x: f64) -> String {
    // TOML floats need a point or an exponent.
    let s = format!("{x}");
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

impl Scenario {
    /// The scenario as a TOML file. Every setting is written out, defaults
    /// included, so a replay file does not change meaning when defaults do.
    pub fn to_toml(&self) -> String {
        let c: &SimConfig = &self.config;
        let mut out = String::new();
        let w = &mut out;
        if !self.name.is_empty() {
            let _ = writeln!(w, "name = {}", quoted(&self.name));
        }
        if !self.description.is_empty() {
            let _ = writeln!(w, "description = {}", quoted(&self.description));
        }
        let _ = writeln!(w, "seed = {}", c.seed);
        let _ = writeln!(w, "duration = \"{}\"", format_duration(c.duration));
        write_cluster(w, c);
        write_network(w, c);
        write_clients(w, c);
        let _ = writeln!(w, "\n[faults]");
        let _ = writeln!(w, "random = \"{}\"", c.faults);
        let _ = writeln!(w, "partitions = {}", c.partitions);
        if c.disk_faults {
            let _ = writeln!(w, "disk = true");
        }
        if c.inject_bug != InjectedBug::None {
            let _ = writeln!(w, "\n[debug]");
            let _ = writeln!(w, "inject_bug = \"{}\"", c.inject_bug.name());
        }
        write_expect(w, &self.expect);
        for f in &c.schedule {
            let _ = writeln!(w, "\n[[timeline]]");
            let _ = writeln!(w, "at = \"{}\"", since_zero(f.at));
            let _ = writeln!(w, "fault = {}", quoted(&f.fault.to_string()));
        }
        out
    }

    /// This scenario with its random faults written into the timeline, so it
    /// replays without the generator (and so faults can be removed one by one).
    pub fn concrete(&self) -> Scenario {
        let mut s = self.clone();
        s.config.schedule = crate::world::fault_schedule(&self.config);
        s.config.faults = FaultProfile::None;
        s.config.disk_faults = false;
        s
    }
}
