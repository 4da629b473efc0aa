//! `sim explore` as a user runs it: a clean search exits 0 with its figures,
//! each planted safety bug is found on a shortest path and written as a
//! scenario file that `sim replay` reproduces and the viewer draws.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod real;

use real::{ringleader, Scratch};
use serde_json::Value;

/// Explores with no faults allowed, to `--depth 16`, planting `bug`, with
/// a client handed `messages` messages.
fn explore_bug(bug: &str, messages: &str, failures: &str) -> std::process::Output {
    ringleader(&[
        "sim",
        "explore",
        "--client-messages",
        messages,
        "--drops",
        "0",
        "--duplicates",
        "0",
        "--crashes",
        "0",
        "--depth",
        "16",
        "--failures",
        failures,
        "--inject-bug",
        bug,
    ])
}

#[test]
fn explore_searches_a_small_cluster_and_prints_the_shortest_violation() {
    let clean = ringleader(&["sim", "explore", "--depth", "5", "--json"]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    let v: Value = serde_json::from_slice(&clean.stdout).unwrap();
    assert_eq!(v["violation"], Value::Null);
    assert_eq!(v["depth_done"], 5);
    assert!(v["states"].as_u64().unwrap() > 100, "{v}");
    let scratch = Scratch::new("explore-bugs");
    let failures = scratch.0.to_str().unwrap();
    for (bug, messages, invariant) in [
        (
            "minority-quorum",
            "0",
            "one_leader_per_epoch failed after 2 moves",
        ),
        (
            "ack-before-append",
            "0",
            "committed_on_majority failed after 13 moves",
        ),
        (
            "ack-before-durable",
            "0",
            "durable_before_ack failed after 15 moves",
        ),
        (
            "ack-before-commit",
            "1",
            "ack_means_committed failed after 3 moves",
        ),
    ] {
        let buggy = explore_bug(bug, messages, failures);
        assert_eq!(buggy.status.code(), Some(1), "{bug}");
        let text = String::from_utf8_lossy(&buggy.stdout);
        assert!(text.contains(invariant), "{bug}: {text}");
        assert!(
            text.contains("replay with: ringleader sim replay"),
            "{text}"
        );
    }
    let own = ringleader(&[
        "sim",
        "explore",
        "--clock",
        "own",
        "--failures",
        failures,
        "--inject-bug",
        "minority-quorum",
    ]);
    assert_eq!(own.status.code(), Some(1));
    let text = String::from_utf8_lossy(&own.stdout);
    assert!(text.contains("5. sync n1"), "{text}");
    let bad = ringleader(&["sim", "explore", "--nodes", "9"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn an_explored_violation_is_a_scenario_that_replays_and_draws() {
    let scratch = Scratch::new("explore-replay");
    let failures = scratch.0.join("failures");
    assert_eq!(
        explore_bug("ack-before-append", "0", failures.to_str().unwrap())
            .status
            .code(),
        Some(1)
    );
    let file = failures.join("explore-quorum-3n-committed_on_majority.toml");
    let html = scratch.0.join("view.html");
    let replay = ringleader(&[
        "sim",
        "replay",
        file.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&replay.stdout);
    assert_eq!(replay.status.code(), Some(0), "{text}");
    assert!(
        text.contains("reproduced: invariant committed_on_majority"),
        "{text}"
    );
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains("committed_on_majority"));
    // A script cut before its last move breaks nothing: not reproduced.
    let script = std::fs::read_to_string(&file).unwrap();
    let cut = script.rfind("  \"sync n3\"").unwrap();
    let edited = scratch.0.join("edited.toml");
    let rest = "]\n[expect]\nviolation = \"committed_on_majority\"\n";
    std::fs::write(&edited, [&script[..cut], rest].concat()).unwrap();
    let replay = ringleader(&["sim", "replay", edited.to_str().unwrap()]);
    assert_eq!(replay.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&replay.stdout).contains("NOT reproduced"));
}

#[test]
fn a_violation_with_the_client_replays_from_its_scenario() {
    let scratch = Scratch::new("explore-client");
    let failures = scratch.0.join("failures");
    let found = explore_bug("ack-before-commit", "1", failures.to_str().unwrap());
    assert_eq!(found.status.code(), Some(1));
    let file = failures.join("explore-quorum-3n-ack_means_committed.toml");
    let script = std::fs::read_to_string(&file).unwrap();
    assert!(script.contains("client_messages = 1"), "{script}");
    assert!(script.contains("\"submit\", # c1 is handed m1"), "{script}");
    let replay = ringleader(&["sim", "replay", file.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&replay.stdout);
    assert_eq!(replay.status.code(), Some(0), "{text}");
    assert!(
        text.contains("reproduced: invariant ack_means_committed"),
        "{text}"
    );
    // The script replayed with its client count edited to `count`.
    let replay_with = |name: &str, count: &str| {
        let edited = scratch.0.join(name);
        let text = script.replace("client_messages = 1", &format!("client_messages = {count}"));
        std::fs::write(&edited, text).unwrap();
        ringleader(&["sim", "replay", edited.to_str().unwrap()])
    };
    // Without a client the script's first move cannot be made.
    let replay = replay_with("no-client.toml", "0");
    assert_eq!(replay.status.code(), Some(1));
    let text = String::from_utf8_lossy(&replay.stdout);
    assert!(text.contains("move 1 (submit) cannot be made"), "{text}");
    // A count out of range is refused with its line.
    let replay = replay_with("bad.toml", "-3");
    assert_eq!(replay.status.code(), Some(2));
    let err = String::from_utf8_lossy(&replay.stderr);
    assert!(err.contains("client_messages is 0 to 100"), "{err}");
}
