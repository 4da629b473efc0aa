//! Faults: what can go wrong, when, and the seeded generator of random schedules.

use crate::units::{format_duration, parse_client, parse_duration, parse_node};
use rand::seq::SliceRandom;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ringleader_core::{Instant, NodeId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One fault, applied at a virtual time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Fault {
    /// The node's machine dies: it stops at once, its in-memory state is gone,
    /// and it falls silent: connections to it hang and dials to it time out.
    Crash(NodeId),
    /// The node's process dies (`kill -9`) on a machine that stays up: its
    /// connections are reset and dials to it are refused until it restarts.
    Kill(NodeId),
    /// The node starts again with fresh memory and whatever it persisted. A node
    /// that is up is crashed first.
    Restart(NodeId),
    /// The node leaves gracefully.
    Leave(NodeId),
    /// Nodes in different groups cannot reach each other; nodes in no group form one
    /// more group together. Replaces any earlier partition or cut.
    Partition(Vec<Vec<NodeId>>),
    /// Messages from `from` no longer reach `to` (the other direction is untouched).
    Cut {
        /// Sender side.
        from: NodeId,
        /// Receiver side.
        to: NodeId,
    },
    /// Every link works again.
    Heal,
    /// The node's clock runs fast (positive) or slow (negative) by this many parts
    /// per million from now on.
    Skew {
        /// The node.
        node: NodeId,
        /// Drift in parts per million.
        drift_ppm: i32,
    },
    /// Simulated client `c<n>` says goodbye and quits for good.
    ClientLeave(u32),
    /// The node's disk completes no sync for a while (a hung disk, a saturated
    /// controller): writes wait, and what depends on them with them.
    DiskStall {
        /// The node.
        node: NodeId,
        /// How long the disk hangs.
        lasts: Duration,
    },
    /// A write or sync of the node's disk fails: its process stops with the
    /// error, and what no sync made stable is gone (after a failed `fsync` the
    /// operating system may drop the pages it could not write).
    DiskFail(NodeId),
    /// Reads of the node's disk fail for a while (an I/O error): the node is
    /// answered with nothing and asks again later.
    ReadFail {
        /// The node.
        node: NodeId,
        /// How long reads fail.
        lasts: Duration,
    },
    /// Reads of the node's disk find a flipped bit for a while: the record's
    /// checksum does not match, and the process stops with the error (as the
    /// runtime does) until a restart.
    ReadFlip {
        /// The node.
        node: NodeId,
        /// How long reads are damaged.
        lasts: Duration,
    },
    /// The node stops taking steps for a while, as a process stopped by a debugger,
    /// a long garbage collection or an overloaded host: what arrives for it waits,
    /// its timers fire late, and then it carries on where it was.
    Pause {
        /// The node.
        node: NodeId,
        /// How long it stands still.
        lasts: Duration,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Crash(n) => write!(f, "crash {n}"),
            Fault::Kill(n) => write!(f, "kill {n}"),
            Fault::Restart(n) => write!(f, "restart {n}"),
            Fault::Leave(n) => write!(f, "leave {n}"),
            Fault::Partition(groups) => {
                f.write_str("partition")?;
                for (i, g) in groups.iter().enumerate() {
                    f.write_str(if i == 0 { " " } else { " | " })?;
                    let names: Vec<String> = g.iter().map(ToString::to_string).collect();
                    f.write_str(&names.join(","))?;
                }
                Ok(())
            }
            Fault::Cut { from, to } => write!(f, "cut {from}->{to}"),
            Fault::Heal => f.write_str("heal"),
            Fault::Skew { node, drift_ppm } => write!(f, "skew {node} {drift_ppm:+}ppm"),
            Fault::ClientLeave(c) => write!(f, "client c{c} leaves"),
            Fault::Pause { node, lasts } => {
                write!(f, "pause {node} for {}", format_duration(*lasts))
            }
            Fault::DiskStall { node, lasts } => {
                write!(f, "stall-disk {node} for {}", format_duration(*lasts))
            }
            Fault::DiskFail(n) => write!(f, "disk-fail {n}"),
            Fault::ReadFail { node, lasts } => {
                write!(f, "fail-reads {node} for {}", format_duration(*lasts))
            }
            Fault::ReadFlip { node, lasts } => {
                write!(f, "flip-reads {node} for {}", format_duration(*lasts))
            }
        }
    }
}

/// Reads a fault as [`Fault`]'s `Display` writes it: `crash n3`, `kill n3`, `restart n3`,
/// `leave n3`, `partition n1,n2 | n3,n4`, `cut n1->n2`, `heal`, `skew n2 +500ppm`,
/// `pause n2 for 3s`, `stall-disk n2 for 3s`, `disk-fail n2`, `fail-reads n2 for 3s`,
/// `flip-reads n2 for 3s`, `client c1 leaves`.
impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (verb, rest) = s.split_once(' ').unwrap_or((s, ""));
        let rest = rest.trim();
        let one_node = |what: &str| -> Result<NodeId, String> {
            if rest.is_empty() {
                return Err(format!("'{what}' needs a node, e.g. '{what} n2'"));
            }
            parse_node(rest)
        };
        match verb {
            "crash" => Ok(Fault::Crash(one_node("crash")?)),
            "kill" => Ok(Fault::Kill(one_node("kill")?)),
            "restart" => Ok(Fault::Restart(one_node("restart")?)),
            "leave" => Ok(Fault::Leave(one_node("leave")?)),
            "heal" if rest.is_empty() => Ok(Fault::Heal),
            "heal" => Err(format!("'heal' takes nothing after it, got '{rest}'")),
            "partition" => parse_partition(s, rest),
            "cut" => {
                let (from, to) = rest
                    .split_once("->")
                    .ok_or_else(|| format!("'{s}' needs a direction, e.g. 'cut n1->n2'"))?;
                let (from, to) = (parse_node(from)?, parse_node(to)?);
                if from == to {
                    return Err(format!("'{s}' cuts a node off from itself"));
                }
                Ok(Fault::Cut { from, to })
            }
            "skew" => parse_skew(s, rest),
            "pause" => {
                let (node, lasts) = node_for_a_while(s, rest, verb)?;
                Ok(Fault::Pause { node, lasts })
            }
            "stall-disk" => {
                let (node, lasts) = node_for_a_while(s, rest, verb)?;
                Ok(Fault::DiskStall { node, lasts })
            }
            "disk-fail" => Ok(Fault::DiskFail(one_node("disk-fail")?)),
            "fail-reads" => {
                let (node, lasts) = node_for_a_while(s, rest, verb)?;
                Ok(Fault::ReadFail { node, lasts })
            }
            "flip-reads" => {
                let (node, lasts) = node_for_a_while(s, rest, verb)?;
                Ok(Fault::ReadFlip { node, lasts })
            }
            "client" => {
                let (c, leaves) = rest
                    .split_once(' ')
                    .ok_or_else(|| format!("'{s}': write 'client c1 leaves'"))?;
                if leaves.trim() != "leaves" {
                    return Err(format!("'{s}': write 'client c1 leaves'"));
                }
                Ok(Fault::ClientLeave(parse_client(c)?))
            }
            "" => Err("an empty fault".to_owned()),
            other => Err(format!(
                "unknown fault '{other}' (expected crash, kill, restart, leave, partition, cut, heal, skew, pause, stall-disk, disk-fail, fail-reads, flip-reads or client)"
            )),
        }
    }
}

/// `partition n1,n2 | n3,n4`: groups that no longer reach each other.
fn parse_partition(s: &str, rest: &str) -> Result<Fault, String> {
    let groups = rest
        .split('|')
        .map(|g| {
            let mut ids = g
                .split(',')
                .map(parse_node)
                .collect::<Result<Vec<_>, _>>()?;
            ids.sort();
            Ok(ids)
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(|e| format!("{e} in '{s}' (write 'partition n1,n2 | n3,n4,n5')"))?;
    if groups.len() < 2 && groups.iter().flatten().count() < 2 {
        return Err(format!(
            "'{s}' splits nothing: name at least two groups, e.g. 'partition n1,n2 | n3'"
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(twice) = groups.iter().flatten().find(|id| !seen.insert(**id)) {
        return Err(format!("{twice} is in two groups in '{s}'"));
    }
    Ok(Fault::Partition(groups))
}

/// `skew n2 +500ppm`: a clock that runs fast or slow.
fn parse_skew(s: &str, rest: &str) -> Result<Fault, String> {
    let (node, ppm) = rest
        .split_once(' ')
        .ok_or_else(|| format!("'{s}' needs a node and a drift, e.g. 'skew n2 +500ppm'"))?;
    let ppm = ppm.trim();
    let drift_ppm = ppm
        .strip_suffix("ppm")
        .and_then(|p| p.trim_start_matches('+').parse::<i32>().ok())
        .filter(|p| p.abs() <= 100_000)
        .ok_or_else(|| {
            format!(
                "'{ppm}' is not a drift: write parts per million between -100000ppm and +100000ppm"
            )
        })?;
    Ok(Fault::Skew {
        node: parse_node(node)?,
        drift_ppm,
    })
}

/// `pause n2 for 3s`, `stall-disk n2 for 3s`: a node and how long.
fn node_for_a_while(s: &str, rest: &str, verb: &str) -> Result<(NodeId, Duration), String> {
    let (node, lasts) = rest
        .split_once(" for ")
        .ok_or_else(|| format!("'{s}' needs a length, e.g. '{verb} n2 for 3s'"))?;
    let lasts = parse_duration(lasts)?;
    if lasts.is_zero() {
        return Err(format!("'{s}' pauses for no time"));
    }
    Ok((parse_node(node)?, lasts))
}

/// A fault and when it happens.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScheduledFault {
    /// Virtual time.
    pub at: Instant,
    /// What happens.
    pub fault: Fault,
}

/// How hard the random fault generator hits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultProfile {
    /// No faults.
    #[default]
    None,
    /// Every 10-20 s one fault, healed before the next: a crash and restart, a
    /// partition into two groups, or a clock drifting by up to 0.05 %; the last 10 s
    /// stay quiet.
    Light,
    /// Every 1-5 s, overlapping: crashes of machines or kills of processes with
    /// quick or slow restarts (never all nodes
    /// down), graceful leaves, partitions into up to three groups, one-way cuts, and
    /// clocks drifting by up to 0.5 %.
    Heavy,
}

impl FromStr for FaultProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(FaultProfile::None),
            "light" => Ok(FaultProfile::Light),
            "heavy" => Ok(FaultProfile::Heavy),
            other => Err(format!(
                "unknown fault profile '{other}' (expected none, light or heavy)"
            )),
        }
    }
}

impl fmt::Display for FaultProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultProfile::None => "none",
            FaultProfile::Light => "light",
            FaultProfile::Heavy => "heavy",
        })
    }
}

/// What the generator may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneratorOptions {
    /// The profile.
    pub profile: FaultProfile,
    /// Whether links may be cut (partitions, one-way cuts).
    pub partitions: bool,
    /// Disk faults too: stalls, failed writes, failed and damaged reads (see
    /// [`Fault::DiskStall`], [`Fault::DiskFail`], [`Fault::ReadFail`],
    /// [`Fault::ReadFlip`]).
    pub disk: bool,
}

/// Builds a concrete fault schedule for `nodes` over `duration` from `seed`.
///
/// The schedule is plain data: it can be printed, stored and replayed without the
/// generator. Every fault ends (restart, heal) before `duration`, so a run finishes
/// with a quiet period in which liveness can be judged.
pub fn generate(
    seed: u64,
    nodes: u32,
    duration: Duration,
    opts: GeneratorOptions,
) -> Vec<ScheduledFault> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(2);
    let mut gen = Generator {
        rng,
        nodes,
        out: Vec::new(),
        down_until: vec![Instant::ZERO; nodes as usize],
    };
    let end = Instant::ZERO + duration;
    match opts.profile {
        FaultProfile::None => {}
        FaultProfile::Light => gen.light(end, opts.partitions),
        FaultProfile::Heavy => gen.heavy(end, opts.partitions),
    }
    if opts.disk {
        // A stream of its own: the other faults of a seed stay as they were.
        gen.rng = ChaCha8Rng::seed_from_u64(seed);
        gen.rng.set_stream(4);
        gen.disk(end);
    }
    gen.out.sort_by_key(|f| f.at);
    gen.out
}

struct Generator {
    rng: ChaCha8Rng,
    nodes: u32,
    out: Vec<ScheduledFault>,
    down_until: Vec<Instant>,
}

impl Generator {
    fn secs(&mut self, lo: f64, hi: f64) -> Duration {
        Duration::from_secs_f64(self.rng.random_range(lo..hi))
    }

    fn push(&mut self, at: Instant, fault: Fault) {
        self.out.push(ScheduledFault { at, fault });
    }

    fn node(&mut self) -> NodeId {
        NodeId(self.rng.random_range(1..=self.nodes))
    }

    fn random_groups(&mut self, max_groups: usize) -> Vec<Vec<NodeId>> {
        let mut ids: Vec<NodeId> = (1..=self.nodes).map(NodeId).collect();
        ids.shuffle(&mut self.rng);
        let groups = self
            .rng
            .random_range(2..=max_groups.clamp(2, ids.len().max(2)));
        let mut out = vec![Vec::new(); groups];
        for (i, id) in ids.into_iter().enumerate() {
            // The first ids seed every group so none is empty.
            let g = if i < groups {
                i
            } else {
                self.rng.random_range(0..groups)
            };
            if let Some(group) = out.get_mut(g) {
                group.push(id);
            }
        }
        out.iter_mut().for_each(|g| g.sort());
        out.sort();
        out
    }

    /// Disk faults, every few seconds: mostly stalls (some past a node's stall
    /// bound), sometimes a failed write that stops the node until a restart.
    fn disk(&mut self, end: Instant) {
        let last = end - Duration::from_secs(10);
        let mut t = Instant::ZERO + self.secs(2.0, 8.0);
        while t < last {
            let node = self.node();
            let up =
                |g: &Self, n: NodeId| g.down_until.get(n.0 as usize - 1).is_some_and(|d| *d <= t);
            let others_up = (1..=self.nodes)
                .map(NodeId)
                .filter(|n| *n != node && up(self, *n))
                .count();
            // Whole milliseconds: a scenario file writes it back exactly.
            let lasts = Duration::from_millis(self.rng.random_range(50..4000));
            let roll: f64 = self.rng.random();
            if roll < 0.6 {
                self.push(t, Fault::DiskStall { node, lasts });
            } else if roll < 0.75 {
                self.push(t, Fault::ReadFail { node, lasts });
            } else if roll < 0.85 && up(self, node) && others_up > 0 {
                // A damaged read stops the node: it comes back after the damage.
                let back = (t + lasts + self.secs(0.5, 2.0)).min(last);
                let lasts = back.saturating_since(t);
                self.push(t, Fault::ReadFlip { node, lasts });
                self.push(back, Fault::Restart(node));
                if let Some(d) = self.down_until.get_mut(node.0 as usize - 1) {
                    *d = back;
                }
            } else if roll >= 0.85 && up(self, node) && others_up > 0 {
                // Never the last node standing: the others' crashes are known.
                let back = (t + self.secs(0.5, 5.0)).min(last);
                self.push(t, Fault::DiskFail(node));
                self.push(back, Fault::Restart(node));
                if let Some(d) = self.down_until.get_mut(node.0 as usize - 1) {
                    *d = back;
                }
            }
            t = t + self.secs(3.0, 10.0);
        }
    }

    fn light(&mut self, end: Instant, partitions: bool) {
        // As in heavy, the last 10 s stay quiet so liveness can be judged.
        let last = end - Duration::from_secs(10);
        let mut t = Instant::ZERO + self.secs(5.0, 15.0);
        while t < last {
            let roll: f64 = self.rng.random();
            let lasts = self.secs(2.0, 8.0);
            if t + lasts >= last {
                break;
            }
            if roll < 0.6 || (!partitions && roll < 0.85) || self.nodes < 2 {
                let n = self.node();
                self.push(t, Fault::Crash(n));
                self.push(t + lasts, Fault::Restart(n));
            } else if roll < 0.85 {
                let groups = self.random_groups(2);
                self.push(t, Fault::Partition(groups));
                self.push(t + lasts, Fault::Heal);
            } else {
                let node = self.node();
                let drift_ppm = self.rng.random_range(-500..=500);
                self.push(t, Fault::Skew { node, drift_ppm });
            }
            t = t + lasts + self.secs(10.0, 20.0);
        }
    }

    fn heavy(&mut self, end: Instant, partitions: bool) {
        // Faults stop 10 s before the end so the run closes with a quiet period.
        let last = end - Duration::from_secs(10);
        let mut net_until = Instant::ZERO;
        let mut t = Instant::ZERO + self.secs(1.0, 5.0);
        while t < last {
            let roll: f64 = self.rng.random();
            if roll < 0.45 || !partitions {
                let up: Vec<usize> = (0..self.nodes as usize)
                    .filter(|&i| self.down_until.get(i).is_some_and(|d| *d <= t))
                    .collect();
                if up.len() > 1 {
                    let i = up
                        .get(self.rng.random_range(0..up.len()))
                        .copied()
                        .unwrap_or(0);
                    let n = NodeId(i as u32 + 1);
                    let back = (t + self.secs(0.2, 6.0)).min(last);
                    let fault = if self.rng.random_bool(0.2) {
                        Fault::Leave(n)
                    } else if self.rng.random_bool(0.5) {
                        Fault::Kill(n)
                    } else {
                        Fault::Crash(n)
                    };
                    self.push(t, fault);
                    self.push(back, Fault::Restart(n));
                    if let Some(d) = self.down_until.get_mut(i) {
                        *d = back;
                    }
                }
            } else if roll < 0.85 {
                if t >= net_until {
                    let lasts = self.secs(0.5, 6.0);
                    let heal = (t + lasts).min(last);
                    if self.rng.random_bool(0.3) && self.nodes >= 2 {
                        let from = self.node();
                        let mut to = self.node();
                        while to == from {
                            to = self.node();
                        }
                        self.push(t, Fault::Cut { from, to });
                    } else {
                        let groups = self.random_groups(3);
                        self.push(t, Fault::Partition(groups));
                    }
                    self.push(heal, Fault::Heal);
                    net_until = heal;
                }
            } else {
                let node = self.node();
                let drift_ppm = self.rng.random_range(-5000..=5000);
                self.push(t, Fault::Skew { node, drift_ppm });
            }
            t = t + self.secs(1.0, 5.0);
        }
    }
}

/// The nodes a fault names.
pub fn fault_nodes(fault: &Fault) -> Vec<NodeId> {
    match fault {
        Fault::Crash(n)
        | Fault::Kill(n)
        | Fault::Restart(n)
        | Fault::Leave(n)
        | Fault::DiskFail(n) => vec![*n],
        Fault::Skew { node, .. }
        | Fault::Pause { node, .. }
        | Fault::DiskStall { node, .. }
        | Fault::ReadFail { node, .. }
        | Fault::ReadFlip { node, .. } => vec![*node],
        Fault::Cut { from, to } => vec![*from, *to],
        Fault::Partition(groups) => groups.iter().flatten().copied().collect(),
        Fault::Heal | Fault::ClientLeave(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(profile: FaultProfile) -> GeneratorOptions {
        GeneratorOptions {
            profile,
            partitions: true,
            disk: false,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let a = generate(7, 5, Duration::from_secs(120), opts(FaultProfile::Heavy));
        assert_eq!(
            a,
            generate(7, 5, Duration::from_secs(120), opts(FaultProfile::Heavy))
        );
        assert_ne!(
            a,
            generate(8, 5, Duration::from_secs(120), opts(FaultProfile::Heavy))
        );
        assert!(a.len() > 20);
        assert!(generate(7, 5, Duration::from_secs(120), opts(FaultProfile::None)).is_empty());
    }

    #[test]
    fn every_fault_is_healed_before_the_end_and_never_all_nodes_are_down() {
        for seed in 0..200 {
            for (profile, disk) in [
                (FaultProfile::Light, false),
                (FaultProfile::Heavy, false),
                (FaultProfile::Heavy, true),
            ] {
                let end = Duration::from_secs(90);
                let plan = generate(
                    seed,
                    3,
                    end,
                    GeneratorOptions {
                        disk,
                        ..opts(profile)
                    },
                );
                let mut down = std::collections::BTreeSet::new();
                let mut cut = false;
                for f in &plan {
                    assert!(f.at < Instant::ZERO + end);
                    match &f.fault {
                        Fault::Crash(n) | Fault::Kill(n) | Fault::Leave(n) | Fault::DiskFail(n) => {
                            down.insert(*n);
                            assert!(down.len() < 3, "seed {seed}: all nodes down");
                        }
                        Fault::Restart(n) => {
                            down.remove(n);
                        }
                        Fault::Partition(_) | Fault::Cut { .. } => cut = true,
                        Fault::Heal => cut = false,
                        Fault::Skew { .. }
                        | Fault::ClientLeave(_)
                        | Fault::Pause { .. }
                        | Fault::DiskStall { .. }
                        | Fault::ReadFail { .. }
                        | Fault::ReadFlip { .. } => {}
                    }
                }
                assert!(
                    down.is_empty() && !cut,
                    "seed {seed} {profile}: a fault outlives the run"
                );
            }
        }
    }

    #[test]
    fn every_fault_reads_back_as_it_is_written() {
        let all = [
            Fault::Crash(NodeId(3)),
            Fault::Restart(NodeId(1)),
            Fault::Leave(NodeId(12)),
            Fault::Partition(vec![vec![NodeId(1), NodeId(2)], vec![NodeId(3)]]),
            Fault::Cut {
                from: NodeId(1),
                to: NodeId(2),
            },
            Fault::Heal,
            Fault::Skew {
                node: NodeId(2),
                drift_ppm: -450,
            },
            Fault::Skew {
                node: NodeId(2),
                drift_ppm: 450,
            },
            Fault::Pause {
                node: NodeId(4),
                lasts: Duration::from_micros(1_500_001),
            },
            Fault::ClientLeave(2),
            Fault::DiskStall {
                node: NodeId(2),
                lasts: Duration::from_millis(2_500),
            },
            Fault::DiskFail(NodeId(3)),
            Fault::ReadFail {
                node: NodeId(1),
                lasts: Duration::from_millis(300),
            },
            Fault::ReadFlip {
                node: NodeId(2),
                lasts: Duration::from_secs(1),
            },
        ];
        for f in all {
            assert_eq!(f.to_string().parse::<Fault>(), Ok(f.clone()), "{f}");
        }
    }

    #[test]
    fn bad_faults_say_what_is_wrong() {
        for (text, says) in [
            ("crsh n3", "unknown fault 'crsh'"),
            ("crash", "needs a node"),
            ("crash x", "not a node"),
            ("cut n1 n2", "direction"),
            ("cut n1->n1", "itself"),
            ("partition n1,n2 | n2", "two groups"),
            ("skew n2 fast", "not a drift"),
            ("pause n2", "needs a length"),
            ("pause n2 for 0s", "no time"),
            ("stall-disk n2", "needs a length"),
            ("disk-fail", "needs a node"),
            ("heal n1", "nothing after"),
            ("client c1 stays", "client c1 leaves"),
        ] {
            let e = text.parse::<Fault>().unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn without_partitions_no_link_is_ever_cut() {
        for seed in 0..100 {
            let plan = generate(
                seed,
                5,
                Duration::from_secs(120),
                GeneratorOptions {
                    profile: FaultProfile::Heavy,
                    partitions: false,
                    disk: true,
                },
            );
            assert!(plan.iter().all(|f| !matches!(
                f.fault,
                Fault::Partition(_) | Fault::Cut { .. } | Fault::Heal
            )));
        }
    }
}
