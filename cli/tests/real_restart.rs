//! A restarted node on real processes: its lower-id peers hear it at once (their
//! links to its old process dial its new one as soon as its first word
//! arrives), so it never declares them dead and never leads alone at a stale
//! epoch beside the leader they follow (issue 14, item 1).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod real;

use real::*;
use std::time::Duration;

#[test]
fn a_restarted_highest_node_is_heard_at_once_and_never_leads_alone() {
    for election in ["bully", "ring"] {
        let ports = Ports::fresh();
        let scratch = Scratch::new(&format!("restart-heard-{election}"));
        let cluster = format!("heard-{}", ports.base);
        let args = ["--election", election];
        let mut nodes: Vec<NodeProc> = (1..=3)
            .map(|id| start_node(&cluster, &ports, id, &scratch, &args))
            .collect();
        let addrs: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
        let leader = wait_for(Duration::from_secs(20), "a leader", || {
            agreed_leader(&addrs)
        });
        assert_eq!(leader, 3, "{election}");
        for round in 0..2 {
            drop(nodes.pop()); // kill -9 of n3
            wait_for(Duration::from_secs(20), "n2 to take over", || {
                agreed_leader(&addrs[..2]).filter(|&l| l == 2)
            });
            // The downtime is the scenario, not a wait for a condition: long
            // enough for the lower nodes' links to n3 to back off to their
            // longest pause (2 s ± 50 %), which once delayed hearing the new n3.
            std::thread::sleep(Duration::from_secs(4));
            nodes.push(start_node(&cluster, &ports, 3, &scratch, &args));
            wait_for(Duration::from_secs(20), "n3 to lead again", || {
                agreed_leader(&addrs).filter(|&l| l == 3)
            });
            let log = std::fs::read_to_string(scratch.0.join("n3.log")).unwrap();
            assert!(
                !log.contains("member died"),
                "{election}, round {round}: the restarted n3 declared a live peer dead:\n{log}"
            );
        }
    }
}
