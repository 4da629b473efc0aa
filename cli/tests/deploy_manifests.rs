//! The sharded-sweep examples in `deploy/` (a GitHub Actions matrix and a
//! Kubernetes Indexed Job) are not run here, but they are parsed, their shard
//! counts checked against their matrix and completions, and their commands run
//! for real on a few seeds (every shard, then the merge).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod real;

use real::{ringleader, Scratch};
use serde_yaml::Value;
use std::path::Path;

fn deploy(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file);
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The `ringleader ...` words of a shell line, with `--seeds` cut to a few
/// and the output directories moved under `dir`.
fn runnable(line: &str, shard: &str, dir: &Path) -> Vec<String> {
    let line = line.split(';').next().unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"ringleader"), "{line}");
    let mut out = Vec::new();
    let mut it = words.iter().skip(1);
    while let Some(w) = it.next() {
        match *w {
            "--seeds" => {
                let range = it.next().unwrap();
                assert!(range.starts_with("1.."), "{range}");
                out.extend(["--seeds".to_owned(), "1..8".to_owned()]);
            }
            "--shard" => {
                // The index is templated (`${{ matrix.shard }}`, `$((... + 1))`):
                // its words run up to the one with `/N`.
                let end = it.find(|w| w.contains('/')).unwrap();
                let (_, n) = end.rsplit_once('/').unwrap();
                out.extend(["--shard".to_owned(), format!("{shard}/{n}")]);
            }
            "--out" | "--failures" => {
                let name = it.next().unwrap().trim_start_matches('/').replace('/', "-");
                out.extend([(*w).to_owned(), dir.join(name).display().to_string()]);
            }
            "merge" => {
                out.push("merge".to_owned());
                let name = it.next().unwrap().trim_start_matches('/').replace('/', "-");
                out.push(dir.join(name).display().to_string());
            }
            other => out.push(other.to_owned()),
        }
    }
    out
}

/// Runs every shard's sweep (1..=n) and the merge; the merge sees all 8 seeds.
fn run_all(sweep: &str, merge: &[String], n: u64, dir: &Path) {
    for k in 1..=n {
        let args = runnable(sweep, &k.to_string(), dir);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = ringleader(&refs);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut args = merge.to_vec();
    args.push("--json".to_owned());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ringleader(&refs);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(
        v["seeds"],
        8,
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_github_actions_matrix_shards_and_merges_a_sweep() {
    let w = deploy("github-actions-sweep.yml");
    let shards: Vec<u64> = w["jobs"]["shard"]["strategy"]["matrix"]["shard"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let n = shards.len() as u64;
    assert_eq!(
        shards,
        (1..=n).collect::<Vec<_>>(),
        "the matrix lists every shard once"
    );
    let run = |job: &str, name: &str| -> String {
        w["jobs"][job]["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|s| s["name"].as_str() == Some(name))
            .and_then(|s| s["run"].as_str())
            .unwrap()
            .to_owned()
    };
    let sweep = run("shard", "sweep one shard");
    assert!(
        sweep.contains(&format!("--shard ${{{{ matrix.shard }}}}/{n}")),
        "{sweep}"
    );
    assert_eq!(w["jobs"]["merge"]["needs"].as_str(), Some("shard"));
    let scratch = Scratch::new("deploy-gha");
    let merge = runnable(&run("merge", "merge the shards"), "", &scratch.0);
    // Every shard writes into one directory here (the artifacts, merged).
    run_all(&sweep, &merge, n, &scratch.0);
}

#[test]
fn the_kubernetes_indexed_job_shards_a_sweep() {
    let job = deploy("k8s-sweep-job.yaml");
    assert_eq!(job["kind"].as_str(), Some("Job"));
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let n = spec["completions"].as_u64().unwrap();
    let container = &spec["template"]["spec"]["containers"][0];
    let line = container["args"][0].as_str().unwrap();
    assert!(
        line.contains(&format!("--shard $((JOB_COMPLETION_INDEX + 1))/{n}")),
        "{line}"
    );
    let mount = container["volumeMounts"][0]["mountPath"].as_str().unwrap();
    assert!(line.contains(&format!("--out {mount}")), "{line}");
    let scratch = Scratch::new("deploy-k8s");
    let merge: Vec<String> = runnable(&format!("ringleader sim merge {mount}"), "", &scratch.0);
    run_all(line, &merge, n, &scratch.0);
}
