//! Discovery invariants swept over many seeds, with loss and random faults.
//!
//! The invariants themselves are checked on every step inside the simulator (see
//! `ringleader_sim::invariants`); these sweeps assert that none broke and that each
//! was actually exercised, so a sweep cannot pass by checking nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use ringleader_sim::report::CheckCount;
use ringleader_sim::{FaultProfile, NetworkConfig, SimConfig};
use ringleader_tests::sweep;
use std::time::Duration;

#[test]
fn two_hundred_seeds_with_five_percent_loss_and_random_crashes_and_restarts() {
    let totals = sweep(0..200, |seed| SimConfig {
        seed,
        nodes: 5,
        duration: Duration::from_secs(60),
        network: NetworkConfig {
            loss: 0.05,
            ..NetworkConfig::default()
        },
        faults: FaultProfile::Light,
        partitions: false,
        ..SimConfig::default()
    });
    for name in ["discovery", "rejoin", "crash_detection", "false_death"] {
        assert!(
            totals[name].checked > 100,
            "{name} barely exercised: {:?}",
            totals[name]
        );
    }
}

#[test]
fn two_hundred_seeds_of_heavy_faults_with_partitions_duplication_and_reordering() {
    let totals = sweep(1000..1200, |seed| SimConfig {
        seed,
        nodes: 5,
        duration: Duration::from_secs(60),
        network: NetworkConfig {
            loss: 0.05,
            duplicate: 0.02,
            reorder: 0.05,
            ..NetworkConfig::default()
        },
        faults: FaultProfile::Heavy,
        ..SimConfig::default()
    });
    for name in [
        "discovery",
        "rejoin",
        "heal",
        "crash_detection",
        "leave_detection",
        "false_death",
    ] {
        assert!(
            totals[name].checked > 50,
            "{name} barely exercised: {:?}",
            totals[name]
        );
    }
}

#[test]
fn without_loss_or_faults_every_discovery_bound_is_checked_and_none_excused() {
    let totals = sweep(0..50, |seed| SimConfig {
        seed,
        nodes: 7,
        duration: Duration::from_secs(20),
        ..SimConfig::default()
    });
    assert_eq!(
        totals["discovery"],
        CheckCount {
            checked: 50 * 7 * 6,
            excused: 0
        }
    );
}

#[test]
fn drifting_clocks_keep_the_bounds() {
    use ringleader_core::{Instant, NodeId};
    use ringleader_sim::{Fault, ScheduledFault};
    sweep(0..50, |seed| SimConfig {
        seed,
        nodes: 4,
        duration: Duration::from_secs(30),
        faults: FaultProfile::Light,
        schedule: vec![
            ScheduledFault {
                at: Instant::ZERO,
                fault: Fault::Skew {
                    node: NodeId(1),
                    drift_ppm: 20_000,
                },
            },
            ScheduledFault {
                at: Instant::ZERO,
                fault: Fault::Skew {
                    node: NodeId(2),
                    drift_ppm: -20_000,
                },
            },
            ScheduledFault {
                at: Instant::from_millis(5000),
                fault: Fault::Crash(NodeId(2)),
            },
            ScheduledFault {
                at: Instant::from_millis(9000),
                fault: Fault::Restart(NodeId(2)),
            },
        ],
        ..SimConfig::default()
    });
}
