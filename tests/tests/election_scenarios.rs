//! Election behaviour the seeds describe, asserted on the state of the cluster
//! (each live node's leader) at chosen moments: a run that ends at that moment
//! reports every node's view.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use ringleader_core::{Algorithm, Config, Instant, NodeId, RankBy};
use ringleader_sim::{run, Fault, Report, ScheduledFault, SimConfig};
use ringleader_tests::assert_clean;
use std::collections::BTreeMap;
use std::time::Duration;

fn at(ms: u64, fault: Fault) -> ScheduledFault {
    ScheduledFault {
        at: Instant::from_millis(ms),
        fault,
    }
}

fn cluster(
    algorithm: Algorithm,
    nodes: u32,
    until_ms: u64,
    schedule: Vec<ScheduledFault>,
) -> SimConfig {
    SimConfig {
        seed: 3,
        nodes,
        duration: Duration::from_millis(until_ms),
        node: Config {
            election: algorithm,
            ..Config::default()
        },
        schedule,
        ..SimConfig::default()
    }
}

fn leaders(report: &Report) -> BTreeMap<u32, Option<u32>> {
    report.leaders.clone()
}

fn views(pairs: &[(u32, Option<u32>)]) -> BTreeMap<u32, Option<u32>> {
    pairs.iter().copied().collect()
}

fn partition_2_3() -> Vec<ScheduledFault> {
    vec![at(
        2000,
        Fault::Partition(vec![
            vec![NodeId(1), NodeId(2)],
            vec![NodeId(3), NodeId(4), NodeId(5)],
        ]),
    )]
}

#[test]
fn under_a_partition_bully_and_ring_elect_one_leader_per_side() {
    // The known limit of rank-based election: each side picks its own best node.
    for algorithm in [Algorithm::Bully, Algorithm::Ring] {
        let report = run(&cluster(algorithm, 5, 5000, partition_2_3())).unwrap();
        assert_clean(&report);
        assert_eq!(
            leaders(&report),
            views(&[
                (1, Some(2)),
                (2, Some(2)),
                (3, Some(5)),
                (4, Some(5)),
                (5, Some(5))
            ]),
            "{algorithm}"
        );
        assert!(
            report.election_stats.split_brain_ms > 2000,
            "{algorithm}: {:?}",
            report.election_stats
        );
    }
}

#[test]
fn under_a_partition_quorum_leads_only_on_the_majority_side() {
    let report = run(&cluster(Algorithm::Quorum, 5, 5000, partition_2_3())).unwrap();
    assert_clean(&report);
    let l = leaders(&report);
    assert_eq!(l[&1], None);
    assert_eq!(l[&2], None);
    let majority_leader = l[&3].expect("the majority side has a leader");
    assert!([3, 4, 5].contains(&majority_leader));
    assert_eq!(l[&4], Some(majority_leader));
    assert_eq!(l[&5], Some(majority_leader));
}

#[test]
fn after_the_partition_heals_everyone_follows_one_leader() {
    for algorithm in [Algorithm::Bully, Algorithm::Ring, Algorithm::Quorum] {
        let mut schedule = partition_2_3();
        schedule.push(at(5000, Fault::Heal));
        let report = run(&cluster(algorithm, 5, 9000, schedule)).unwrap();
        assert_clean(&report);
        let l = leaders(&report);
        let leader = l[&1];
        assert!(leader.is_some());
        assert!(l.values().all(|v| *v == leader), "{algorithm}: {l:?}");
        if algorithm != Algorithm::Quorum {
            assert_eq!(leader, Some(5), "{algorithm}: the highest-ranked node wins");
        }
    }
}

#[test]
fn a_lone_survivor_leads_itself_under_bully_and_ring_but_not_under_quorum() {
    let crashes = vec![
        at(2000, Fault::Crash(NodeId(3))),
        at(3000, Fault::Crash(NodeId(2))),
    ];
    for algorithm in [Algorithm::Bully, Algorithm::Ring] {
        let report = run(&cluster(algorithm, 3, 5000, crashes.clone())).unwrap();
        assert_clean(&report);
        assert_eq!(leaders(&report), views(&[(1, Some(1))]), "{algorithm}");
    }
    let report = run(&cluster(Algorithm::Quorum, 3, 5000, crashes)).unwrap();
    assert_clean(&report);
    assert_eq!(
        leaders(&report),
        views(&[(1, None)]),
        "one of three voters is no majority"
    );
}

#[test]
fn a_leader_that_leaves_is_replaced_at_once() {
    for algorithm in [Algorithm::Bully, Algorithm::Ring, Algorithm::Quorum] {
        let config = cluster(algorithm, 3, 3000, vec![]);
        let leader = leaders(&run(&config).unwrap())[&1].unwrap();
        // Far sooner than the failure timeout: the leave is seen at once.
        let report = run(&cluster(
            algorithm,
            3,
            3000 + 400,
            vec![at(3000, Fault::Leave(NodeId(leader)))],
        ))
        .unwrap();
        assert_clean(&report);
        let l = leaders(&report);
        assert_eq!(l.len(), 2);
        let next = l.values().next().copied().flatten();
        assert!(next.is_some_and(|n| n != leader), "{algorithm}: {l:?}");
        assert!(l.values().all(|v| *v == next), "{algorithm}: {l:?}");
    }
}

#[test]
fn a_healthy_quorum_leader_keeps_its_place_when_a_node_joins() {
    let mut config = cluster(Algorithm::Quorum, 4, 6000, vec![]);
    config.start_at = vec![(NodeId(4), Instant::from_millis(3000))];
    let before = {
        let mut c = config.clone();
        c.duration = Duration::from_millis(2900);
        leaders(&run(&c).unwrap())[&1]
    };
    let report = run(&config).unwrap();
    assert_clean(&report);
    assert!(
        report.leaders.values().all(|v| *v == before),
        "{:?} vs {before:?}",
        report.leaders
    );
}

#[test]
fn rank_by_oldest_start_makes_the_longest_running_node_lead() {
    let mut config = cluster(Algorithm::Bully, 3, 3000, vec![]);
    config.node.rank = RankBy::OldestStart;
    config.max_clock_offset = Duration::ZERO; // one clock, so start times compare
    config.start_at = vec![
        (NodeId(2), Instant::from_millis(0)),
        (NodeId(3), Instant::from_millis(50)),
        (NodeId(1), Instant::from_millis(100)),
    ];
    let report = run(&config).unwrap();
    assert_clean(&report);
    assert_eq!(
        leaders(&report),
        views(&[(1, Some(2)), (2, Some(2)), (3, Some(2))])
    );
}

#[test]
fn rank_by_lowest_address_makes_the_lowest_address_lead() {
    // Simulated node n has address 10.0.0.n: n1 has the lowest.
    for algorithm in [Algorithm::Bully, Algorithm::Ring] {
        let mut config = cluster(algorithm, 4, 3000, vec![]);
        config.node.rank = RankBy::LowestAddr;
        let report = run(&config).unwrap();
        assert_clean(&report);
        assert!(
            report.leaders.values().all(|v| *v == Some(1)),
            "{algorithm}: {:?}",
            report.leaders
        );
    }
}

#[test]
fn a_quorum_leader_cut_off_from_the_majority_steps_down_within_a_failure_timeout() {
    let settled = cluster(Algorithm::Quorum, 5, 3000, vec![]);
    let leader = leaders(&run(&settled).unwrap())[&1].unwrap();
    let buddy = if leader == 1 { 2 } else { 1 };
    let rest: Vec<NodeId> = (1..=5)
        .filter(|n| *n != leader && *n != buddy)
        .map(NodeId)
        .collect();
    let cut = vec![at(
        3000,
        Fault::Partition(vec![vec![NodeId(leader), NodeId(buddy)], rest]),
    )];
    // Failure timeout 500 ms after the last heartbeat heard (at most 100 ms before
    // the cut), plus network delay: by 3.61 s the old leader must have stepped down.
    let report = run(&cluster(Algorithm::Quorum, 5, 3610, cut)).unwrap();
    assert_clean(&report);
    let l = leaders(&report);
    assert_eq!(l[&leader], None, "{l:?}");
    assert_eq!(l[&buddy], None, "{l:?}");
}

#[test]
fn servers_started_one_after_another_agree_in_either_order() {
    for algorithm in [Algorithm::Bully, Algorithm::Ring, Algorithm::Quorum] {
        for (first, second) in [(1, 2), (2, 1)] {
            let mut config = cluster(algorithm, 2, 4000, vec![]);
            config.start_at = vec![
                (NodeId(first), Instant::ZERO),
                (NodeId(second), Instant::from_millis(1500)),
            ];
            let report = run(&config).unwrap();
            assert_clean(&report);
            let l = leaders(&report);
            assert_eq!(l[&1], l[&2], "{algorithm}, n{first} first: {l:?}");
            assert!(l[&1].is_some(), "{algorithm}, n{first} first: {l:?}");
            if algorithm != Algorithm::Quorum {
                assert_eq!(
                    l[&1],
                    Some(2),
                    "{algorithm}, n{first} first: the higher id leads"
                );
            }
        }
    }
}
