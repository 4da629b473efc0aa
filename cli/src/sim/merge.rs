//! `ringleader sim merge`: the shards of one sweep (written with `--out`),
//! combined into the summary and JSON a single sweep over the whole range
//! gives.

use super::sweep::{finish, print_summary, Summary};
use super::usage_error;
use clap::Args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags of `sim merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Directories that `sim sweep --out` wrote (the shards of one sweep, in
    /// any order; several algorithms are merged each on its own).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Print exactly one JSON object on stdout instead of the summary.
    #[arg(long)]
    json: bool,
}

/// Runs `sim merge`.
pub fn run(args: MergeArgs) -> ExitCode {
    let mut parts: BTreeMap<String, Vec<Summary>> = BTreeMap::new();
    for dir in &args.dirs {
        match read_dir(dir) {
            Ok(found) => {
                for s in found {
                    parts.entry(s.election.clone()).or_default().push(s);
                }
            }
            Err(e) => return usage_error(e),
        }
    }
    if parts.is_empty() {
        return usage_error(
            "no sweep results in those directories (write them with sim sweep --out DIR)",
        );
    }
    let mut merged = Vec::new();
    for (election, shards) in parts {
        match merge(shards) {
            Ok(s) => merged.push(s),
            Err(e) => return usage_error(format_args!("{election}: {e}")),
        }
    }
    if !args.json {
        for s in &merged {
            print_summary(&s.title, s, false);
        }
    }
    finish(&merged, args.json)
}

/// Every sweep summary in `dir`.
fn read_dir(dir: &Path) -> Result<Vec<Summary>, String> {
    let err = |e: std::io::Error| format!("{}: {e}", dir.display());
    let mut found = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(err)?;
        let summary: Summary = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a sweep's results: {e}", path.display()))?;
        found.push(summary);
    }
    Ok(found)
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
    check_shards(&shards)?;
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
fn check_shards(shards: &[Summary]) -> Result<(), String> {
    let labels: Vec<Option<(u64, u64)>> = shards
        .iter()
        .map(|s| {
            let shard = crate::parse::shard(s.shard.as_deref()?).ok()?;
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
