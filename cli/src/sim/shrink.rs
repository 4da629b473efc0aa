//! `ringleader sim shrink`: a failing run reduced to a small one that fails the
//! same invariant.

use super::outcome::{describe, replay_command};
use super::usage_error;
use clap::Args;
use ringleader_sim::scenario::{self, Scenario};
use ringleader_sim::shrink::{shrink, ShrinkError, Size};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags of `sim shrink`.
#[derive(Args, Debug)]
pub struct ShrinkArgs {
    /// A failing run: a replay file, or any scenario file whose run fails.
    file: PathBuf,
    /// The invariant that must keep failing [default: the replay file's, else the
    /// run's first].
    #[arg(long)]
    invariant: Option<String>,
    /// Most runs to try.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    budget: u64,
    /// Where to write the minimal scenario [default: FILE with -min before .toml].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn minimal_path(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map_or("run".into(), |s| s.to_string_lossy().into_owned());
    let stem = stem.trim_end_matches("-min");
    file.with_file_name(format!("{stem}-min.toml"))
}

/// A minimal failing run, written down.
pub struct Minimal {
    /// Where it was written.
    pub path: PathBuf,
    /// What was written.
    pub text: String,
    /// The size of the run shrinking started from.
    pub before: Size,
    /// The size of the minimal run.
    pub after: Size,
    /// Runs tried.
    pub runs: u64,
}

/// Shrinks `scenario` (read from `from`) while it fails `invariant` (default: the
/// scenario's expected violation), and writes the result to `out` (or next to
/// `from`).
pub fn shrink_to(
    scenario: &Scenario,
    from: &Path,
    out: Option<&Path>,
    invariant: Option<&str>,
    budget: u64,
    show_progress: bool,
) -> Result<Minimal, ShrinkError> {
    let invariant = invariant.or(scenario.expect.violation.as_deref());
    let shrunk = shrink(scenario, invariant, budget, |size, runs| {
        if show_progress {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "  run {runs}: still fails with {size}");
        }
    })?;
    let mut min = shrunk.scenario;
    let invariant = min.expect.violation.clone().unwrap_or_default();
    min.name = format!(
        "minimal run failing {invariant} (shrunk from {})",
        from.display()
    );
    min.description = shrunk
        .report
        .violations
        .iter()
        .find(|v| v.invariant == invariant)
        .map_or(String::new(), describe);
    let path = out.map_or_else(|| minimal_path(from), Path::to_path_buf);
    let text = format!(
        "# Shrunk by ringleader from {} in {} runs. Replay it with:\n#   {}\n{}",
        from.display(),
        shrunk.runs,
        replay_command(&path),
        min.to_toml()
    );
    std::fs::write(&path, &text)
        .map_err(|e| ShrinkError::Invalid(format!("cannot write {}: {e}", path.display())))?;
    Ok(Minimal {
        path,
        text,
        before: shrunk.from,
        after: Size::of(&min.config),
        runs: shrunk.runs,
    })
}

/// Runs `sim shrink`.
pub fn run(args: ShrinkArgs) -> ExitCode {
    if !args.file.exists() {
        return usage_error(format_args!("{}: no such file", args.file.display()));
    }
    let scenario = match scenario::load(&args.file) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    eprintln!("shrinking {}", args.file.display());
    match shrink_to(
        &scenario,
        &args.file,
        args.out.as_deref(),
        args.invariant.as_deref(),
        args.budget,
        true,
    ) {
        Ok(min) => {
            println!("shrunk in {} runs", min.runs);
            println!("  from {}", min.before);
            println!("  to   {}", min.after);
            println!("--- {}", min.path.display());
            print!("{}", min.text);
            println!("---");
            println!("replay with: {}", replay_command(&min.path));
            ExitCode::SUCCESS
        }
        Err(e @ ShrinkError::DoesNotFail { .. }) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
        Err(e @ ShrinkError::Invalid(_)) => usage_error(e),
    }
}
