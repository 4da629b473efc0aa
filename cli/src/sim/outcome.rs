//! Carrying out one simulated run with its optional outputs (text trace, HTML
//! viewer), and writing a failing run down as a replay file.

use ringleader_sim::report::{Report, Violation};
use ringleader_sim::scenario::{Expect, Scenario};
use ringleader_sim::{run, run_recorded, run_traced, viewer};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Where a run's outputs go.
#[derive(Default)]
pub struct Outputs<'a> {
    /// The readable trace.
    pub trace: Option<&'a Path>,
    /// The HTML trace viewer.
    pub html: Option<&'a Path>,
    /// The title the viewer shows.
    pub title: &'a str,
}

fn create(path: &Path, what: &str) -> Result<BufWriter<File>, String> {
    File::create(path)
        .map(BufWriter::new)
        .map_err(|e| format!("cannot create {what} {}: {e}", path.display()))
}

/// Runs `scenario` once, writing the outputs asked for.
pub fn execute(scenario: &Scenario, out: &Outputs<'_>) -> Result<Report, String> {
    let config = &scenario.config;
    let mut trace_file = match out.trace {
        Some(p) => Some(create(p, "trace file")?),
        None => None,
    };
    let mut html_file = match out.html {
        Some(p) => Some(create(p, "HTML file")?),
        None => None,
    };
    let mut sink = std::io::sink();
    let writer: &mut dyn Write = match trace_file.as_mut() {
        Some(f) => f,
        None => &mut sink,
    };
    let report = if let Some(html) = html_file.as_mut() {
        let mut records = Vec::new();
        let report = run_recorded(config, writer, &mut records).map_err(|e| e.to_string())?;
        let page = viewer::html(out.title, &report, &records)?;
        html.write_all(page.as_bytes())
            .and_then(|()| html.flush())
            .map_err(|e| format!("cannot write the HTML file: {e}"))?;
        report
    } else if out.trace.is_some() {
        run_traced(config, writer).map_err(|e| e.to_string())?
    } else {
        run(config).map_err(|e| e.to_string())?
    };
    if let Some(f) = trace_file.as_mut() {
        f.flush()
            .map_err(|e| format!("cannot write the trace file: {e}"))?;
    }
    Ok(report)
}

fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').chars().take(40).collect()
}

/// A violation in one line, for a scenario's description.
pub fn describe(v: &Violation) -> String {
    v.to_string()
}

/// The replay scenario of a failing run: the seed, every fault written out, the
/// first violation and the trace digest to reproduce.
pub fn replay_scenario(title: &str, scenario: &Scenario, report: &Report) -> Scenario {
    // The seed first: the random faults to write out are the ones it generates.
    let mut seeded = scenario.clone();
    seeded.config.seed = report.seed;
    let mut replay = seeded.concrete();
    let first = report.violations.first();
    let invariant = first.map(|v| v.invariant.to_owned());
    replay.name = format!(
        "{title}: seed {} fails {}",
        report.seed,
        invariant.as_deref().unwrap_or("nothing")
    );
    replay.description = first.map_or(String::new(), describe);
    replay.expect = Expect {
        violation: invariant,
        digest: Some(report.digest.clone()),
        ..Expect::default()
    };
    replay
}

/// Writes `scenario` into `dir` under a name made of `title`, the seed and the
/// invariant; returns the path.
pub fn write_scenario(dir: &Path, title: &str, scenario: &Scenario) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
    let invariant = scenario.expect.violation.as_deref().unwrap_or("run");
    let path = dir.join(format!(
        "{}-seed{}-{}.toml",
        slug(title),
        scenario.config.seed,
        slug(invariant)
    ));
    let text = format!(
        "# Written by ringleader for a failing run. Replay it with:\n#   ringleader sim replay {}\n{}",
        path.display(),
        scenario.to_toml()
    );
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The command that replays the file at `path`.
pub fn replay_command(path: &Path) -> String {
    format!("ringleader sim replay {}", path.display())
}
