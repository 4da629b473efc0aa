//! `ringleader sim ...`: the simulator's commands.

mod bench;
mod run;

use clap::Subcommand;
use std::process::ExitCode;

/// The simulator's commands.
#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
pub enum SimCommand {
    /// Run one seeded simulation and check every invariant on every step.
    ///
    /// Exit status: 0 when every invariant held, 1 when one failed, 2 for bad usage.
    Run(run::RunArgs),
    /// Measure the simulator: delivered events and virtual seconds per wall second.
    Bench(bench::BenchArgs),
}

/// Runs a simulator command.
pub fn run(cmd: SimCommand) -> ExitCode {
    match cmd {
        SimCommand::Run(args) => run::run(args),
        SimCommand::Bench(args) => bench::run(args),
    }
}
