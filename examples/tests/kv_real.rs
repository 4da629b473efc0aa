//! `ringleader-kv` on real processes: writes through the leader, reads only
//! from the fenced leader, followers redirect, and the store survives a
//! `kill -9` of its leader with every acknowledged write.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ringleader-kv");

/// One request to the store at `port`, its answer line.
fn ask(port: u16, request: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    writeln!(s, "{request}").ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    Some(line.trim_end().to_owned())
}

/// The node whose store answers a read itself (the fenced leader).
fn leader(ports: &Ports, alive: &[u32]) -> u32 {
    wait_for(Duration::from_secs(30), "a fenced leader", || {
        alive.iter().copied().find(|&id| {
            ask(kv_port(ports, id), "GET probe")
                .is_some_and(|a| a == "NOTFOUND" || a.starts_with("VALUE"))
        })
    })
}

/// Starts the store's node `id` of cluster `cluster`, with `extra` flags.
fn start_kv(ports: &Ports, scratch: &Scratch, cluster: &str, id: u32, extra: &[&str]) -> Proc {
    let mut args = vec![
        "--kv".to_owned(),
        format!("127.0.0.1:{}", kv_port(ports, id)),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args.extend(node_flags(ports, scratch, cluster, id));
    spawn(BIN, &args, scratch.0.join(format!("n{id}.log")))
}

/// [`start_kv`] with a small retained log (50 entries, 4 KiB segments) and a
/// store snapshot every 100 entries.
fn start_retaining(ports: &Ports, scratch: &Scratch, cluster: &str, id: u32) -> Proc {
    let extra = [
        "--snapshot-every",
        "100",
        "--retain",
        "50",
        "--segment-bytes",
        "4096",
    ];
    start_kv(ports, scratch, cluster, id, &extra)
}

/// Node `id`'s store port.
fn kv_port(ports: &Ports, id: u32) -> u16 {
    ports.base + 10 + id as u16
}

#[test]
fn the_store_keeps_acknowledged_writes_across_a_leader_kill() {
    let ports = Ports::fresh(3);
    let scratch = Scratch::new("kv");
    let start = |id: u32| start_kv(&ports, &scratch, "kv", id, &[]);
    let mut nodes: Vec<Option<Proc>> = (1..=3).map(|id| Some(start(id))).collect();
    let first = leader(&ports, &[1, 2, 3]);
    let port = |id: u32| kv_port(&ports, id);

    for i in 0..50 {
        let answer = ask(port(first), &format!("PUT key{i} value {i}")).unwrap();
        assert!(answer.starts_with("OK "), "{answer}");
    }
    let answer = ask(port(first), "GET key7").unwrap();
    assert!(
        answer.starts_with("VALUE ") && answer.ends_with(" value 7"),
        "{answer}"
    );
    let follower = (1..=3).find(|&id| id != first).unwrap();
    assert_eq!(
        ask(port(follower), "GET key7").unwrap(),
        format!("REDIRECT {first}")
    );
    assert_eq!(
        ask(port(follower), "PUT a b").unwrap(),
        format!("REDIRECT {first}")
    );
    assert!(ask(port(first), "DELETE key7").unwrap().starts_with("ERR "));
    assert!(ask(port(first), "PUT bad=key x")
        .unwrap()
        .starts_with("ERR "));

    // kill -9 of the leader: the others elect one that serves every write.
    nodes[first as usize - 1] = None;
    let alive: Vec<u32> = (1..=3).filter(|&id| id != first).collect();
    let second = leader(&ports, &alive);
    for i in 0..50 {
        let answer = wait_for(Duration::from_secs(10), "a read", || {
            ask(port(second), &format!("GET key{i}")).filter(|a| a != "RETRY")
        });
        assert!(answer.ends_with(&format!(" value {i}")), "key{i}: {answer}");
    }
    assert!(ask(port(second), "PUT after kill")
        .unwrap()
        .starts_with("OK "));

    // The killed node comes back over its data and follows.
    nodes[first as usize - 1] = Some(start(first));
    assert_eq!(
        wait_for(Duration::from_secs(20), "the old leader redirects", || {
            // "REDIRECT -" until it has heard who leads.
            ask(port(first), "GET key1").filter(|a| a.starts_with("REDIRECT ") && a != "REDIRECT -")
        }),
        format!("REDIRECT {second}")
    );
    drop(nodes);
}

/// With retention deleting old segments, a whole cluster killed with `kill -9`
/// comes back with every write: each node's store resumes from the snapshot
/// it saved, and retention kept the entries after it.
#[test]
fn with_retention_a_cluster_killed_whole_comes_back_with_every_write() {
    let ports = Ports::fresh(7);
    let scratch = Scratch::new("kv-retain");
    let start = |id: u32| start_retaining(&ports, &scratch, "kvr", id);
    let port = |id: u32| kv_port(&ports, id);
    let nodes: Vec<Proc> = (1..=3).map(start).collect();
    let first = leader(&ports, &[1, 2, 3]);
    let total = 495;
    for i in 0..total {
        let answer = ask(port(first), &format!("PUT key{i} value {i}")).unwrap();
        assert!(answer.starts_with("OK "), "{answer}");
    }
    wait_for(
        Duration::from_secs(10),
        "a snapshot of the store on disk",
        || {
            scratch
                .0
                .join(format!("n{first}/kv.snapshot"))
                .exists()
                .then_some(())
        },
    );
    drop(nodes);
    let nodes: Vec<Proc> = (1..=3).map(start).collect();
    let again = leader(&ports, &[1, 2, 3]);
    for i in (0..total).step_by(7) {
        let answer = wait_for(Duration::from_secs(10), "a read", || {
            ask(port(again), &format!("GET key{i}")).filter(|a| a != "RETRY")
        });
        assert!(answer.ends_with(&format!(" value {i}")), "key{i}: {answer}");
    }
    drop(nodes);
}

/// A follower killed while the others write far past what they retain comes
/// back behind their retained log: it takes the leader's log snapshot and,
/// with it, the store's own snapshot, and once it leads it serves every
/// write (without the store's snapshot it could not rebuild the store).
#[test]
fn a_follower_behind_the_retained_log_rebuilds_its_store_from_its_leaders() {
    let ports = Ports::fresh(8);
    let scratch = Scratch::new("kv-behind");
    let start = |id: u32| start_retaining(&ports, &scratch, "kvb", id);
    let port = |id: u32| kv_port(&ports, id);
    let mut nodes: Vec<Option<Proc>> = (1..=3).map(|id| Some(start(id))).collect();
    let first = leader(&ports, &[1, 2, 3]);
    let behind = (1..=3).find(|&id| id != first).unwrap();
    assert!(ask(port(first), "PUT early 1").unwrap().starts_with("OK "));
    nodes[behind as usize - 1] = None; // kill -9
    let total = 495;
    for i in 0..total {
        let answer = ask(port(first), &format!("PUT key{i} value {i}")).unwrap();
        assert!(answer.starts_with("OK "), "{answer}");
    }
    let first_segment = scratch.0.join(format!("n{first}/log/00000001.seg"));
    wait_for(Duration::from_secs(10), "retention on the leader", || {
        (!first_segment.exists()).then_some(())
    });
    nodes[behind as usize - 1] = Some(start(behind));
    let sent = scratch.0.join(format!("n{behind}/log/app-snapshot"));
    wait_for(
        Duration::from_secs(20),
        "the store's snapshot from the leader",
        || sent.exists().then_some(()),
    );
    // Hand the leadership on until the node that was behind has it: kill -9
    // whoever leads and start it again (the two others elect meanwhile).
    let mut leading = first;
    for _ in 0..12 {
        if leading == behind {
            break;
        }
        nodes[leading as usize - 1] = None;
        let alive: Vec<u32> = (1..=3).filter(|&id| id != leading).collect();
        let next = leader(&ports, &alive);
        nodes[leading as usize - 1] = Some(start(leading));
        leading = next;
    }
    assert_eq!(leading, behind, "the node that was behind never led");
    for i in (0..total).step_by(7).chain([total - 1]) {
        let answer = wait_for(Duration::from_secs(10), "a read", || {
            ask(port(behind), &format!("GET key{i}")).filter(|a| a != "RETRY")
        });
        assert!(answer.ends_with(&format!(" value {i}")), "key{i}: {answer}");
    }
    let early = ask(port(behind), "GET early").unwrap();
    assert!(early.ends_with(" 1"), "{early}");
    drop(nodes);
}
