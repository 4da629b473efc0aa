//! Election unit tests on the lockstep network of [`crate::test_net`].

use crate::rank::{rank_key, RankBy};
use crate::test_net::{config, Net};
use crate::wire::Message;
use crate::{Action, Algorithm, ElectionMsg, Event, Instant, Node, NodeId, Persisted, Role};

#[test]
fn bully_elects_the_highest_id_and_reports_the_role_change() {
    let mut net = Net::new(Algorithm::Bully, 3);
    net.run_for(1000);
    assert_eq!(net.leaders(), vec![Some(3); 3]);
    let lead = net.node(3).leadership();
    assert_eq!((lead.role, lead.epoch), (Role::Leader, 1));
    assert!(
        lead.since >= Instant::from_millis(300),
        "not before the settle period ends"
    );
    assert!(net.log.iter().any(|(id, a)| *id == NodeId(1)
        && *a
            == Action::RoleChanged {
                old: Role::Candidate,
                new: Role::Follower,
                leader: Some(NodeId(3)),
                epoch: 1
            }));
}

#[test]
fn every_algorithm_replaces_a_crashed_leader() {
    for algorithm in [Algorithm::Bully, Algorithm::Ring, Algorithm::Quorum] {
        let mut net = Net::new(algorithm, 5);
        net.run_for(2000);
        let first = net.leaders()[0].unwrap();
        assert!(
            net.leaders().iter().all(|l| *l == Some(first)),
            "{algorithm}"
        );
        net.crash(first);
        net.run_for(2000);
        let next = net.leaders()[0];
        assert!(
            next.is_some_and(|n| n != first),
            "{algorithm}: {:?}",
            net.leaders()
        );
        assert!(
            net.leaders().iter().all(|l| *l == next),
            "{algorithm}: {:?}",
            net.leaders()
        );
        if algorithm != Algorithm::Quorum {
            assert_eq!(next, Some(if first == 5 { 4 } else { 5 }), "{algorithm}");
        }
    }
}

#[test]
fn chang_roberts_votes_travel_the_ring_and_the_winner_is_announced_round_it() {
    let mut net = Net::new(Algorithm::Ring, 4);
    net.run_for(1000);
    assert_eq!(net.leaders(), vec![Some(4); 4]);
    let elected: Vec<NodeId> = net
        .log
        .iter()
        .filter(|(_, a)| {
            matches!(
                a,
                Action::Send {
                    msg: Message::Election {
                        msg: ElectionMsg::Elected { .. },
                        ..
                    },
                    ..
                }
            )
        })
        .map(|(id, _)| *id)
        .collect();
    // n4 announces to n1, which passes it to n2, then n3; n3's successor is the
    // leader itself, so the announcement stops there: everyone has heard it.
    assert_eq!(elected, vec![NodeId(4), NodeId(1), NodeId(2)]);
}

#[test]
fn quorum_persists_term_and_vote_before_answering_and_never_votes_twice() {
    let mut voter =
        Node::new(config(1, Algorithm::Quorum, 3), NodeId(1), 1, Instant::ZERO).unwrap();
    voter.step(Instant::ZERO, Event::Start);
    let candidate = |id: u32| {
        Node::new(
            config(id, Algorithm::Quorum, 3),
            NodeId(id),
            9,
            Instant::ZERO,
        )
        .unwrap()
        .info()
    };
    let ask = |id: u32| {
        Event::Received(Message::Election {
            from: candidate(id),
            algorithm: Algorithm::Quorum,
            msg: ElectionMsg::RequestVote {
                term: 5,
                last_epoch: 0,
                last_index: 0,
            },
        })
    };
    // A voter that just started promises nobody its vote for one failure timeout
    // (whom it promised in its last life is not on disk): ask after that.
    let after_gate = |start: u64| Instant::from_millis(start + 600);
    let out = voter.step(after_gate(0), ask(2));
    let token = out.iter().find_map(|a| match a {
        Action::Persist { token, state }
            if state.term == 5 && state.voted_for == Some(NodeId(2)) =>
        {
            Some(*token)
        }
        _ => None,
    });
    let granted = |a: &Action| {
        matches!(
            a,
            Action::Send {
                msg: Message::Election {
                    msg: ElectionMsg::VoteReply {
                        term: 5,
                        granted: true
                    },
                    ..
                },
                ..
            }
        )
    };
    // The vote leaves only once it is durable.
    assert!(!out.iter().any(granted), "{out:?}");
    let token = token.expect("the vote is persisted");
    let out = voter.step(after_gate(0), Event::Durable { token });
    assert!(out.iter().any(granted), "{out:?}");

    // Restarted with what it persisted, it refuses n3 in the same term.
    let mut restarted = Node::restore(
        config(1, Algorithm::Quorum, 3),
        NodeId(1),
        1,
        Instant::from_millis(20),
        voter.persisted(),
    )
    .unwrap();
    restarted.step(Instant::from_millis(20), Event::Start);
    let out = restarted.step(after_gate(20), ask(3));
    assert!(
        out.iter().any(|a| matches!(
            a,
            Action::Send {
                msg: Message::Election {
                    msg: ElectionMsg::VoteReply {
                        term: 5,
                        granted: false
                    },
                    ..
                },
                ..
            }
        )),
        "{out:?}"
    );
}

#[test]
fn quorum_without_a_majority_has_no_leader() {
    let mut net = Net::new(Algorithm::Quorum, 3);
    net.crash(2);
    net.crash(3);
    net.run_for(3000);
    assert_eq!(net.leaders(), vec![None]);
    assert_ne!(net.node(1).leadership().role, Role::Leader);
}

#[test]
fn a_stale_quorum_leader_is_told_of_the_newer_term_and_steps_down() {
    let mut leader = Node::restore(
        config(1, Algorithm::Quorum, 3),
        NodeId(1),
        1,
        Instant::ZERO,
        Persisted {
            term: 3,
            ..Persisted::default()
        },
    )
    .unwrap();
    leader.step(Instant::ZERO, Event::Start);
    let ahead = Node::restore(
        config(2, Algorithm::Quorum, 3),
        NodeId(2),
        2,
        Instant::ZERO,
        Persisted {
            term: 4,
            ..Persisted::default()
        },
    )
    .unwrap();
    // The follower that moved ahead answers the leader's claim with its term...
    let mut follower = ahead;
    follower.step(Instant::ZERO, Event::Start);
    let out = follower.step(
        Instant::from_millis(1),
        Event::Received(Message::Heartbeat {
            from: leader.info(),
            leading: Some(3),
        }),
    );
    let notice = out.iter().find_map(|a| match a {
        Action::Send {
            msg:
                m @ Message::Election {
                    msg: ElectionMsg::NewerTerm { term: 4 },
                    ..
                },
            ..
        } => Some(m.clone()),
        _ => None,
    });
    // ...and whoever receives it adopts the newer term.
    let out = leader.step(
        Instant::from_millis(2),
        Event::Received(notice.expect("a NewerTerm notice")),
    );
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Persist { state, .. } if state.term == 4)));
    assert_eq!(leader.leadership().epoch, 4);
}

#[test]
fn a_peer_running_another_algorithm_is_ignored() {
    let mut net = Net::new(Algorithm::Bully, 2);
    net.run_for(1000);
    let before = net.node(1).leadership();
    let stranger = net.node(2).info();
    let out = net.nodes[0].as_mut().unwrap().step(
        net.now,
        Event::Received(Message::Election {
            from: stranger,
            algorithm: Algorithm::Ring,
            msg: ElectionMsg::Elected {
                leader: Box::new(stranger),
                epoch: 99,
            },
        }),
    );
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(net.node(1).leadership(), before);
}

#[test]
fn ranks_order_as_configured() {
    let node = |id: u32, addr: &str, started: u64| crate::NodeInfo {
        id: NodeId(id),
        addr: addr.parse().unwrap(),
        incarnation: crate::Incarnation {
            counter: 1,
            started_at: Instant::from_millis(started),
        },
    };
    let a = node(1, "10.0.0.9:7000", 500);
    let b = node(2, "10.0.0.3:7001", 100);
    let c = node(3, "10.0.0.3:7000", 900);
    let best = |rank| {
        [a, b, c]
            .into_iter()
            .max_by_key(|n| rank_key(rank, n))
            .unwrap()
            .id
    };
    assert_eq!(best(RankBy::Id), NodeId(3));
    assert_eq!(best(RankBy::OldestStart), NodeId(2));
    assert_eq!(
        best(RankBy::LowestAddr),
        NodeId(3),
        "lowest address, then lowest port"
    );
    assert_eq!("oldest".parse(), Ok(RankBy::OldestStart));
    assert!("tallest".parse::<RankBy>().is_err());
}

#[test]
fn the_ring_skips_dead_members_and_heals_when_they_return() {
    let mut net = Net::new(Algorithm::Ring, 4);
    net.run_for(500);
    let ring = net.node(2).ring();
    assert_eq!(
        ring.order().map(|n| n.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(ring.successor(NodeId(2)).map(|n| n.id), Some(NodeId(3)));
    assert_eq!(ring.successor(NodeId(4)).map(|n| n.id), Some(NodeId(1)));
    assert_eq!(ring.predecessor(NodeId(1)).map(|n| n.id), Some(NodeId(4)));
    net.crash(3);
    net.run_for(1000);
    let ring = net.node(2).ring();
    assert_eq!(
        ring.successor(NodeId(2)).map(|n| n.id),
        Some(NodeId(4)),
        "n3 is skipped once dead"
    );
    assert_eq!(ring.len(), 3);
}

#[test]
fn quorum_refuses_its_vote_to_a_candidate_whose_log_is_behind() {
    use crate::log::{ClientMsgId, Entry, Log, Stamp};
    let mut log = Log::default();
    let stamp = Stamp {
        epoch: 3,
        leader: NodeId(1),
    };
    log.offer(
        stamp,
        Entry::new(ClientMsgId { client: 1, seq: 1 }, Vec::new(), Instant::ZERO),
    );
    let cfg = config(1, Algorithm::Quorum, 3);
    let mut voter =
        Node::restore_with_log(cfg, NodeId(1), 1, Instant::ZERO, Persisted::default(), log)
            .unwrap();
    voter.step(Instant::ZERO, Event::Start);
    let candidate = Node::new(config(2, Algorithm::Quorum, 3), NodeId(2), 2, Instant::ZERO)
        .unwrap()
        .info();
    let ask = |last_epoch, last_index| {
        Event::Received(Message::Election {
            from: candidate,
            algorithm: Algorithm::Quorum,
            msg: ElectionMsg::RequestVote {
                term: 5,
                last_epoch,
                last_index,
            },
        })
    };
    let granted = |out: &[Action]| {
        out.iter().any(|a| {
            matches!(
                a,
                Action::Send {
                    msg: Message::Election {
                        msg: ElectionMsg::VoteReply { granted: true, .. },
                        ..
                    },
                    ..
                }
            )
        })
    };
    // Past the promise a starting voter makes to nobody (one failure timeout).
    let behind = voter.step(Instant::from_millis(600), ask(2, 9));
    assert!(
        !granted(&behind),
        "a log ending in an older epoch is behind, however long"
    );
    let mut equal = voter.step(Instant::from_millis(601), ask(3, 1));
    // The vote leaves once it is durable.
    let token = equal.iter().find_map(|a| match a {
        Action::Persist { token, .. } => Some(*token),
        _ => None,
    });
    let durable = Event::Durable {
        token: token.expect("the vote is written"),
    };
    equal.extend(voter.step(Instant::from_millis(601), durable));
    assert!(granted(&equal));
}

#[test]
fn a_second_leader_of_one_epoch_is_settled_by_rank_without_an_election() {
    // Two leaders of one epoch that have not heard of each other (their probes
    // were lost): a node that hears both follows the higher, and sends no
    // ELECTION — both would answer it with their claim, and a node re-electing
    // at each such claim fed an endless storm of elections (sim seed 1980).
    let mut net = Net::new(Algorithm::Bully, 5);
    net.run_for(1000);
    assert_eq!(net.leaders(), vec![Some(5); 5]);
    let epoch = net.node(5).leadership().epoch;
    let claim = |from: u32| Message::Election {
        from: net.node(from).info(),
        algorithm: Algorithm::Bully,
        msg: ElectionMsg::Coordinator { epoch },
    };
    let lower = claim(3);
    for at in [1usize, 5] {
        let before = net.node(at as u32).leadership();
        let out = net.nodes[at - 1]
            .as_mut()
            .unwrap()
            .step(net.now, Event::Received(lower.clone()));
        assert_eq!(net.node(at as u32).leadership(), before, "n{at} keeps n5");
        assert!(
            !out.iter().any(|a| matches!(
                a,
                Action::Send {
                    msg: Message::Election {
                        msg: ElectionMsg::Election { .. },
                        ..
                    },
                    ..
                }
            )),
            "n{at} holds no election: {out:?}"
        );
    }
    // A node that followed the lower one first switches to the higher, again
    // without an election.
    let newer = |from: u32| Message::Election {
        from: net.node(from).info(),
        algorithm: Algorithm::Bully,
        msg: ElectionMsg::Coordinator { epoch: epoch + 1 },
    };
    let (lower, higher) = (newer(3), newer(5));
    let n1 = net.nodes[0].as_mut().unwrap();
    n1.step(net.now, Event::Received(lower));
    assert_eq!(net.node(1).leadership().leader, Some(NodeId(3)));
    let n1 = net.nodes[0].as_mut().unwrap();
    let out = n1.step(net.now, Event::Received(higher));
    assert_eq!(net.node(1).leadership().leader, Some(NodeId(5)));
    assert!(!out.iter().any(|a| matches!(
        a,
        Action::Send {
            msg: Message::Election {
                msg: ElectionMsg::Election { .. },
                ..
            },
            ..
        }
    )));
}

#[test]
fn a_ring_vote_that_arrives_after_the_election_ended_is_dropped() {
    // A vote still travelling when ELECTED went round (sim seed 27, 4 nodes)
    // made the leader pass its own vote on again: a second election
    // re-elected it one epoch later.
    let mut net = Net::new(Algorithm::Ring, 4);
    net.run_for(1000);
    assert_eq!(net.leaders(), vec![Some(4); 4]);
    let epoch = net.node(4).leadership().epoch;
    let late = Message::Election {
        from: net.node(3).info(),
        algorithm: Algorithm::Ring,
        msg: ElectionMsg::Vote {
            candidate: Box::new(net.node(3).info()),
            epoch: epoch - 1,
        },
    };
    for at in [4u32, 1] {
        let out = net.nodes[at as usize - 1]
            .as_mut()
            .unwrap()
            .step(net.now, Event::Received(late.clone()));
        assert!(out.is_empty(), "n{at} drops it: {out:?}");
    }
    net.run_for(1000);
    assert_eq!(net.leaders(), vec![Some(4); 4]);
    assert_eq!(net.node(4).leadership().epoch, epoch, "no second election");
}
