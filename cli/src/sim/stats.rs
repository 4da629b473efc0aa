//! `ringleader sim stats`: election figures over many seeds, per algorithm.

use super::progress::Progress;
use super::setup::{SeedArgs, SetupArgs};
use super::usage_error;
use clap::Args;
use ringleader_core::Algorithm;
use ringleader_sim::stats::{ElectionFigures, FiguresBuilder, Summary, PRECISION_DIGITS};
use ringleader_sim::sweep::{sweep_each, SweepOptions};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
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
    /// Also write what was gathered to DIR (`stats-<election>-<shard>.json`:
    /// the histograms themselves), for `sim merge` to combine the shards of
    /// one run into the figures a single run gives.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// The figures `sim stats` prints (and `sim merge` of its shards).
#[derive(Serialize)]
pub(super) struct Output {
    pub(super) seeds: [u64; 2],
    /// `K/N` when only share K of N of the range ran (`--shard`).
    pub(super) shard: Option<String>,
    /// Seeds run per algorithm.
    pub(super) seeds_run: u64,
    /// Significant digits the percentiles keep (counts, means, maximums exact).
    pub(super) percentile_digits: u8,
    pub(super) nodes: u32,
    pub(super) scenario: Option<String>,
    pub(super) elections: Vec<ElectionFigures>,
}

/// What `sim stats --out` writes: one algorithm's gathered histograms over
/// one shard (or the whole range), to be merged by `sim merge`.
#[derive(Serialize, Deserialize)]
pub(super) struct StatsShard {
    /// Always "stats": tells these files from a sweep's.
    pub(super) kind: String,
    pub(super) election: String,
    pub(super) seeds: [u64; 2],
    /// `K/N`, or none for the whole range.
    pub(super) shard: Option<String>,
    pub(super) nodes: u32,
    pub(super) scenario: Option<String>,
    pub(super) gathered: FiguresBuilder,
}

/// The value of [`StatsShard::kind`].
pub(super) const STATS_KIND: &str = "stats";

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
        if let Some(dir) = &args.out {
            let shard = StatsShard {
                kind: STATS_KIND.to_owned(),
                election: algorithm.to_string(),
                seeds: out.seeds,
                shard: out.shard.clone(),
                nodes: out.nodes,
                scenario: out.scenario.clone(),
                gathered: figures,
            };
            if let Err(e) = write_shard(dir, &shard) {
                return usage_error(e);
            }
        }
    }
    progress.finish();
    show(&out, args.json)
}

/// Writes `shard` to `dir` (see `--out`).
fn write_shard(dir: &Path, shard: &StatsShard) -> Result<(), String> {
    let label = super::merge::file_label(shard.shard.as_deref());
    let path = dir.join(format!("stats-{}-{label}.json", shard.election));
    let err = |e: std::io::Error| format!("cannot write to {}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(err)?;
    let json = serde_json::to_string(shard).map_err(|e| e.to_string())?;
    std::fs::write(path, json).map_err(err)
}

/// Prints `out` as a table, or as one JSON object.
pub(super) fn show(out: &Output, json: bool) -> ExitCode {
    if json {
        match serde_json::to_string(out) {
            Ok(s) => println!("{s}"),
            Err(e) => return usage_error(format_args!("cannot encode the figures: {e}")),
        }
    } else {
        print_table(out);
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
