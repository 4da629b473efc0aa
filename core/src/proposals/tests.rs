//! Local proposals on the lockstep network of [`crate::test_net`].

use super::*;
use crate::test_net::Net;
use crate::wire::{ClientId, ServerMsg};
use crate::NodeId;
use crate::{Algorithm, Event};

fn propose(net: &mut Net, at: u32, ticket: u64, text: &str) {
    let payload = text.as_bytes().to_vec().into_boxed_slice();
    net.step(at as usize - 1, Event::Propose { ticket, payload });
}

/// Every outcome told so far: (node, ticket, outcome).
fn outcomes(net: &Net) -> Vec<(u32, u64, Result<u64, ProposalError>)> {
    net.log
        .iter()
        .filter_map(|(node, a)| match a {
            Action::Proposal { ticket, outcome } => Some((node.0, *ticket, outcome.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_leaders_proposals_commit_in_order_on_every_node_and_are_told_once() {
    for algorithm in [Algorithm::Quorum, Algorithm::Bully, Algorithm::Ring] {
        let mut net = Net::new(algorithm, 3);
        net.run_for(2000);
        let leader = net.leader();
        for ticket in 1..=10 {
            propose(&mut net, leader, ticket, &format!("job {ticket}"));
        }
        // Nothing is told before the followers answered.
        assert!(outcomes(&net).is_empty(), "{algorithm}");
        net.run_for(200);
        let told = outcomes(&net);
        assert_eq!(told.len(), 10, "{algorithm}: {told:?}");
        let indexes: Vec<u64> = told.iter().map(|(_, _, o)| *o.as_ref().unwrap()).collect();
        assert!(indexes.windows(2).all(|w| w[0] < w[1]), "{indexes:?}");
        for id in 1..=3 {
            let log = net.node(id).log();
            for (ticket, index) in (1..=10).zip(&indexes) {
                let e = log.entries_from(*index, 1).first().cloned().unwrap();
                assert_eq!(&*e.payload, format!("job {ticket}").as_bytes());
                assert!(is_local_client(e.id.client));
                assert!(*index <= log.commit_index());
            }
        }
    }
}

#[test]
fn a_follower_refuses_at_once_and_names_the_leader() {
    let mut net = Net::new(Algorithm::Quorum, 3);
    net.run_for(2000);
    let leader = net.leader();
    let follower = (1..=3).find(|&i| i != leader).unwrap();
    propose(&mut net, follower, 7, "x");
    let expected = ProposalError::NotLeader {
        leader: Some(NodeId(leader)),
    };
    assert_eq!(outcomes(&net), vec![(follower, 7, Err(expected))]);
}

#[test]
fn an_entry_larger_than_the_limit_is_refused() {
    let mut net = Net::new(Algorithm::Quorum, 3);
    net.run_for(2000);
    let leader = net.leader();
    let big = "x".repeat(MAX_CHAT_BYTES + 1);
    propose(&mut net, leader, 1, &big);
    assert!(matches!(
        outcomes(&net).as_slice(),
        [(_, 1, Err(ProposalError::TooLarge { .. }))]
    ));
}

#[test]
fn an_entry_replaced_by_the_next_leader_is_lost_and_said_so() {
    let mut net = Net::new(Algorithm::Quorum, 3);
    net.run_for(2000);
    let old = net.leader();
    // Cut off, the leader appends but cannot commit.
    net.cut[old as usize - 1] = true;
    propose(&mut net, old, 1, "never");
    net.run_for(3000);
    let new = net.leaders().into_iter().flatten().find(|&l| l != old);
    let new = new.expect("the others elect a new leader");
    propose(&mut net, new, 2, "kept");
    net.run_for(200);
    // Healed: the old leader takes the new history, which replaced its entry.
    net.cut[old as usize - 1] = false;
    net.run_for(3000);
    let told = outcomes(&net);
    assert!(
        told.contains(&(old, 1, Err(ProposalError::Lost))),
        "{told:?}"
    );
    assert!(
        told.iter()
            .any(|(n, t, o)| *n == new && *t == 2 && o.is_ok()),
        "{told:?}"
    );
    let texts: Vec<std::sync::Arc<[u8]>> = net
        .node(old)
        .log()
        .committed()
        .iter()
        .map(|e| e.payload.clone())
        .collect();
    assert!(!texts.iter().any(|t| &**t == b"never"));
}

#[test]
fn a_client_may_not_name_an_id_of_the_local_range() {
    let mut net = Net::new(Algorithm::Quorum, 3);
    net.run_for(2000);
    let leader = net.leader();
    let id = LOCAL_CLIENT_BIT | 5;
    net.hello(leader, id, "mallory");
    let refused = net
        .to_clients()
        .into_iter()
        .any(|(_, c, m)| *c == ClientId(id) && matches!(m, ServerMsg::Refused(_)));
    assert!(refused);
    net.chat(leader, id, 1);
    net.run_for(200);
    assert!(net
        .node(leader)
        .log()
        .committed()
        .iter()
        .all(|e| !is_local_client(e.id.client)));
}
