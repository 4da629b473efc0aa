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

/// The best-ranked survivor notices the loss late (its process stood still
/// when the leader's died, longer than the slots that order the survivors):
/// the worse-ranked one that asked first is kept waiting, not voted for, and
/// the best-ranked one leads. Three voters: the best survivor's own vote is
/// needed, however long it stood still. Five: the other voters defer to it
/// while their failure detectors hold it alive (it stood still for longer
/// than the two slots of 37 ms that put the next survivor first, but not long
/// enough to be suspected: the suspect timeout, 250 ms, runs from the last
/// heartbeat it sent before).
/// Without the voters' deference the worse-ranked one leads.
#[test]
fn a_survivor_that_notices_the_loss_late_still_leads_when_it_ranks_best() {
    let cases = [
        (3, Duration::from_secs(2), [800, 1500]),
        (5, Duration::from_millis(300), [80, 120]),
    ];
    for (nodes, timeout, pauses) in cases {
        for seed in 1..=6 {
            for pause in pauses {
                let mut c = config(seed, RankBy::LowestAddr, 16_000, Vec::new());
                c.nodes = nodes;
                c.node.election_timeout = timeout;
                let first = leader(&{
                    let mut early = c.clone();
                    early.duration = Duration::from_millis(8000);
                    early
                });
                let want = best(RankBy::LowestAddr, (1..=nodes).filter(|&n| n != first));
                c.schedule = vec![
                    ScheduledFault {
                        at: Instant::from_millis(8000),
                        fault: Fault::Pause {
                            node: NodeId(want),
                            lasts: Duration::from_millis(pause),
                        },
                    },
                    ScheduledFault {
                        at: Instant::from_millis(8000),
                        fault: Fault::Kill(NodeId(first)),
                    },
                ];
                let next = leader(&c);
                assert_eq!(
                    next, want,
                    "{nodes} nodes, seed {seed}, n{want} paused {pause} ms"
                );
            }
        }
    }
}

/// Deference is bounded: a better-ranked voter that the others hold alive
/// but that cannot stand (its disk stalls, so it takes no role but follower)
/// delays the election by one election timeout at most, and a worse-ranked
/// voter leads. Without the bound nobody would.
#[test]
fn a_better_ranked_voter_that_cannot_stand_delays_the_election_only_so_long() {
    for seed in 1..=6 {
        let mut c = config(seed, RankBy::LowestAddr, 5000, Vec::new());
        let first = leader(&c);
        let best_survivor = best(RankBy::LowestAddr, (1..=5).filter(|&n| n != first));
        c.duration = Duration::from_millis(12_000);
        c.schedule = vec![
            ScheduledFault {
                at: Instant::from_millis(5000),
                fault: Fault::DiskStall {
                    node: NodeId(best_survivor),
                    lasts: Duration::from_secs(30),
                },
            },
            ScheduledFault {
                at: Instant::from_millis(5000),
                fault: Fault::Kill(NodeId(first)),
            },
        ];
        let report = run(&c).unwrap();
        let named: Vec<Option<u32>> = report.leaders.values().copied().collect();
        let l = named[0].expect("a leader, though the best survivor cannot stand");
        assert_ne!(l, best_survivor, "seed {seed}");
        assert_ne!(l, first, "seed {seed}");
    }
}
