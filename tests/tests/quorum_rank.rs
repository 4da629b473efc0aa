//! `--rank` under quorum: the voters stand in rank order, so with healthy voters
//! the best-ranked becomes leader, at a start (voters started within a slot of
//! each other) and when the leader is lost, by a crash of its machine or of its
//! process; a healthy leader is never preempted by a better-ranked newcomer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use ringleader_core::{Algorithm, Config, Instant, NodeId, RankBy};
use ringleader_sim::{run, Fault, ScheduledFault, SimConfig};
use ringleader_tests::assert_clean;
use std::time::Duration;

fn config(seed: u64, rank: RankBy, until_ms: u64, schedule: Vec<ScheduledFault>) -> SimConfig {
    SimConfig {
        seed,
        nodes: 5,
        duration: Duration::from_millis(until_ms),
        node: Config {
            election: Algorithm::Quorum,
            rank,
            ..Config::default()
        },
        start_spread: Duration::from_millis(10),
        schedule,
        ..SimConfig::default()
    }
}

/// The one leader every node names at the end.
fn leader(config: &SimConfig) -> u32 {
    let report = run(config).unwrap();
    assert_clean(&report);
    let named: Vec<Option<u32>> = report.leaders.values().copied().collect();
    let l = named[0].expect("a leader");
    assert!(named.iter().all(|n| *n == Some(l)), "{named:?}");
    l
}

/// Under `id` the highest id is best; under `address` the lowest address (the
/// simulator gives node N the N-th address).
fn best(rank: RankBy, among: impl Iterator<Item = u32>) -> u32 {
    let mut ids: Vec<u32> = among.collect();
    ids.sort_unstable();
    match rank {
        RankBy::LowestAddr => ids[0],
        _ => *ids.last().unwrap(),
    }
}

#[test]
fn voters_started_together_elect_the_best_ranked() {
    for rank in [RankBy::Id, RankBy::LowestAddr] {
        for seed in 1..=20 {
            let l = leader(&config(seed, rank, 5000, Vec::new()));
            assert_eq!(l, best(rank, 1..=5), "{rank:?}, seed {seed}");
        }
    }
}

#[test]
fn when_the_leader_is_lost_the_best_ranked_survivor_leads() {
    for rank in [RankBy::Id, RankBy::LowestAddr] {
        for seed in 1..=10 {
            let first = leader(&config(seed, rank, 5000, Vec::new()));
            for fault in [Fault::Crash(NodeId(first)), Fault::Kill(NodeId(first))] {
                let schedule = vec![ScheduledFault {
                    at: Instant::from_millis(5000),
                    fault,
                }];
                let next = leader(&config(seed, rank, 9000, schedule));
                let want = best(rank, (1..=5).filter(|&n| n != first));
                assert_eq!(next, want, "{rank:?}, seed {seed}, n{first} lost");
            }
        }
    }
}

#[test]
fn a_better_ranked_voter_that_starts_later_does_not_preempt_a_healthy_leader() {
    let mut c = config(4, RankBy::Id, 8000, Vec::new());
    c.start_at = (1..=4)
        .map(|n| (NodeId(n), Instant::ZERO))
        .chain([(NodeId(5), Instant::from_millis(4000))])
        .collect();
    assert_eq!(leader(&c), 4, "n4 led before n5 started, and keeps leading");
}
