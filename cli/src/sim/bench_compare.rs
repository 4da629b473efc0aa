//! `ringleader sim bench --baseline BIN`: this build and another (the commit a
//! speed-up started from, say) measured side by side in one run, since the
//! machines here are too noisy for figures taken at different times to
//! compare.
//!
//! Both binaries run as child processes with the same arguments, turn about
//! (who goes first alternates), so that a burst of noise falls on both; the
//! limit's row, the same code in both unless the queue changed, shows what
//! is left of the noise. Each round runs `sim bench
//! --repeat 3 --json` (the simulator's workloads, each the median of three
//! runs: the default-timings run lasts some 40 ms, and one hiccup of the
//! machine in a single run moved its ratio by a tenth) and a heavy-fault sweep
//! (`sim sweep --jobs 2`, 2 clients, quorum, 60 virtual s, 5 nodes); the
//! medians of the rounds are compared, and so are the builds within each
//! round (the median of the rounds' own ratios).

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The sweep measured: what the issue that asked for the speed-up names.
const SWEEP_ARGS: [&str; 14] = [
    "--faults",
    "heavy",
    "--clients",
    "2",
    "--election",
    "quorum",
    "--nodes",
    "5",
    "--duration",
    "60s",
    "--jobs",
    "2",
    "--json",
    "--failures",
];

/// Runs of each workload in a round, of which `sim bench` reports the median.
const WORKLOAD_RUNS: &str = "3";

/// The sweep's row.
const SWEEP_ROW: &str = "sweep: heavy, 2 clients, 2 jobs";

/// Per row, the figures of each round: (baseline, this build).
type Rounds = BTreeMap<String, (Vec<f64>, Vec<f64>)>;

/// Runs the comparison and prints it.
pub fn run(baseline: &Path, repeat: u32, sweep_seeds: u64, json: bool) -> ExitCode {
    let this = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return fail(format_args!("cannot find this binary: {e}")),
    };
    let scratch = std::env::temp_dir().join(format!("ringleader-bench-{}", std::process::id()));
    let mut rounds = Rounds::new();
    let mut order = Vec::new();
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    for round in 1..=repeat {
        // Who goes first alternates: the second of a pair finds the machine
        // warmer (or busier), which must not favour one build.
        let mut turns = [(0, baseline), (1, this.as_path())];
        if round % 2 == 0 {
            turns.reverse();
        }
        for (which, bin) in turns {
            let label = ["baseline", "this build"][which];
            if terminal {
                eprint!("\rround {round}/{repeat}: {label}   ");
            } else {
                eprintln!("round {round}/{repeat}: {label}");
            }
            match measure(bin, sweep_seeds, &scratch) {
                Ok(figures) => {
                    for (row, value) in figures {
                        if !order.contains(&row) {
                            order.push(row.clone());
                        }
                        let entry = rounds.entry(row).or_default();
                        [&mut entry.0, &mut entry.1][which].push(value);
                    }
                }
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&scratch);
                    return fail(format_args!("{}: {e}", bin.display()));
                }
            }
        }
    }
    if terminal {
        eprintln!();
    }
    let _ = std::fs::remove_dir_all(&scratch);
    report(baseline, &order, &rounds, json)
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

/// One round of one binary: events a wall second per workload (the limit
/// included), and seeds a wall second of the sweep.
fn measure(bin: &Path, sweep_seeds: u64, scratch: &Path) -> Result<Vec<(String, f64)>, String> {
    let bench = output(bin, &["sim", "bench", "--repeat", WORKLOAD_RUNS, "--json"])?;
    let mut figures = Vec::new();
    for row in bench.as_array().ok_or("sim bench --json gave no rows")? {
        let name = row["workload"].as_str().ok_or("a row without a name")?;
        let rate = row["median_events_per_s"]
            .as_f64()
            .ok_or("a row without events a second")?;
        figures.push((name.to_owned(), rate));
    }
    let seeds = format!("1..{sweep_seeds}");
    let failures = scratch.join("failures");
    let failures = failures.to_string_lossy();
    let mut args = vec!["sim", "sweep", "--seeds", &seeds];
    args.extend(SWEEP_ARGS);
    args.push(&failures);
    let sweep = output(bin, &args)?;
    let rate = sweep["runs_per_second"]
        .as_f64()
        .ok_or("sim sweep --json gave no runs_per_second")?;
    figures.push((SWEEP_ROW.to_owned(), rate));
    Ok(figures)
}

/// Runs `bin` with `args` and reads the one JSON value it prints (a sweep
/// that found failures exits 1 and still prints it).
fn output(bin: &Path, args: &[&str]) -> Result<Value, String> {
    let out = Command::new(bin)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).map_err(|e| {
        format!(
            "{} gave no JSON ({e}); exit {:?}, stderr: {}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

/// The median of the rounds' own ratios: a burst of noise that slows one
/// round slows both builds in it, and cancels out of its ratio.
fn paired(base: &[f64], this: &[f64]) -> f64 {
    let ratios: Vec<f64> = base.iter().zip(this).map(|(b, t)| t / b).collect();
    median(&ratios)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The comparison as a table (or JSON): medians, and this build over the
/// baseline.
fn report(baseline: &Path, order: &[String], rounds: &Rounds, json: bool) -> ExitCode {
    let rows: Vec<(String, f64, f64, f64)> = order
        .iter()
        .filter_map(|row| {
            let (base, this) = rounds.get(row)?;
            Some((row.clone(), median(base), median(this), paired(base, this)))
        })
        .collect();
    if json {
        let rows: Vec<Value> = rows
            .iter()
            .map(|(row, base, this, paired)| {
                serde_json::json!({
                    "row": row,
                    "unit": unit(row),
                    "baseline": base,
                    "this_build": this,
                    "ratio": this / base,
                    "paired_ratio": paired,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "baseline": baseline.display().to_string(), "rows": rows })
        );
        return ExitCode::SUCCESS;
    }
    println!("baseline: {}", baseline.display());
    println!(
        "{:<34} {:>10} {:>14} {:>14} {:>7} {:>7}",
        "row (medians of the rounds)", "unit", "baseline", "this build", "ratio", "paired"
    );
    for (row, base, this, paired) in &rows {
        println!(
            "{row:<34} {:>10} {base:>14.0} {this:>14.0} {:>6.2}x {paired:>6.2}x",
            unit(row),
            this / base
        );
    }
    println!("paired: the median of each round's own ratio (the two builds ran back to back)");
    ExitCode::SUCCESS
}

fn unit(row: &str) -> &'static str {
    if row == SWEEP_ROW {
        "seeds/s"
    } else {
        "events/s"
    }
}

/// `--baseline` as given, checked to be a file that runs.
pub fn parse_baseline(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    if !path.is_file() {
        return Err(format!(
            "{s} is not a file (build the baseline first, see .ci/sim-speed)"
        ));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paired_ratio_is_the_median_of_each_rounds_own() {
        // Per round: 1.6, 2.4 and 2.5; the medians alone give 160 / 80.
        let (base, this) = ([100.0, 50.0, 80.0], [160.0, 120.0, 200.0]);
        assert!((paired(&base, &this) - 2.4).abs() < 1e-9);
        assert!((median(&this) / median(&base) - 2.0).abs() < 1e-9);
        assert!(paired(&[], &[]).is_nan());
    }
}
