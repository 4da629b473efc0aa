//! The sweep and the shrinker proven on bugs planted on purpose (reachable only
//! through a hidden option): a sweep over a few dozen seeds must find each one,
//! and shrinking must reduce a failing run to a handful of faults that still
//! break the same invariant. Without the planted bug the same seeds pass, so the
//! finding is the bug's and not the configuration's.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use ringleader_core::{Algorithm, Config};
use ringleader_sim::scenario::Scenario;
use ringleader_sim::shrink::{shrink, Size};
use ringleader_sim::sweep::{sweep, SweepOptions};
use ringleader_sim::{FaultProfile, InjectedBug, SimConfig};
use std::time::Duration;

fn base(bug: InjectedBug, nodes: u32, faults: FaultProfile, clients: u32) -> SimConfig {
    SimConfig {
        nodes,
        duration: Duration::from_secs(40),
        node: Config {
            election: Algorithm::Quorum,
            ..Config::default()
        },
        inject_bug: bug,
        faults,
        clients,
        ..SimConfig::default()
    }
}

const OPTS: SweepOptions = SweepOptions {
    jobs: 2,
    fail_fast: false,
    shard: ringleader_sim::sweep::Shard::ALL,
};

fn find_and_shrink(buggy: SimConfig, expected: &[&str]) {
    let seeds = 1..=40;
    let mut healthy = buggy.clone();
    healthy.inject_bug = InjectedBug::None;
    let clean = sweep(&healthy, seeds.clone(), OPTS, |_| {});
    assert!(
        clean.iter().all(|r| !r.failed()),
        "without the bug every seed must pass: {:?}",
        clean.iter().find(|r| r.failed())
    );

    let runs = sweep(&buggy, seeds, OPTS, |_| {});
    let failing: Vec<_> = runs.iter().filter(|r| r.failed()).collect();
    assert!(
        !failing.is_empty(),
        "the sweep did not find {:?}",
        buggy.inject_bug
    );
    let first = failing[0];
    let Ok(report) = &first.report else {
        panic!("seed {} could not run: {:?}", first.seed, first.report)
    };
    let invariant = report.violations[0].invariant;
    assert!(
        expected.contains(&invariant),
        "{:?} broke {invariant}, expected one of {expected:?}",
        buggy.inject_bug
    );

    let mut scenario = Scenario {
        name: "planted bug".into(),
        ..Scenario::default()
    };
    scenario.config = buggy.clone();
    scenario.config.seed = first.seed;
    let shrunk = shrink(&scenario, None, 400, |_, _| {}).unwrap();
    let before = shrunk.from;
    let after = Size::of(&shrunk.scenario.config);
    assert!(
        shrunk
            .report
            .violations
            .iter()
            .any(|v| v.invariant == invariant),
        "the shrunk run must still break {invariant}"
    );
    assert!(after.faults <= 5, "shrunk to {after}, from {before}");
    assert!(
        after.faults < before.faults || before.faults <= 5,
        "{before} -> {after}"
    );
    assert!(after.nodes <= before.nodes && after.duration <= before.duration);

    // The minimal scenario, written out and read back, fails the same way.
    let text = shrunk.scenario.to_toml();
    let back = ringleader_sim::scenario::parse(&text, "min.toml").unwrap();
    let again = ringleader_sim::run(&back.config).unwrap();
    assert_eq!(again.digest, shrunk.report.digest, "{text}");
}

#[test]
fn a_quorum_that_counts_a_minority_as_a_majority_is_found_and_shrunk() {
    find_and_shrink(
        base(InjectedBug::MinorityQuorum, 4, FaultProfile::Heavy, 0),
        // The nodes disagree on who votes, and a node ignores the terms and
        // claims of one it does not count as a voter: the cluster may fail to
        // agree on a leader before two leaders meet.
        &[
            "one_leader_per_epoch",
            "one_leader_at_a_time",
            "committed_agreement",
            "committed_on_majority",
            "leader_agreement",
        ],
    );
}

#[test]
fn a_follower_that_acknowledges_before_appending_is_found_and_shrunk() {
    find_and_shrink(
        base(InjectedBug::AckBeforeAppend, 3, FaultProfile::Light, 2),
        // An acknowledgement of refused entries acknowledges entries its disk
        // lacks: the write-ahead check sees it first, on the send.
        &[
            "durable_before_ack",
            "committed_on_majority",
            "committed_agreement",
            "logs_converge",
            "acked_durable",
        ],
    );
}

#[test]
fn a_cluster_that_is_never_quiet_is_found_and_shrunk() {
    // The busy loop of issue 14 (followers and leader exchanging frames as fast
    // as they travel, for ever) is caught by `idle_quiet` at the end of a run.
    find_and_shrink(
        base(InjectedBug::EagerHeartbeat, 3, FaultProfile::Light, 0),
        &["idle_quiet"],
    );
}

#[test]
fn a_leader_that_acknowledges_before_committing_is_found_and_shrunk() {
    // The client hears "committed" one network delay after the leader took
    // the message, while the commit waits for a round trip to the followers.
    find_and_shrink(
        base(InjectedBug::AckBeforeCommit, 3, FaultProfile::Light, 1),
        &["ack_means_committed"],
    );
}
