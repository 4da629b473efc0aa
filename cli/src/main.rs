//! `ringleader`: run and inspect ringleader clusters, real or simulated.

mod parse;
mod sim;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Leader election and replication you can test deterministically.
#[derive(Parser)]
#[command(name = "ringleader", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a cluster: seeded, with faults, checking invariants on every step.
    #[command(subcommand)]
    Sim(sim::SimCommand),
}

/// Exit status for bad usage: bad flags, unreadable or unwritable files.
pub const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Simulated nodes log through the same core as real ones; in a simulation the
    // trace is the record, so their logs stay off unless RUST_LOG asks for them.
    let default_filter = match cli.command {
        Command::Sim(_) => "warn,ringleader_core=off",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();
    match cli.command {
        Command::Sim(cmd) => sim::run(cmd),
    }
}
