//! Election traces, snapshot-tested: a change in any algorithm shows up as a
//! reviewable diff of `tests/tests/snapshots/election_snapshots__*.snap`.
//!
//! Each snapshot holds the election-relevant lines of one scenario (see
//! `ringleader_tests::election_lines`), the leaders at the end and the measurements.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use ringleader_core::{Algorithm, Config, Instant, NodeId};
use ringleader_sim::{Fault, ScheduledFault, SimConfig};
use ringleader_tests::{assert_clean, election_lines, traced};
use std::fmt::Write;
use std::time::Duration;

const ALL: [Algorithm; 3] = [Algorithm::Bully, Algorithm::Ring, Algorithm::Quorum];

fn ms(v: u64) -> Instant {
    Instant::from_millis(v)
}

fn at(t: u64, fault: Fault) -> ScheduledFault {
    ScheduledFault { at: ms(t), fault }
}

struct Scenario {
    nodes: u32,
    secs: u64,
    starts: Vec<(u32, u64)>,
    faults: Vec<ScheduledFault>,
}

fn snapshot(name: &str, algorithm: Algorithm, s: Scenario) {
    let config = SimConfig {
        seed: 7,
        nodes: s.nodes,
        duration: Duration::from_secs(s.secs),
        node: Config {
            election: algorithm,
            ..Config::default()
        },
        start_at: s.starts.iter().map(|&(n, t)| (NodeId(n), ms(t))).collect(),
        schedule: s.faults,
        ..SimConfig::default()
    };
    let (report, trace) = traced(&config);
    assert_clean(&report);
    let mut text = election_lines(&trace);
    let e = &report.election_stats;
    writeln!(text, "--").unwrap();
    writeln!(text, "leaders at the end: {:?}", report.leaders).unwrap();
    writeln!(
        text,
        "elections: {}, to agreement (ms): {:?}",
        e.elections, e.election_ms
    )
    .unwrap();
    writeln!(text, "messages: {:?}", e.election_messages).unwrap();
    writeln!(text, "split brain: {} ms", e.split_brain_ms).unwrap();
    insta::assert_snapshot!(format!("{algorithm}__{name}"), text);
}

fn each(name: &str, make: impl Fn() -> Scenario) {
    for algorithm in ALL {
        snapshot(name, algorithm, make());
    }
}

#[test]
fn cold_start_of_three() {
    each("cold_start_3", || Scenario {
        nodes: 3,
        secs: 3,
        starts: vec![],
        faults: vec![],
    });
}

#[test]
fn cold_start_of_five() {
    each("cold_start_5", || Scenario {
        nodes: 5,
        secs: 3,
        starts: vec![],
        faults: vec![],
    });
}

#[test]
fn two_servers_started_one_after_another_higher_first() {
    each("staggered_higher_first", || Scenario {
        nodes: 2,
        secs: 4,
        starts: vec![(2, 0), (1, 1500)],
        faults: vec![],
    });
}

#[test]
fn two_servers_started_one_after_another_lower_first() {
    each("staggered_lower_first", || Scenario {
        nodes: 2,
        secs: 4,
        starts: vec![(1, 0), (2, 1500)],
        faults: vec![],
    });
}

#[test]
fn leader_crash() {
    each("leader_crash", || Scenario {
        nodes: 5,
        secs: 6,
        starts: vec![],
        faults: vec![at(3000, Fault::Crash(NodeId(5)))],
    });
}

#[test]
fn leader_crash_then_a_second_crash_during_the_election() {
    // n5 leads; n4, next in line, crashes 200 ms later, before anyone has declared
    // n5 dead, so the election that n5's death starts runs while n4 is silently gone
    // and finishes only once n4 is declared dead too.
    each("leader_crash_then_next_in_line", || Scenario {
        nodes: 5,
        secs: 6,
        starts: vec![],
        faults: vec![
            at(3000, Fault::Crash(NodeId(5))),
            at(3200, Fault::Crash(NodeId(4))),
        ],
    });
}

#[test]
fn a_higher_ranked_node_joins() {
    each("higher_ranked_joins", || Scenario {
        nodes: 4,
        secs: 5,
        starts: vec![(1, 0), (2, 0), (3, 0), (4, 2500)],
        faults: vec![],
    });
}

#[test]
fn partition_two_three_and_heal() {
    each("partition_2_3_and_heal", || Scenario {
        nodes: 5,
        secs: 9,
        starts: vec![],
        faults: vec![
            at(
                2000,
                Fault::Partition(vec![
                    vec![NodeId(1), NodeId(2)],
                    vec![NodeId(3), NodeId(4), NodeId(5)],
                ]),
            ),
            at(5000, Fault::Heal),
        ],
    });
}

#[test]
fn a_crashed_leader_restarts() {
    each("crashed_leader_restarts", || Scenario {
        nodes: 3,
        secs: 7,
        starts: vec![],
        faults: vec![
            at(2000, Fault::Crash(NodeId(3))),
            at(4000, Fault::Restart(NodeId(3))),
        ],
    });
}
