//! `quorum`'s lease seen from whole nodes: a lockstep network where a leader is
//! cut off or paused, and nobody else leads before its lease is over.

use crate::test_net::Net;
use crate::{Action, Algorithm, Event, Instant, Role};
use std::time::Duration;

/// Runs until every node names one leader that leads; returns its id.
fn settled(net: &mut Net) -> u32 {
    for _ in 0..100 {
        net.run_for(100);
        let leaders = net.leaders();
        if let Some(Some(l)) = leaders.first() {
            if leaders.iter().all(|x| *x == Some(*l))
                && net.node(*l).leadership().role == Role::Leader
            {
                return *l;
            }
        }
    }
    panic!("no leader agreed on: {:?}", net.leaders());
}

/// Every node other than `old` that acts as leader now, by its own clock.
fn others_leading(net: &Net, old: u32) -> Vec<u32> {
    net.nodes
        .iter()
        .flatten()
        .filter(|n| n.id().0 != old && n.leads_at(net.now))
        .map(|n| n.id().0)
        .collect()
}

/// When node `id` last took role `role` (in the actions it emitted).
fn last_became(net: &Net, id: u32, role: Role) -> Option<usize> {
    net.log.iter().rposition(|(n, a)| {
        n.0 == id && matches!(a, Action::RoleChanged { new, .. } if *new == role)
    })
}

#[test]
fn a_leader_cut_off_steps_down_before_another_is_elected() {
    let mut net = Net::new(Algorithm::Quorum, 3);
    let old = settled(&mut net);
    net.cut[old as usize - 1] = true;
    let mut new = None;
    for _ in 0..3000 {
        net.run_for(1);
        let others = others_leading(&net, old);
        if net.node(old).leads_at(net.now) {
            assert!(
                others.is_empty(),
                "at {} n{old} still leads and so do {others:?}",
                net.now
            );
        }
        if let Some(&l) = others.first() {
            new = Some(l);
        }
    }
    let new = new.expect("the majority elects a new leader");
    let stepped_down = last_became(&net, old, Role::Follower).expect("the old leader stepped down");
    let elected = last_became(&net, new, Role::Leader).expect("the new leader was elected");
    assert!(
        stepped_down < elected,
        "n{old} stepped down after n{new} was elected"
    );
    assert!(net.node(old).lease_end().is_none());
}

#[test]
fn a_paused_leader_holds_its_lease_and_nobody_leads_until_it_runs_out() {
    let mut net = Net::new(Algorithm::Quorum, 5);
    let old = settled(&mut net);
    let end = net
        .node(old)
        .lease_end()
        .expect("a quorum leader holds a lease");
    net.frozen[old as usize - 1] = true;
    // The others declare it dead long before 3 s, but a paused process may wake
    // up at any moment and act on its lease: they wait until it has run out.
    let mut first_new = None;
    for _ in 0..3000 {
        net.run_for(1);
        let others = others_leading(&net, old);
        if !others.is_empty() && first_new.is_none() {
            first_new = Some(net.now);
        }
        assert!(
            others.is_empty() || !net.node(old).leads_at(net.now),
            "at {}: {others:?} lead while the paused n{old} holds its lease until {end}",
            net.now
        );
    }
    let first_new = first_new.expect("a new leader once the lease is over");
    assert!(first_new > end, "elected at {first_new}, lease until {end}");
    // Woken up, the old leader's first step is to step down.
    let i = old as usize - 1;
    net.frozen[i] = false;
    let now = net.now;
    let out = net.nodes[i].as_mut().unwrap().step(now, Event::Tick);
    assert!(
        matches!(
            out.first(),
            Some(Action::RoleChanged {
                old: Role::Leader,
                new: Role::Follower,
                ..
            })
        ),
        "{out:?}"
    );
}

#[test]
fn a_healthy_leader_keeps_its_lease_with_one_voter_cut_off() {
    let mut net = Net::new(Algorithm::Quorum, 3);
    let old = settled(&mut net);
    let other = (1..=3).find(|&n| n != old).unwrap();
    net.cut[other as usize - 1] = true;
    let mut ends = Vec::new();
    for _ in 0..50 {
        net.run_for(100);
        assert!(
            net.node(old).leads_at(net.now),
            "n{old} lost its lease at {}",
            net.now
        );
        ends.push(net.node(old).lease_end().unwrap());
    }
    assert!(
        ends.windows(2).all(|w| w[0] < w[1]),
        "renewed every time: {ends:?}"
    );
    // It renews every heartbeat: the lease never has much less than the
    // promise (500 ms) minus the drift and the margin (100 ms) left.
    let left = ends.last().unwrap().saturating_since(net.now);
    assert!(left > Duration::from_millis(250), "{left:?}");
}

#[test]
fn a_graceful_leave_ends_the_promise_at_once() {
    let mut net = Net::new(Algorithm::Quorum, 3);
    let old = settled(&mut net);
    let i = old as usize - 1;
    let left_at = net.now;
    net.step(i, Event::Leave);
    net.crash(old);
    let new = settled(&mut net);
    assert_ne!(new, old);
    let elected = net.now;
    // settled() polls in 100 ms steps; a failure detector would have waited 500 ms,
    // and the promise as long again.
    assert!(
        elected.saturating_since(left_at) < Duration::from_millis(500),
        "left at {left_at}, next leader by {elected}"
    );
}

#[test]
fn a_leader_alone_in_its_voter_set_needs_no_lease() {
    let mut net = Net::new(Algorithm::Quorum, 1);
    let l = settled(&mut net);
    assert_eq!(l, 1);
    assert_eq!(net.node(1).lease_end(), None);
    assert!(net.node(1).leads_at(Instant::MAX));
}
