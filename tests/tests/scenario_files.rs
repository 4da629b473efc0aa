//! Every scenario in `scenarios/` reads, runs and shows what its `[expect]` says:
//! at the seed it names and at other seeds, since a scenario describes a
//! situation, not one lucky schedule.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use ringleader_sim::run;
use ringleader_sim::scenario::{load, Scenario};
use std::path::{Path, PathBuf};

fn scenario_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn check(path: &Path, scenario: &Scenario) {
    let report =
        run(&scenario.config).unwrap_or_else(|e| panic!("{}: cannot run: {e}", path.display()));
    let unmet = scenario.expect.mismatches(&report);
    assert!(
        unmet.is_empty(),
        "{} at seed {}: {}",
        path.display(),
        scenario.config.seed,
        unmet.join("; ")
    );
}

#[test]
fn the_folder_holds_the_seed_systems_scenarios() {
    let names: Vec<String> = scenario_files()
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    for prefix in [
        "protocol-1-",
        "protocol-1b",
        "protocol-2",
        "protocol-3",
        "ringchat-1",
        "ringchat-2",
        "ringchat-3",
        "ringchat-4",
        "ringchat-5",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(prefix)),
            "no {prefix}* scenario among {names:?}"
        );
    }
}

#[test]
fn every_scenario_meets_its_expectations_at_its_seed_and_at_others() {
    let files = scenario_files();
    assert!(
        files.len() >= 10,
        "expected the documented scenarios, found {files:?}"
    );
    for path in &files {
        let scenario = load(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!scenario.name.is_empty(), "{}: no name", path.display());
        assert!(
            !scenario.expect.is_empty(),
            "{}: a documented scenario says what it shows",
            path.display()
        );
        check(path, &scenario);
        for seed in 1..=20 {
            let mut other = scenario.clone();
            other.config.seed = seed;
            check(path, &other);
        }
    }
}

#[test]
fn every_scenario_is_written_back_to_the_same_run() {
    for path in scenario_files() {
        let scenario = load(&path).unwrap_or_else(|e| panic!("{e}"));
        let written = ringleader_sim::scenario::parse(&scenario.to_toml(), "written")
            .unwrap_or_else(|e| panic!("{}: written form does not read: {e}", path.display()));
        let (a, b) = (run(&scenario.config), run(&written.config));
        assert_eq!(
            a.map(|r| r.digest).ok(),
            b.map(|r| r.digest).ok(),
            "{}",
            path.display()
        );
    }
}
