use super::*;
use crate::bugs::InjectedBug;
use ringleader_core::Algorithm;
use ringleader_core::Config;

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
        mode: Mode {
            shared_clock: true,
            syncs_at_once: false,
            client_messages: 0,
        },
    }
}

/// Each planted bug, found at 3 nodes on the shortest path there is.
#[test]
fn every_planted_safety_bug_is_found_on_a_shortest_path_that_replays() {
    for (bug, invariant, moves, client_messages) in [
        (InjectedBug::MinorityQuorum, "one_leader_per_epoch", 2, 0),
        (InjectedBug::AckBeforeAppend, "committed_on_majority", 13, 0),
        (InjectedBug::AckBeforeDurable, "durable_before_ack", 15, 0),
        // Hand the client a message, it reaches the leader, the leader's
        // early acknowledgement reaches the client.
        (InjectedBug::AckBeforeCommit, "ack_means_committed", 3, 1),
    ] {
        // None of them needs a fault: the budget is left empty so that the
        // search goes deep quickly.
        let mut cfg = config(Algorithm::Quorum, bug, 16);
        cfg.budget = Budget::default();
        cfg.mode.client_messages = client_messages;
        let out = explore(&cfg, |_| {});
        let found = out.found.unwrap_or_else(|| panic!("{bug:?} not found"));
        assert_eq!(found.broken.invariant, invariant, "{bug:?}");
        // Breadth first: no shorter path breaks an invariant.
        assert_eq!(found.moves.len(), moves, "{bug:?}: {:?}", found.steps);
        // The path, replayed on a fresh start, breaks the same invariant.
        let mut start = Model::new(cfg.nodes, &cfg.node, cfg.bug, cfg.seed, cfg.mode);
        assert_eq!(start.settle(SETTLE_MOVES_MAX).len(), out.prefix);
        let end = replay(&start, &found.moves);
        assert_eq!(end.broken(), Some(found.broken));
    }
}

#[test]
fn with_a_clock_of_its_own_each_node_fires_its_timers_in_any_order() {
    let mut cfg = config(Algorithm::Quorum, InjectedBug::MinorityQuorum, 8);
    cfg.mode.shared_clock = false;
    let found = explore(&cfg, |_| {}).found.expect("found");
    // A node elects itself on its own timers (deadlines that do more than
    // send heartbeats: suspicions, then the election) and commits its first
    // entry alone once its disk has it: no other node moved.
    assert_eq!(found.broken.invariant, "committed_on_majority");
    assert_eq!(
        found.steps,
        ["timer n1", "timer n1", "timer n1", "sync n1", "sync n1"]
    );
    let mut shared = cfg.clone();
    shared.mode.shared_clock = true;
    shared.bug = InjectedBug::None;
    cfg.bug = InjectedBug::None;
    cfg.depth = 5;
    shared.depth = 5;
    assert!(explore(&shared, |_| {}).states < explore(&cfg, |_| {}).states);
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
    let mut root = Model::new(cfg.nodes, &cfg.node, cfg.bug, cfg.seed, cfg.mode);
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
    let mut cfg = config(Algorithm::Bully, InjectedBug::None, 1);
    cfg.mode.shared_clock = false; // shared, heartbeats arrive at once
    let mut m = Model::new(cfg.nodes, &cfg.node, cfg.bug, cfg.seed, cfg.mode);
    m.settle(SETTLE_MOVES_MAX);
    for _ in 0..20 {
        assert!(m.apply(Move::Timer(0)));
    }
    let mut channels: Vec<(usize, usize)> = m
        .flight
        .iter()
        .filter(|f| {
            matches!(
                f.what,
                super::flight::Carried::Peer(ringleader_core::wire::Message::Heartbeat { .. })
            )
        })
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
    let mut m = Model::new(cfg.nodes, &cfg.node, cfg.bug, cfg.seed, cfg.mode);
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
        let syncing = (0..3u8).find(|&i| m.servers[usize::from(i)].disk.syncing().is_some());
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

#[test]
fn moves_read_back_as_written_and_bad_ones_are_named() {
    for m in [
        Move::Deliver(0),
        Move::Drop(12),
        Move::Duplicate(3),
        Move::Timer(0),
        Move::Sync(1),
        Move::Crash(2),
        Move::Kill(1),
        Move::Restart(3),
        Move::ClientTimer,
        Move::Submit,
    ] {
        assert_eq!(script::parse_move(&m.to_string()), Ok(m));
    }
    for bad in [
        "",
        "deliver",
        "deliver x",
        "timer n0",
        "timer n5",
        "fly n1",
        "sync n1 now",
        "timer c2",
        "submit m1",
    ] {
        assert!(script::parse_move(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_counterexample_written_as_a_scenario_replays_to_the_same_violation() {
    let mut cfg = config(Algorithm::Quorum, InjectedBug::AckBeforeAppend, 16);
    cfg.budget = Budget::default();
    let found = explore(&cfg, |_| {}).found.expect("found");
    let text = script::scenario_text(&cfg, &found);
    let scenario = crate::scenario::parse(&text, "found.toml").expect("parses");
    let script = scenario.explore.clone().expect("an [explore] scenario");
    assert_eq!(script.moves, found.moves);
    let replayed = script::replay(&scenario.config, &script).expect("replays");
    assert_eq!(replayed.broken, Some(found.broken.clone()));
    assert_eq!(
        scenario.expect.violation.as_deref(),
        Some(found.broken.invariant)
    );
    assert!(replayed.records.len() > found.moves.len() / 2);
    // A script that no longer fits is refused, naming the move.
    let mut wrong = script.clone();
    wrong.moves.insert(0, Move::Deliver(40));
    let err = script::replay(&scenario.config, &wrong).unwrap_err();
    assert!(err.contains("move 1 (deliver 40)"), "{err}");
    // Mistakes in the file name their line.
    let bad = text.replace("clock = \"shared\"", "clock = \"fast\"");
    let e = crate::scenario::parse(&bad, "bad.toml").unwrap_err();
    assert!(e.to_string().contains("clock is shared or own"), "{e}");
    assert!(e.line.is_some());
    let bad = text.replace("\"sync n3\"", "\"sync n7\"");
    assert!(crate::scenario::parse(&bad, "bad.toml").is_err());
}

/// Moves every message, sync and timer in the order the search lists them
/// first, up to `max` moves or until `done` holds.
fn run_until(m: &mut Model, max: usize, done: impl Fn(&Model) -> bool) -> bool {
    for _ in 0..max {
        if done(m) {
            return true;
        }
        let next = m.moves(Budget::default(), false);
        let Some(&first) = next.iter().find(|mv| **mv != Move::Submit) else {
            return false;
        };
        assert!(m.apply(first));
        assert_eq!(m.broken(), None);
    }
    done(m)
}

/// Three quorum nodes and a client to be handed `messages` messages, once
/// discovery and the client's session have settled.
fn with_client(messages: u32) -> Model {
    let mut cfg = config(Algorithm::Quorum, InjectedBug::None, 0);
    cfg.mode.client_messages = messages;
    let mut m = Model::new(cfg.nodes, &cfg.node, cfg.bug, cfg.seed, cfg.mode);
    m.settle(SETTLE_MOVES_MAX);
    m
}

/// The server the client has its connection to.
fn session(m: &Model) -> usize {
    m.client
        .as_ref()
        .and_then(|c| c.conn)
        .expect("a session")
        .server
}

/// The client is the real sans-IO one, at the end of a connection: its
/// session opens during discovery, a message handed to it is committed and
/// acknowledged, and the checkers hear of the acknowledgement.
#[test]
fn the_client_opens_a_session_and_its_message_is_committed_then_acknowledged() {
    let mut m = with_client(2);
    let phase = m.client.as_ref().map(|c| c.client.phase());
    assert_eq!(phase, Some(ringleader_core::client::Phase::Ready));
    assert!(m.moves(Budget::default(), false).contains(&Move::Submit));
    assert!(m.apply(Move::Submit));
    assert!(m.apply(Move::Submit));
    assert!(!m.moves(Budget::default(), false).contains(&Move::Submit));
    assert!(
        !m.apply(Move::Submit),
        "only as many messages as the mode says"
    );
    let acked = run_until(&mut m, 500, |m| m.replication.clients_acked() == [2]);
    assert!(acked, "{:?}", m.replication.clients_acked());
    // Both are in every node's log, once.
    for s in &m.servers {
        let log = s.node.as_ref().expect("up").log();
        let chats = (1..=log.last_index())
            .filter_map(|i| log.get(i))
            .filter(|e| e.id.client == 1)
            .count();
        assert_eq!(chats, 2, "{}", s.id);
    }
}

/// The client's connection dies with its server's machine: it notices by
/// its own timeout, finds the new leader and gets its message committed
/// there, once.
#[test]
fn a_client_whose_leader_crashes_follows_the_new_leader() {
    let mut m = with_client(1);
    let leader = session(&m);
    assert!(m.apply(Move::Crash(leader as u8)));
    assert!(m.apply(Move::Submit));
    let acked = run_until(&mut m, 2_000, |m| m.replication.clients_acked() == [1]);
    assert!(acked, "{:?}", m.replication.clients_acked());
    assert_ne!(session(&m), leader);
}

/// What a killed process wrote reaches the disk (the system has it); what a
/// crashed machine had not synced is gone. Either way the client hears of
/// it: a reset from the killed process's kernel, silence from the crashed
/// machine.
#[test]
fn a_killed_process_keeps_its_writes_and_a_crashed_machine_loses_the_unsynced() {
    for (down, kept) in [(Move::Kill as fn(u8) -> Move, true), (Move::Crash, false)] {
        let mut m = with_client(1);
        let leader = session(&m);
        assert!(m.apply(Move::Submit));
        assert!(m.apply(Move::Deliver(0)), "the chat reaches the leader");
        let disk = &m.servers[leader].disk;
        let last = disk.written_log().last_index();
        assert!(disk.unsynced_writes() > 0, "written, not synced");
        assert!(m.apply(down(leader as u8)));
        assert!(!m.apply(down(leader as u8)), "down already");
        assert!(m.apply(Move::Restart(leader as u8)));
        let log = m.servers[leader].node.as_ref().expect("up").log();
        assert_eq!(log.last_index() == last, kept, "{:?}", down(0));
        let reset = m.flight.iter().any(|f| {
            f.to == m.servers.len() && matches!(f.what, super::flight::Carried::Reset { .. })
        });
        assert_eq!(reset, kept, "the client hears of a kill, not of a crash");
        assert_eq!(m.broken(), None);
    }
}
