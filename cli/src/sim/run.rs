//! `ringleader sim run` and `ringleader sim replay`.

use super::outcome::{execute, replay_command, replay_scenario, write_scenario, Outputs};
use super::setup::SetupArgs;
use super::usage_error;
use clap::Args;
use ringleader_sim::scenario::{self, Scenario};
use ringleader_sim::{fault_schedule, Report};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `sim run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    setup: SetupArgs,
    /// The seed every random choice derives from; the same seed gives the same
    /// run [default: the scenario's, else 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Write the readable trace (one line per event and action) to FILE.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Write the trace viewer, one self-contained HTML page, to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Where a failing run's replay file goes.
    #[arg(long, value_name = "DIR", default_value = "sim-failures")]
    failures: PathBuf,
    /// Print exactly one JSON object on stdout instead of the summary.
    #[arg(long)]
    json: bool,
}

/// Flags of `sim replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A replay file written by a failing run, sweep or shrink (any scenario file
    /// with an [expect] section will do).
    file: PathBuf,
    /// Write the readable trace to FILE.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Write the trace viewer, one self-contained HTML page, to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Print exactly one JSON object on stdout instead of the summary.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    #[serde(flatten)]
    report: &'a Report,
    virtual_seconds_per_wall_second: f64,
    fault_profile: String,
    /// The command that replays this failure, when it failed.
    replay: Option<String>,
    /// The replay file written for this failure.
    replay_file: Option<String>,
    /// What the scenario expected and the run did not show.
    expectations_unmet: Vec<String>,
}

/// Whether a run that showed `report` passes: what the scenario expected
/// holds, and any violation was expected.
fn passes(scenario: &Scenario, report: &Report, unmet: &[String]) -> bool {
    let violations_expected =
        scenario.expect.violation.is_some() || scenario.expect.ok == Some(false);
    unmet.is_empty() && (report.ok() || violations_expected)
}

/// Runs `sim run`.
pub fn run(args: RunArgs) -> ExitCode {
    let mut scenario = match args.setup.scenario() {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    if let Some(seed) = args.seed {
        scenario.config.seed = seed;
    }
    let title = args.setup.title(&scenario);
    let outputs = Outputs {
        trace: args.trace.as_deref(),
        html: args.html.as_deref(),
        title: &title,
    };
    let report = match execute(&scenario, &outputs) {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    let unmet = scenario.expect.mismatches(&report);
    let mut replay_file = None;
    if !report.ok() && scenario.expect.violation.is_none() {
        let replay = replay_scenario(&title, &scenario, &report);
        match write_scenario(&args.failures, &title, &replay) {
            Ok(path) => replay_file = Some(path),
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    finish(&scenario, &report, &unmet, replay_file, &outputs, args.json)
}

/// Runs `sim replay`.
pub fn replay(args: ReplayArgs) -> ExitCode {
    let scenario = match scenario::load(&args.file) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    if scenario.expect.is_empty() {
        return usage_error(format_args!(
            "{} expects nothing, so there is nothing to reproduce; run it with: ringleader sim run --scenario {}",
            args.file.display(),
            args.file.display()
        ));
    }
    if let Some(script) = &scenario.explore {
        let outputs = super::replay_explore::Outputs {
            file: &args.file,
            trace: args.trace.as_deref(),
            html: args.html.as_deref(),
            json: args.json,
        };
        return super::replay_explore::replay(&scenario, script, &outputs);
    }
    let title = if scenario.name.is_empty() {
        args.file.display().to_string()
    } else {
        scenario.name.clone()
    };
    let outputs = Outputs {
        trace: args.trace.as_deref(),
        html: args.html.as_deref(),
        title: &title,
    };
    let report = match execute(&scenario, &outputs) {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    let unmet = scenario.expect.mismatches(&report);
    if !args.json {
        if unmet.is_empty() {
            println!(
                "reproduced: {}{}",
                scenario
                    .expect
                    .violation
                    .as_ref()
                    .map_or(String::new(), |v| format!("invariant {v} fails, ")),
                scenario
                    .expect
                    .digest
                    .as_ref()
                    .map_or("as expected".to_owned(), |d| format!(
                        "same trace digest {d}"
                    ))
            );
        } else {
            println!("NOT reproduced:");
            for m in &unmet {
                println!("  {m}");
            }
        }
    }
    finish(&scenario, &report, &unmet, None, &outputs, args.json)
}

fn finish(
    scenario: &Scenario,
    report: &Report,
    unmet: &[String],
    replay_file: Option<PathBuf>,
    outputs: &Outputs<'_>,
    json: bool,
) -> ExitCode {
    let speed = report.virtual_ms as f64 / (report.wall_ms.max(1)) as f64;
    if json {
        let json = JsonReport {
            report,
            virtual_seconds_per_wall_second: speed,
            fault_profile: scenario.config.faults.to_string(),
            replay: replay_file.as_deref().map(replay_command),
            replay_file: replay_file.as_ref().map(|p| p.display().to_string()),
            expectations_unmet: unmet.to_vec(),
        };
        match serde_json::to_string(&json) {
            Ok(s) => println!("{s}"),
            Err(e) => return usage_error(format_args!("cannot encode the report: {e}")),
        }
    } else {
        if !scenario.name.is_empty() {
            println!("scenario: {}", scenario.name);
        }
        print_summary(scenario, report, speed);
        for m in unmet {
            println!("  expectation not met: {m}");
        }
        if unmet.is_empty() && !scenario.expect.is_empty() {
            println!("  expectations: all met");
        }
        if let Some(path) = &replay_file {
            println!("  replay file written: {}", path.display());
            println!("  replay with: {}", replay_command(path));
        }
        if let Some(path) = outputs.trace {
            println!("  trace written to {}", path.display());
        }
        if let Some(path) = outputs.html {
            println!("  trace viewer written to {}", path.display());
        }
    }
    if passes(scenario, report, unmet) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_summary(scenario: &Scenario, r: &Report, speed: f64) {
    print_run(scenario, r, speed);
    print_elections(r);
    print_replication(r);
    print_outcome(r);
}

/// What ran: seed, size, speed, traffic, faults, checks.
fn print_run(scenario: &Scenario, r: &Report, speed: f64) {
    let config = &scenario.config;
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
    println!("  faults {} ({})", r.faults, fault_source(scenario));
    for f in scheduled.iter().take(8) {
        println!("    {:>12} {}", f.at, f.fault);
    }
    if scheduled.len() > 8 {
        println!("    ... and {} more", scheduled.len() - 8);
    }
    let checks: Vec<String> = r
        .checks
        .iter()
        .map(|(name, c)| match c.excused {
            0 => format!("{name} {}", c.checked),
            n => format!("{name} {} ({n} excused)", c.checked),
        })
        .collect();
    println!(
        "  checks (times each invariant was checked; excused: a fault in its window): {}",
        checks.join(", ")
    );
}

/// Where a run's faults come from: the seed's generator, the scenario's
/// script, or both.
fn fault_source(scenario: &Scenario) -> String {
    let config = &scenario.config;
    let generated = config.faults != ringleader_sim::faults::FaultProfile::None;
    let named = if scenario.name.is_empty() {
        "the scenario".to_owned()
    } else {
        format!("scenario {}", scenario.name)
    };
    match (generated, config.schedule.len()) {
        (true, 0) => format!("{} profile, generated from the seed", config.faults),
        (true, n) => format!(
            "{} profile from the seed, and {n} written in {named}",
            config.faults
        ),
        (false, 0) => "none".to_owned(),
        (false, n) => format!("{n} written in {named}"),
    }
}

/// Elections: how many, how long to agreement, which messages.
fn print_elections(r: &Report) {
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
}

/// Clients and replication.
fn print_replication(r: &Report) {
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
}

/// Who leads at the end, the digest, and every violation.
fn print_outcome(r: &Report) {
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
        let explained = r
            .violations
            .iter()
            .filter(|v| v.explained_by.is_some())
            .count();
        println!(
            "  invariants: {} VIOLATED ({} unexplained, {explained} explained by a documented limit)",
            r.violations.len(),
            r.violations.len() - explained
        );
        for v in r.violations.iter().take(10) {
            println!("    {v}");
            if let Some(why) = &v.explained_by {
                println!("      explained: {why}");
            }
        }
    }
}
