//! `ringleader sim explore`: bounded exhaustive search of a small cluster
//! (see `ringleader_sim::explore`).

use super::usage_error;
use clap::Args;
use ringleader_core::{Algorithm, Config};
use ringleader_sim::bugs::InjectedBug;
use ringleader_sim::explore::{explore, Budget, ExploreConfig, Outcome, Progress};
use std::io::IsTerminal;
use std::process::ExitCode;

/// Flags of `sim explore`.
#[derive(Args, Debug)]
pub struct ExploreArgs {
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=4))]
    nodes: u32,
    /// Election algorithm: bully, ring or quorum.
    #[arg(long, default_value = "quorum", value_parser = crate::parse::algorithm)]
    election: Algorithm,
    /// Most moves on a path after discovery (deliveries, timers, syncs,
    /// faults, the client's).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    depth: u32,
    /// Stop after this many distinct states.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_states: u64,
    /// Most messages lost on a path.
    #[arg(long, default_value_t = 1)]
    drops: u32,
    /// Most messages delivered twice on a path.
    #[arg(long, default_value_t = 1)]
    duplicates: u32,
    /// Most crashes on a path: of a machine (what no sync made stable is
    /// lost) or of a process only (what it wrote survives); each may be
    /// followed by a restart.
    #[arg(long, default_value_t = 1)]
    crashes: u32,
    /// Deliver the messages between two nodes in any order, not only in the
    /// order they were sent (as a connection does); much larger spaces.
    #[arg(long)]
    any_order: bool,
    /// shared: one clock, timers fire in deadline order and heartbeats
    /// arrive when sent; own: each node's clock is its own and timers fire
    /// in every order across nodes (much larger spaces).
    #[arg(long, default_value = "shared", value_parser = ["shared", "own"])]
    clock: String,
    /// moves: a disk's sync finishing is a move (crashes before it lose the
    /// write); at-once: syncs finish right after the step that wrote.
    #[arg(long, default_value = "moves", value_parser = ["moves", "at-once"])]
    syncs: String,
    /// A client joins (every path starts once its session is open) and is
    /// handed up to N chat messages, each a move, so `ack_means_committed`
    /// and `client_order` are checked too; 0: no client.
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(ringleader_sim::explore::CLIENT_MESSAGES_MAX)))]
    client_messages: u32,
    /// Seeds the nodes' random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Plant a bug on purpose (the same as sim run's).
    #[arg(long, hide = true, value_parser = InjectedBug::from_name)]
    inject_bug: Option<InjectedBug>,
    /// Where the scenario file of a violation goes (`sim replay` reproduces
    /// it, `--html` draws it).
    #[arg(long, value_name = "DIR", default_value = "sim-failures")]
    failures: std::path::PathBuf,
    /// Print exactly one JSON object on stdout instead of the report.
    #[arg(long)]
    json: bool,
}

/// Runs `sim explore`: exit 0 when the bounds were explored clean, 1 when a
/// violation was found.
pub fn run(args: ExploreArgs) -> ExitCode {
    let cfg = ExploreConfig {
        nodes: args.nodes as usize,
        node: Config {
            election: args.election,
            voters: (1..=args.nodes).map(ringleader_core::NodeId).collect(),
            ..Config::default()
        },
        bug: args.inject_bug.unwrap_or_default(),
        seed: args.seed,
        depth: args.depth,
        max_states: args.max_states,
        budget: Budget {
            drops: args.drops,
            duplicates: args.duplicates,
            crashes: args.crashes,
        },
        any_order: args.any_order,
        mode: ringleader_sim::explore::Mode {
            shared_clock: args.clock == "shared",
            syncs_at_once: args.syncs == "at-once",
            client_messages: args.client_messages,
        },
    };
    if let Err(e) = cfg.node.validate() {
        return usage_error(e);
    }
    let start = std::time::Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let mut last_line = 0u64;
    let out = explore(&cfg, |p: &Progress| {
        let rate = p.states as f64 / start.elapsed().as_secs_f64().max(1e-9);
        let line = format!(
            "depth {}: {} states, {} waiting, {rate:.0} states/s",
            p.depth, p.states, p.frontier
        );
        if terminal {
            eprint!("\r{line}   ");
        } else if p.states >= last_line + 262_144 {
            last_line = p.states;
            eprintln!("{line}");
        }
    });
    if terminal {
        eprintln!();
    }
    let wall = start.elapsed().as_secs_f64();
    let file = match &out.found {
        Some(found) => match write_scenario(&args, &cfg, found) {
            Ok(path) => Some(path),
            Err(e) => {
                eprintln!("warning: {e}");
                None
            }
        },
        None => None,
    };
    if args.json {
        let mut v = json(&args, &out, wall);
        v["replay_file"] = serde_json::json!(file.as_ref().map(|p| p.display().to_string()));
        println!("{v}");
    } else {
        print_report(&args, &out, wall);
        if let Some(path) = &file {
            println!("scenario written: {}", path.display());
            println!(
                "replay with: ringleader sim replay {} [--html view.html]",
                path.display()
            );
        }
    }
    if out.found.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Writes the scenario file that replays `found`.
fn write_scenario(
    args: &ExploreArgs,
    cfg: &ExploreConfig,
    found: &ringleader_sim::explore::Counterexample,
) -> Result<std::path::PathBuf, String> {
    std::fs::create_dir_all(&args.failures)
        .map_err(|e| format!("cannot create {}: {e}", args.failures.display()))?;
    let path = args.failures.join(format!(
        "explore-{}-{}n-{}.toml",
        args.election, args.nodes, found.broken.invariant
    ));
    let text = ringleader_sim::explore::script::scenario_text(cfg, found);
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn json(args: &ExploreArgs, out: &Outcome, wall: f64) -> serde_json::Value {
    serde_json::json!({
        "nodes": args.nodes,
        "election": args.election.to_string(),
        "depth": args.depth,
        "depth_done": out.depth_done,
        "discovery_moves": out.prefix,
        "states": out.states,
        "moves": out.moves,
        "wall_s": wall,
        "states_per_second": out.states as f64 / wall.max(1e-9),
        "exhausted": out.exhausted,
        "hit_state_bound": out.hit_state_bound,
        "budget": {"drops": args.drops, "duplicates": args.duplicates, "crashes": args.crashes},
        "any_order": args.any_order,
        "clock": args.clock,
        "syncs": args.syncs,
        "client_messages": args.client_messages,
        "violation": out.found.as_ref().map(|c| serde_json::json!({
            "invariant": c.broken.invariant,
            "detail": c.broken.detail,
            "moves": c.steps,
        })),
    })
}

fn print_report(args: &ExploreArgs, out: &Outcome, wall: f64) {
    let order = if args.any_order {
        "in any order"
    } else {
        "in the order sent between two nodes"
    };
    let clock = if args.clock == "shared" {
        "one clock (timers in deadline order)"
    } else {
        "a clock per node (timers in every order)"
    };
    let client = match args.client_messages {
        0 => "no client".to_owned(),
        n => format!("a client handed up to {n} message(s)"),
    };
    println!(
        "{} nodes, {}; at most {} drop(s), {} duplicate(s), {} crash(es); messages delivered {order}; {clock}; syncs {}; {client}",
        args.nodes, args.election, args.drops, args.duplicates, args.crashes, args.syncs
    );
    let settled = if args.client_messages > 0 {
        "discovery (and the client's session)"
    } else {
        "discovery"
    };
    println!(
        "{settled} settled in {} moves; then {} distinct states ({} moves tried) in {wall:.1} s: {:.0} states/s",
        out.prefix,
        out.states,
        out.moves,
        out.states as f64 / wall.max(1e-9)
    );
    let reach = if out.exhausted {
        format!(
            "every state reachable within the budget was explored (no new state after {} moves)",
            out.depth_done
        )
    } else if out.hit_state_bound {
        format!(
            "stopped at --max-states {}: every path of up to {} moves explored, not all of the next",
            args.max_states, out.depth_done
        )
    } else {
        format!("every path of up to {} moves explored", out.depth_done)
    };
    match &out.found {
        None => println!("no safety invariant failed; {reach}"),
        Some(c) => {
            println!(
                "{} failed after {} moves (no shorter path breaks an invariant): {}",
                c.broken.invariant,
                c.moves.len(),
                c.broken.detail
            );
            for (k, step) in c.steps.iter().enumerate() {
                println!("  {:>3}. {step}", k + 1);
            }
        }
    }
}
