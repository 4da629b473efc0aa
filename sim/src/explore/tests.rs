use super::*;
use ringleader_core::Algorithm;

fn config(election: Algorithm, bug: InjectedBug, depth: u32) -> ExploreConfig {
    ExploreConfig {
        nodes: 3,
        node: Config {
            election,
            ..Config::default()
        },
        bug,
        seed: 1,
        depth,
        max_states: 500_000,
        budget: Budget {
            drops: 1,
            duplicates: 1,
            crashes: 1,
        },
        any_order: false,
    }
}

#[test]
fn a_minority_quorum_is_found_in_the_fewest_moves_and_its_path_replays() {
    let cfg = config(Algorithm::Quorum, InjectedBug::MinorityQuorum, 8);
    let out = explore(&cfg, |_| {});
    let found = out.found.expect("the planted bug is found");
    assert_eq!(found.broken.invariant, "one_leader_per_epoch");
    // Breadth first: nothing shorter exists. Each of two nodes elects
    // itself on its own timers (three deadlines that do more than send
    // heartbeats: suspicions, then the election), no message needed.
    assert_eq!(found.moves.len(), 6, "{:?}", found.steps);
    assert!(found.steps.iter().all(|s| s.starts_with("timer")));
    // The path, replayed on a fresh start, breaks the same invariant.
    let mut start = Model::new(cfg.nodes, &cfg.node, cfg.bug, cfg.seed);
    assert_eq!(start.settle(SETTLE_MOVES_MAX).len(), out.prefix);
    let end = replay(&start, &found.moves);
    assert_eq!(end.broken(), Some(found.broken));
}

#[test]
fn quorum_explores_clean_to_its_bound_and_the_same_way_twice() {
    let cfg = config(Algorithm::Quorum, InjectedBug::None, 7);
    let out = explore(&cfg, |_| {});
    assert!(out.found.is_none(), "{:?}", out.found);
    assert_eq!(out.depth_done, 7);
    assert!(out.states > 1_000, "{}", out.states);
    let again = explore(&cfg, |_| {});
    assert_eq!((again.states, again.moves), (out.states, out.moves));
}

#[test]
fn faults_and_any_order_are_moves_only_within_their_budget() {
    let mut cfg = config(Algorithm::Quorum, InjectedBug::None, 4);
    cfg.budget = Budget::default();
    let none = explore(&cfg, |_| {});
    cfg.budget.crashes = 1;
    let crashes = explore(&cfg, |_| {});
    cfg.any_order = true;
    let reordered = explore(&cfg, |_| {});
    assert!(
        none.states < crashes.states,
        "{} {}",
        none.states,
        crashes.states
    );
    assert!(crashes.states <= reordered.states);
    let mut root = Model::new(cfg.nodes, &cfg.node, cfg.bug, cfg.seed);
    root.settle(SETTLE_MOVES_MAX);
    assert!(root
        .moves(Budget::default(), false)
        .iter()
        .all(|m| matches!(m, Move::Deliver(_) | Move::Timer(_) | Move::Sync(_))));
}

#[test]
fn the_state_bound_stops_the_search_and_says_so() {
    let mut cfg = config(Algorithm::Bully, InjectedBug::None, 30);
    cfg.max_states = 500;
    let out = explore(&cfg, |_| {});
    assert!(out.hit_state_bound);
    assert_eq!(out.states, 500);
    assert!(!out.exhausted);
}

#[test]
fn heartbeats_in_flight_between_two_nodes_are_one_however_long_timers_run() {
    let cfg = config(Algorithm::Bully, InjectedBug::None, 1);
    let mut m = Model::new(cfg.nodes, &cfg.node, cfg.bug, cfg.seed);
    m.settle(SETTLE_MOVES_MAX);
    for _ in 0..20 {
        assert!(m.apply(Move::Timer(0)));
    }
    let mut channels: Vec<(usize, usize)> = m
        .flight
        .iter()
        .filter(|f| matches!(f.msg, ringleader_core::wire::Message::Heartbeat { .. }))
        .map(|f| (f.from, f.to))
        .collect();
    let all = channels.len();
    channels.dedup();
    assert!(all > 0);
    assert_eq!(channels.len(), all, "one heartbeat per pair of nodes");
}

#[test]
fn nodes_hear_their_start_writes_are_durable_and_a_leader_is_elected_in_time_order() {
    // Every sync finished, every message delivered in the order sent, timers
    // in deadline order: the random simulator's schedule with no delay.
    // Without the start's writes acknowledged a node's disk counts as
    // stalled and it plays dead: no leader ever.
    let cfg = config(Algorithm::Quorum, InjectedBug::None, 1);
    let mut m = Model::new(cfg.nodes, &cfg.node, cfg.bug, cfg.seed);
    m.settle(SETTLE_MOVES_MAX);
    let leads = |m: &Model| {
        m.servers.iter().any(|s| {
            s.node
                .as_ref()
                .is_some_and(|n| n.leadership().role == ringleader_core::Role::Leader)
        })
    };
    for _ in 0..500 {
        if leads(&m) {
            break;
        }
        let syncing = (0..3u8).find(|&i| m.servers[usize::from(i)].syncing.is_some());
        let next = syncing.map(Move::Sync).unwrap_or_else(|| {
            if m.flight.is_empty() {
                let earliest = (0..3u8)
                    .filter_map(|i| {
                        Some((m.servers[usize::from(i)].node.as_ref()?.next_deadline()?, i))
                    })
                    .min()
                    .unwrap();
                Move::Timer(earliest.1)
            } else {
                Move::Deliver(0)
            }
        });
        assert!(m.apply(next));
        assert_eq!(m.broken(), None);
    }
    assert!(leads(&m), "no leader in 500 moves");
}
