//! `ringleader-jobs` on real processes: the job runs on one node at a time,
//! with a higher epoch after each failover, and never outlives its node's
//! leadership: not after `kill -9` of the node (its supervisor sees the pipe
//! close), not while the node process is stopped (the lease it renewed runs
//! out in the supervisor).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ringleader-jobs");

/// Every run of the job so far: (epoch, node, pid), in order.
fn runs(scratch: &Scratch) -> Vec<(u64, u32, i32)> {
    let text = std::fs::read_to_string(scratch.0.join("runs")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut w = l.split(' ');
            Some((
                w.next()?.parse().ok()?,
                w.next()?.parse().ok()?,
                w.next()?.parse().ok()?,
            ))
        })
        .collect()
}

fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
}

/// The runs still alive; asserts there is at most one.
fn running(scratch: &Scratch) -> Option<(u64, u32, i32)> {
    let live: Vec<_> = runs(scratch).into_iter().filter(|r| alive(r.2)).collect();
    assert!(live.len() <= 1, "the job runs more than once: {live:?}");
    live.first().copied()
}

#[test]
fn the_job_runs_once_moves_on_failover_and_dies_with_its_leadership() {
    let ports = Ports::fresh(5);
    let scratch = Scratch::new("jobs");
    let runs_file = scratch.0.join("runs");
    let job = format!(
        "echo \"$RINGLEADER_EPOCH $RINGLEADER_NODE $$\" >> {}; exec sleep 1000",
        runs_file.display()
    );
    let start = |id: u32| {
        let mut args = node_flags(&ports, &scratch, "jobs", id);
        args.extend([
            "--".to_owned(),
            "sh".to_owned(),
            "-c".to_owned(),
            job.clone(),
        ]);
        spawn(BIN, &args, scratch.0.join(format!("n{id}.log")))
    };
    let mut nodes: Vec<Option<Proc>> = (1..=3).map(|id| Some(start(id))).collect();
    let (e1, first, pid1) = wait_for(Duration::from_secs(30), "the job", || running(&scratch));

    // kill -9 of the node: its supervisor ends the job; another node runs it.
    nodes[first as usize - 1] = None;
    wait_for(Duration::from_secs(10), "the orphaned job to end", || {
        (!alive(pid1)).then_some(())
    });
    let (e2, second, pid2) = wait_for(Duration::from_secs(30), "the job elsewhere", || {
        running(&scratch).filter(|r| r.1 != first)
    });
    assert!(e2 > e1, "the fencing token went from {e1} to {e2}");
    // Back over its data, the killed node follows (a majority without the next).
    nodes[first as usize - 1] = Some(start(first));

    // The node stands still: its lease runs out in the supervisor.
    let stopped = nodes[second as usize - 1].as_ref().unwrap().0.id();
    let stopped = Pid::from_raw(i32::try_from(stopped).unwrap());
    kill(stopped, Signal::SIGSTOP).unwrap();
    wait_for(
        Duration::from_secs(10),
        "the stopped node's job to end",
        || (!alive(pid2)).then_some(()),
    );
    let (e3, third, _) = wait_for(Duration::from_secs(30), "the job on another node", || {
        running(&scratch).filter(|r| r.1 != second)
    });
    assert!(e3 > e2);
    kill(stopped, Signal::SIGCONT).unwrap();
    // Woken, the old leader learns it lost; the job stays where it is.
    wait_for(Duration::from_secs(10), "the woken node to follow", || {
        let log = std::fs::read_to_string(scratch.0.join(format!("n{second}.log"))).ok()?;
        log.contains(&format!("leader=n{third}")).then_some(())
    });
    assert_eq!(running(&scratch).map(|r| r.1), Some(third));
    drop(nodes);
}
