//! The simulator's workflow as a user runs it, one process per step: a sweep
//! finds failures and writes replay files, `sim replay` reproduces each in a
//! fresh process with the same trace digest, `sim shrink` makes it small,
//! `sim stats` compares the elections, scenario files run and report their
//! expectations, and bad files and flags are refused with a line number.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod real;

use real::{ringleader, Scratch};

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stdout_json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "exactly one JSON object on stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).expect("valid JSON")
}

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// A sweep over a planted bug (the hidden `--inject-bug`), so failures are sure.
fn buggy_sweep(dir: &Path, faults: &str, extra: &[&str]) -> (Output, Value) {
    let failures = dir.to_str().unwrap();
    let mut args = vec![
        "sim",
        "sweep",
        "--election",
        "quorum",
        "--nodes",
        "3",
        "--faults",
        faults,
        "--clients",
        "2",
        "--duration",
        "20s",
        "--inject-bug",
        "ack-before-append",
        "--failures",
        failures,
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = ringleader(&args);
    let v = stdout_json(&out);
    (out, v)
}

#[test]
fn a_sweep_failure_replays_in_another_process_with_the_same_digest() {
    let scratch = Scratch::new("sweep-replay");
    let dir = &scratch.0;
    let (out, v) = buggy_sweep(dir, "light", &["--seeds", "1..6", "--jobs", "2"]);
    assert_eq!(out.status.code(), Some(1), "a sweep with failures exits 1");
    assert_eq!(v["seeds"], 6);
    let failures = v["failures"].as_array().unwrap();
    assert!(!failures.is_empty(), "{v}");
    let by_invariant = v["failures_by_invariant"].as_object().unwrap();
    assert_eq!(
        by_invariant
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum::<u64>(),
        failures.len() as u64
    );
    assert!(v["runs_per_second"].as_f64().unwrap() > 0.0);
    for f in failures {
        let seed = f["seed"].as_u64().unwrap();
        let invariant = f["invariant"].as_str().unwrap();
        let file = f["replay_file"].as_str().unwrap();
        assert_eq!(f["replay"], format!("ringleader sim replay {file}"));
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.contains(&format!("seed = {seed}")), "{text}");
        assert!(
            text.contains(&format!("violation = \"{invariant}\"")),
            "{text}"
        );
        // Random faults are written out as the timeline they produced.
        assert!(text.contains("random = \"none\""), "{text}");

        // The same run in a fresh process: same violation, same digest.
        let replay = ringleader(&["sim", "replay", file, "--json"]);
        assert_eq!(
            replay.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&replay.stdout)
        );
        let r = stdout_json(&replay);
        assert_eq!(r["seed"].as_u64(), Some(seed));
        assert_eq!(r["expectations_unmet"], Value::Array(vec![]));
        assert!(text.contains(&format!("digest = \"{}\"", r["digest"].as_str().unwrap())));
        assert!(r["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["invariant"] == invariant));
    }
}

#[test]
fn a_replay_that_no_longer_reproduces_says_so_and_exits_one() {
    let scratch = Scratch::new("replay-stale");
    let dir = &scratch.0;
    let (_, v) = buggy_sweep(dir, "light", &["--seeds", "1..1"]);
    let file = v["failures"][0]["replay_file"].as_str().unwrap().to_owned();
    let text = std::fs::read_to_string(&file).unwrap();
    // The bug is fixed: the same run no longer fails.
    let fixed = dir.join("fixed.toml");
    let without_bug: String = text
        .lines()
        .filter(|l| !l.starts_with("inject_bug"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&fixed, without_bug).unwrap();
    let out = ringleader(&["sim", "replay", fixed.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("NOT reproduced"), "{stdout}");
    assert!(stdout.contains("expected invariant"), "{stdout}");
}

#[test]
fn fail_fast_stops_at_the_first_failure_and_shrink_shrinks_it() {
    let scratch = Scratch::new("fail-fast");
    let dir = &scratch.0;
    let (_, v) = buggy_sweep(
        dir,
        "light",
        &[
            "--seeds",
            "1..400",
            "--jobs",
            "1",
            "--fail-fast",
            "--shrink",
        ],
    );
    let run = v["seeds"].as_u64().unwrap();
    assert_eq!(run, 1, "one job stops at its first failure");
    assert_eq!(v["failures"].as_array().unwrap().len(), 1, "{v}");
    // --shrink shrinks the first failure of each invariant and names the file.
    let shrunk = v["shrunk"].as_array().unwrap();
    assert_eq!(shrunk.len(), 1, "{v}");
    assert_eq!(shrunk[0]["invariant"], v["failures"][0]["invariant"]);
    assert!(shrunk[0]["faults"].as_u64().unwrap() <= 5, "{v}");
    assert!(Path::new(shrunk[0]["file"].as_str().unwrap()).exists());
}

#[test]
fn shrink_writes_a_smaller_scenario_that_fails_the_same_way() {
    let scratch = Scratch::new("shrink");
    let dir = &scratch.0;
    let (_, v) = buggy_sweep(dir, "heavy", &["--seeds", "1..1"]);
    let file = v["failures"][0]["replay_file"].as_str().unwrap().to_owned();
    let invariant = v["failures"][0]["invariant"].as_str().unwrap().to_owned();
    let before = std::fs::read_to_string(&file).unwrap();
    let out = ringleader(&["sim", "shrink", &file, "--budget", "300"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let min = file.replace(".toml", "-min.toml");
    assert!(stdout.contains(&min), "names the file it wrote: {stdout}");
    let after = std::fs::read_to_string(&min).unwrap();
    let faults = |t: &str| t.matches("[[timeline]]").count();
    assert!(faults(&after) <= 5, "{after}");
    assert!(faults(&after) < faults(&before), "{before}\n---\n{after}");
    assert!(
        after.contains(&format!("violation = \"{invariant}\"")),
        "{after}"
    );
    let replay = ringleader(&["sim", "replay", &min]);
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&replay.stdout)
    );

    // A run that does not fail cannot be shrunk.
    let ok = scenarios().join("ringchat-1-three-servers.toml");
    let out = ringleader(&["sim", "shrink", ok.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn stats_give_mean_p50_p99_and_max_per_election_as_json() {
    let out = ringleader(&["sim", "stats", "--nodes", "3", "--seeds", "1..4", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = stdout_json(&out);
    let elections = v["elections"].as_array().unwrap();
    let names: Vec<&str> = elections
        .iter()
        .map(|e| e["election"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bully", "ring", "quorum"]);
    for e in elections {
        assert_eq!(e["seeds"], 4);
        for field in ["time_to_agreement_ms", "messages_total", "elections"] {
            for stat in ["mean", "p50", "p99", "max"] {
                assert!(e[field][stat].is_number(), "{field}.{stat}: {e}");
            }
        }
        let kinds = e["messages"].as_object().unwrap();
        assert!(!kinds.is_empty(), "{e}");
        assert!(e["time_to_agreement_ms"]["max"].as_f64().unwrap() > 0.0);
    }
    assert!(elections[0]["messages"].get("Coordinator").is_some());
    assert!(elections[2]["messages"].get("RequestVote").is_some());

    let out = ringleader(&[
        "sim",
        "stats",
        "--election",
        "ring",
        "--nodes",
        "4",
        "--seeds",
        "1..2",
    ]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("time to agreement ms"), "{table}");
    assert!(table.contains("p99") && !table.contains("bully"), "{table}");
}

#[test]
fn scenario_files_run_and_report_their_expectations() {
    let file = scenarios().join("ringchat-2-leader-failure.toml");
    let out = ringleader(&["sim", "run", "--scenario", file.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("scenario: ringchat example 2"), "{stdout}");
    assert!(stdout.contains("expectations: all met"), "{stdout}");

    let scratch = Scratch::new("scenario");
    let dir = &scratch.0;
    let wrong = dir.join("wrong.toml");
    std::fs::write(
        &wrong,
        "seed = 1\n[cluster]\nnodes = 2\n[expect]\nleader = \"n1\"\n",
    )
    .unwrap();
    let out = ringleader(&["sim", "run", "--scenario", wrong.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("expectation not met: expected n1 to lead"),
        "{stdout}"
    );

    // A sweep holds every seed to the scenario's expected leader.
    let out = ringleader(&[
        "sim",
        "sweep",
        "--scenario",
        wrong.to_str().unwrap(),
        "--seeds",
        "1..3",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["expectations_unmet"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["passed"], 0);

    // Flags given beside a scenario override it.
    let out = ringleader(&[
        "sim",
        "run",
        "--scenario",
        wrong.to_str().unwrap(),
        "--election",
        "quorum",
        "--json",
    ]);
    assert_eq!(stdout_json(&out)["election"], "quorum");
}

#[test]
fn a_bad_scenario_file_is_refused_with_its_line() {
    let scratch = Scratch::new("bad-scenario");
    let dir = &scratch.0;
    for (text, line, needle) in [
        ("[cluster]\nnodes = 3\nvoterz = [1]\n", 3, "unknown field"),
        (
            "[[timeline]]\nat = \"1s\"\nfault = \"crash n7\"\n",
            3,
            "n7 is not in the cluster",
        ),
        ("duration = \"ten seconds\"\n", 1, "duration"),
    ] {
        let file = dir.join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let path = file.to_str().unwrap();
        for cmd in [
            vec!["sim", "run", "--scenario", path],
            vec!["sim", "sweep", "--scenario", path, "--seeds", "1..2"],
            vec!["sim", "replay", path],
            vec!["sim", "shrink", path],
            vec!["sim", "stats", "--scenario", path, "--seeds", "1..2"],
        ] {
            let out = ringleader(&cmd);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd:?}: {stderr}");
            assert!(
                stderr.contains(&format!("{path}:{line}:")),
                "{cmd:?}: {stderr}"
            );
            assert!(stderr.contains(needle), "{cmd:?}: {stderr}");
        }
    }
    let out = ringleader(&["sim", "run", "--scenario", "/nonexistent/none.toml"]);
    assert_eq!(out.status.code(), Some(2));
    for (args, needle) in [
        (vec!["sim", "sweep", "--seeds", "9..3"], "seeds"),
        (vec!["sim", "sweep", "--seeds", "x"], "seeds"),
        (
            vec!["sim", "sweep", "--seeds", "1..3", "--jobs", "0"],
            "jobs",
        ),
        (vec!["sim", "shrink"], "FILE"),
    ] {
        let out = ringleader(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn help_explains_the_simulator_commands() {
    for (cmd, flags) in [
        (
            "sweep",
            &[
                "--seeds",
                "--scenario",
                "--faults",
                "--election",
                "--jobs",
                "--fail-fast",
                "--json",
                "--shrink",
            ][..],
        ),
        ("replay", &["--trace", "--html", "--json"][..]),
        ("shrink", &["--invariant", "--budget", "--out"][..]),
        (
            "stats",
            &["--election", "--nodes", "--seeds", "--scenario", "--json"][..],
        ),
        ("run", &["--scenario", "--html", "--failures"][..]),
    ] {
        let out = ringleader(&["sim", cmd, "--help"]);
        let help = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0));
        for flag in flags {
            assert!(help.contains(flag), "sim {cmd}: {flag} missing from help");
        }
        assert!(
            !help.contains("inject"),
            "the planted bugs stay hidden: {help}"
        );
    }
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringleader"))
        .args(["sim", "stats", "--nodes", "3", "--seeds", "1..2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before anything is printed, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
}

#[test]
fn a_replay_names_its_scenario_and_violations_read_as_words() {
    let scratch = Scratch::new("sweep-words");
    let (_, v) = buggy_sweep(&scratch.0, "heavy", &["--seeds", "1..3", "--jobs", "2"]);
    let failures = v["failures"].as_array().unwrap();
    assert!(!failures.is_empty(), "{v}");
    for f in failures {
        let detail = f["detail"].as_str().unwrap();
        assert!(
            !detail.contains(" { ") && !detail.contains("Some("),
            "{detail}"
        );
    }
    let file = failures[0]["replay_file"].as_str().unwrap();
    let out = ringleader(&["sim", "replay", file]);
    let text = String::from_utf8_lossy(&out.stdout);
    let faults = text
        .lines()
        .find(|l| l.trim_start().starts_with("faults "))
        .unwrap();
    assert!(faults.contains("written in scenario"), "{faults}");
    assert!(!faults.contains("profile"), "{faults}");
    let listed = text
        .lines()
        .find(|l| l.contains(" ms (") && l.contains("): "))
        .unwrap_or_else(|| panic!("no violation line in\n{text}"));
    assert!(!listed.contains("nodes ["), "{listed}");
}

#[test]
fn sweep_and_stats_run_every_listed_algorithm_and_say_ranges_are_inclusive() {
    let out = ringleader(&[
        "sim",
        "sweep",
        "--election",
        "bully,ring,quorum",
        "--seeds",
        "0..3",
        "--duration",
        "5s",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    let sweeps = v["sweeps"].as_array().unwrap();
    let names: Vec<&str> = sweeps
        .iter()
        .map(|s| s["election"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bully", "ring", "quorum"]);
    assert!(sweeps.iter().all(|s| s["seeds"] == 4), "0..3 is four seeds");
    let text = ringleader(&["sim", "sweep", "--seeds", "0..300", "--duration", "1s"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("301 seeds (0..300, both ends included)"),
        "{text}"
    );
    let stats = ringleader(&[
        "sim",
        "stats",
        "--election",
        "bully,quorum",
        "--seeds",
        "1..2",
        "--duration",
        "5s",
        "--json",
    ]);
    assert_eq!(
        stats.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    let s = stdout_json(&stats);
    assert_eq!(s["elections"].as_array().unwrap().len(), 2);
    let help = ringleader(&["sim", "stats", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("without it runs all three"), "{help}");
    assert!(help.contains("both ends included"), "{help}");
}

#[test]
fn shards_of_a_sweep_run_disjoint_shares_that_cover_the_range() {
    let mut seen = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let out = ringleader(&[
            "sim",
            "sweep",
            "--nodes",
            "3",
            "--duration",
            "5s",
            "--seeds",
            "1..10",
            "--shard",
            &shard,
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0));
        let v = stdout_json(&out);
        assert_eq!(v["shard"], shard.as_str());
        let n = v["seeds"].as_u64().unwrap();
        assert_eq!(n, [4, 3, 3][k - 1], "{v}");
        seen.push(n);
        let out = ringleader(&[
            "sim",
            "stats",
            "--election",
            "bully",
            "--nodes",
            "3",
            "--seeds",
            "1..10",
            "--shard",
            &shard,
            "--json",
        ]);
        let v = stdout_json(&out);
        assert_eq!(v["elections"][0]["seeds"].as_u64(), Some(n), "{v}");
        assert_eq!(v["percentile_digits"], 3);
    }
    assert_eq!(
        seen.iter().sum::<u64>(),
        10,
        "together they hold every seed"
    );
    for bad in ["0/3", "4/3", "1/0", "two/3", "3"] {
        let out = ringleader(&["sim", "sweep", "--seeds", "1..10", "--shard", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("K/N"),
            "{bad}"
        );
    }
}

/// The shards of a sweep, written with `--out` and merged, give the summary
/// one sweep over the whole range gives (but for the wall time and jobs).
#[test]
fn merged_shards_give_the_summary_of_one_sweep() {
    let scratch = Scratch::new("sweep-merge");
    let dir = &scratch.0;
    let (_, whole) = buggy_sweep(&dir.join("f"), "heavy", &["--seeds", "1..9"]);
    let out_dir = dir.join("out");
    for k in ["3/3", "1/3", "2/3"] {
        let out = out_dir.to_str().unwrap();
        let (code, v) = buggy_sweep(
            &dir.join("f"),
            "heavy",
            &["--seeds", "1..9", "--shard", k, "--out", out],
        );
        assert_eq!(v["shard"], k, "{v}");
        assert!(code.status.code().is_some());
    }
    let merged = ringleader(&["sim", "merge", out_dir.to_str().unwrap(), "--json"]);
    assert_eq!(
        merged.status.code(),
        Some(1),
        "failures: exit 1 as the sweep does"
    );
    let m = stdout_json(&merged);
    for field in [
        "title",
        "seeds",
        "seed_range",
        "planned",
        "election",
        "nodes",
        "passed",
        "unexplained",
        "explained",
        "failures",
        "failures_by_invariant",
        "expectations_unmet",
        "shard",
    ] {
        assert_eq!(m[field], whole[field], "{field}");
    }
    assert!(
        m["failures"].as_array().is_some_and(|f| !f.is_empty()),
        "{m}"
    );
    // Per seed, one line each, in every shard's file.
    let lines: usize = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().to_string_lossy().ends_with(".seeds.jsonl"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap().lines().count())
        .sum();
    assert_eq!(lines, 9);
    // A shard missing, or none at all: a usage error that says so.
    std::fs::remove_file(out_dir.join("quorum-shard-2-of-3.json")).unwrap();
    let partial = ringleader(&["sim", "merge", out_dir.to_str().unwrap()]);
    assert_eq!(partial.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&partial.stderr).contains("shards missing: 2/3"));
    let empty = ringleader(&["sim", "merge", dir.join("f").to_str().unwrap()]);
    assert_eq!(empty.status.code(), Some(2));
}

#[test]
fn stats_shards_merge_into_the_figures_of_one_run() {
    let scratch = Scratch::new("stats-merge");
    let out_dir = scratch.0.join("out");
    let out = out_dir.to_str().unwrap();
    let stats = |extra: &[&str]| {
        let mut args = vec![
            "sim",
            "stats",
            "--election",
            "bully,quorum",
            "--faults",
            "heavy",
            "--seeds",
            "1..10",
            "--duration",
            "20s",
            "--json",
        ];
        args.extend_from_slice(extra);
        let run = ringleader(&args);
        assert_eq!(
            run.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        stdout_json(&run)
    };
    let whole = stats(&[]);
    for k in ["2/3", "3/3", "1/3"] {
        let shard = stats(&["--shard", k, "--out", out]);
        assert_eq!(shard["shard"], k);
    }
    let merged = ringleader(&["sim", "merge", out, "--json"]);
    assert_eq!(
        merged.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let m = stdout_json(&merged);
    for field in ["seeds", "seeds_run", "shard", "nodes", "elections"] {
        assert_eq!(m[field], whole[field], "{field}");
    }
    assert_eq!(m["elections"][1]["seeds"], 10, "{m}");
    // The table too, and a shard missing is named.
    let table = ringleader(&["sim", "merge", out]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("quorum: 10 seeds"));
    std::fs::remove_file(out_dir.join("stats-quorum-shard-1-of-3.json")).unwrap();
    let partial = ringleader(&["sim", "merge", out]);
    assert_eq!(partial.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&partial.stderr).contains("quorum: shards missing: 1/3"));
}
