//! The `ringleader` binary as a user runs it: separate processes, exit codes, output.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod real;

use real::ringleader;

fn json(args: &[&str]) -> serde_json::Value {
    let out = ringleader(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "exactly one JSON object: {stdout}"
    );
    serde_json::from_str(&stdout).expect("valid JSON")
}

const RUN: &[&str] = &[
    "sim",
    "run",
    "--nodes",
    "5",
    "--duration",
    "20s",
    "--loss",
    "0.05",
    "--faults",
    "heavy",
    "--json",
];

#[test]
fn the_same_seed_gives_the_same_digest_in_separate_processes() {
    let a = json(&[RUN, &["--seed", "42"]].concat());
    let b = json(&[RUN, &["--seed", "42"]].concat());
    let c = json(&[RUN, &["--seed", "43"]].concat());
    assert_eq!(a["digest"], b["digest"]);
    assert_eq!(a["events"], b["events"]);
    assert_ne!(a["digest"], c["digest"]);
}

#[test]
fn json_has_every_documented_field() {
    let v = json(&[RUN, &["--seed", "1"]].concat());
    for field in [
        "seed",
        "nodes",
        "events",
        "messages",
        "virtual_ms",
        "wall_ms",
        "digest",
        "violations",
    ] {
        assert!(v.get(field).is_some(), "missing {field} in {v}");
    }
    assert_eq!(v["seed"], 1);
    assert_eq!(v["nodes"], 5);
    assert_eq!(v["virtual_ms"], 20_000);
    assert!(v["events"].as_u64().unwrap() > 1000);
    assert_eq!(v["violations"], serde_json::json!([]));
}

#[test]
fn a_human_summary_and_a_trace_file_without_json() {
    let dir = std::env::temp_dir().join(format!("ringleader-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("run.trace");
    let out = ringleader(&[
        "sim",
        "run",
        "--seed",
        "5",
        "--duration",
        "2s",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("invariants: all held"), "{stdout}");
    assert!(stdout.contains("digest "), "{stdout}");
    assert!(
        stdout.contains("checks (times each invariant was checked"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(text.lines().any(|l| l.contains("n1 >> all Probe n1#1")));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_usage_is_one_clear_line_and_exit_status_two() {
    for (args, expect) in [
        (vec!["sim", "run", "--duration", "60"], "no unit"),
        (vec!["sim", "run", "--loss", "1.5"], "probability"),
        (
            vec!["sim", "run", "--faults", "medium"],
            "unknown fault profile",
        ),
        (vec!["sim", "run", "--nodes", "0"], "nodes must be between"),
        (
            vec!["sim", "run", "--heartbeat", "900ms"],
            "timeouts must satisfy",
        ),
        (
            vec!["sim", "run", "--trace", "/nonexistent-dir/x.trace"],
            "cannot create trace file",
        ),
        (vec!["sim", "run", "--seed", "-3"], "error"),
        (vec!["sim", "frobnicate"], "unrecognized subcommand"),
        (
            vec!["sim", "run", "--election", "raft"],
            "unknown election algorithm",
        ),
        (vec!["sim", "run", "--rank", "tallest"], "unknown rank"),
    ] {
        let out = ringleader(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn help_explains_every_run_flag() {
    let out = ringleader(&["sim", "run", "--help"]);
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--seed",
        "--nodes",
        "--duration",
        "--loss",
        "--faults",
        "--trace",
        "--json",
    ] {
        assert!(help.contains(flag), "{flag} missing from help");
    }
}

#[test]
fn election_flags_and_measurements_reach_the_json() {
    for election in ["bully", "ring", "quorum"] {
        let v = json(&[
            "sim",
            "run",
            "--seed",
            "3",
            "--nodes",
            "3",
            "--duration",
            "5s",
            "--election",
            election,
            "--json",
        ]);
        assert_eq!(v["election"], election);
        assert!(v["elections"].as_u64().unwrap() >= 1, "{v}");
        assert!(
            v["election_messages"]
                .as_object()
                .is_some_and(|m| !m.is_empty()),
            "{v}"
        );
        assert!(v["split_brain_ms"].is_u64(), "{v}");
        let leaders = v["leaders"].as_object().unwrap();
        assert_eq!(leaders.len(), 3);
        let first = &leaders["1"];
        assert!(first.is_u64(), "{v}");
        assert!(leaders.values().all(|l| l == first), "{v}");
        if election != "quorum" {
            assert_eq!(first, 3, "the highest id leads under {election}");
        }
    }
}

#[test]
fn progress_in_a_log_is_lines_not_carriage_returns() {
    // stderr is a pipe here, as in CI: no redrawing.
    let out = ringleader(&["sim", "bench", "--repeat", "1"]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains('\r'), "{stderr:?}");
    assert!(stderr.contains("run 1/1\n"), "{stderr:?}");
    // The limit is measured in the same run, beside the workloads.
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("limit: queue + empty step"), "{stdout}");
}

#[test]
fn status_json_says_a_failure_in_json_too() {
    // A port nothing listens on: bound, then released.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    let out = ringleader(&["status", "--server", &addr, "--json", "--timeout", "1s"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on failure");
    assert_eq!(v["server"], addr);
    assert!(
        v["error"].as_str().unwrap().contains("no node answers"),
        "{v}"
    );
    let text = ringleader(&["status", "--server", &addr]);
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stderr).starts_with("error: no node answers"));
}

#[test]
fn what_the_first_commands_write_is_ignored_by_git() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let written = [
        "ringleader-data/ringleader/n1.log",
        "sim-failures/quorum-5-nodes-seed-3.toml",
        "run.html",
        "view.trace",
        "cluster.key",
        "client.key",
    ];
    for path in written {
        let status = std::process::Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(["check-ignore", "-q", path])
            .status();
        match status {
            // 0: ignored; 1: not ignored; 128: no git repository here.
            Ok(s) if s.code() == Some(128) => {
                eprintln!("skipping: the sources are not a git checkout");
                return;
            }
            Ok(s) => assert!(s.success(), "{path} is not ignored by git"),
            Err(e) => {
                eprintln!("skipping: no git ({e})");
                return;
            }
        }
    }
}
