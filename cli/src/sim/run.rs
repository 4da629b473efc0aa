//! `ringleader sim run`.

use crate::parse;
use crate::EXIT_USAGE;
use clap::Args;
use ringleader_core::{Algorithm, Config, RankBy};
use ringleader_sim::{fault_schedule, run_traced, FaultProfile, NetworkConfig, Report, SimConfig};
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Flags of `sim run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The seed every random choice derives from; the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of servers (ids 1..=N).
    #[arg(long, default_value_t = 5)]
    nodes: u32,
    /// Virtual time to simulate, e.g. 60s, 500ms, 10m.
    #[arg(long, default_value = "60s", value_parser = parse::duration)]
    duration: Duration,
    /// Probability that a message is lost.
    #[arg(long, default_value_t = 0.0, value_parser = parse::probability)]
    loss: f64,
    /// Probability that a delivered message arrives twice.
    #[arg(long, default_value_t = 0.0, value_parser = parse::probability)]
    duplicate: f64,
    /// Probability that a message is held back so later ones overtake it.
    #[arg(long, default_value_t = 0.0, value_parser = parse::probability)]
    reorder: f64,
    /// One-way latency, a range MIN..MAX or one value.
    #[arg(long, default_value = "200us..2ms", value_parser = parse::latency)]
    latency: (Duration, Duration),
    /// Random faults generated from the seed: none, light or heavy.
    #[arg(long, default_value = "none", value_parser = parse_profile)]
    faults: FaultProfile,
    /// Let the fault generator crash and restart nodes but never cut links.
    #[arg(long)]
    no_partitions: bool,
    /// Election algorithm of every node: bully, ring (Chang-Roberts) or quorum.
    #[arg(long, default_value = "bully", value_parser = parse::algorithm)]
    election: Algorithm,
    /// What makes a node the preferred leader under bully and ring: id (highest
    /// wins), oldest (longest running wins) or address (lowest address and port wins).
    #[arg(long, default_value = "id", value_parser = parse::rank)]
    rank: RankBy,
    /// How long a starting node listens before its first election.
    #[arg(long, default_value = "300ms", value_parser = parse::duration)]
    settle: Duration,
    /// Election timeout (bully: wait for OK; ring: longest round; quorum: randomized
    /// between one and two of it).
    #[arg(long, default_value = "300ms", value_parser = parse::duration)]
    election_timeout: Duration,
    /// Heartbeat interval of every node.
    #[arg(long, default_value = "100ms", value_parser = parse::duration)]
    heartbeat: Duration,
    /// Silence after which a member is suspected.
    #[arg(long, default_value = "250ms", value_parser = parse::duration)]
    suspect_timeout: Duration,
    /// Silence after which a member is declared dead.
    #[arg(long, default_value = "500ms", value_parser = parse::duration)]
    failure_timeout: Duration,
    /// Interval of the multicast announcements.
    #[arg(long, default_value = "1s", value_parser = parse::duration)]
    announce: Duration,
    /// Simulated chat clients, each sending at --rate and checked end to end.
    #[arg(long, default_value_t = 0)]
    clients: u32,
    /// Messages per second each client sends (0: clients only read).
    #[arg(long, default_value_t = 5.0, value_parser = parse_rate)]
    rate: f64,
    /// Entries per chunk when a new or restarted server catches up.
    #[arg(long, default_value_t = 100, value_parser = parse::count)]
    sync_chunk: usize,
    /// Write the readable trace (one line per event and action) to FILE.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Print exactly one JSON object on stdout instead of the summary.
    #[arg(long)]
    json: bool,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of messages per second"))?;
    if r.is_finite() && (0.0..=10_000.0).contains(&r) {
        Ok(r)
    } else {
        Err(format!(
            "rate must be between 0 and 10000 messages per second, got {s}"
        ))
    }
}

fn parse_profile(s: &str) -> Result<FaultProfile, String> {
    s.parse()
}

impl RunArgs {
    fn config(&self) -> SimConfig {
        SimConfig {
            seed: self.seed,
            nodes: self.nodes,
            duration: self.duration,
            network: NetworkConfig {
                latency_min: self.latency.0,
                latency_max: self.latency.1,
                loss: self.loss,
                duplicate: self.duplicate,
                reorder: self.reorder,
            },
            node: Config {
                heartbeat_interval: self.heartbeat,
                suspect_timeout: self.suspect_timeout,
                failure_timeout: self.failure_timeout,
                announce_interval: self.announce,
                election: self.election,
                rank: self.rank,
                settle: self.settle,
                election_timeout: self.election_timeout,
                sync_chunk: self.sync_chunk,
                ..Config::default()
            },
            faults: self.faults,
            partitions: !self.no_partitions,
            clients: self.clients,
            rate: self.rate,
            ..SimConfig::default()
        }
    }

    /// The command line that reproduces this run.
    fn replay_command(&self) -> String {
        let mut cmd = format!(
            "ringleader sim run --seed {} --nodes {} --duration {}ms --faults {} --election {} --rank {}",
            self.seed,
            self.nodes,
            self.duration.as_millis(),
            self.faults,
            self.election,
            self.rank
        );
        for (flag, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if p > 0.0 {
                cmd.push_str(&format!(" --{flag} {p}"));
            }
        }
        let (lo, hi) = self.latency;
        cmd.push_str(&format!(
            " --latency {}us..{}us",
            lo.as_micros(),
            hi.as_micros()
        ));
        for (flag, d) in [
            ("heartbeat", self.heartbeat),
            ("suspect-timeout", self.suspect_timeout),
            ("failure-timeout", self.failure_timeout),
            ("announce", self.announce),
            ("settle", self.settle),
            ("election-timeout", self.election_timeout),
        ] {
            cmd.push_str(&format!(" --{flag} {}us", d.as_micros()));
        }
        if self.no_partitions {
            cmd.push_str(" --no-partitions");
        }
        if self.clients > 0 {
            cmd.push_str(&format!(" --clients {} --rate {}", self.clients, self.rate));
        }
        if self.sync_chunk != 100 {
            cmd.push_str(&format!(" --sync-chunk {}", self.sync_chunk));
        }
        cmd.push_str(" --trace failure.trace");
        cmd
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    #[serde(flatten)]
    report: &'a Report,
    virtual_seconds_per_wall_second: f64,
    fault_profile: String,
    replay: String,
}

/// Runs `sim run`.
pub fn run(args: RunArgs) -> ExitCode {
    let config = args.config();
    if let Err(e) = config.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    let result = match &args.trace {
        Some(path) => {
            let file = match File::create(path) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("error: cannot create trace file {}: {e}", path.display());
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            let mut out = BufWriter::new(file);
            run_traced(&config, &mut out).and_then(|r| {
                out.flush().map_err(ringleader_sim::SimError::Trace)?;
                Ok(r)
            })
        }
        None => run_traced(&config, &mut std::io::sink()),
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let speed = report.virtual_ms as f64 / (report.wall_ms.max(1)) as f64;
    if args.json {
        let json = JsonReport {
            report: &report,
            virtual_seconds_per_wall_second: speed,
            fault_profile: args.faults.to_string(),
            replay: args.replay_command(),
        };
        match serde_json::to_string(&json) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: cannot encode the report: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    } else {
        print_summary(&args, &config, &report, speed);
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_summary(args: &RunArgs, config: &SimConfig, r: &Report, speed: f64) {
    println!(
        "seed {}: {} nodes, {} virtual in {} ms wall ({:.0}x real time)",
        r.seed,
        r.nodes,
        ringleader_core::Instant::from_millis(r.virtual_ms),
        r.wall_ms,
        speed
    );
    println!(
        "  events {}, messages delivered {} (sent {}, lost {}, cut {}, duplicated {}, to a down node {})",
        r.events, r.messages, r.sent, r.lost, r.cut, r.duplicated, r.to_down_node
    );
    let scheduled = fault_schedule(config);
    println!("  faults {} ({} profile)", r.faults, args.faults);
    for f in scheduled.iter().take(8) {
        println!("    {:>12} {}", f.at, f.fault);
    }
    if scheduled.len() > 8 {
        println!("    ... and {} more", scheduled.len() - 8);
    }
    let checks: Vec<String> = r
        .checks
        .iter()
        .map(|(name, c)| format!("{name} {}/{}", c.checked, c.checked + c.excused))
        .collect();
    println!("  checks (run/raised): {}", checks.join(", "));
    let e = &r.election_stats;
    let mean = if e.election_ms.is_empty() {
        0.0
    } else {
        e.election_ms.iter().sum::<u64>() as f64 / e.election_ms.len() as f64
    };
    let messages: Vec<String> = e
        .election_messages
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    println!(
        "  {} elections: {} (to agreement: mean {:.0} ms, max {} ms), split brain {} ms",
        r.election,
        e.elections,
        mean,
        e.election_ms.iter().max().copied().unwrap_or(0),
        e.split_brain_ms
    );
    println!(
        "  election messages: {}",
        if messages.is_empty() {
            "none".to_owned()
        } else {
            messages.join(", ")
        }
    );
    let x = &r.replication;
    if r.clients > 0 {
        println!(
            "  {} clients: sent {}, acked {}, committed {}, lost acked {}, duplicates {}, order violations {}, buffer max {}, full {}, leader changes seen {}",
            r.clients,
            x.client_sent,
            x.acked,
            x.committed,
            x.acked_lost,
            x.duplicates,
            x.order_violations,
            x.max_client_buffer,
            x.buffer_full,
            x.leader_changes
        );
    }
    if x.divergent_commits > 0 {
        println!(
            "  divergent commits: {} (two leaders under {} during a partition: its documented limit)",
            x.divergent_commits, r.election
        );
    }
    let leaders: Vec<String> = r
        .leaders
        .iter()
        .map(|(n, l)| format!("n{n}->{}", l.map_or("none".to_owned(), |l| format!("n{l}"))))
        .collect();
    println!("  leaders at the end: {}", leaders.join(" "));
    println!("  digest {}", r.digest);
    if r.ok() {
        println!("  invariants: all held");
    } else {
        println!("  invariants: {} VIOLATED", r.violations.len());
        for v in r.violations.iter().take(10) {
            println!(
                "    {} at {} ms, nodes {:?}: {}",
                v.invariant, v.at_ms, v.nodes, v.detail
            );
        }
        println!("  replay with: {}", args.replay_command());
    }
    if let Some(path) = &args.trace {
        println!("  trace written to {}", path.display());
    }
}
