//! Helpers shared by the cross-crate tests: run a simulation and read its trace.

pub mod datadriven;

use ringleader_sim::{run_traced, Report, SimConfig};

/// Runs `config` and returns the report with the readable trace.
pub fn traced(config: &SimConfig) -> (Report, String) {
    let mut out = Vec::new();
    let report = match run_traced(config, &mut out) {
        Ok(r) => r,
        Err(e) => panic!("simulation failed to run: {e}"),
    };
    (report, String::from_utf8_lossy(&out).into_owned())
}

/// One parsed trace line: virtual time in microseconds, then the rest.
pub fn lines(trace: &str) -> impl Iterator<Item = (u64, &str)> {
    trace.lines().filter_map(|line| {
        let line = line.trim_start();
        let (time, rest) = line.split_once(' ')?;
        let (secs, micros) = time.strip_suffix('s')?.split_once('.')?;
        let t = secs.parse::<u64>().ok()? * 1_000_000 + micros.parse::<u64>().ok()?;
        Some((t, rest))
    })
}

/// Panics with every violation if the run broke an invariant.
pub fn assert_clean(report: &Report) {
    assert!(
        report.ok(),
        "seed {}: {} violations, first: {:?}",
        report.seed,
        report.violations.len(),
        report.violations.first()
    );
}

/// Runs one simulation per seed, asserts each kept every invariant, and adds up how
/// often each bounded invariant was checked and excused, so a sweep can also show
/// that it exercised what it claims to.
pub fn sweep(
    seeds: std::ops::Range<u64>,
    make: impl Fn(u64) -> SimConfig,
) -> std::collections::BTreeMap<&'static str, ringleader_sim::report::CheckCount> {
    let mut totals = std::collections::BTreeMap::new();
    for seed in seeds {
        let report = match ringleader_sim::run(&make(seed)) {
            Ok(r) => r,
            Err(e) => panic!("seed {seed}: {e}"),
        };
        assert_clean(&report);
        for (name, c) in &report.checks {
            let t: &mut ringleader_sim::report::CheckCount = totals.entry(*name).or_default();
            t.checked += c.checked;
            t.excused += c.excused;
        }
    }
    totals
}
