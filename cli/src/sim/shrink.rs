//! `ringleader sim shrink`: a failing run reduced to a small one that fails the
//! same invariant.

use super::outcome::replay_command;
use crate::EXIT_USAGE;
use clap::Args;
use ringleader_sim::scenario;
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

/// Shrinks the run in `file`, writes the result to `out` (or next to `file`),
/// and returns where it went and how big it is.
pub fn shrink_to(
    file: &Path,
    out: Option<&Path>,
    invariant: Option<&str>,
    budget: u64,
    show_progress: bool,
) -> Result<(PathBuf, Size, Size, u64), String> {
    let s = scenario::load(file).map_err(|e| e.to_string())?;
    let invariant = invariant.or(s.expect.violation.as_deref());
    let before = Size::of(&s.concrete().config);
    let shrunk = shrink(&s, invariant, budget, |size, runs| {
        if show_progress {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "  run {runs}: still fails with {size}");
        }
    })
    .map_err(|e| match e {
        ShrinkError::DoesNotFail { .. } | ShrinkError::Invalid(_) => e.to_string(),
    })?;
    let mut min = shrunk.scenario;
    let invariant = min.expect.violation.clone().unwrap_or_default();
    min.name = format!(
        "minimal run failing {invariant} (shrunk from {})",
        file.display()
    );
    min.description = shrunk
        .report
        .violations
        .iter()
        .find(|v| v.invariant == invariant)
        .map_or(String::new(), |v| {
            format!("at {} ms, nodes {:?}: {}", v.at_ms, v.nodes, v.detail)
        });
    let path = out.map_or_else(|| minimal_path(file), Path::to_path_buf);
    let text = format!(
        "# Shrunk by ringleader from {} in {} runs. Replay it with:\n#   {}\n{}",
        file.display(),
        shrunk.runs,
        replay_command(&path),
        min.to_toml()
    );
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((path, before, Size::of(&min.config), shrunk.runs))
}

/// Shrinks and writes next to `file`; for `sweep --shrink`.
pub fn shrink_and_write(
    file: &Path,
    invariant: Option<&str>,
    budget: u64,
    show_progress: bool,
) -> Result<(PathBuf, Size), String> {
    shrink_to(file, None, invariant, budget, show_progress).map(|(p, _, after, _)| (p, after))
}

/// Runs `sim shrink`.
pub fn run(args: ShrinkArgs) -> ExitCode {
    if !args.file.exists() {
        eprintln!("error: {}: no such file", args.file.display());
        return ExitCode::from(EXIT_USAGE);
    }
    eprintln!("shrinking {}", args.file.display());
    match shrink_to(
        &args.file,
        args.out.as_deref(),
        args.invariant.as_deref(),
        args.budget,
        true,
    ) {
        Ok((path, before, after, runs)) => {
            println!("shrunk in {runs} runs");
            println!("  from {before}");
            println!("  to   {after}");
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    println!("--- {}", path.display());
                    print!("{text}");
                    println!("---");
                }
                Err(e) => eprintln!("warning: cannot read back {}: {e}", path.display()),
            }
            println!("replay with: {}", replay_command(&path));
            ExitCode::SUCCESS
        }
        Err(e) if e.contains("nothing to shrink") => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
