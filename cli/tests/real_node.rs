//! One real node's duties: leaving gracefully on SIGTERM, running hooks, keeping
//! quorum's term and vote on disk (the `cluster` command: see cluster_cmd.rs).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod real;

use real::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn signal(child: &std::process::Child, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
}

fn sigterm(child: &std::process::Child) {
    signal(child, nix::sys::signal::Signal::SIGTERM);
}

fn member_state(s: &serde_json::Value, id: u32) -> Option<String> {
    s["members"]
        .as_array()?
        .iter()
        .find(|m| m["id"].as_u64() == Some(u64::from(id)))
        .and_then(|m| m["state"].as_str().map(str::to_owned))
}

#[test]
fn sigterm_leaves_gracefully_and_the_others_react_at_once() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("sigterm");
    let cluster = format!("sigterm-{}", ports.base);
    // A long failure timeout: only the goodbye can make the others react quickly.
    let slow = ["--failure-timeout", "30s", "--suspect-timeout", "20s"];
    let mut nodes: Vec<NodeProc> = (1..=3)
        .map(|id| start_node(&cluster, &ports, id, &scratch, &slow))
        .collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
    assert_eq!(
        wait_for(Duration::from_secs(20), "a leader", || agreed_leader(
            &addrs
        )),
        3
    );
    let leader = nodes.pop().unwrap();
    sigterm(&leader.child);
    let mut leader = leader;
    let exit = leader.child.wait().unwrap();
    assert!(exit.success(), "a graceful leave exits 0: {exit:?}");
    // Well inside the 30 s failure timeout, the others know and elect n2.
    let start = Instant::now();
    let survivors = &addrs[..2];
    wait_for(Duration::from_secs(10), "n3 left and n2 leads", || {
        let s = status(&survivors[0])?;
        (member_state(&s, 3).as_deref() == Some("left") && agreed_leader(survivors) == Some(2))
            .then_some(())
    });
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn hooks_run_with_the_role_in_their_environment_and_a_hanging_one_is_killed() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("hooks");
    let cluster = format!("hooks-{}", ports.base);
    let out = scratch.0.join("hook.out");
    let record = format!(
        "echo \"$RINGLEADER_ROLE $RINGLEADER_NODE $RINGLEADER_LEADER $RINGLEADER_EPOCH\" >> {}",
        out.display()
    );
    let hang = "sleep 30".to_owned();
    // n1's follower hook records and then fails; its leader hook hangs.
    let record_and_fail = format!("{record}; exit 3");
    let n1 = start_node(
        &cluster,
        &ports,
        1,
        &scratch,
        &[
            "--on-follower",
            &record_and_fail,
            "--on-leader",
            &hang,
            "--hook-timeout",
            "300ms",
        ],
    );
    let n2 = start_node(&cluster, &ports, 2, &scratch, &["--on-leader", &record]);
    let addrs = vec![n1.addr.clone(), n2.addr.clone()];
    assert_eq!(
        wait_for(Duration::from_secs(20), "a leader", || agreed_leader(
            &addrs
        )),
        2
    );
    let lines = wait_for(Duration::from_secs(10), "both hooks' lines", || {
        let text = std::fs::read_to_string(&out).ok()?;
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        (lines.len() >= 2).then_some(lines)
    });
    assert!(
        lines.iter().any(|l| l.starts_with("leader 2 2 ")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("follower 1 2 ")),
        "{lines:?}"
    );
    // n1's leader hook would hang; make n1 lead by stopping n2, and check the hook
    // is killed and the node goes on.
    drop(n2);
    wait_for(Duration::from_secs(10), "n1 leads", || {
        let s = status(&addrs[0])?;
        (s["role"] == "leader").then_some(())
    });
    wait_for(Duration::from_secs(10), "the hanging hook killed", || {
        let log = std::fs::read_to_string(scratch.0.join("n1.log")).ok()?;
        log.contains("timed out and was killed").then_some(())
    });
    assert!(status(&addrs[0]).is_some(), "the node still answers");
    let log1 = std::fs::read_to_string(scratch.0.join("n1.log")).unwrap();
    assert!(
        log1.contains("follower hook failed"),
        "a failing hook is logged"
    );
}

#[test]
fn a_node_stopped_and_continued_does_not_blame_the_others_for_its_own_silence() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("pause");
    let cluster = format!("pause-{}", ports.base);
    let nodes: Vec<NodeProc> = (1..=3)
        .map(|id| start_node(&cluster, &ports, id, &scratch, &[]))
        .collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
    wait_for(Duration::from_secs(20), "a leader", || {
        agreed_leader(&addrs)
    });

    // n1 stands still for four failure timeouts (the stop is the fault, not a wait
    // for a condition); the others' heartbeats queue up on its sockets meanwhile.
    signal(&nodes[0].child, nix::sys::signal::Signal::SIGSTOP);
    std::thread::sleep(Duration::from_secs(2));
    signal(&nodes[0].child, nix::sys::signal::Signal::SIGCONT);

    let log = scratch.0.join("n1.log");
    wait_for(Duration::from_secs(10), "n1 notices it stood still", || {
        let text = std::fs::read_to_string(&log).ok()?;
        text.contains("this node stood still").then_some(())
    });
    assert_eq!(
        wait_for(
            Duration::from_secs(20),
            "agreement again",
            || agreed_leader(&addrs)
        ),
        3
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("member died"),
        "n1 declared a member dead after its own pause:\n{text}"
    );
}

#[test]
fn quorum_keeps_term_and_vote_on_disk_across_a_restart() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("quorum-disk");
    let cluster = format!("qdisk-{}", ports.base);
    let q = ["--election", "quorum"];
    let mut nodes: Vec<NodeProc> = (1..=3)
        .map(|id| start_node(&cluster, &ports, id, &scratch, &q))
        .collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
    let leader = wait_for(Duration::from_secs(20), "a leader", || {
        agreed_leader(&addrs)
    });
    let state = |id: u32| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(scratch.0.join(format!("n{id}/state.json"))).unwrap(),
        )
        .unwrap()
    };
    let epoch = status(&addrs[0]).unwrap()["epoch"].as_u64().unwrap();
    let mut votes_for_leader = 0;
    for id in 1..=3 {
        let s = state(id);
        assert!(s["term"].as_u64().unwrap() >= epoch, "n{id}: {s}");
        if s["voted_for"].as_u64() == Some(leader) {
            votes_for_leader += 1;
        }
    }
    assert!(votes_for_leader >= 2, "a majority's vote is on disk");
    // Restart a follower with kill -9: its term and vote come back, its start count grows.
    let f = (1..=3u32).find(|i| u64::from(*i) != leader).unwrap();
    let before = state(f);
    let victim = nodes.iter_mut().find(|n| n.id == f).unwrap();
    victim.child.kill().unwrap();
    victim.child.wait().unwrap();
    *victim = start_node(&cluster, &ports, f, &scratch, &q);
    wait_for(
        Duration::from_secs(20),
        "the restarted node follows again",
        || {
            let s = status(&addrs[(f - 1) as usize])?;
            (s["leader"].as_u64() == Some(leader)).then_some(())
        },
    );
    let after = state(f);
    assert_eq!(
        after["starts"].as_u64(),
        before["starts"].as_u64().map(|s| s + 1)
    );
    assert!(after["term"].as_u64() >= before["term"].as_u64());
}

#[test]
fn an_unusable_data_directory_is_one_clear_line_and_a_failure() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("datadir");
    let file = scratch.0.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let out = Command::new(BIN)
        .args(["node", "--id", "1", "--port-base", &ports.base.to_string()])
        .args(["--mcast-port", &ports.mcast.to_string()])
        .arg("--data-dir")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().any(|l| l.starts_with("error: data directory")),
        "{err}"
    );
}

#[test]
fn the_history_survives_kill_9_of_every_node() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("whole-restart");
    let cluster = format!("restart-{}", ports.base);
    for election in ["quorum", "bully"] {
        let args = ["--election", election];
        let nodes: Vec<NodeProc> = (1..=3)
            .map(|id| start_node(&cluster, &ports, id, &scratch, &args))
            .collect();
        let addrs: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
        wait_for(Duration::from_secs(20), "a leader", || {
            agreed_leader(&addrs)
        });
        let mut alice = ChatProc::start(&format!("alice-{election}"), &ports, &scratch, &[]);
        for i in 0..5 {
            alice.say(&format!("{election} {i}"));
        }
        assert!(alice.finish().success(), "all acknowledged");
        drop(nodes); // kill -9 of every node
        let nodes: Vec<NodeProc> = (1..=3)
            .map(|id| start_node(&cluster, &ports, id, &scratch, &args))
            .collect();
        wait_for(
            Duration::from_secs(20),
            "a leader after the restart",
            || agreed_leader(&addrs),
        );
        let bob = ChatProc::start(&format!("bob-{election}"), &ports, &scratch, &[]);
        let texts = wait_for(Duration::from_secs(10), "the old history", || {
            let texts: Vec<String> = bob.entries().into_iter().map(|e| e.2).collect();
            texts
                .iter()
                .any(|t| t == &format!("{election} 4"))
                .then_some(texts)
        });
        for i in 0..5 {
            let t = format!("{election} {i}");
            assert_eq!(
                texts.iter().filter(|x| **x == t).count(),
                1,
                "{t} once: {texts:?}"
            );
        }
        assert!(bob.finish().success());
        drop(nodes);
    }
}

#[test]
fn a_second_node_on_a_data_directory_in_use_refuses_and_names_the_holder() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("dir-lock");
    let cluster = format!("lock-{}", ports.base);
    let n1 = start_node(&cluster, &ports, 1, &scratch, &[]);
    wait_for(Duration::from_secs(10), "n1 up", || status(&n1.addr));
    // Another id and port, the same directory.
    let out = Command::new(BIN)
        .args(["node", "--id", "2", "--cluster", &cluster, "--http", "off"])
        .args(["--port-base", &ports.base.to_string()])
        .args(["--mcast-port", &ports.mcast.to_string()])
        .arg("--data-dir")
        .arg(scratch.0.join("n1"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is in use by another node"), "{err}");
    assert!(err.contains(&format!("(pid {})", n1.child.id())), "{err}");
    assert!(status(&n1.addr).is_some(), "the first node serves on");
}

#[test]
fn a_config_file_sets_what_flags_set_and_a_flag_wins_over_it() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("config");
    let other = Ports::fresh();
    let config = scratch.0.join("node.toml");
    // The file names one port block; the command line another, which wins.
    std::fs::write(
        &config,
        format!(
            "id = 1\nport_base = {}\nmcast-port = {}\nelection = \"quorum\"\nvoters = [1]\n\
             durability = \"process\"\nhttp = \"off\"\ncluster = \"cfg-{}\"\ndata-dir = \"{}\"\n",
            other.base,
            ports.mcast,
            ports.base,
            scratch.0.join("n1").display()
        ),
    )
    .unwrap();
    let mut node = Command::new(BIN)
        .args(["node", "--config", config.to_str().unwrap()])
        .args(["--port-base", &ports.base.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{}", ports.base + 1);
    let s = wait_for(Duration::from_secs(10), "the configured node", || {
        status(&addr).filter(|s| s["role"] == "leader")
    });
    assert_eq!(s["election"], "quorum");
    assert_eq!(s["cluster"], format!("cfg-{}", ports.base));
    assert_eq!(s["disk"]["durability"], "process");
    assert!(s["http"].is_null(), "http = \"off\" from the file");
    let _ = node.kill();
    let _ = node.wait();

    // A setting no flag has, or a bad value, is refused before anything starts.
    std::fs::write(&config, "id = 1\nheartbaet = \"1s\"\n").unwrap();
    let out = ringleader(&["node", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown setting 'heartbaet'"), "{err}");
    std::fs::write(&config, "id = 1\nheartbeat = \"soon\"\n").unwrap();
    let out = ringleader(&["node", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--heartbeat"));
}

#[test]
fn completions_are_printed_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ringleader(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["cluster", "chat", "sweep", "election"] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    assert_eq!(ringleader(&["completions", "tcsh"]).status.code(), Some(2));
}
