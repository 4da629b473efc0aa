//! A path of the explorer written down: its moves as text, the scenario file
//! a counterexample is saved as (the `[explore]` form: scripted moves in
//! place of seeded faults), and the replay of such a script, recorded for
//! the trace viewer.

use super::config::{Counterexample, ExploreConfig, NODES_MAX, SETTLE_MOVES_MAX};
use super::model::{Broken, Budget, Mode, Model, Move};
use crate::bugs::InjectedBug;
use crate::config::SimConfig;
use crate::trace::Record;
use crate::units::quoted;
use std::fmt::Write as _;

/// The scripted part of a scenario of the `[explore]` form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    /// Clocks and disks.
    pub mode: Mode,
    /// Messages between two nodes may arrive out of order.
    pub any_order: bool,
    /// The moves after discovery, in order.
    pub moves: Vec<Move>,
}

/// Reads a move as it displays (see [`Move`]'s `Display`).
pub fn parse_move(text: &str) -> Result<Move, String> {
    let (verb, arg) = match text.split_whitespace().collect::<Vec<_>>()[..] {
        ["submit"] => return Ok(Move::Submit),
        ["timer", "c1"] => return Ok(Move::ClientTimer),
        [verb, arg] => (verb, arg),
        _ => {
            return Err(format!(
                "'{text}' is not a move (deliver K, drop K, duplicate K, timer nI, timer c1, submit, sync nI, crash nI, kill nI, restart nI)"
            ))
        }
    };
    let message = || {
        arg.parse::<u16>()
            .map_err(|_| format!("'{arg}' is not the number of a message in flight"))
    };
    let node = || {
        arg.strip_prefix('n')
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| (1..=NODES_MAX).contains(n))
            .map(|n| n - 1)
            .ok_or_else(|| format!("'{arg}' is not a node (n1 to n{})", NODES_MAX))
    };
    Ok(match verb {
        "deliver" => Move::Deliver(message()?),
        "drop" => Move::Drop(message()?),
        "duplicate" => Move::Duplicate(message()?),
        "timer" => Move::Timer(node()?),
        "sync" => Move::Sync(node()?),
        "crash" => Move::Crash(node()?),
        "kill" => Move::Kill(node()?),
        "restart" => Move::Restart(node()?),
        other => return Err(format!("'{other}' is not a move")),
    })
}

/// The scenario file that replays `found` (see `sim replay`).
pub fn scenario_text(cfg: &ExploreConfig, found: &Counterexample) -> String {
    let mut out = String::new();
    let invariant = found.broken.invariant;
    let name = format!(
        "explore: {invariant} ({} nodes, {})",
        cfg.nodes, cfg.node.election
    );
    let _ = writeln!(out, "name = {}", quoted(&name));
    let _ = writeln!(out, "description = {}", quoted(&found.broken.detail));
    let _ = writeln!(out, "seed = {}\n", cfg.seed);
    let _ = writeln!(
        out,
        "[cluster]\nnodes = {}\nelection = \"{}\"\n",
        cfg.nodes, cfg.node.election
    );
    if cfg.bug != InjectedBug::None {
        let _ = writeln!(out, "[debug]\ninject_bug = \"{}\"\n", cfg.bug.name());
    }
    let _ = writeln!(
        out,
        "# Every path starts once discovery has settled (and the client, if any,\n\
         # has its session); then these moves, the\n\
         # shortest the explorer found. A message is named by its place among\n\
         # those in flight, in the order they were sent.\n[explore]\nclock = \"{}\"\nsyncs = \"{}\"\nany_order = {}\nclient_messages = {}\nmoves = [",
        if cfg.mode.shared_clock { "shared" } else { "own" },
        if cfg.mode.syncs_at_once { "at-once" } else { "moves" },
        cfg.any_order,
        cfg.mode.client_messages
    );
    for (m, words) in found.moves.iter().zip(&found.steps) {
        let _ = writeln!(out, "  \"{}\", # {}", m, words.replace('\n', " "));
    }
    let _ = writeln!(out, "]\n\n[expect]\nviolation = \"{invariant}\"");
    out
}

/// What replaying a script showed.
#[derive(Debug)]
pub struct Replayed {
    /// The first violation on the way, if any.
    pub broken: Option<Broken>,
    /// Each move in words, as it was made (discovery's first).
    pub steps: Vec<String>,
    /// The run for the trace viewer; times are one millisecond per move.
    pub records: Vec<Record>,
    /// Moves made, discovery included.
    pub moves: u64,
}

/// Replays `script` on the cluster of `config` (its nodes, node settings,
/// seed and planted bug) from the start, discovery included. Errors name the
/// first move that cannot be made (the file was written by another build, or
/// by hand).
pub fn replay(config: &SimConfig, script: &Script) -> Result<Replayed, String> {
    let mut model = Model::new(
        config.nodes as usize,
        &config.node_config(),
        config.inject_bug,
        config.seed,
        script.mode,
    );
    model.record();
    let prefix = model.settle(SETTLE_MOVES_MAX);
    let mut steps: Vec<String> = vec![format!("discovery settles in {} moves", prefix.len())];
    for (k, &m) in script.moves.iter().enumerate() {
        let allowed = model.moves(
            Budget {
                drops: u32::MAX,
                duplicates: u32::MAX,
                crashes: u32::MAX,
            },
            script.any_order,
        );
        if !allowed.contains(&m) {
            return Err(format!(
                "move {} ({}) cannot be made there: the script does not fit this build",
                k + 1,
                m
            ));
        }
        steps.push(model.describe(m));
        model.apply(m);
    }
    Ok(Replayed {
        broken: model.broken(),
        steps,
        records: model.take_records(),
        moves: (prefix.len() + script.moves.len()) as u64,
    })
}
