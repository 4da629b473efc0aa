//! Discovery and failure detection in scripted scenarios, read off the trace.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use ringleader_core::{Instant, NodeId};
use ringleader_sim::{Fault, ScheduledFault, SimConfig};
use ringleader_tests::{assert_clean, lines, traced};
use std::time::Duration;

fn at(ms: u64, fault: Fault) -> ScheduledFault {
    ScheduledFault {
        at: Instant::from_millis(ms),
        fault,
    }
}

fn scenario(nodes: u32, secs: u64, schedule: Vec<ScheduledFault>) -> String {
    let (report, trace) = traced(&SimConfig {
        seed: 11,
        nodes,
        duration: Duration::from_secs(secs),
        schedule,
        ..SimConfig::default()
    });
    assert_clean(&report);
    trace
}

/// Times (µs) at which `observer` reported `what` (e.g. "n3#1 died").
fn when(trace: &str, observer: &str, what: &str) -> Vec<u64> {
    let needle = format!("{observer} + {what}");
    lines(trace)
        .filter(|(_, rest)| *rest == needle)
        .map(|(t, _)| t)
        .collect()
}

const MS: u64 = 1000;

#[test]
fn every_node_finds_every_other_within_milliseconds_of_starting() {
    let trace = scenario(5, 2, vec![]);
    for o in 1..=5 {
        for s in (1..=5).filter(|s| *s != o) {
            let joined = when(&trace, &format!("n{o}"), &format!("n{s}#1 joined"));
            assert_eq!(joined.len(), 1, "n{o} should learn n{s} exactly once");
            // Starts are spread over 100 ms; a probe and its answer take two latencies.
            assert!(
                joined[0] <= 105 * MS,
                "n{o} learned n{s} only at {}µs",
                joined[0]
            );
        }
    }
}

#[test]
fn a_crash_is_detected_by_every_live_node_within_the_failure_timeout() {
    let trace = scenario(5, 15, vec![at(10_000, Fault::Crash(NodeId(3)))]);
    for o in [1, 2, 4, 5] {
        let died = when(&trace, &format!("n{o}"), "n3#1 died");
        assert_eq!(died.len(), 1, "n{o}");
        // Last heartbeat at most 100 ms before the crash, plus 500 ms of silence.
        assert!(
            (10_400 * MS..=10_502 * MS).contains(&died[0]),
            "n{o} at {}µs",
            died[0]
        );
        let suspected = when(&trace, &format!("n{o}"), "n3#1 suspected");
        assert!(suspected[0] < died[0]);
    }
}

#[test]
fn a_graceful_leave_is_seen_at_once() {
    let trace = scenario(4, 15, vec![at(10_000, Fault::Leave(NodeId(2)))]);
    for o in [1, 3, 4] {
        let left = when(&trace, &format!("n{o}"), "n2#1 left");
        assert_eq!(left.len(), 1, "n{o}");
        assert!(
            left[0] <= 10_002 * MS,
            "n{o} saw the leave only at {}µs",
            left[0]
        );
        assert!(when(&trace, &format!("n{o}"), "n2#1 died").is_empty());
    }
}

#[test]
fn a_restarted_node_is_readmitted_with_a_new_incarnation_at_once() {
    let trace = scenario(
        4,
        20,
        vec![
            at(10_000, Fault::Crash(NodeId(3))),
            at(12_000, Fault::Restart(NodeId(3))),
        ],
    );
    for o in [1, 2, 4] {
        let back = when(&trace, &format!("n{o}"), "n3#2 rejoined");
        assert_eq!(back.len(), 1, "n{o}");
        assert!((12_000 * MS..=12_002 * MS).contains(&back[0]));
    }
    // The restarted node learns everyone from the answers to its probe, each
    // sent over a connection the peer dials for it: three delays at most.
    for s in [1, 2, 4] {
        let joined = when(&trace, "n3", &format!("n{s}#1 joined"));
        assert!(
            joined
                .iter()
                .any(|t| (12_000 * MS..=12_006 * MS).contains(t)),
            "n3 learned n{s} at {joined:?}"
        );
    }
}

#[test]
fn a_partition_kills_the_other_side_and_healing_brings_it_back() {
    let trace = scenario(
        5,
        25,
        vec![
            at(
                10_000,
                Fault::Partition(vec![
                    vec![NodeId(1), NodeId(2)],
                    vec![NodeId(3), NodeId(4), NodeId(5)],
                ]),
            ),
            at(15_000, Fault::Heal),
        ],
    );
    for (o, s) in [(1, 3), (2, 5), (4, 1), (3, 2)] {
        let died = when(&trace, &format!("n{o}"), &format!("n{s}#1 died"));
        assert_eq!(died.len(), 1, "n{o} about n{s}");
        let back = when(&trace, &format!("n{o}"), &format!("n{s}#1 rejoined"));
        assert_eq!(back.len(), 1, "n{o} about n{s}");
        // Dead members still get heartbeats, so the first one after the heal readmits.
        assert!(
            (15_000 * MS..=15_102 * MS).contains(&back[0]),
            "n{o} readmitted n{s} at {}µs",
            back[0]
        );
    }
    assert!(
        when(&trace, "n1", "n2#1 died").is_empty(),
        "same side stays alive"
    );
}

#[test]
fn a_one_way_cut_is_seen_only_by_the_side_that_stops_hearing() {
    let trace = scenario(
        3,
        20,
        vec![
            at(
                10_000,
                Fault::Cut {
                    from: NodeId(2),
                    to: NodeId(1),
                },
            ),
            at(14_000, Fault::Heal),
        ],
    );
    assert_eq!(when(&trace, "n1", "n2#1 died").len(), 1);
    assert!(
        when(&trace, "n2", "n1#1 died").is_empty(),
        "n1's heartbeats still reach n2"
    );
    assert_eq!(when(&trace, "n1", "n2#1 rejoined").len(), 1);
}
