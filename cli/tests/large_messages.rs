//! The largest message a client may send flows end to end: through batches,
//! catch-up and pushes to clients, across a kill -9 of the leader and the
//! return of the killed node (issue 16: every message carrying entries is cut
//! by bytes, so none outgrows the frame limit).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod real;

use real::*;
use ringleader_core::wire::MAX_CHAT_BYTES;
use std::time::Duration;

fn texts(chat: &ChatProc) -> Vec<String> {
    chat.entries().into_iter().map(|e| e.2).collect()
}

#[test]
fn messages_of_the_largest_size_survive_a_failover_and_a_catch_up() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("large-messages");
    let flags = ["--election", "quorum", "--voters", "1,2,3"];
    let mut nodes: Vec<NodeProc> = (1..=3)
        .map(|id| start_node("large", &ports, id, &scratch, &flags))
        .collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
    let leader = wait_for(Duration::from_secs(20), "a leader", || {
        agreed_leader(&addrs)
    });
    let servers = server_flags(&addrs);
    let mut chat = ChatProc::start("big", &ports, &scratch, &servers);
    let line = |i: usize| format!("{i:05}{}", "x".repeat(MAX_CHAT_BYTES - 5));
    for i in 0..150 {
        chat.say(&line(i));
    }
    wait_for(Duration::from_secs(60), "150 large messages", || {
        (texts(&chat).len() >= 150).then_some(())
    });

    let victim = nodes
        .iter()
        .position(|n| u64::from(n.id) == leader)
        .unwrap();
    let killed = nodes.remove(victim); // dropped: killed with SIGKILL
    drop(killed);
    for i in 150..300 {
        chat.say(&line(i));
    }
    wait_for(
        Duration::from_secs(60),
        "150 more through a new leader",
        || (texts(&chat).len() >= 300).then_some(()),
    );
    // The killed node comes back 150 large entries behind: catch-up chunks.
    let back = start_node("large", &ports, leader as u32, &scratch, &flags);
    nodes.push(back);
    let digest =
        |a: &str| status(a).map(|s| (s["commit_digest"].clone(), s["commit_index"].clone()));
    wait_for(
        Duration::from_secs(60),
        "the returning node caught up",
        || {
            let all: Vec<_> = addrs.iter().map(|a| digest(a)).collect::<Option<_>>()?;
            all.windows(2).all(|w| w[0] == w[1]).then_some(())
        },
    );
    let seen = texts(&chat);
    assert_eq!(seen.len(), 300);
    for (i, t) in seen.iter().enumerate() {
        assert_eq!(t.len(), MAX_CHAT_BYTES);
        assert!(
            t.starts_with(&format!("{i:05}")),
            "message {i} out of place"
        );
    }
}
