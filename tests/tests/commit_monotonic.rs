//! The commit index never moves backwards on any node. A `bully`/`ring` node cut
//! off alone leads by itself; before the markers it appended alone were left
//! uncommitted, it committed them and had to un-commit them to rejoin.

use ringleader_core::{Algorithm, Config, Instant, NodeId};
use ringleader_sim::{Fault, ScheduledFault, SimConfig};
use std::time::Duration;

fn at(ms: u64, fault: Fault) -> ScheduledFault {
    ScheduledFault {
        at: Instant::from_millis(ms),
        fault,
    }
}

fn cut_off_alone(election: Algorithm, seed: u64) -> SimConfig {
    SimConfig {
        seed,
        nodes: 3,
        duration: Duration::from_secs(20),
        node: Config {
            election,
            voters: (1..=3).map(NodeId).collect(),
            ..Config::default()
        },
        schedule: vec![
            at(
                3_000,
                Fault::Partition(vec![vec![NodeId(1)], vec![NodeId(2), NodeId(3)]]),
            ),
            at(6_000, Fault::Heal),
        ],
        clients: 1,
        rate: 5.0,
        client_servers: vec![(1, vec![NodeId(3)])],
        ..SimConfig::default()
    }
}

#[test]
fn a_node_cut_off_alone_rejoins_without_its_commit_index_going_back() {
    for election in [Algorithm::Bully, Algorithm::Ring, Algorithm::Quorum] {
        for seed in 1..=20 {
            let report = ringleader_sim::run(&cut_off_alone(election, seed)).expect("valid config");
            let monotonic = report
                .checks
                .get("commit_monotonic")
                .copied()
                .unwrap_or_default();
            assert!(
                monotonic.checked > 0,
                "{election} seed {seed}: never checked"
            );
            assert!(
                report.violations.is_empty(),
                "{election} seed {seed}: {:?}",
                report.violations
            );
        }
    }
}
