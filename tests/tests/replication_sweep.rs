//! Replication swept over many seeds with clients: under `quorum` with random
//! crashes, restarts, partitions and loss; under `bully` and `ring` with crashes,
//! restarts and loss but no partitions (two leaders during a partition are their
//! documented limit). Every run must keep every invariant, checked on every step,
//! and close with every acknowledged message on every live node and every client
//! drained and caught up.

use ringleader_core::{Algorithm, Config};
use ringleader_sim::{FaultProfile, NetworkConfig, SimConfig};
use ringleader_tests::sweep;
use std::time::Duration;

fn config(seed: u64, election: Algorithm, partitions: bool) -> SimConfig {
    SimConfig {
        seed,
        duration: Duration::from_secs(30),
        network: NetworkConfig {
            loss: 0.05,
            ..NetworkConfig::default()
        },
        node: Config {
            election,
            ..Config::default()
        },
        faults: FaultProfile::Heavy,
        partitions,
        clients: 3,
        rate: 5.0,
        ..SimConfig::default()
    }
}

fn sweep_and_check(election: Algorithm, partitions: bool, seeds: std::ops::Range<u64>) {
    let totals = sweep(seeds, |seed| config(seed, election, partitions));
    for name in [
        "acked_durable",
        "clients_drain",
        "logs_converge",
        "client_order",
    ] {
        let c = totals.get(name).copied().unwrap_or_default();
        assert!(c.checked > 0, "{election}: {name} was never checked: {c:?}");
    }
}

#[test]
fn quorum_loses_no_acknowledged_message_under_crashes_partitions_and_loss() {
    sweep_and_check(Algorithm::Quorum, true, 0..1000);
}

#[test]
fn bully_loses_no_acknowledged_message_under_crashes_and_loss() {
    sweep_and_check(Algorithm::Bully, false, 0..1000);
}

#[test]
#[ignore = "open bug: seed 427 (and about 1 in 1000) loses committed entries when their holders leave or crash while a new ring leader syncs; see issue 4's notes"]
fn ring_loses_no_acknowledged_message_under_crashes_and_loss() {
    sweep_and_check(Algorithm::Ring, false, 0..1000);
}
