//! `ringleader sim stats`: election figures over many seeds, per algorithm.

use super::progress::Progress;
use super::setup::{SeedArgs, SetupArgs};
use super::usage_error;
use clap::Args;
use ringleader_core::Algorithm;
use ringleader_sim::stats::{ElectionFigures, FiguresBuilder, Summary, PRECISION_DIGITS};
use ringleader_sim::sweep::{sweep_each, SweepOptions};
use serde::Serialize;
use std::process::ExitCode;

/// Flags of `sim stats`.
#[derive(Args, Debug)]
pub struct StatsArgs {
    /// The seeds, run for each algorithm.
    #[command(flatten)]
    seeds: SeedArgs,
    #[command(flatten)]
    setup: SetupArgs,
    /// Print exactly one JSON object on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Output {
    seeds: [u64; 2],
    /// `K/N` when only share K of N of the range ran (`--shard`).
    shard: Option<String>,
    /// Seeds run per algorithm.
    seeds_run: u64,
    /// Significant digits the percentiles keep (counts, means, maximums exact).
    percentile_digits: u8,
    nodes: u32,
    scenario: Option<String>,
    elections: Vec<ElectionFigures>,
}

/// Runs `sim stats`.
pub fn run(args: StatsArgs) -> ExitCode {
    let algorithms = if args.setup.elections.is_empty() {
        vec![Algorithm::Bully, Algorithm::Ring, Algorithm::Quorum]
    } else {
        args.setup.elections.clone()
    };
    let jobs = args.seeds.jobs();
    let mut out = Output {
        seeds: [*args.seeds.seeds.start(), *args.seeds.seeds.end()],
        shard: args.seeds.shard_label(),
        seeds_run: args.seeds.count(),
        percentile_digits: PRECISION_DIGITS,
        nodes: 0,
        scenario: args
            .setup
            .scenario
            .as_ref()
            .map(|p| p.display().to_string()),
        elections: Vec::new(),
    };
    let mut progress = Progress::new(
        "runs",
        args.seeds.count().saturating_mul(algorithms.len() as u64),
    );
    for algorithm in algorithms {
        let scenario = match args.setup.scenario_with(Some(algorithm)) {
            Ok(s) => s,
            Err(e) => return usage_error(e),
        };
        out.nodes = scenario.config.nodes;
        // Each run is folded into histograms and dropped: constant memory
        // whatever the number of seeds.
        let mut figures = FiguresBuilder::default();
        let mut failed_to_run = None;
        sweep_each(
            &scenario.config,
            args.seeds.seeds.clone(),
            SweepOptions {
                jobs,
                fail_fast: false,
                shard: args.seeds.shard(),
            },
            |r| {
                progress.tick(r.failed());
                match &r.report {
                    Ok(rep) => figures.add(rep),
                    Err(e) => {
                        failed_to_run.get_or_insert_with(|| format!("seed {}: {e}", r.seed));
                    }
                }
            },
        );
        if let Some(e) = failed_to_run {
            return usage_error(e);
        }
        out.elections.push(figures.figures(&algorithm.to_string()));
    }
    progress.finish();
    if args.json {
        match serde_json::to_string(&out) {
            Ok(s) => println!("{s}"),
            Err(e) => return usage_error(format_args!("cannot encode the figures: {e}")),
        }
    } else {
        print_table(&out);
    }
    ExitCode::SUCCESS
}

fn row(name: &str, s: &Summary) -> String {
    format!(
        "  {name:<24} {:>10.1} {:>8} {:>8} {:>8}",
        s.mean, s.p50, s.p99, s.max
    )
}

fn print_table(out: &Output) {
    let shard = out.shard.as_ref().map_or_else(String::new, |k| {
        format!(", shard {k}: {} of them", out.seeds_run)
    });
    println!(
        "{} nodes, seeds {}..{} ({} seeds, both ends included{shard}){}",
        out.nodes,
        out.seeds[0],
        out.seeds[1],
        (out.seeds[1] - out.seeds[0]).saturating_add(1),
        out.scenario
            .as_ref()
            .map_or(String::new(), |s| format!(", scenario {s}"))
    );
    println!("(percentiles within 0.1 % ({PRECISION_DIGITS} significant digits, exact below 2,048); counts, means and maximums exact)");
    for e in &out.elections {
        println!();
        println!(
            "{}: {} seeds, {} with a failed invariant",
            e.election, e.seeds, e.failed_seeds
        );
        println!(
            "  {:<24} {:>10} {:>8} {:>8} {:>8}",
            "per seed", "mean", "p50", "p99", "max"
        );
        println!("{}", row("elections", &e.elections));
        println!("{}", row("election messages", &e.messages_total));
        for (kind, s) in &e.messages {
            println!("{}", row(&format!("  {kind}"), s));
        }
        println!("{}", row("split brain ms", &e.split_brain_ms));
        println!(
            "  {:<24} {:>10} {:>8} {:>8} {:>8}",
            "per election", "mean", "p50", "p99", "max"
        );
        println!("{}", row("time to agreement ms", &e.time_to_agreement_ms));
    }
}
