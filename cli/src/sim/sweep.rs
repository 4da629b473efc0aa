//! `ringleader sim sweep`: many seeds in parallel, failures summarised and written
//! as replay files.

use super::outcome::{replay_command, replay_scenario, write_scenario};
use super::progress::Progress;
use super::setup::{SeedArgs, SetupArgs};
use super::shrink::shrink_to;
use super::usage_error;
use clap::Args;
use ringleader_core::Algorithm;
use ringleader_sim::scenario::{Expect, Scenario};
use ringleader_sim::sweep::{sweep_each, SeedRun, SweepOptions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `sim sweep`.
#[derive(Args, Debug)]
pub struct SweepArgs {
    #[command(flatten)]
    seeds: SeedArgs,
    #[command(flatten)]
    setup: SetupArgs,
    /// Stop starting new seeds after the first failure.
    #[arg(long)]
    fail_fast: bool,
    /// Shrink the first failing seed of each invariant and write the minimal run.
    #[arg(long)]
    shrink: bool,
    /// Where replay files of failures go.
    #[arg(long, value_name = "DIR", default_value = "sim-failures")]
    failures: PathBuf,
    /// Print exactly one JSON object on stdout instead of the summary (progress
    /// still goes to stderr).
    #[arg(long)]
    json: bool,
    /// Also write the results to DIR: the summary (`<election>-<shard>.json`,
    /// what `--json` prints) and a line per seed (`.seeds.jsonl`), for `sim
    /// merge` to combine the shards of one sweep.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct Failure {
    seed: u64,
    invariant: String,
    at_ms: u64,
    detail: String,
    /// When every violation of the run is explained by a documented limit:
    /// the first one's explanation.
    explained_by: Option<String>,
    replay_file: Option<String>,
    replay: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct Shrunk {
    invariant: String,
    seed: u64,
    file: String,
    faults: usize,
    nodes: u32,
    clients: u32,
    duration_ms: u64,
}

impl Shrunk {
    fn size(&self) -> ringleader_sim::shrink::Size {
        ringleader_sim::shrink::Size {
            faults: self.faults,
            nodes: self.nodes,
            clients: self.clients,
            duration: std::time::Duration::from_millis(self.duration_ms),
        }
    }
}

/// What a sweep found: printed, `--json`, written by `--out` and combined
/// by `sim merge`.
#[derive(Serialize, Deserialize)]
pub(super) struct Summary {
    /// What was swept.
    pub(super) title: String,
    pub(super) seeds: usize,
    pub(super) seed_range: [u64; 2],
    /// `K/N` when only share K of N of the range ran (`--shard`).
    pub(super) shard: Option<String>,
    /// Seeds the sweep was to run (fewer ran when it stopped at a failure).
    pub(super) planned: u64,
    pub(super) election: String,
    pub(super) nodes: u32,
    pub(super) jobs: usize,
    pub(super) wall_s: f64,
    pub(super) runs_per_second: f64,
    pub(super) passed: usize,
    /// Failed seeds with a violation no documented limit explains: bugs.
    pub(super) unexplained: usize,
    /// Failed seeds whose every violation a documented limit explains.
    pub(super) explained: usize,
    pub(super) failures: Vec<Failure>,
    pub(super) failures_by_invariant: BTreeMap<String, usize>,
    /// Seeds that kept every invariant but not the scenario's expected leader.
    pub(super) expectations_unmet: Vec<Unmet>,
    pub(super) shrunk: Vec<Shrunk>,
}

impl Failure {
    pub(super) fn seed(&self) -> u64 {
        self.seed
    }
}

impl Unmet {
    pub(super) fn seed(&self) -> u64 {
        self.seed
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct Unmet {
    seed: u64,
    unmet: Vec<String>,
}

/// Runs `sim sweep`: once, or once per algorithm `--election` names.
pub fn run(args: SweepArgs) -> ExitCode {
    let algorithms: Vec<Option<Algorithm>> = match args.setup.elections.as_slice() {
        [_, _, ..] => args.setup.elections.iter().copied().map(Some).collect(),
        _ => vec![None],
    };
    let mut summaries = Vec::new();
    for algorithm in algorithms {
        match sweep_one(&args, algorithm) {
            Ok(s) => summaries.push(s),
            Err(code) => return code,
        }
    }
    finish(&summaries, args.json)
}

/// Prints `summaries` as JSON when `json` (printed as text already
/// otherwise); the exit status: 1 when a seed failed.
pub(super) fn finish(summaries: &[Summary], json: bool) -> ExitCode {
    if json {
        let encoded = match summaries {
            [one] => serde_json::to_string(one),
            all => serde_json::to_string(&serde_json::json!({ "sweeps": all })),
        };
        match encoded {
            Ok(s) => println!("{s}"),
            Err(e) => return usage_error(format_args!("cannot encode the summary: {e}")),
        }
    }
    let clean = summaries
        .iter()
        .all(|s| s.failures.is_empty() && s.expectations_unmet.is_empty());
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// One sweep of the seeds under `algorithm` (or the setup's own), its
/// summary printed unless the output is JSON.
fn sweep_one(args: &SweepArgs, algorithm: Option<Algorithm>) -> Result<Summary, ExitCode> {
    let scenario = args.setup.scenario_with(algorithm).map_err(usage_error)?;
    let mut title = args.setup.title(&scenario);
    if let (Some(a), false) = (algorithm, title.starts_with(&algorithm_name(algorithm))) {
        title = format!("{title} ({a})");
    }
    let jobs = args.seeds.jobs();
    let mut progress = Progress::new("seeds", args.seeds.count());
    let mut kept = Kept::new(&scenario, args.out.is_some());
    sweep_each(
        &scenario.config,
        args.seeds.seeds.clone(),
        SweepOptions {
            jobs,
            fail_fast: args.fail_fast,
            shard: args.seeds.shard(),
        },
        |r| {
            progress.tick(r.failed());
            kept.take(r);
        },
    );
    progress.finish();
    let wall = progress.elapsed().as_secs_f64();
    let Kept {
        count,
        lines,
        mut failed,
        mut expectations_unmet,
        ..
    } = kept;
    failed.sort_by_key(|r| r.seed);
    expectations_unmet.sort_by_key(|u| u.seed);
    let found = collect_failures(&failed, &args.failures, &title, &scenario)?;
    let shrunk = if args.shrink {
        shrink_first_of_each(&found.first_of, !args.json)
    } else {
        Vec::new()
    };
    let (failures, by_invariant, write_errors) =
        (found.failures, found.by_invariant, found.write_errors);
    let summary = Summary {
        title: title.clone(),
        seeds: count,
        seed_range: [*args.seeds.seeds.start(), *args.seeds.seeds.end()],
        shard: args.seeds.shard_label(),
        planned: args.seeds.count(),
        election: scenario.config.node.election.to_string(),
        nodes: scenario.config.nodes,
        jobs,
        wall_s: wall,
        runs_per_second: count as f64 / wall.max(1e-9),
        passed: count - failures.len() - expectations_unmet.len(),
        unexplained: failures.iter().filter(|f| f.explained_by.is_none()).count(),
        explained: failures.iter().filter(|f| f.explained_by.is_some()).count(),
        failures,
        failures_by_invariant: by_invariant,
        expectations_unmet,
        shrunk,
    };
    for e in &write_errors {
        eprintln!("warning: {e}");
    }
    if let Some(dir) = &args.out {
        write_out(dir, &summary, lines).map_err(usage_error)?;
    }
    if !args.json {
        print_summary(&title, &summary, args.fail_fast);
    }
    Ok(summary)
}

/// What a sweep keeps of its runs as they finish: every seed's outcome in a
/// line (for `--out`), the failed runs whole, and the passed runs that fell
/// short of the scenario's expected leader; not the reports of the runs that
/// passed, so a sweep of millions of seeds holds a few bytes per seed.
struct Kept {
    count: usize,
    /// (seed, passed, digest), when `--out` writes them.
    lines: Option<Vec<(u64, bool, String)>>,
    failed: Vec<SeedRun>,
    expectations_unmet: Vec<Unmet>,
    /// A scenario's expected leader should hold at every seed; its digest
    /// and violation belong to its own seed only, and a broken invariant is
    /// counted with the failures.
    leader_only: Expect,
}

impl Kept {
    fn new(scenario: &Scenario, lines: bool) -> Self {
        Kept {
            count: 0,
            lines: lines.then(Vec::new),
            failed: Vec::new(),
            expectations_unmet: Vec::new(),
            leader_only: Expect {
                leader: scenario.expect.leader,
                ..Expect::default()
            },
        }
    }

    fn take(&mut self, run: SeedRun) {
        self.count += 1;
        if let Some(lines) = &mut self.lines {
            let (ok, digest) = run
                .report
                .as_ref()
                .map_or((false, String::new()), |rep| (rep.ok(), rep.digest.clone()));
            lines.push((run.seed, ok, digest));
        }
        match &run.report {
            Ok(report) if report.ok() => {
                let unmet = self.leader_only.mismatches(report);
                if !unmet.is_empty() {
                    self.expectations_unmet.push(Unmet {
                        seed: run.seed,
                        unmet,
                    });
                }
            }
            _ => self.failed.push(run),
        }
    }
}

/// Writes `summary` and a line per seed, in seed order, to `dir` (see `--out`).
fn write_out(
    dir: &std::path::Path,
    summary: &Summary,
    lines: Option<Vec<(u64, bool, String)>>,
) -> Result<(), String> {
    let shard = super::merge::file_label(summary.shard.as_deref());
    let stem = dir.join(format!("{}-{shard}", summary.election));
    let err = |e: std::io::Error| format!("cannot write to {}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(err)?;
    let json = serde_json::to_string_pretty(summary).map_err(|e| e.to_string())?;
    std::fs::write(stem.with_extension("json"), json).map_err(err)?;
    let mut lines = lines.unwrap_or_default();
    lines.sort_by_key(|(seed, _, _)| *seed);
    let text: Vec<String> = lines
        .iter()
        .map(|(seed, ok, digest)| {
            serde_json::json!({"seed": seed, "ok": ok, "digest": digest}).to_string()
        })
        .collect();
    std::fs::write(stem.with_extension("seeds.jsonl"), text.join("\n") + "\n").map_err(err)
}

fn algorithm_name(a: Option<Algorithm>) -> String {
    a.map_or_else(String::new, |a| a.to_string())
}

/// What the failing seeds of a sweep left.
struct Found<'r> {
    failures: Vec<Failure>,
    by_invariant: BTreeMap<String, usize>,
    /// The first failure of each invariant, as written, for `--shrink`.
    first_of: BTreeMap<&'r str, (u64, Scenario, PathBuf)>,
    write_errors: Vec<String>,
}

/// Writes a replay file for every failing seed and counts the failures.
fn collect_failures<'r>(
    runs: &'r [SeedRun],
    dir: &std::path::Path,
    title: &str,
    scenario: &Scenario,
) -> Result<Found<'r>, ExitCode> {
    let mut failures = Vec::new();
    let mut by_invariant: BTreeMap<String, usize> = BTreeMap::new();
    let mut first_of: BTreeMap<&str, (u64, Scenario, PathBuf)> = BTreeMap::new();
    let mut write_errors = Vec::new();
    for r in runs {
        let report = match &r.report {
            Ok(rep) if rep.ok() => continue,
            Ok(rep) => rep,
            Err(e) => return Err(usage_error(format_args!("seed {}: {e}", r.seed))),
        };
        let Some(first) = report.violations.first() else {
            continue;
        };
        *by_invariant.entry(first.invariant.to_owned()).or_default() += 1;
        let replay = replay_scenario(title, scenario, report);
        let file = match write_scenario(dir, title, &replay) {
            Ok(p) => Some(p),
            Err(e) => {
                write_errors.push(e);
                None
            }
        };
        if let Some(path) = &file {
            first_of
                .entry(first.invariant)
                .or_insert_with(|| (r.seed, replay, path.clone()));
        }
        failures.push(Failure {
            seed: r.seed,
            invariant: first.invariant.to_owned(),
            at_ms: first.at_ms,
            detail: first.detail.clone(),
            explained_by: report
                .violations
                .iter()
                .all(|v| v.explained_by.is_some())
                .then(|| first.explained_by.clone())
                .flatten(),
            replay: file.as_deref().map(replay_command),
            replay_file: file.map(|p| p.display().to_string()),
        });
    }
    Ok(Found {
        failures,
        by_invariant,
        first_of,
        write_errors,
    })
}

/// Shrinks the first failing seed of each invariant.
fn shrink_first_of_each(
    first_of: &BTreeMap<&str, (u64, Scenario, PathBuf)>,
    progress: bool,
) -> Vec<Shrunk> {
    let mut shrunk = Vec::new();
    for (invariant, (seed, replay, file)) in first_of {
        eprintln!("shrinking seed {seed} ({invariant})");
        match shrink_to(replay, file, None, Some(invariant), 2000, progress) {
            Ok(min) => shrunk.push(Shrunk {
                invariant: (*invariant).to_owned(),
                seed: *seed,
                file: min.path.display().to_string(),
                faults: min.after.faults,
                nodes: min.after.nodes,
                clients: min.after.clients,
                duration_ms: min.after.duration.as_millis() as u64,
            }),
            Err(e) => eprintln!("warning: cannot shrink seed {seed}: {e}"),
        }
    }
    shrunk
}

/// Prints a sweep's summary (`sim merge` prints a merged one the same way).
pub(super) fn print_summary(title: &str, s: &Summary, fail_fast: bool) {
    let cut_short = fail_fast && (s.seeds as u64) < s.planned;
    let shard = s
        .shard
        .as_ref()
        .map_or_else(String::new, |k| format!(", shard {k} of them"));
    println!(
        "sweep of {title}: {} seeds ({}..{}, both ends included{shard}{}) in {:.1} s on {} jobs, {:.1} runs/s",
        s.seeds,
        s.seed_range[0],
        s.seed_range[1],
        if cut_short {
            ", stopped at the first failure"
        } else {
            ""
        },
        s.wall_s,
        s.jobs,
        s.runs_per_second
    );
    for u in s.expectations_unmet.iter().take(20) {
        println!(
            "  seed {}: expectation not met: {}",
            u.seed,
            u.unmet.join("; ")
        );
    }
    if s.expectations_unmet.len() > 20 {
        println!(
            "  ... and {} more seeds that missed the expectation",
            s.expectations_unmet.len() - 20
        );
    }
    if s.failures.is_empty() {
        if s.expectations_unmet.is_empty() {
            println!("  every seed kept every invariant");
        } else {
            println!(
                "  every seed kept every invariant; {} missed the expected leader",
                s.expectations_unmet.len()
            );
        }
        return;
    }
    println!(
        "  {} passed, {} FAILED: {} unexplained, {} explained by a documented limit",
        s.passed,
        s.failures.len(),
        s.unexplained,
        s.explained
    );
    print_failures_by_invariant(s);
    println!("  replay the first of each:");
    for invariant in s.failures_by_invariant.keys() {
        if let Some(cmd) = s
            .failures
            .iter()
            .find(|f| f.invariant == *invariant)
            .and_then(|f| f.replay.as_ref())
        {
            println!("    {cmd}");
        }
    }
    for sh in &s.shrunk {
        println!(
            "  shrunk seed {} ({}) to {}: ringleader sim replay {}",
            sh.seed,
            sh.invariant,
            sh.size(),
            sh.file
        );
    }
}

/// One line per broken invariant: how many seeds, which, how many explained.
fn print_failures_by_invariant(s: &Summary) {
    for (invariant, count) in &s.failures_by_invariant {
        let seeds: Vec<String> = s
            .failures
            .iter()
            .filter(|f| f.invariant == *invariant)
            .map(|f| f.seed.to_string())
            .collect();
        let shown = seeds
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let more = if seeds.len() > 20 { ", ..." } else { "" };
        let explained = s
            .failures
            .iter()
            .filter(|f| f.invariant == *invariant && f.explained_by.is_some())
            .count();
        let tag = if explained == 0 {
            String::new()
        } else {
            format!(", {explained} of them explained")
        };
        println!("  {invariant}: {count} seeds ({shown}{more}){tag}");
        if let Some(why) = s
            .failures
            .iter()
            .find(|f| f.invariant == *invariant)
            .and_then(|f| f.explained_by.as_ref())
        {
            println!("    e.g. {why}");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

    use super::*;
    use ringleader_sim::{InjectedBug, SimConfig};
    use std::time::Duration;

    fn run(seed: u64, bug: InjectedBug) -> SeedRun {
        let config = SimConfig {
            seed,
            nodes: 3,
            duration: Duration::from_secs(3),
            clients: 1,
            inject_bug: bug,
            ..SimConfig::default()
        };
        SeedRun {
            seed,
            report: ringleader_sim::run(&config).map_err(|e| e.to_string()),
        }
    }

    /// A sweep holds the failed runs whole and only a line of the others.
    #[test]
    fn a_sweep_keeps_the_failed_reports_and_a_line_of_every_seed() {
        let mut kept = Kept::new(&Scenario::default(), true);
        kept.take(run(3, InjectedBug::None));
        kept.take(run(1, InjectedBug::AckBeforeCommit));
        kept.take(run(2, InjectedBug::None));
        assert_eq!(kept.count, 3);
        let failed: Vec<u64> = kept.failed.iter().map(|r| r.seed).collect();
        assert_eq!(failed, [1]);
        let lines = kept.lines.expect("--out keeps lines");
        let oks: Vec<(u64, bool)> = lines.iter().map(|(s, ok, _)| (*s, *ok)).collect();
        assert_eq!(oks, [(3, true), (1, false), (2, true)]);
        assert!(lines.iter().all(|(_, _, digest)| digest.len() == 16));
        assert!(Kept::new(&Scenario::default(), false).lines.is_none());
    }
}
