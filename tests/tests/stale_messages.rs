//! Messages that arrive after what they describe has changed: a heartbeat sent
//! just before its sender became leader, overtaken by the ELECTED or
//! COORDINATOR that made it one, must not make a follower drop that leader
//! (under ring that cost a second full election round the ring).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use ringleader_core::{Algorithm, Config};
use ringleader_sim::{run, SimConfig};
use ringleader_tests::assert_clean;
use std::time::Duration;

#[test]
fn an_unclaimed_heartbeat_sent_before_the_leader_led_does_not_depose_it() {
    // Seeds where, at the cold start of 6 ring nodes, a heartbeat n6 sent just
    // before it was elected reached a node after ELECTED did.
    for seed in [36, 50, 93, 215] {
        let config = SimConfig {
            seed,
            nodes: 6,
            duration: Duration::from_secs(2),
            node: Config {
                election: Algorithm::Ring,
                ..Config::default()
            },
            ..SimConfig::default()
        };
        let report = run(&config).unwrap();
        assert_clean(&report);
        let s = &report.election_stats;
        assert_eq!(s.elections, 1, "seed {seed}: {s:?}");
        let elected = s.election_messages.get("Elected").copied().unwrap_or(0);
        assert_eq!(elected, 5, "seed {seed}: ELECTED goes round once: {s:?}");
    }
}
