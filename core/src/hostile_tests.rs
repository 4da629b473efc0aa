//! Hostile but well-formed messages, stepped into whole nodes: none may change
//! leadership, terms or what is persisted (issue 16, semantic validation).

use crate::id::{Incarnation, NodeId, NodeInfo};
use crate::test_net::Net;
use crate::wire::{ElectionMsg, Message};
use crate::{Action, Algorithm, Event, Instant, Role};

fn stranger(id: u32, counter: u64) -> NodeInfo {
    NodeInfo {
        id: NodeId(id),
        addr: format!("10.0.0.{id}:7000").parse().unwrap(),
        incarnation: Incarnation {
            counter,
            started_at: Instant::from_millis(1),
        },
    }
}

fn persisted_anything(net: &Net, from: usize) -> bool {
    net.log[from..]
        .iter()
        .any(|(_, a)| matches!(a, Action::Persist { .. }))
}

#[test]
fn a_forged_claim_of_the_largest_epoch_is_dropped() {
    for algorithm in [Algorithm::Bully, Algorithm::Ring, Algorithm::Quorum] {
        let (mut net, leader) = Net::settled(algorithm, 3);
        let follower = if leader == 1 { 2 } else { 1 };
        let before = net.node(follower).leadership();
        for epoch in [u64::MAX, u64::MAX - 5, before.epoch + 2_000_000] {
            let forged = Message::Heartbeat {
                from: stranger(3, 1),
                leading: Some(epoch),
            };
            net.step(follower as usize - 1, Event::Received(forged));
        }
        let after = net.node(follower).leadership();
        assert_eq!(
            (after.leader, after.epoch),
            (before.leader, before.epoch),
            "{algorithm}"
        );
        assert_eq!(net.node(follower).implausible_dropped(), 3);
    }
}

#[test]
fn a_non_voter_cannot_raise_a_quorum_term_or_claim_leadership() {
    let (mut net, leader) = Net::settled(Algorithm::Quorum, 3);
    let follower = if leader == 1 { 2 } else { 1 };
    let i = follower as usize - 1;
    let term = net.node(follower).persisted().term;
    let mark = net.log.len();
    let from = stranger(99, 1);
    let newer = Message::Election {
        from,
        algorithm: Algorithm::Quorum,
        msg: ElectionMsg::NewerTerm { term: term + 500 },
    };
    net.step(i, Event::Received(newer));
    let vote = Message::Election {
        from,
        algorithm: Algorithm::Quorum,
        msg: ElectionMsg::RequestVote {
            term: term + 600,
            last_epoch: u64::from(u32::MAX),
            last_index: 1 << 40,
        },
    };
    net.step(i, Event::Received(vote));
    let claim = Message::Heartbeat {
        from,
        leading: Some(term + 700),
    };
    net.step(i, Event::Received(claim));
    assert_eq!(net.node(follower).persisted().term, term);
    assert!(!persisted_anything(&net, mark), "nothing persisted");
    let lead = net.node(follower).leadership();
    assert_eq!(
        (lead.role, lead.leader),
        (Role::Follower, Some(NodeId(leader)))
    );
}
