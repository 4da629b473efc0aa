//! Quorum's lease on real processes: three hosts in network namespaces whose
//! `--on-leader` and `--on-follower` hooks write down when each node began and
//! stopped leading. The leader is cut off by a partition, stopped with SIGSTOP
//! and killed with `kill -9`; a new leader's `--on-leader` must never start
//! while another node still leads, by that node's own account
//! (`RINGLEADER_LED_UNTIL_MS`, which for a process that stood still past its
//! lease is the lease's end), and the epochs, the fencing tokens, only grow.
//!
//! Needs root and `ip` (iproute2); skips and says why without them, except on
//! CI (`CI=true`), where it must run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod hosts;
mod real;

use hosts::{skipped, Net};
use real::{wait_for, Scratch};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// One leadership as the hooks recorded it.
#[derive(Debug, Clone)]
struct Reign {
    node: u32,
    epoch: u64,
    /// When `--on-leader` ran (ms since the Unix epoch).
    began: u64,
    /// Until when the node led, by its own account; `None` while it leads.
    until: Option<u64>,
}

/// Reads the hooks' file: `<ms> start <node> <epoch>` and
/// `<ms> end <node> <epoch> <led until ms>` lines.
fn reigns(file: &Path) -> Vec<Reign> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut open: BTreeMap<u32, Reign> = BTreeMap::new();
    let mut done = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap();
        match f.get(1).copied() {
            Some("start") => {
                let node = num(2) as u32;
                let reign = Reign {
                    node,
                    epoch: num(3),
                    began: num(0),
                    until: None,
                };
                if let Some(old) = open.insert(node, reign) {
                    panic!("{old:?} began again without ending:\n{text}");
                }
            }
            Some("end") => {
                let node = num(2) as u32;
                let mut reign = open
                    .remove(&node)
                    .unwrap_or_else(|| panic!("n{node} ended a reign it never began:\n{text}"));
                let until = num(4);
                assert!(until <= num(0) + 5, "led until after its hook ran: {line}");
                reign.until = Some(until);
                done.push(reign);
            }
            _ => panic!("unreadable hook line {line:?}"),
        }
    }
    done.extend(open.into_values());
    done.sort_by_key(|r| r.began);
    done
}

/// The node that leads now, by the hooks: the one reign still open.
fn reigning(file: &Path, alive: &[u32]) -> Option<u32> {
    let open: Vec<u32> = reigns(file)
        .iter()
        .filter(|r| r.until.is_none() && alive.contains(&r.node))
        .map(|r| r.node)
        .collect();
    (open.len() == 1).then(|| open[0])
}

/// Whether `node`'s hook has recorded the end of a reign of it.
fn stepped_down(file: &Path, node: u32) -> bool {
    reigns(file)
        .iter()
        .any(|r| r.node == node && r.until.is_some())
}

fn hooks(file: &Path) -> Vec<String> {
    let f = file.display();
    vec![
        "--on-leader".into(),
        format!(r#"echo "$(date +%s%3N) start $RINGLEADER_NODE $RINGLEADER_EPOCH" >> {f}"#),
        "--on-follower".into(),
        format!(
            r#"[ -z "$RINGLEADER_LED_UNTIL_MS" ] || echo "$(date +%s%3N) end $RINGLEADER_NODE $RINGLEADER_EPOCH $RINGLEADER_LED_UNTIL_MS" >> {f}"#
        ),
    ]
}

#[allow(
    clippy::too_many_lines,
    reason = "one story, read top to bottom: partition, pause, kill, then the hooks' record"
)]
#[test]
fn a_new_quorum_leaders_hook_never_starts_while_the_old_one_leads() {
    if skipped() {
        return;
    }
    let scratch = Scratch::new("netns-lease");
    let file = scratch.0.join("hooks.txt");
    let n = 3;
    let mut net = Net::build(n);
    for i in 1..=n {
        net.start_with(i, &scratch, "quorum", &hooks(&file));
    }
    let all: Vec<u32> = (1..=n).collect();
    let first = wait_for(Duration::from_secs(30), "a first leader", || {
        let l = net.agreed(&all)? as u32;
        (reigning(&file, &all) == Some(l)).then_some(l)
    });

    // 1. The leader is cut off: it steps down when its lease runs out; the
    //    other two elect a leader, but only after that.
    net.cut(first);
    let others: Vec<u32> = all.iter().copied().filter(|&i| i != first).collect();
    let second = wait_for(Duration::from_secs(30), "a leader of the majority", || {
        let l = net.agreed(&others)? as u32;
        (reigning(&file, &others) == Some(l)).then_some(l)
    });
    wait_for(
        Duration::from_secs(10),
        "the cut-off leader's step-down",
        || stepped_down(&file, first).then_some(()),
    );
    net.heal(first);
    wait_for(Duration::from_secs(30), "one leader after the heal", || {
        (net.agreed(&all)? as u32 == second).then_some(())
    });

    // 2. The leader's process stands still: the others elect a new leader
    //    once its lease is over; woken, it steps down at once, having led
    //    only until its lease ended.
    net.signal(second, nix::sys::signal::Signal::SIGSTOP);
    let awake: Vec<u32> = all.iter().copied().filter(|&i| i != second).collect();
    let third = wait_for(
        Duration::from_secs(30),
        "a leader while one stands still",
        || {
            let l = net.agreed(&awake)? as u32;
            (l != second).then_some(l)
        },
    );
    net.signal(second, nix::sys::signal::Signal::SIGCONT);
    wait_for(
        Duration::from_secs(10),
        "the woken leader's step-down",
        || stepped_down(&file, second).then_some(()),
    );
    let status = wait_for(Duration::from_secs(10), "the woken node's status", || {
        net.status(second)
    });
    assert_ne!(status["role"], "leader", "{status}");
    wait_for(Duration::from_secs(30), "one leader again", || {
        (net.agreed(&all)? as u32 == third).then_some(())
    });
    wait_for(Duration::from_secs(10), "n{third}'s on-leader hook", || {
        (reigning(&file, &all) == Some(third)).then_some(())
    });

    // 3. kill -9 of the leader: its reign ends when its process does.
    net.kill(third);
    let killed_at = now_ms();
    let left: Vec<u32> = all.iter().copied().filter(|&i| i != third).collect();
    let fourth = wait_for(Duration::from_secs(30), "a leader after the kill", || {
        let l = net.agreed(&left)? as u32;
        (reigning(&file, &left) == Some(l)).then_some(l)
    });
    assert_ne!(fourth, third);

    // The record: no reign begins inside another; epochs only grow.
    let mut record = reigns(&file);
    for r in &mut record {
        if r.node == third && r.until.is_none() {
            r.until = Some(killed_at);
        }
    }
    let text = std::fs::read_to_string(&file).unwrap();
    eprintln!("the hooks' record:\n{text}");
    assert!(record.len() >= 4, "four leaderships at least:\n{text}");
    for (i, a) in record.iter().enumerate() {
        for b in record.iter().skip(i + 1) {
            assert!(
                b.epoch > a.epoch,
                "epochs must grow: {a:?} then {b:?}\n{text}"
            );
            let a_until = a.until.unwrap_or(u64::MAX);
            assert!(
                b.began >= a_until,
                "n{} began leading (epoch {}) at {} while n{} led until {a_until}:\n{text}",
                b.node,
                b.epoch,
                b.began,
                a.node
            );
        }
    }
}
