//! The write-ahead contract: acknowledgements and votes wait for the disk,
//! heartbeats and elections do not, and a hung disk ends a leadership.

use crate::test_net::Net;
use crate::wire::{AppendOutcome, ElectionMsg, Message, ReplicationMsg};
use crate::{Action, Algorithm, Event, NodeId};

fn is_ack(a: &Action) -> bool {
    matches!(a, Action::Send { msg: Message::Replication { msg, .. }, .. }
        if matches!(**msg, ReplicationMsg::AppendReply { outcome: AppendOutcome::Matched(_), .. }))
}

/// A settled 3-node cluster one of whose followers has a hung disk and a
/// client's message to write: (net, leader, that follower).
fn follower_with_a_pending_write(algorithm: Algorithm) -> (Net, u32, u32) {
    let (mut net, leader) = Net::settled(algorithm, 3);
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    net.stick_disk(follower as usize - 1);
    net.hello(leader, 7, "ann");
    net.chat(leader, 7, 1);
    (net, leader, follower)
}

#[test]
fn a_follower_acknowledges_entries_only_once_they_are_durable() {
    for algorithm in [Algorithm::Bully, Algorithm::Ring, Algorithm::Quorum] {
        let (mut net, leader, follower) = follower_with_a_pending_write(algorithm);
        let f = follower as usize - 1;
        let from = net.log.len();
        net.run_for(50);
        let acks = |net: &Net, from: usize| {
            net.log[from..]
                .iter()
                .filter(|(id, a)| *id == NodeId(follower) && is_ack(a))
                .count()
        };
        assert_eq!(acks(&net, from), 0, "{algorithm}: acked before durable");
        // Heartbeats do not wait for the disk.
        assert!(net.log[from..].iter().any(|(id, a)| *id == NodeId(follower)
            && matches!(
                a,
                Action::Send {
                    msg: Message::Heartbeat { .. },
                    ..
                }
            )
            || *id == NodeId(follower)
                && matches!(a, Action::Multicast(Message::Heartbeat { .. }))));
        let from = net.log.len();
        net.unstick(f);
        assert!(
            acks(&net, from) > 0,
            "{algorithm}: the ack leaves once durable"
        );
        net.run_for(50);
        assert_eq!(
            net.node(leader).log().commit_index(),
            net.node(leader).log().last_index()
        );
    }
}

#[test]
fn a_leader_counts_itself_toward_commit_only_for_what_its_disk_holds() {
    let (mut net, leader) = Net::settled(Algorithm::Quorum, 3);
    let l = leader as usize - 1;
    let others: Vec<usize> = (0..3).filter(|i| *i != l).collect();
    net.hello(leader, 7, "ann");
    net.run_for(20);
    let before = net.node(leader).log().commit_index();
    // One follower hangs too: the leader's own (not durable) copy must not
    // make the majority.
    net.stick_disk(l);
    net.stick_disk(others[0]);
    net.chat(leader, 7, 1);
    net.run_for(100);
    assert_eq!(net.node(leader).log().commit_index(), before);
    net.unstick(l);
    net.run_for(20);
    assert!(net.node(leader).log().commit_index() > before);
}

#[test]
fn a_request_for_votes_waits_for_the_candidates_own_vote_on_disk() {
    let mut net = Net::new(Algorithm::Quorum, 3);
    for i in 0..3 {
        net.stick_disk(i);
    }
    net.run_for(3000);
    let asked = net.log.iter().any(|(_, a)| {
        matches!(
            a,
            Action::Send {
                msg: Message::Election {
                    msg: ElectionMsg::RequestVote { .. },
                    ..
                },
                ..
            }
        )
    });
    assert!(!asked, "a request left before the vote in it was durable");
    assert!(net.leaders().iter().all(Option::is_none));
}

#[test]
fn a_leader_whose_disk_hangs_steps_down_and_another_takes_over() {
    for algorithm in [Algorithm::Bully, Algorithm::Ring, Algorithm::Quorum] {
        let (mut net, leader) = Net::settled(algorithm, 3);
        let epoch_before = net.node(leader).leadership().epoch;
        let l = leader as usize - 1;
        net.stick_disk(l);
        net.hello(leader, 7, "ann");
        net.chat(leader, 7, 1);
        net.run_for(5000);
        assert!(net.node(leader).disk_stalled(), "{algorithm}");
        let stepped_down = net.log.iter().any(|(id, a)| {
            *id == NodeId(leader)
                && matches!(
                    a,
                    Action::RoleChanged {
                        old: crate::Role::Leader,
                        ..
                    }
                )
        });
        assert!(stepped_down, "{algorithm}: the stalled leader kept leading");
        let others: Vec<Option<u32>> = (1..=3)
            .filter(|id| *id != leader)
            .map(|id| net.node(id).leadership().leader.map(|l| l.0))
            .collect();
        assert!(
            others[0].is_some() && others[0] == others[1],
            "{algorithm}: {others:?}"
        );
        assert_ne!(others[0], Some(leader), "{algorithm}");
        // Back from the hang, it takes part again.
        net.unstick(l);
        net.run_for(3000);
        assert!(!net.node(leader).disk_stalled());
        let leaders = net.leaders();
        assert!(
            leaders.iter().all(|x| x.is_some() && *x == leaders[0]),
            "{algorithm}: {leaders:?}"
        );
        // Standing while unfit takes no epoch: at most the successor's and
        // the return's.
        let epoch = net.node(leader).leadership().epoch;
        assert!(
            epoch <= epoch_before + 3,
            "{algorithm}: epoch {epoch_before} -> {epoch}"
        );
    }
}

#[test]
fn a_durable_token_never_issued_proves_nothing() {
    let (mut net, _, follower) = follower_with_a_pending_write(Algorithm::Quorum);
    let f = follower as usize - 1;
    net.run_for(20);
    let from = net.log.len();
    // A hostile or broken driver claims a token far ahead: only what was issued
    // counts, and nothing issued later is taken for durable.
    net.step(f, Event::Durable { token: u64::MAX });
    assert!(net.log[from..].iter().any(|(_, a)| is_ack(a)));
}

#[test]
fn a_process_that_stood_still_does_not_blame_its_disk() {
    // A write pending when the whole process stops for 5 s (its writer too).
    let (mut net, _, follower) = follower_with_a_pending_write(Algorithm::Quorum);
    let f = follower as usize - 1;
    net.run_for(10);
    net.frozen[f] = true;
    net.run_for(5000);
    net.frozen[f] = false;
    net.step(f, Event::Tick);
    assert!(
        !net.node(follower).disk_stalled(),
        "the pause was taken for a hung disk"
    );
    // A disk that then really hangs is still caught.
    net.run_for(3000);
    assert!(net.node(follower).disk_stalled());
    net.unstick(f);
    net.run_for(100);
    assert!(!net.node(follower).disk_stalled());
}
