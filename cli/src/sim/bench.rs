//! `ringleader sim bench`: how fast the simulator runs.

use clap::Args;
use ringleader_core::Config;
use ringleader_sim::{NetworkConfig, SimConfig};
use serde::Serialize;
use std::process::ExitCode;
use std::time::Duration;

/// Flags of `sim bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Runs per workload; the median and the best are reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    repeat: u32,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Another build of ringleader to measure side by side with this one, in
    /// turns (each of --repeat rounds runs both): the workloads, the limit
    /// and a heavy-fault sweep with 2 clients on 2 jobs, each as the median
    /// of the rounds with this build's ratio to the baseline's.
    #[arg(long, value_name = "BIN", value_parser = super::bench_compare::parse_baseline)]
    baseline: Option<std::path::PathBuf>,
    /// Seeds of the sweep measured with --baseline.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(10..=100_000), requires = "baseline")]
    sweep_seeds: u64,
}

#[derive(Serialize)]
struct Figures {
    workload: &'static str,
    nodes: u32,
    virtual_s: u64,
    events: u64,
    median_wall_ms: f64,
    best_wall_ms: f64,
    median_events_per_s: f64,
    best_events_per_s: f64,
    median_virtual_s_per_wall_s: f64,
}

fn workloads() -> Vec<(&'static str, SimConfig)> {
    let lossy = NetworkConfig {
        loss: 0.05,
        ..NetworkConfig::default()
    };
    let base = SimConfig {
        seed: 1,
        nodes: 5,
        duration: Duration::from_secs(600),
        network: lossy,
        ..SimConfig::default()
    };
    let dense = SimConfig {
        node: Config {
            heartbeat_interval: Duration::from_millis(10),
            suspect_timeout: Duration::from_millis(30),
            failure_timeout: Duration::from_millis(50),
            ..Config::default()
        },
        ..base.clone()
    };
    vec![
        ("default timings, 5% loss", base),
        ("10 ms heartbeat, 5% loss", dense),
    ]
}

/// Which run of a workload is going: redrawn in place on a terminal, a
/// line each in a log. Run 0 ends a workload's line on a terminal.
fn show_run(terminal: bool, name: &str, run: u32, of: u32) {
    match (terminal, run) {
        (true, 0) => eprintln!(),
        (true, _) => eprint!("\r{name}: run {run}/{of}"),
        (false, 0) => {}
        (false, _) => eprintln!("{name}: run {run}/{of}"),
    }
}

/// The bare queue loop's figures (see [`ringleader_sim::queue::bare_loop`]).
fn bare(args: &BenchArgs, terminal: bool, events: u64) -> Figures {
    let name = BARE;
    let mut walls = Vec::new();
    for i in 0..args.repeat {
        show_run(terminal, name, i + 1, args.repeat);
        let start = std::time::Instant::now();
        std::hint::black_box(ringleader_sim::queue::bare_loop(5, events, 1));
        walls.push(start.elapsed().as_secs_f64());
    }
    show_run(terminal, "", 0, 0);
    figures(name, 5, 0, events, walls)
}

/// A workload's figures from the wall times of its runs (`virtual_s` 0: the
/// limit, which simulates no time).
fn figures(
    workload: &'static str,
    nodes: u32,
    virtual_s: u64,
    events: u64,
    mut walls: Vec<f64>,
) -> Figures {
    walls.sort_by(f64::total_cmp);
    let median = walls.get(walls.len() / 2).copied().unwrap_or(f64::NAN);
    let best = walls.first().copied().unwrap_or(f64::NAN);
    Figures {
        workload,
        nodes,
        virtual_s,
        events,
        median_wall_ms: median * 1e3,
        best_wall_ms: best * 1e3,
        median_events_per_s: events as f64 / median,
        best_events_per_s: events as f64 / best,
        median_virtual_s_per_wall_s: if virtual_s == 0 {
            f64::NAN
        } else {
            virtual_s as f64 / median
        },
    }
}

/// The limit's row: the queue, seeded delays, a step that does nothing.
const BARE: &str = "limit: queue + empty step";

/// Runs `sim bench`.
pub fn run(args: BenchArgs) -> ExitCode {
    if let Some(baseline) = &args.baseline {
        return super::bench_compare::run(baseline, args.repeat, args.sweep_seeds, args.json);
    }
    let mut all = Vec::new();
    // Redrawn in place on a terminal; a line per run in a log.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    for (name, config) in workloads() {
        let mut walls = Vec::new();
        let mut events = 0;
        for i in 0..args.repeat {
            show_run(terminal, name, i + 1, args.repeat);
            let start = std::time::Instant::now();
            let report = match ringleader_sim::run(&config) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("\nerror: {e}");
                    return ExitCode::FAILURE;
                }
            };
            walls.push(start.elapsed().as_secs_f64());
            events = report.events;
            if !report.ok() {
                eprintln!(
                    "\nwarning: {name}: {} invariant violations",
                    report.violations.len()
                );
            }
        }
        show_run(terminal, "", 0, 0);
        let virtual_s = config.duration.as_secs();
        all.push(figures(name, config.nodes, virtual_s, events, walls));
    }
    // The limit, in the same run: as many events through the bare queue and
    // a step that does nothing as the densest workload delivered.
    let most = all.iter().map(|f| f.events).max().unwrap_or(1_000_000);
    all.push(bare(&args, terminal, most));
    if args.json {
        match serde_json::to_string(&all) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    print_table(&all);
    if cfg!(debug_assertions) {
        println!("note: this is a debug build; measure with cargo run --release");
    }
    ExitCode::SUCCESS
}

/// The figures as a table, the limit last.
fn print_table(all: &[Figures]) {
    println!(
        "{:<28} {:>5} {:>9} {:>10} {:>11} {:>14} {:>14} {:>13}",
        "workload",
        "nodes",
        "virtual",
        "events",
        "wall (med)",
        "events/s med",
        "events/s best",
        "virt s/wall s"
    );
    for f in all.iter().filter(|f| f.workload != BARE) {
        println!(
            "{:<28} {:>5} {:>8}s {:>10} {:>9.1}ms {:>14.0} {:>14.0} {:>13.0}",
            f.workload,
            f.nodes,
            f.virtual_s,
            f.events,
            f.median_wall_ms,
            f.median_events_per_s,
            f.best_events_per_s,
            f.median_virtual_s_per_wall_s
        );
    }
    for f in all.iter().filter(|f| f.workload == BARE) {
        println!(
            "{:<28} {:>5} {:>9} {:>10} {:>9.1}ms {:>14.0} {:>14.0} {:>13}",
            f.workload,
            f.nodes,
            "-",
            f.events,
            f.median_wall_ms,
            f.median_events_per_s,
            f.best_events_per_s,
            "-"
        );
        println!("(the limit: the same event queue and seeded delays, a step that does no work: what is left above it is the protocol, the network model and the checks)");
    }
}
