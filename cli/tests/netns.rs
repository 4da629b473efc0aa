//! Several hosts on one machine: each node in its own network namespace with its
//! own address on a bridge (veth pairs; multicast crosses the bridge). One node is
//! cut off and healed, the leader is killed, and the survivors must end with one
//! leader and the same committed history, with every client message in it once.
//! Then, per algorithm, a 2|3 partition with a chat client on each side, a heal,
//! a SIGSTOP of the leader, a kill -9 and restart of a follower: one leader, one
//! history, every line of both clients acknowledged, once and in order, and no
//! node busy once the cluster is idle.
//!
//! Needs root and `ip` (iproute2). Without them the test says why and skips; on CI
//! (`CI=true`) it must run, so a missing requirement fails it instead.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod hosts;
mod real;

use hosts::{chat, chat_in, skipped, Net};
use real::{wait_for, Scratch};
use std::collections::BTreeMap;
use std::time::Duration;

#[allow(
    clippy::too_many_lines,
    reason = "one story, read top to bottom: start, cut, heal, crash, converge"
)]
fn cut_heal_crash(election: &str) {
    if skipped() {
        return;
    }
    let scratch = Scratch::new(&format!("netns-{election}"));
    let n = 5;
    let mut net = Net::build(n);
    for i in 1..=n {
        net.start(i, &scratch, election);
    }
    let all: Vec<u32> = (1..=n).collect();
    let leader = wait_for(
        Duration::from_secs(30),
        "one leader over the bridge",
        || net.agreed(&all),
    ) as u32;
    let mut alice = chat(&net, &scratch, "alice");
    let mut sent = 0u32;
    let mut say = |c: &mut real::ChatProc, count: u32| {
        for _ in 0..count {
            sent += 1;
            c.say(&format!("m{sent}"));
        }
        sent
    };
    let total = say(&mut alice, 10);
    wait_for(Duration::from_secs(15), "the first messages", || {
        (alice.entries().len() >= total as usize).then_some(())
    });

    // Cut off one follower: the others declare it dead; the cluster goes on.
    let cut = if leader == 1 { 2 } else { 1 };
    net.cut(cut);
    wait_for(
        Duration::from_secs(15),
        "the cut-off node declared dead",
        || {
            let s = net.status(leader)?;
            let m = s["members"]
                .as_array()?
                .iter()
                .find(|m| m["id"].as_u64() == Some(u64::from(cut)))?
                .clone();
            (m["state"] == "dead").then_some(())
        },
    );
    let total = say(&mut alice, 10);
    wait_for(
        Duration::from_secs(15),
        "messages while it is cut off",
        || (alice.entries().len() >= total as usize).then_some(()),
    );

    // Heal: it comes back, and catches up.
    net.heal(cut);
    wait_for(
        Duration::from_secs(30),
        "the healed node back with the whole history",
        || {
            let s = net.status(cut)?;
            let l = net.status(leader)?;
            (s["leader"] == l["leader"] && s["commit_digest"] == l["commit_digest"]).then_some(())
        },
    );

    // Crash the leader: a new one, and everything goes on.
    net.kill(leader);
    let survivors: Vec<u32> = all.iter().copied().filter(|i| *i != leader).collect();
    let new_leader = wait_for(Duration::from_secs(30), "a new leader", || {
        net.agreed(&survivors)
    });
    assert_ne!(new_leader, u64::from(leader));
    let total = say(&mut alice, 10);
    wait_for(
        Duration::from_secs(20),
        "messages through the new leader",
        || (alice.entries().len() >= total as usize).then_some(()),
    );

    // Converged: one leader, one committed history on every survivor.
    let digests = wait_for(Duration::from_secs(20), "converged histories", || {
        net.same_history(&survivors)
    });
    let entries = alice.entries();
    for i in 1..=total {
        let text = format!("m{i}");
        assert_eq!(
            entries.iter().filter(|e| e.2 == text).count(),
            1,
            "{text} exactly once: {entries:?}"
        );
    }
    assert!(alice.finish().success(), "every message acknowledged");
    assert!(digests["commit_index"].as_u64().unwrap() >= u64::from(total));
}

#[test]
fn five_hosts_on_a_bridge_survive_a_cut_a_heal_and_a_leader_crash_quorum() {
    cut_heal_crash("quorum");
}

#[test]
fn five_hosts_on_a_bridge_survive_a_cut_a_heal_and_a_leader_crash_bully() {
    cut_heal_crash("bully");
}

#[test]
fn five_hosts_on_a_bridge_survive_a_cut_a_heal_and_a_leader_crash_ring() {
    cut_heal_crash("ring");
}

/// The history a client ends up with: entries by index, where a `rewritten`
/// event (a healed split brain) drops what it had seen from that index on.
fn final_history(client: &real::ChatProc) -> BTreeMap<u64, String> {
    let mut history = BTreeMap::new();
    for e in client.events() {
        if e["event"] == "rewritten" {
            let from = e["from"].as_u64().unwrap_or(0);
            history.retain(|i, _| *i < from);
        } else if e["event"] == "entry" {
            let index = e["index"].as_u64().unwrap_or(0);
            history.insert(index, e["text"].as_str().unwrap_or("").to_owned());
        }
    }
    history
}

/// `client` says `count` numbered lines, recorded in `lines`.
fn say(client: &mut real::ChatProc, lines: &mut Vec<String>, who: &str, count: usize) {
    for _ in 0..count {
        let line = format!("{who}-{}", lines.len() + 1);
        client.say(&line);
        lines.push(line);
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one story, read top to bottom: partition with a client each side, heal, pause the leader, restart a node, converge, idle"
)]
fn partition_pause_restart(election: &str) {
    use nix::sys::signal::Signal;
    if skipped() {
        return;
    }
    let scratch = Scratch::new(&format!("netns-split-{election}"));
    let n = 5;
    let mut net = Net::build(n);
    for i in 1..=n {
        net.start(i, &scratch, election);
    }
    let all: Vec<u32> = (1..=n).collect();
    wait_for(Duration::from_secs(30), "one leader", || net.agreed(&all));
    // alice talks from the bridge (the side of n3..n5), bob from n1's host.
    let mut alice = chat(&net, &scratch, "alice");
    let mut bob = chat_in(&net, &scratch, "bob", &net.node_ns(1));
    let mut lines: Vec<String> = Vec::new();
    say(&mut alice, &mut lines, "alice", 5);
    say(&mut bob, &mut lines, "bob", 5);
    wait_for(Duration::from_secs(20), "the first lines", || {
        (final_history(&alice).len() >= 10).then_some(())
    });

    // A 2|3 partition with a client on each side. Under bully and ring both
    // sides elect a leader and serve; under quorum only the majority does.
    net.partition(&[1, 2]);
    wait_for(Duration::from_secs(30), "a leader of n3..n5", || {
        net.agreed(&[3, 4, 5])
    });
    if election != "quorum" {
        wait_for(Duration::from_secs(30), "a leader of n1, n2", || {
            net.agreed(&[1, 2])
        });
    }
    say(&mut alice, &mut lines, "alice", 10);
    say(&mut bob, &mut lines, "bob", 10);
    // Both sides commit their client's lines (under quorum only alice's): two
    // branches of one history, to be merged at the heal.
    let sides: &[(&real::ChatProc, &str)] = if election == "quorum" {
        &[(&alice, "alice")]
    } else {
        &[(&alice, "alice"), (&bob, "bob")]
    };
    for (client, who) in sides {
        wait_for(Duration::from_secs(20), "each side to go on", || {
            let seen = final_history(client);
            lines
                .iter()
                .filter(|l| l.starts_with(who))
                .all(|l| seen.values().any(|t| t == l))
                .then_some(())
        });
    }

    // Heal: one leader, one history, every line of both sides in it.
    net.heal_all();
    wait_for(
        Duration::from_secs(60),
        "one history after the heal",
        || net.converged(&all),
    );

    // The leader stands still (SIGSTOP): the others go on without it; it
    // wakes (SIGCONT) and falls in.
    let leader = net.agreed(&all).unwrap() as u32;
    net.signal(leader, Signal::SIGSTOP);
    let others: Vec<u32> = all.iter().copied().filter(|i| *i != leader).collect();
    wait_for(
        Duration::from_secs(30),
        "a leader while it stands still",
        || net.agreed(&others).filter(|l| *l != u64::from(leader)),
    );
    say(&mut alice, &mut lines, "alice", 5);
    net.signal(leader, Signal::SIGCONT);

    // kill -9 of a follower, and its restart.
    let follower = others[0];
    net.kill(follower);
    net.start(follower, &scratch, election);
    say(&mut bob, &mut lines, "bob", 5);

    let end = wait_for(Duration::from_secs(60), "one history at the end", || {
        let st = net.converged(&all)?;
        let seen = final_history(&alice);
        let got = lines.iter().all(|l| seen.values().any(|t| t == l));
        got.then_some(st)
    });
    for history in [final_history(&alice), final_history(&bob)] {
        for line in &lines {
            assert_eq!(
                history.values().filter(|t| *t == line).count(),
                1,
                "{election}: {line} exactly once: {history:?}"
            );
        }
        // Each client's lines in the order it sent them.
        for who in ["alice", "bob"] {
            let order: Vec<usize> = history
                .values()
                .filter(|t| t.starts_with(who))
                .filter_map(|t| t.rsplit_once('-')?.1.parse().ok())
                .collect();
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "{election}: {who} in order: {order:?}"
            );
        }
    }
    assert!(end["commit_index"].as_u64().unwrap() >= lines.len() as u64);
    assert!(
        alice.finish().success(),
        "{election}: alice's lines all acknowledged"
    );
    assert!(
        bob.finish().success(),
        "{election}: bob's lines all acknowledged"
    );

    // Idle: no busy loop. A node that answers its peers as fast as frames
    // travel burns 30-65 % of a core; an idle one well under 2 %. The bound
    // is far from both, so a loaded machine does not trip it.
    let hz = 100; // /proc counts CPU time in USER_HZ, 100 on Linux
    let before: Vec<Option<u64>> = all.iter().map(|i| net.cpu_ticks(*i)).collect();
    let window = Duration::from_secs(5);
    std::thread::sleep(window); // a measurement interval, not a wait for a condition
    for (i, b) in all.iter().zip(before) {
        let (Some(b), Some(a)) = (b, net.cpu_ticks(*i)) else {
            continue;
        };
        let share = (a - b) as f64 / hz as f64 / window.as_secs_f64();
        assert!(
            share < 0.2,
            "{election}: idle n{i} used {:.0} % of a core",
            share * 100.0
        );
    }
}

#[test]
fn five_hosts_heal_a_partition_with_a_client_on_each_side_quorum() {
    partition_pause_restart("quorum");
}

#[test]
fn five_hosts_heal_a_partition_with_a_client_on_each_side_bully() {
    partition_pause_restart("bully");
}

#[test]
fn five_hosts_heal_a_partition_with_a_client_on_each_side_ring() {
    partition_pause_restart("ring");
}
