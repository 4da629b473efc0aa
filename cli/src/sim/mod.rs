//! `ringleader sim ...`: the simulator's commands.

mod bench;
mod bench_compare;
mod explore;
mod merge;
mod outcome;
mod progress;
mod replay_explore;
mod run;
mod setup;
mod shrink;
mod stats;
mod sweep;

use clap::Subcommand;
use std::process::ExitCode;

/// Says what was wrong with the command line or its files, for exit status 2.
fn usage_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(crate::EXIT_USAGE)
}

/// The simulator's commands.
#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
pub enum SimCommand {
    /// Run one seeded simulation and check every invariant on every step.
    ///
    /// Exit status: 0 when every invariant held, 1 when one failed, 2 for bad usage.
    Run(run::RunArgs),
    /// Replay a failing run from its replay file and check that it fails the same
    /// way, with the same trace digest.
    ///
    /// Exit status: 0 when reproduced, 1 when not, 2 for bad usage.
    Replay(run::ReplayArgs),
    /// Run many seeds in parallel and summarise the failures; each failure is
    /// written as a replay file.
    ///
    /// Exit status: 0 when every seed passed, 1 when one failed, 2 for bad usage.
    Sweep(sweep::SweepArgs),
    /// Reduce a failing run to a small one that fails the same invariant.
    ///
    /// Exit status: 0 when a failing run was written, 1 when the run does not
    /// fail, 2 for bad usage.
    Shrink(shrink::ShrinkArgs),
    /// Combine the shards of one sweep (`sim sweep --shard K/N --out DIR`) into
    /// the summary and JSON one sweep over the whole range gives.
    ///
    /// Exit status: 0 when every seed passed, 1 when one failed, 2 for bad
    /// usage (missing or foreign shards).
    Merge(merge::MergeArgs),
    /// Election figures over many seeds: messages by kind and time to agreement.
    Stats(stats::StatsArgs),
    /// Search every interleaving of a small cluster (2-4 nodes) breadth first,
    /// within a depth and a budget of faults, checking the safety invariants in
    /// every state; a violation is printed as the shortest path to it.
    ///
    /// Exit status: 0 when no invariant failed within the bounds, 1 when one
    /// did, 2 for bad usage.
    Explore(explore::ExploreArgs),
    /// Measure the simulator: delivered events and virtual seconds per wall second.
    Bench(bench::BenchArgs),
}

/// Runs a simulator command.
pub fn run(cmd: SimCommand) -> ExitCode {
    match cmd {
        SimCommand::Run(args) => run::run(args),
        SimCommand::Replay(args) => run::replay(args),
        SimCommand::Sweep(args) => sweep::run(args),
        SimCommand::Shrink(args) => shrink::run(args),
        SimCommand::Merge(args) => merge::run(args),
        SimCommand::Stats(args) => stats::run(args),
        SimCommand::Explore(args) => explore::run(args),
        SimCommand::Bench(args) => bench::run(args),
    }
}
