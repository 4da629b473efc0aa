//! Retention on real processes (issue 17): nodes that keep only the newest
//! history delete old segments, a fresh node joins and catches up from a
//! snapshot, and a client resuming from the start is told where the kept
//! history begins.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod real;

use real::*;
use std::time::Duration;

const RETAINING: [&str; 10] = [
    "--election",
    "quorum",
    "--voters",
    "1,2,3",
    "--retain",
    "500",
    "--segment-bytes",
    "32KiB",
    "--log-memory",
    "64KiB",
];

fn segments(scratch: &Scratch, id: u32) -> usize {
    std::fs::read_dir(scratch.0.join(format!("n{id}")).join("log"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "seg"))
            })
            .count()
        })
        .unwrap_or(0)
}

/// A chat client that wrote `total` messages to `servers`, all acknowledged.
fn write_history(ports: &Ports, scratch: &Scratch, servers: &[String], total: u64) -> ChatProc {
    let mut flags = server_flags(servers);
    flags.extend(["--buffer", "10000"]);
    let mut chat = ChatProc::start("writer", ports, scratch, &flags);
    for i in 0..total {
        chat.say(&format!("message {i} of a long history"));
    }
    wait_for(
        Duration::from_secs(60),
        "every message acknowledged",
        || {
            chat.events()
                .iter()
                .any(|e| e["event"] == "acked" && e["seq"].as_u64() == Some(total))
                .then_some(())
        },
    );
    chat
}

/// `Some` when every node answers with the same committed digest.
fn same_digest(addrs: &[String]) -> Option<()> {
    let digests: Vec<String> = addrs
        .iter()
        .map(|a| status(a).map(|s| s["commit_digest"].to_string()))
        .collect::<Option<_>>()?;
    digests.windows(2).all(|w| w[0] == w[1]).then_some(())
}

#[test]
fn old_segments_go_and_a_fresh_node_catches_up_from_a_snapshot() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("retention");
    let mut nodes: Vec<NodeProc> = (1..=2)
        .map(|id| start_node("retain", &ports, id, &scratch, &RETAINING))
        .collect();
    let addrs: Vec<String> = (1..=3)
        .map(|id| format!("127.0.0.1:{}", u32::from(ports.base) + id))
        .collect();
    let up = &addrs[..2];
    wait_for(Duration::from_secs(20), "a leader of n1 and n2", || {
        agreed_leader(up)
    });
    let chat = write_history(&ports, &scratch, up, 3_000);
    // The nodes compacted: their logs start late, old segments are gone.
    let started = wait_for(Duration::from_secs(60), "both nodes compacting", || {
        let starts: Vec<u64> = up
            .iter()
            .map(|a| status(a).and_then(|s| s["log_start"].as_u64()))
            .collect::<Option<_>>()?;
        starts.iter().all(|s| *s > 1).then(|| starts[0])
    });
    let last = status(&up[0]).unwrap()["last_index"].as_u64().unwrap();
    assert!(
        last + 1 - started >= 500,
        "keeps at least 500 entries: {started}..={last}"
    );
    assert!(
        segments(&scratch, 1) < 40,
        "old segments deleted: {}",
        segments(&scratch, 1)
    );
    // A fresh node joins with nothing: the entries it needs are gone, so it
    // takes a snapshot, then the entries after it.
    nodes.push(start_node("retain", &ports, 3, &scratch, &RETAINING));
    let leader = agreed_leader(up).unwrap() as usize;
    let commit = wait_for(Duration::from_secs(20), "the leader's commit", || {
        let c = status(&addrs[leader - 1])?["commit_index"].as_u64()?;
        (c > 3_000).then_some(c)
    });
    let caught_up = wait_for(Duration::from_secs(30), "n3 caught up", || {
        let s = status(&addrs[2])?;
        (s["commit_index"].as_u64()? >= commit).then_some(s)
    });
    assert!(
        caught_up["log_start"].as_u64().unwrap() > 1,
        "n3 started from a snapshot: {caught_up}"
    );
    assert!(caught_up["last_index"].as_u64().unwrap() >= 3_000);
    // The same committed history, digest included: the digest of entries n3
    // never held came with the snapshot (every node had compacted them
    // away before n3 joined, so it could get them no other way).
    wait_for(
        Duration::from_secs(20),
        "the same digest on all three",
        || same_digest(&addrs),
    );
    // A new reader starts from the very start: it is told where the kept
    // history begins.
    let reader_flags = server_flags(&addrs);
    let reader = ChatProc::start("reader", &ports, &scratch, &reader_flags);
    wait_for(
        Duration::from_secs(20),
        "the reader told where history starts",
        || {
            reader
                .events()
                .iter()
                .find(|e| e["event"] == "history_starts")
                .and_then(|e| e["first"].as_u64())
                .filter(|first| *first > 1)
        },
    );
    drop(reader);
    drop(chat);
    drop(nodes);
}
