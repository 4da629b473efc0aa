//! Shrinking a failing run to a small one that fails the same invariant.
//!
//! Greedy and deterministic: try a simpler candidate — fewer faults, a shorter
//! run, fewer clients, fewer nodes, a kinder network — keep it when it still
//! fails the same invariant, and repeat until no candidate is kept. The seed
//! stays; every candidate is a complete run, so the result is a scenario that
//! fails on its own, not a guess.

use crate::config::SimConfig;
use crate::faults::{Fault, ScheduledFault};
use crate::network::NetworkConfig;
use crate::report::Report;
use crate::scenario::Scenario;
use crate::world::run;
use ringleader_core::{Instant, NodeId};
use std::time::Duration;

/// How big a run is, for printing progress and results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Faults in the timeline.
    pub faults: usize,
    /// Nodes.
    pub nodes: u32,
    /// Clients.
    pub clients: u32,
    /// Virtual length.
    pub duration: Duration,
}

impl Size {
    /// The size of `config`'s run.
    pub fn of(config: &SimConfig) -> Size {
        Size {
            faults: config.schedule.len(),
            nodes: config.nodes,
            clients: config.clients,
            duration: config.duration,
        }
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: u64, what: &str| {
            if n == 1 {
                format!("1 {what}")
            } else {
                format!("{n} {what}s")
            }
        };
        write!(
            f,
            "{}, {}, {}, {}",
            plural(self.faults as u64, "fault"),
            plural(u64::from(self.nodes), "node"),
            plural(u64::from(self.clients), "client"),
            crate::units::format_duration(self.duration)
        )
    }
}

/// What shrinking found.
#[derive(Debug)]
pub struct Shrunk {
    /// The size of the run shrinking started from.
    pub from: Size,
    /// The smallest failing scenario found (concrete: no random faults).
    pub scenario: Scenario,
    /// Its report.
    pub report: Report,
    /// Runs tried.
    pub runs: u64,
}

/// Why shrinking could not start.
#[derive(Debug, PartialEq, Eq)]
pub enum ShrinkError {
    /// The given run does not fail `invariant` to begin with.
    DoesNotFail {
        /// The invariant.
        invariant: String,
    },
    /// The run cannot be carried out.
    Invalid(String),
}

impl std::fmt::Display for ShrinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShrinkError::DoesNotFail { invariant } => {
                write!(
                    f,
                    "the run does not fail invariant '{invariant}', so there is nothing to shrink"
                )
            }
            ShrinkError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ShrinkError {}

/// Shrinks `scenario` while it keeps failing `invariant` (by default, the first
/// invariant its run fails), trying at most `budget` runs. `progress` sees each
/// smaller run that still fails.
pub fn shrink(
    scenario: &Scenario,
    invariant: Option<&str>,
    budget: u64,
    progress: impl FnMut(Size, u64),
) -> Result<Shrunk, ShrinkError> {
    shrink_with(scenario, invariant, budget, progress, run)
}

/// [`shrink`] with runs made by `run` (the simulator with an application on
/// its nodes: see [`crate::app::AppSim::shrink`]).
pub fn shrink_with<E: std::fmt::Display>(
    scenario: &Scenario,
    invariant: Option<&str>,
    budget: u64,
    mut progress: impl FnMut(Size, u64),
    run: impl Fn(&SimConfig) -> Result<Report, E>,
) -> Result<Shrunk, ShrinkError> {
    let mut best = scenario.concrete();
    let from = Size::of(&best.config);
    let first = run(&best.config).map_err(|e| ShrinkError::Invalid(e.to_string()))?;
    let invariant = match invariant {
        Some(i) => i.to_owned(),
        None => first
            .violations
            .first()
            .map(|v| v.invariant.to_owned())
            .ok_or_else(|| ShrinkError::DoesNotFail {
                invariant: "any".into(),
            })?,
    };
    if !fails(&first, &invariant) {
        return Err(ShrinkError::DoesNotFail { invariant });
    }
    let mut report = first;
    let mut runs = 1u64;
    loop {
        let mut improved = false;
        for candidate in candidates(&best.config, &report) {
            if runs >= budget {
                break;
            }
            if candidate.validate().is_err() {
                continue;
            }
            runs += 1;
            let Ok(r) = run(&candidate) else {
                continue;
            };
            if fails(&r, &invariant) {
                best.config = candidate;
                report = r;
                improved = true;
                progress(Size::of(&best.config), runs);
                break; // candidates are rebuilt from the smaller run
            }
        }
        if !improved || runs >= budget {
            break;
        }
    }
    best.expect = crate::scenario::Expect {
        violation: Some(invariant),
        digest: Some(report.digest.clone()),
        ..Default::default()
    };
    Ok(Shrunk {
        from,
        scenario: best,
        report,
        runs,
    })
}

fn fails(report: &Report, invariant: &str) -> bool {
    report.violations.iter().any(|v| v.invariant == invariant)
}

/// Simpler runs than `config`, most promising first: big cuts before small ones.
fn candidates(config: &SimConfig, report: &Report) -> Vec<SimConfig> {
    let mut out = Vec::new();
    let faults = &config.schedule;
    // Faults: halves, quarters, ... down to single ones (delta debugging's steps).
    let mut chunk = faults.len().div_ceil(2).max(1);
    while !faults.is_empty() {
        let mut start = 0;
        while start < faults.len() {
            let mut c = config.clone();
            c.schedule = faults
                .iter()
                .enumerate()
                .filter(|(i, _)| *i < start || *i >= start + chunk)
                .map(|(_, f)| f.clone())
                .collect();
            out.push(c);
            start += chunk;
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    // A shorter run: end soon after the violation, or after the last fault.
    let violation_at = report.violations.first().map_or(0, |v| v.at_ms);
    let last_fault = faults.last().map_or(0, |f| f.at.as_millis());
    for end_ms in [
        violation_at + 1_000,
        last_fault.max(violation_at) + 1_000,
        last_fault.max(violation_at) + 12_000,
        config.duration.as_millis() as u64 / 2,
    ] {
        let d = Duration::from_millis(end_ms);
        if d < config.duration && !d.is_zero() {
            let mut c = config.clone();
            c.duration = d;
            c.schedule.retain(|f| f.at < Instant::ZERO + d);
            out.push(c);
        }
    }
    // Fewer clients: none, then one less.
    for clients in [0, config.clients.saturating_sub(1)] {
        if clients < config.clients {
            out.push(without_clients_above(config, clients));
        }
    }
    // Fewer nodes: each one taken out, the others renumbered.
    if config.nodes > 1 {
        for k in (1..=config.nodes).rev() {
            out.push(without_node(config, NodeId(k)));
        }
    }
    // A kinder network.
    let net = &config.network;
    let mut without = |p: f64, clear: fn(&mut NetworkConfig)| {
        if p > 0.0 {
            let mut c = config.clone();
            clear(&mut c.network);
            out.push(c);
        }
    };
    without(net.loss, |n| n.loss = 0.0);
    without(net.duplicate, |n| n.duplicate = 0.0);
    without(net.reorder, |n| n.reorder = 0.0);
    let lan = NetworkConfig {
        loss: net.loss,
        duplicate: net.duplicate,
        reorder: net.reorder,
        ..NetworkConfig::default()
    };
    if *net != lan {
        let mut c = config.clone();
        c.network = lan;
        out.push(c);
    }
    out
}

fn without_clients_above(config: &SimConfig, clients: u32) -> SimConfig {
    let mut c = config.clone();
    c.clients = clients;
    c.client_start_at.retain(|(n, _)| *n <= clients);
    c.client_servers.retain(|(n, _)| *n <= clients);
    c.schedule
        .retain(|f| !matches!(f.fault, Fault::ClientLeave(n) if n > clients));
    c
}

/// `config` without node `gone`; nodes above it move down by one.
fn without_node(config: &SimConfig, gone: NodeId) -> SimConfig {
    let renumber = |id: NodeId| -> Option<NodeId> {
        match id.0.cmp(&gone.0) {
            std::cmp::Ordering::Less => Some(id),
            std::cmp::Ordering::Equal => None,
            std::cmp::Ordering::Greater => Some(NodeId(id.0 - 1)),
        }
    };
    let mut c = config.clone();
    c.nodes -= 1;
    c.node.voters = c.node.voters.iter().filter_map(|v| renumber(*v)).collect();
    c.start_at = c
        .start_at
        .iter()
        .filter_map(|(id, at)| renumber(*id).map(|id| (id, *at)))
        .collect();
    for (_, servers) in c.client_servers.iter_mut() {
        *servers = servers.iter().filter_map(|id| renumber(*id)).collect();
    }
    c.client_servers.retain(|(_, s)| !s.is_empty());
    c.schedule = config
        .schedule
        .iter()
        .filter_map(|f| {
            let fault = match &f.fault {
                Fault::Crash(n) => Fault::Crash(renumber(*n)?),
                Fault::Kill(n) => Fault::Kill(renumber(*n)?),
                Fault::Restart(n) => Fault::Restart(renumber(*n)?),
                Fault::Leave(n) => Fault::Leave(renumber(*n)?),
                Fault::Skew { node, drift_ppm } => Fault::Skew {
                    node: renumber(*node)?,
                    drift_ppm: *drift_ppm,
                },
                Fault::Pause { node, lasts } => Fault::Pause {
                    node: renumber(*node)?,
                    lasts: *lasts,
                },
                Fault::DiskStall { node, lasts } => Fault::DiskStall {
                    node: renumber(*node)?,
                    lasts: *lasts,
                },
                Fault::DiskFail(n) => Fault::DiskFail(renumber(*n)?),
                Fault::ReadFail { node, lasts } => Fault::ReadFail {
                    node: renumber(*node)?,
                    lasts: *lasts,
                },
                Fault::ReadFlip { node, lasts } => Fault::ReadFlip {
                    node: renumber(*node)?,
                    lasts: *lasts,
                },
                Fault::Cut { from, to } => Fault::Cut {
                    from: renumber(*from)?,
                    to: renumber(*to)?,
                },
                Fault::Partition(groups) => {
                    let groups: Vec<Vec<NodeId>> = groups
                        .iter()
                        .map(|g| g.iter().filter_map(|id| renumber(*id)).collect::<Vec<_>>())
                        .filter(|g| !g.is_empty())
                        .collect();
                    if groups.is_empty() {
                        return None;
                    }
                    Fault::Partition(groups)
                }
                Fault::Heal => Fault::Heal,
                Fault::ClientLeave(n) => Fault::ClientLeave(*n),
            };
            Some(ScheduledFault { at: f.at, fault })
        })
        .collect();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taking_a_node_out_renumbers_the_others() {
        let config = SimConfig {
            nodes: 4,
            schedule: vec![
                ScheduledFault {
                    at: Instant::from_millis(10),
                    fault: Fault::Crash(NodeId(2)),
                },
                ScheduledFault {
                    at: Instant::from_millis(20),
                    fault: Fault::Partition(vec![
                        vec![NodeId(1), NodeId(2)],
                        vec![NodeId(3), NodeId(4)],
                    ]),
                },
                ScheduledFault {
                    at: Instant::from_millis(30),
                    fault: Fault::Cut {
                        from: NodeId(4),
                        to: NodeId(1),
                    },
                },
            ],
            ..SimConfig::default()
        };
        let c = without_node(&config, NodeId(2));
        assert_eq!(c.nodes, 3);
        let faults: Vec<String> = c.schedule.iter().map(|f| f.fault.to_string()).collect();
        assert_eq!(faults, ["partition n1 | n2,n3", "cut n3->n1"]);
    }

    #[test]
    fn a_run_that_does_not_fail_is_refused() {
        let s = Scenario {
            config: SimConfig {
                nodes: 3,
                duration: Duration::from_secs(5),
                ..SimConfig::default()
            },
            ..Scenario::default()
        };
        assert!(matches!(
            shrink(&s, Some("leader_agreement"), 10, |_, _| {}),
            Err(ShrinkError::DoesNotFail { .. })
        ));
    }
}
