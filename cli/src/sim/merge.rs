//! `ringleader sim merge`: the shards of one sweep or one stats run (written
//! with `--out`), combined into the summary and JSON a single run over the
//! whole range gives.

use super::stats::{show, Output, StatsShard, STATS_KIND};
use super::sweep::{finish, print_summary, Summary};
use super::usage_error;
use clap::Args;
use ringleader_sim::stats::{FiguresBuilder, PRECISION_DIGITS};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags of `sim merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Directories that `sim sweep --out` or `sim stats --out` wrote (the
    /// shards of one run, in any order; several algorithms are merged each on
    /// its own).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Print exactly one JSON object on stdout instead of the summary.
    #[arg(long)]
    json: bool,
}

/// Runs `sim merge`.
pub fn run(args: MergeArgs) -> ExitCode {
    let mut found = Found::default();
    for dir in &args.dirs {
        if let Err(e) = read_dir(dir, &mut found) {
            return usage_error(e);
        }
    }
    match (found.sweeps.is_empty(), found.stats.is_empty()) {
        (true, true) => usage_error(
            "no results in those directories (write them with sim sweep --out DIR or sim stats --out DIR)",
        ),
        (false, false) => usage_error(
            "those directories hold both sweep results and stats: merge each kind on its own",
        ),
        (false, true) => merge_sweeps(found.sweeps, args.json),
        (true, false) => merge_stats(found.stats, args.json),
    }
}

/// What the directories hold, by algorithm.
#[derive(Default)]
struct Found {
    sweeps: BTreeMap<String, Vec<Summary>>,
    stats: BTreeMap<String, Vec<StatsShard>>,
}

/// The file name part that tells a shard (`shard-K-of-N`, or `all`).
pub(super) fn file_label(shard: Option<&str>) -> String {
    shard.map_or_else(
        || "all".to_owned(),
        |k| format!("shard-{}", k.replace('/', "-of-")),
    )
}

/// Larger than any results file `--out` writes: refused unread.
const RESULTS_FILE_BYTES_MAX: u64 = 256 << 20;

/// Every sweep summary and stats shard in `dir`.
fn read_dir(dir: &Path, found: &mut Found) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{}: {e}", dir.display());
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let not_results = |e: &dyn std::fmt::Display| {
            format!("{}: not a sweep's or stats' results: {e}", path.display())
        };
        let len = std::fs::metadata(&path).map_err(err)?.len();
        if len > RESULTS_FILE_BYTES_MAX {
            return Err(not_results(&format_args!("{len} bytes")));
        }
        let text = std::fs::read_to_string(&path).map_err(err)?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| not_results(&e))?;
        if value.get("kind").and_then(serde_json::Value::as_str) == Some(STATS_KIND) {
            let shard: StatsShard = serde_json::from_value(value).map_err(|e| not_results(&e))?;
            found
                .stats
                .entry(shard.election.clone())
                .or_default()
                .push(shard);
        } else {
            let summary: Summary = serde_json::from_value(value).map_err(|e| not_results(&e))?;
            found
                .sweeps
                .entry(summary.election.clone())
                .or_default()
                .push(summary);
        }
    }
    Ok(())
}

/// The sweeps' shards merged, printed as one sweep's.
fn merge_sweeps(parts: BTreeMap<String, Vec<Summary>>, json: bool) -> ExitCode {
    let mut merged = Vec::new();
    for (election, shards) in parts {
        match merge(shards) {
            Ok(s) => merged.push(s),
            Err(e) => return usage_error(format_args!("{election}: {e}")),
        }
    }
    if !json {
        for s in &merged {
            print_summary(&s.title, s, false);
        }
    }
    finish(&merged, json)
}

/// The stats' shards merged, printed as one `sim stats` run's.
fn merge_stats(parts: BTreeMap<String, Vec<StatsShard>>, json: bool) -> ExitCode {
    let mut out: Option<Output> = None;
    for (election, shards) in parts {
        let labels: Vec<Option<&str>> = shards.iter().map(|s| s.shard.as_deref()).collect();
        if let Err(e) = check_shards(&labels) {
            return usage_error(format_args!("{election}: {e}"));
        }
        let mut gathered = FiguresBuilder::default();
        for s in &shards {
            gathered.merge(&s.gathered);
        }
        let figures = gathered.figures(&election);
        let first = &shards[0];
        let out = out.get_or_insert_with(|| Output {
            seeds: first.seeds,
            shard: None,
            seeds_run: figures.seeds as u64,
            percentile_digits: PRECISION_DIGITS,
            nodes: first.nodes,
            scenario: first.scenario.clone(),
            elections: Vec::new(),
        });
        let foreign = shards
            .iter()
            .find(|s| (s.seeds, s.nodes, &s.scenario) != (out.seeds, out.nodes, &out.scenario));
        if let Some(s) = foreign {
            return usage_error(format_args!(
                "{election} over {}..{} on {} nodes and the stats over {}..{} on {} nodes are not shards of one run",
                s.seeds[0], s.seeds[1], s.nodes, out.seeds[0], out.seeds[1], out.nodes
            ));
        }
        out.elections.push(figures);
    }
    match out {
        Some(out) => show(&out, json),
        None => usage_error("nothing to merge"),
    }
}

/// The shards of one sweep as one summary: every shard once, the same sweep.
fn merge(mut shards: Vec<Summary>) -> Result<Summary, String> {
    shards.sort_by_key(|s| s.shard.clone());
    let Some(first) = shards.first() else {
        return Err("nothing to merge".into());
    };
    let same = |s: &Summary| {
        s.title == first.title && s.seed_range == first.seed_range && s.nodes == first.nodes
    };
    if let Some(other) = shards.iter().find(|s| !same(s)) {
        return Err(format!(
            "'{}' over {}..{} and '{}' over {}..{} are not shards of one sweep",
            first.title,
            first.seed_range[0],
            first.seed_range[1],
            other.title,
            other.seed_range[0],
            other.seed_range[1]
        ));
    }
    let labels: Vec<Option<&str>> = shards.iter().map(|s| s.shard.as_deref()).collect();
    check_shards(&labels)?;
    let mut all = empty_like(first);
    for s in shards {
        all.seeds += s.seeds;
        all.planned += s.planned;
        all.jobs += s.jobs;
        all.wall_s += s.wall_s;
        all.passed += s.passed;
        all.unexplained += s.unexplained;
        all.explained += s.explained;
        all.failures.extend(s.failures);
        for (invariant, n) in s.failures_by_invariant {
            *all.failures_by_invariant.entry(invariant).or_default() += n;
        }
        all.expectations_unmet.extend(s.expectations_unmet);
        all.shrunk.extend(s.shrunk);
    }
    all.failures.sort_by_key(super::sweep::Failure::seed);
    all.expectations_unmet
        .sort_by_key(super::sweep::Unmet::seed);
    // Machine time: the shards' walls added up.
    all.runs_per_second = all.seeds as f64 / all.wall_s.max(1e-9);
    Ok(all)
}

/// Every shard K/N of one N exactly once, or the one unsharded sweep.
fn check_shards(labels: &[Option<&str>]) -> Result<(), String> {
    let labels: Vec<Option<(u64, u64)>> = labels
        .iter()
        .map(|label| {
            let shard = crate::parse::shard((*label)?).ok()?;
            Some((shard.index + 1, shard.of))
        })
        .collect();
    match labels.as_slice() {
        [None] => return Ok(()),
        _ if labels.iter().any(Option::is_none) => {
            return Err("a whole sweep and shards together: merge the shards of one sweep".into())
        }
        _ => {}
    }
    let n = labels.iter().flatten().map(|(_, n)| *n).max().unwrap_or(0);
    let mut have: Vec<u64> = labels.iter().flatten().map(|(k, _)| *k).collect();
    have.sort_unstable();
    if labels.iter().flatten().any(|(_, of)| *of != n) {
        return Err("shards of different N: merge the shards of one sweep".into());
    }
    let want: Vec<u64> = (1..=n).collect();
    if have != want {
        let missing: Vec<String> = want
            .iter()
            .filter(|k| !have.contains(k))
            .map(|k| format!("{k}/{n}"))
            .collect();
        return Err(if missing.is_empty() {
            "a shard given twice".to_owned()
        } else {
            format!("shards missing: {}", missing.join(", "))
        });
    }
    Ok(())
}

/// A summary of nothing yet, for the sweep `s` is a shard of.
fn empty_like(s: &Summary) -> Summary {
    Summary {
        title: s.title.clone(),
        seeds: 0,
        seed_range: s.seed_range,
        shard: None,
        planned: 0,
        election: s.election.clone(),
        nodes: s.nodes,
        jobs: 0,
        wall_s: 0.0,
        runs_per_second: 0.0,
        passed: 0,
        unexplained: 0,
        explained: 0,
        failures: Vec::new(),
        failures_by_invariant: BTreeMap::new(),
        expectations_unmet: Vec::new(),
        shrunk: Vec::new(),
    }
}
