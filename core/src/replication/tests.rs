//! Replication unit tests on the lockstep network of [`crate::test_net`].

use crate::log::{AppSnapshot, ClientMsgId, Entry, Log, Stamp};
use crate::test_net::Net;
use crate::wire::{ClientId, Message, ReplicationMsg, ServerMsg};
use crate::{Algorithm, Event, Instant, NodeId, Role};

/// A log of `n` committed client entries from leader n9 in epoch 1.
fn history(n: u64) -> Log {
    let mut log = Log::default();
    let stamp = Stamp {
        epoch: 1,
        leader: NodeId(9),
    };
    for seq in 1..=n {
        let id = ClientMsgId { client: 77, seq };
        log.offer(stamp, Entry::new(id, b"x".to_vec(), Instant::ZERO));
    }
    log.commit_to(n);
    log
}

#[test]
fn a_committed_message_is_on_every_node_and_acknowledged_only_then() {
    for algorithm in [Algorithm::Quorum, Algorithm::Bully, Algorithm::Ring] {
        let mut net = Net::new(algorithm, 3);
        net.run_for(2000);
        let leader = net.leader();
        net.hello(leader, 5, "ann");
        for seq in 1..=20 {
            net.chat(leader, 5, seq);
        }
        // Nothing is acknowledged before the followers answered.
        assert!(!net
            .to_clients()
            .into_iter()
            .any(|(_, _, m)| matches!(m, ServerMsg::Ack { .. })));
        net.run_for(200);
        let acked = net
            .to_clients()
            .into_iter()
            .filter_map(|(_, c, m)| match m {
                ServerMsg::Ack { seq } if *c == ClientId(5) => Some(*seq),
                _ => None,
            });
        assert_eq!(acked.max(), Some(20), "{algorithm}");
        for id in 1..=3 {
            let log = net.node(id).log();
            let seqs: Vec<u64> = log
                .committed()
                .iter()
                .filter(|e| !e.is_marker())
                .map(|e| e.id.seq)
                .collect();
            assert_eq!(seqs, (1..=20).collect::<Vec<_>>(), "{algorithm} n{id}");
        }
        // Resending (after a reconnect) appends nothing: deduplicated.
        net.chat(leader, 5, 20);
        net.run_for(100);
        assert_eq!(
            net.node(leader)
                .log()
                .committed()
                .iter()
                .filter(|e| !e.is_marker())
                .count(),
            20
        );
    }
}

#[test]
fn markers_commit_only_with_a_client_message_under_bully_and_ring() {
    for algorithm in [Algorithm::Bully, Algorithm::Ring, Algorithm::Quorum] {
        // One node alone: it leads with nobody to copy to.
        let mut net = Net::new(algorithm, 1);
        net.run_for(2000);
        assert_eq!(net.leader(), 1, "{algorithm}");
        let log = net.node(1).log();
        assert_eq!(log.last_index(), 1, "{algorithm}: the marker is appended");
        let expected = u64::from(algorithm == Algorithm::Quorum);
        assert_eq!(log.commit_index(), expected, "{algorithm}");
        // A client message commits the marker along with it.
        net.hello(1, 5, "ann");
        net.chat(1, 5, 1);
        net.run_for(100);
        assert_eq!(net.node(1).log().commit_index(), 2, "{algorithm}");
    }
}

#[test]
fn a_non_leader_redirects_a_client_to_the_leader() {
    let mut net = Net::new(Algorithm::Quorum, 3);
    net.run_for(2000);
    let leader = net.leader();
    let other = if leader == 1 { 2 } else { 1 };
    net.hello(other, 6, "bob");
    let (from, _, reply) = net.to_clients().last().copied().unwrap();
    let (from, reply) = (*from, reply.clone());
    assert_eq!(from, NodeId(other));
    match reply {
        ServerMsg::Redirect {
            leader: Some(l), ..
        } => assert_eq!(l.id, NodeId(leader)),
        other => panic!("expected a redirect, got {other}"),
    }
}

#[test]
fn a_hello_before_any_leader_is_known_is_answered_once_one_is() {
    let mut net = Net::new(Algorithm::Bully, 3);
    net.run_for(5);
    assert!(net.node(1).leadership().leader.is_none(), "still settling");
    net.hello(1, 6, "bob");
    assert!(
        net.to_clients().is_empty(),
        "held, not answered with 'no leader'"
    );
    net.run_for(2000);
    let answers = net.to_clients();
    assert_eq!(answers.len(), 1, "{answers:?}");
    let (from, _, reply) = answers[0];
    assert_eq!(*from, NodeId(1));
    match reply {
        ServerMsg::Redirect {
            leader: Some(l), ..
        } => assert_eq!(l.id, NodeId(3)),
        other => panic!("expected a redirect to the leader, got {other}"),
    }
}

#[test]
fn a_new_follower_catches_up_in_chunks_of_the_configured_size() {
    let mut logs: Vec<Log> = (0..3).map(|_| history(450)).collect();
    logs.push(Log::default());
    let mut net = Net::with_logs(Algorithm::Quorum, logs, 100);
    net.start_all();
    net.run_for(3000);
    assert_eq!(
        net.node(4).log().commit_index(),
        net.node(1).log().commit_index()
    );
    assert!(net.node(4).log().commit_index() > 450);
    let leader = NodeId(net.leader());
    let to_new: Vec<usize> = net
        .sent()
        .into_iter()
        .filter_map(|(from, to, m)| match m {
            Message::Replication { msg, .. } if *to == NodeId(4) && *from == leader => match &**msg
            {
                ReplicationMsg::Append { entries, .. } => Some(entries.len()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert!(to_new.iter().all(|n| *n <= 100), "chunks: {to_new:?}");
    assert!(
        to_new.iter().filter(|n| **n == 100).count() >= 4,
        "chunks: {to_new:?}"
    );
}

#[test]
fn while_the_leader_catches_one_up_another_laggard_fetches_from_a_helper() {
    let mut logs: Vec<Log> = (0..3).map(|_| history(600)).collect();
    logs.push(Log::default());
    logs.push(Log::default());
    let mut net = Net::with_logs(Algorithm::Quorum, logs, 50);
    net.start_all();
    net.run_for(4000);
    let leader = NodeId(net.leader());
    let helped = net.sent().into_iter().any(|(from, to, m)| {
        matches!(m, Message::Replication { msg, .. }
            if matches!(**msg, ReplicationMsg::Fetch { committed_only: true, .. }))
            && *to != leader
            && (*from == NodeId(4) || *from == NodeId(5))
    });
    assert!(helped, "no laggard fetched from a helper");
    for id in 4..=5 {
        assert_eq!(
            net.node(id).log().committed(),
            net.node(leader.0).log().committed()
        );
    }
}

#[test]
fn a_bully_leader_first_takes_the_history_of_the_most_up_to_date_member() {
    // n3 will lead (highest id) but knows nothing; n1 holds the history.
    let logs = vec![history(250), Log::default(), Log::default()];
    let mut net = Net::with_logs(Algorithm::Bully, logs, 100);
    net.start_all();
    net.run_for(3000);
    assert_eq!(net.leader(), 3);
    assert_eq!(net.node(3).leadership().role, Role::Leader);
    let log = net.node(3).log();
    assert!(log.commit_index() >= 250);
    assert!(
        log.last_index() > 250,
        "the leader's marker follows the history"
    );
    assert_eq!(
        log.committed().get(..250),
        net.node(1).log().committed().get(..250)
    );
}

#[test]
fn a_follower_takes_appends_of_one_epoch_from_one_leader_only() {
    let mut net = Net::new(Algorithm::Bully, 2);
    net.run_for(2000);
    assert_eq!(net.leader(), 2);
    let before = net.node(1).log().last_index();
    // A second leader of the same epoch (it never heard of n2) shows up.
    let epoch = net.node(1).leadership().epoch;
    let mut rogue = net.node(2).info();
    rogue.id = NodeId(7);
    let stamp = Stamp {
        epoch,
        leader: NodeId(7),
    };
    let prev = net.node(1).log().stamp_at(before).unwrap();
    let mut e = Entry::new(ClientMsgId { client: 3, seq: 1 }, Vec::new(), Instant::ZERO);
    e.epoch = stamp.epoch;
    e.leader = stamp.leader;
    e.index = before + 1;
    let _ = prev;
    net.step(
        0,
        Event::Received(Message::Replication {
            from: rogue,
            msg: Box::new(ReplicationMsg::Append {
                epoch,
                prev_index: before,
                prev: net.node(1).log().stamp_at(before).unwrap(),
                entries: vec![e],
                commit: before + 1,
            }),
        }),
    );
    assert_eq!(net.node(1).log().last_index(), before);
}

#[test]
fn followers_far_behind_the_window_catch_up_from_the_leaders_disk() {
    for algorithm in [Algorithm::Quorum, Algorithm::Bully] {
        // n3 holds the history (and leads under bully); a tiny window.
        let logs = vec![Log::default(), Log::default(), history(3000)];
        let mut net = Net::with_window(algorithm, logs, 100, 0, 16);
        net.start_all();
        net.run_for(6000);
        let leader = net.leader() as usize;
        let commit = net.node(leader as u32).log().commit_index();
        // (A bully leader's marker commits with the first message after it.)
        assert!(commit >= 3000, "{algorithm}: commit {commit}");
        let last = net.disks[leader - 1].last_index();
        for i in 0..3 {
            assert_eq!(
                net.disks[i].commit_index(),
                commit,
                "{algorithm}: n{}",
                i + 1
            );
            assert_eq!(net.disks[i].last_index(), last, "{algorithm}: n{}", i + 1);
            assert_eq!(
                net.disks[i].committed().get(..3000),
                net.disks[2].committed().get(..3000)
            );
            assert!(
                net.node(i as u32 + 1).log().memory().1 < 100,
                "a window in memory"
            );
        }
        let reads = net
            .log
            .iter()
            .filter(|(_, a)| matches!(a, crate::Action::ReadLog { .. }))
            .count();
        assert!(reads > 0, "{algorithm}: the old entries came from the disk");
    }
}

#[test]
fn a_client_resuming_from_an_old_index_is_served_from_the_disk() {
    let (mut net, leader) = Net::settled(Algorithm::Quorum, 3);
    net.hello(leader, 5, "ann");
    for seq in 1..=300 {
        net.chat(leader, 5, seq);
        net.run_for(1);
    }
    net.run_for(500);
    // Restarted with a tiny window: the first entries are on the disk only.
    let disk = net.disks[leader as usize - 1].clone();
    let mut small = Net::with_window(Algorithm::Quorum, vec![disk], 100, 0, 16);
    small.start_all();
    small.run_for(2000);
    small.client(
        1,
        6,
        crate::wire::ClientMsg::Hello {
            user: "bob".into(),
            from_index: 2,
            resume: false,
            seen: Vec::new(),
        },
    );
    small.run_for(500);
    let got: Vec<u64> = small
        .log
        .iter()
        .filter_map(|(_, a)| match a {
            crate::Action::ToClient {
                client: ClientId(6),
                msg,
            } => match &**msg {
                ServerMsg::Entries(es) => Some(es.iter().map(|e| e.index).collect::<Vec<_>>()),
                _ => None,
            },
            _ => None,
        })
        .flatten()
        .collect();
    let last = small.node(1).log().commit_index();
    assert!(last > 300);
    assert_eq!(
        got,
        (2..=last).collect::<Vec<_>>(),
        "every entry from 2, in order"
    );
    assert!(small
        .log
        .iter()
        .any(|(_, a)| matches!(a, crate::Action::ReadLog { .. })));
}

#[test]
fn a_follower_behind_the_compacted_log_takes_a_snapshot_and_old_messages_stay_deduplicated() {
    let (mut net, leader, behind, _) = behind_a_compacted_log(false);
    let commit = net.node(leader).log().commit_index();
    assert_eq!(net.node(leader).log().start(), commit - 19);
    let caught_up = rejoin(&mut net, leader, behind);
    assert_eq!(
        caught_up.start(),
        commit - 19,
        "it started over from the snapshot"
    );
    assert_eq!(caught_up.client_position(5).0, 200);
    let snapshots = net.log.iter().filter(|(_, a)| {
        matches!(a, crate::Action::Send { msg: Message::Replication { msg, .. }, .. }
            if matches!(**msg, ReplicationMsg::Snapshot { .. }))
    });
    assert!(snapshots.count() >= 1);
    // The old leader goes; a client resending to the new one a message from
    // long before the compaction (its ack was lost) is acknowledged, not
    // appended again: the numbering survived compaction and the snapshot.
    net.cut[leader as usize - 1] = true;
    net.run_for(3000);
    let new = net.leader();
    assert_ne!(new, leader);
    net.hello(new, 5, "ann");
    net.run_for(100);
    let before = net.node(new).log().last_index();
    net.chat(new, 5, 3);
    net.run_for(100);
    assert_eq!(net.node(new).log().last_index(), before, "no duplicate");
    assert_eq!(net.node(new).log().client_position(5).0, 200);
}

fn is_app_part(msg: &Message) -> bool {
    matches!(msg, Message::Replication { msg, .. } if matches!(**msg, ReplicationMsg::AppSnapshot { .. }))
}

/// A 3-node quorum net whose node `behind` (0-based) missed 200 messages that
/// the others compacted away (all but the last 20 committed); `with_app`,
/// every node's application saved a 1.2 MB snapshot (three parts on the wire)
/// 10 entries before the end first. Returns the net, the leader, `behind` and
/// that snapshot.
fn behind_a_compacted_log(with_app: bool) -> (Net, u32, usize, AppSnapshot) {
    let logs = vec![Log::default(), Log::default(), Log::default()];
    let mut net = Net::with_window(Algorithm::Quorum, logs, 100, 0, 16);
    net.start_all();
    net.run_for(3000);
    let leader = net.leader();
    let behind = (1..=3).find(|n| *n != leader).unwrap() as usize - 1;
    net.cut[behind] = true;
    net.hello(leader, 5, "ann");
    for seq in 1..=200 {
        net.chat(leader, 5, seq);
        net.run_for(1);
    }
    net.run_for(300);
    let commit = net.node(leader).log().commit_index();
    let app = AppSnapshot {
        index: commit - 10,
        stamp: net.node(leader).log().stamp_at(commit - 10).unwrap(),
        state: (0..1_200_000u32).map(|i| (i % 251) as u8).collect(),
    };
    for i in (0..3).filter(|i| *i != behind) {
        if with_app {
            let snapshot = std::sync::Arc::new(app.clone());
            net.step(i, Event::AppSnapshot { snapshot });
        }
        net.compact(i, commit - 20);
    }
    (net, leader, behind, app)
}

/// Node `behind` (0-based) is cut off no more: after 3 s it holds what its
/// leader committed. Its log.
fn rejoin(net: &mut Net, leader: u32, behind: usize) -> &Log {
    net.cut[behind] = false;
    net.run_for(3000);
    let caught_up = net.node(behind as u32 + 1).log();
    assert_eq!(
        caught_up.commit_index(),
        net.node(leader).log().commit_index()
    );
    caught_up
}

#[test]
fn a_follower_behind_the_compacted_log_takes_its_leaders_application_snapshot_too() {
    let (mut net, leader, behind, app) = behind_a_compacted_log(true);
    let caught_up = rejoin(&mut net, leader, behind);
    assert_eq!(
        caught_up.start(),
        app.index - 9,
        "it took the log's snapshot"
    );
    assert_eq!(caught_up.app_snapshot().map(|a| &**a), Some(&app));
    assert_eq!(
        net.disks[behind].app_snapshot().map(|a| &**a),
        Some(&app),
        "its disk keeps it, for its application"
    );
    // On the wire: the application's parts first, then the log's, naming it.
    let sent: Vec<&ReplicationMsg> = net
        .sent()
        .into_iter()
        .filter_map(|(_, to, m)| match m {
            Message::Replication { msg, .. } if to.0 as usize == behind + 1 => Some(&**msg),
            _ => None,
        })
        .filter(|m| {
            matches!(
                m,
                ReplicationMsg::AppSnapshot { .. } | ReplicationMsg::Snapshot { .. }
            )
        })
        .collect();
    assert!(matches!(
        sent.first(),
        Some(ReplicationMsg::AppSnapshot {
            number: 0,
            of: 3,
            ..
        })
    ));
    assert!(matches!(
        sent.get(3),
        Some(ReplicationMsg::Snapshot { app: Some(at), .. }) if *at == app.index
    ));
}

#[test]
fn a_log_snapshot_is_not_taken_without_the_application_snapshot_it_names() {
    let (mut net, leader, behind, app) = behind_a_compacted_log(true);
    net.lose = Some(|_, m| is_app_part(m));
    net.cut[behind] = false;
    net.run_for(2000);
    let held = net.node(behind as u32 + 1).log();
    assert!(held.app_snapshot().is_none());
    assert_eq!(held.start(), 1, "the log's snapshot alone was not taken");
    // The parts get through again: the leader sends both once more.
    net.lose = None;
    let caught_up = rejoin(&mut net, leader, behind);
    assert_eq!(caught_up.app_snapshot().map(|a| a.index), Some(app.index));
}
