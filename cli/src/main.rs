//! `ringleader`: run and inspect ringleader clusters, real or simulated.

// The doc comments of the command's flags are its `--help`, written for a
// terminal (`n<id>.log`, `/history [N]`), not for rustdoc.
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]

mod allocator;
mod bench;
mod bench_catchup;
mod bench_hostile;
mod bench_propose;
mod bench_throughput;
mod chat;
mod cluster;
mod pipe;
mod sim;
mod status;

// The node's settings live in the library (embedders build a node from the
// same flags and config file); the other commands reach them as `crate::…`.
pub(crate) use ringleader::{
    async_runtime, keys, node, node_config, node_options, parse, EXIT_USAGE,
};

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc gives freed memory back to the system; the system allocator kept
/// what a burst of connections took resident for good.
#[global_allocator]
static ALLOCATOR: allocator::Mimalloc = allocator::Mimalloc;

/// Leader election and replication you can test deterministically.
#[derive(Parser)]
#[command(name = "ringleader", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(about = node::ABOUT)]
    Node(node::NodeArgs),
    /// Start a local cluster of N node processes, print who leads and every role
    /// change, and stop them all cleanly on Ctrl-C.
    Cluster(cluster::ClusterArgs),
    /// Chat through the cluster: finds the leader and follows it across failovers.
    /// Lines you type are sent; /history [N], /status and /quit are commands.
    Chat(chat::ChatArgs),
    /// Ask a node how it stands: role, leader, epoch, members, ring, log, clients.
    Status(status::StatusArgs),
    /// Write a new cluster key and client key (cluster.key, client.key).
    Keygen(keys::KeygenArgs),
    /// Measure real nodes on loopback: failover time, throughput, memory.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Simulate a cluster: seeded, with faults, checking invariants on every step.
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// Print a shell's completion script: e.g. `ringleader completions bash >
    /// ~/.local/share/bash-completion/completions/ringleader`, or for zsh
    /// into a directory of your $fpath as _ringleader, or for fish into
    /// ~/.config/fish/completions/ringleader.fish.
    Completions(CompletionsArgs),
}

/// Flags of `completions`.
#[derive(clap::Args)]
struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

fn main() -> ExitCode {
    pipe::exit_quietly_when_stdout_closes();
    // `node` reads its --config file under its flags (see node_config).
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match argv.get(1).and_then(|a| a.to_str()) {
        Some("node") => Cli {
            command: Command::Node(node_config::parse(argv.get(2..).unwrap_or_default())),
        },
        _ => Cli::parse(),
    };
    // Simulated nodes log through the same core as real ones; in a simulation the
    // trace is the record, so their logs stay off unless RUST_LOG asks for them.
    let default_filter = match cli.command {
        Command::Sim(_) => "warn,ringleader_core=off",
        // Its nodes run in this process: their warnings (no cluster key on
        // loopback, a leader stepping down as the run ends) are not the figures.
        Command::Bench(bench::BenchCommand::Propose(_)) => "error",
        Command::Node(_) => "info",
        Command::Cluster(_)
        | Command::Chat(_)
        | Command::Status(_)
        | Command::Bench(_)
        | Command::Keygen(_)
        | Command::Completions(_) => "warn",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();
    match cli.command {
        Command::Sim(cmd) => sim::run(cmd),
        Command::Node(args) => node::run(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Chat(args) => chat::run(args),
        Command::Status(args) => status::run(args),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Keygen(args) => keys::keygen(&args),
        Command::Completions(args) => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut cmd, "ringleader", &mut script);
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write the script: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
