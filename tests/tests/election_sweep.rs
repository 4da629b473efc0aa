//! Election invariants swept over many seeds. The invariants are checked on every
//! step inside the simulator; these sweeps assert none broke and that each was
//! exercised.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use ringleader_core::{Algorithm, Config};
use ringleader_sim::{FaultProfile, NetworkConfig, SimConfig};
use ringleader_tests::sweep;
use std::time::Duration;

fn with(
    algorithm: Algorithm,
    seed: u64,
    faults: FaultProfile,
    loss: f64,
    partitions: bool,
) -> SimConfig {
    SimConfig {
        seed,
        nodes: 5,
        duration: Duration::from_secs(40),
        network: NetworkConfig {
            loss,
            ..NetworkConfig::default()
        },
        node: Config {
            election: algorithm,
            ..Config::default()
        },
        faults,
        partitions,
        ..SimConfig::default()
    }
}

#[test]
fn quorum_never_has_two_leaders_in_one_epoch_or_at_one_instant_over_a_thousand_seeds() {
    // Heavy faults: crashes and leaves with restarts, partitions into up to three
    // groups, one-way cuts, pauses, clocks drifting up to 0.5 % (within the 1 %
    // bound); and 10 % loss on every link.
    let totals = sweep(0..1000, |seed| {
        with(Algorithm::Quorum, seed, FaultProfile::Heavy, 0.10, true)
    });
    assert!(
        totals["one_leader_per_epoch"].checked > 3000,
        "{:?}",
        totals["one_leader_per_epoch"]
    );
    // The lease: checked at every change of leadership, paused nodes included.
    assert!(
        totals["one_leader_at_a_time"].checked > 10_000,
        "{:?}",
        totals["one_leader_at_a_time"]
    );
    assert!(
        totals["one_vote_per_term"].checked > 3000,
        "{:?}",
        totals["one_vote_per_term"]
    );
    // Agreement is checked after every fault followed by a quiet window, so at least
    // once per run; under 10 % loss most windows are excused.
    assert!(totals["leader_agreement"].checked + totals["leader_agreement"].excused >= 1000);
}

#[test]
fn every_algorithm_agrees_on_the_right_leader_once_faults_heal() {
    // No random loss: a window is excused only while a partition or cut drops
    // messages; the window after the last heal drops nothing, so every run is
    // checked strictly at least once, and most windows are.
    for algorithm in [Algorithm::Bully, Algorithm::Ring, Algorithm::Quorum] {
        let totals = sweep(2000..2200, |seed| {
            with(algorithm, seed, FaultProfile::Heavy, 0.0, true)
        });
        let c = totals["leader_agreement"];
        assert!(
            c.checked >= 200 && c.excused < c.checked / 2,
            "{algorithm}: {c:?}"
        );
    }
}

#[test]
fn bully_and_ring_under_crashes_restarts_and_loss_without_partitions() {
    for algorithm in [Algorithm::Bully, Algorithm::Ring] {
        let totals = sweep(3000..3200, |seed| {
            with(algorithm, seed, FaultProfile::Light, 0.05, false)
        });
        assert!(
            totals["leader_agreement"].checked > 50,
            "{algorithm}: {:?}",
            totals["leader_agreement"]
        );
    }
}

#[test]
fn every_regression_file_runs_clean() {
    // Runs a sweep once failed on, kept as files (tests/testdata/regressions):
    // each names what went wrong and must now keep every invariant.
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression files in {}",
        dir.display()
    );
    for path in files {
        let scenario = ringleader_sim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let report = ringleader_sim::run(&scenario.config).unwrap();
        let unmet = scenario.expect.mismatches(&report);
        assert!(unmet.is_empty(), "{}: {}", path.display(), unmet.join("; "));
    }
}
