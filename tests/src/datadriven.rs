//! Trace tests that read like the protocol, in the manner of etcd-io/raft's
//! `testdata/*.txt`: one file per scenario holds the scenario (a scenario file's
//! TOML, as `ringleader sim run --scenario` reads it), a `----` line, a legend
//! line, and the expected trace in a compact form.
//!
//! ```text
//! # n5 leads; it crashes at 3 s and n4 takes over.
//! seed = 7
//! duration = "6s"
//! [cluster]
//! nodes = 5
//! election = "bully"
//! [[timeline]]
//! at = "3s"
//! fault = "crash n5"
//! ----
//! legend: ms · nA->nB message sent (dropped: lost/cut/down) · nA: nB died/left/rejoined · nA = role · ! fault · * start
//!    309 n1 = candidate e0
//!    309 n1->n2 Election e0
//!   ...
//! ```
//!
//! [`check_dir`] runs every file of a directory and compares; with `UPDATE=1` in
//! the environment it rewrites the expected part instead. A new test is a file
//! holding the scenario and a `----` line: `UPDATE=1` fills in the rest.

use crate::traced;
use ringleader_sim::scenario::parse;
use ringleader_sim::Report;
use similar::{ChangeTag, TextDiff};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The separator between the scenario and the expected output.
pub const SEPARATOR: &str = "----";

/// The legend that opens every expected trace.
pub const LEGEND: &str = "legend: ms · nA->nB message sent (dropped: lost/cut/down) · \
nA: nB died/left/rejoined · nA = role · ! fault · * start";

/// What became of one test file.
#[derive(Debug)]
pub enum Outcome {
    /// The trace is as expected.
    Same,
    /// The file was rewritten (`UPDATE=1`).
    Updated,
    /// The trace differs: a readable diff, expected (`-`) against actual (`+`).
    Differs(String),
    /// The file could not be read or its scenario not run.
    Broken(String),
}

/// Runs every `*.txt` file in `dir`; with `update`, rewrites each file's expected
/// part. Returns each file with its outcome, in file-name order.
pub fn check_dir(dir: &Path, update: bool) -> Vec<(PathBuf, Outcome)> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect(),
        Err(e) => return vec![(dir.to_owned(), Outcome::Broken(e.to_string()))],
    };
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let outcome = check_file(&path, update);
            (path, outcome)
        })
        .collect()
}

/// Runs one test file.
pub fn check_file(path: &Path, update: bool) -> Outcome {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return Outcome::Broken(format!("cannot read it: {e}")),
    };
    let (input, expected) = split(&text);
    let actual = match run(input, &path.display().to_string()) {
        Ok(out) => out,
        Err(e) => return Outcome::Broken(e),
    };
    if expected == actual {
        return Outcome::Same;
    }
    if update {
        let rewritten = format!("{input}{SEPARATOR}\n{actual}");
        return match std::fs::write(path, rewritten) {
            Ok(()) => Outcome::Updated,
            Err(e) => Outcome::Broken(format!("cannot rewrite it: {e}")),
        };
    }
    Outcome::Differs(diff(expected, &actual))
}

/// The scenario part (ending with a newline) and the expected part.
fn split(text: &str) -> (&str, &str) {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == SEPARATOR {
            let rest = text.get(at + line.len()..).unwrap_or_default();
            return (text.get(..at).unwrap_or_default(), rest);
        }
        at += line.len();
    }
    (text, "")
}

/// Runs the scenario `input` and renders its compact trace.
pub fn run(input: &str, name: &str) -> Result<String, String> {
    let scenario = parse(input, name).map_err(|e| e.to_string())?;
    let (report, trace) = traced(&scenario.config);
    if !scenario.expect.is_empty() {
        let unmet = scenario.expect.mismatches(&report);
        if !unmet.is_empty() {
            return Err(format!(
                "the run did not meet [expect]: {}",
                unmet.join("; ")
            ));
        }
    }
    Ok(render(&trace, &report))
}

/// The compact trace: the legend, the election-relevant lines, and what the run
/// measured.
pub fn render(trace: &str, report: &Report) -> String {
    let mut out = format!("{LEGEND}\n");
    for line in trace.lines().filter_map(compact) {
        out.push_str(&line);
        out.push('\n');
    }
    let e = &report.election_stats;
    let leaders: Vec<String> = report
        .leaders
        .iter()
        .map(|(n, l)| format!("n{n}->{}", l.map_or("none".to_owned(), |l| format!("n{l}"))))
        .collect();
    let _ = writeln!(out, "leaders at the end: {}", leaders.join(" "));
    let messages: Vec<String> = e
        .election_messages
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "elections: {}, to agreement (ms): {:?}; messages: {}; split brain: {} ms",
        e.elections,
        e.election_ms,
        messages.join(", "),
        e.split_brain_ms
    );
    let verdict = if report.ok() {
        "all held".to_owned()
    } else {
        let names: Vec<&str> = report.violations.iter().map(|v| v.invariant).collect();
        format!("VIOLATED: {}", names.join(", "))
    };
    let _ = writeln!(out, "invariants: {verdict}");
    out
}

/// Election messages (heartbeats, discovery and replication are left out).
const ELECTION_KINDS: [&str; 10] = [
    "Election",
    "Ok",
    "Coordinator",
    "Vote",
    "Elected",
    "PreVote",
    "PreVoteReply",
    "NewerTerm",
    "RequestVote",
    "VoteReply",
];

/// One line of the simulator's trace in the compact form, if it is one the
/// election traces show.
pub fn compact(line: &str) -> Option<String> {
    let line = line.trim_start();
    let (time, rest) = line.split_once(' ')?;
    let ms = millis(time)?;
    let what = if let Some(fault) = rest.strip_prefix("!! ") {
        format!("! {fault}")
    } else {
        let (node, rest) = rest.split_once(' ')?;
        let (sigil, rest) = rest.split_once(' ')?;
        match sigil {
            "*" => {
                let life = rest.strip_prefix("start #")?;
                format!("* {node} starts (life {life})")
            }
            ">" | "x" => {
                let (to, msg) = rest.split_once(' ')?;
                let (msg, dropped) = match msg.rsplit_once(" (") {
                    Some((m, why)) if sigil == "x" => (m, format!(" ({}", why)),
                    _ => (msg, String::new()),
                };
                let (body, sender) = msg.rsplit_once(' ')?;
                let kind = body.split(' ').next()?;
                if !ELECTION_KINDS.contains(&kind) {
                    return None;
                }
                // The sender's life is shown only once it restarted.
                let from = match sender.split_once('#') {
                    Some((id, "1")) | Some((id, "0")) => id.to_owned(),
                    Some((id, life)) => format!("{id}#{life}"),
                    None => node.to_owned(),
                };
                format!("{from}->{to} {body}{dropped}")
            }
            "+" => {
                let (member, change) = rest.split_once(' ')?;
                if !matches!(change, "died" | "left" | "rejoined") {
                    return None;
                }
                format!("{node}: {member} {change}")
            }
            "=" => format!("{node} = {}", role(rest)?),
            _ => return None,
        }
    };
    Some(format!("{ms:>6} {what}"))
}

/// `leader, leader n5 e1 (was follower)` as `leader e1`; `follower, leader n5 e1
/// (was candidate)` as `follower of n5 e1`; without a leader as `candidate e0` or
/// `follower, no leader e1`.
fn role(text: &str) -> Option<String> {
    let (role, rest) = text.split_once(", leader ")?;
    let rest = rest.split(" (was").next()?;
    let (leader, epoch) = rest.split_once(' ')?;
    Some(match (role, leader) {
        ("leader", _) => format!("leader {epoch}"),
        ("follower", "none") => format!("follower, no leader {epoch}"),
        (_, "none") => format!("{role} {epoch}"),
        (_, leader) => format!("{role} of {leader} {epoch}"),
    })
}

/// `12.345678s` as whole milliseconds.
fn millis(time: &str) -> Option<u64> {
    let (secs, micros) = time.strip_suffix('s')?.split_once('.')?;
    Some(secs.parse::<u64>().ok()? * 1000 + micros.parse::<u64>().ok()? / 1000)
}

/// A line diff of `expected` against `actual`, with a few lines of context.
pub fn diff(expected: &str, actual: &str) -> String {
    let diff = TextDiff::from_lines(expected, actual);
    let mut out = String::new();
    for group in diff.grouped_ops(2) {
        for op in group {
            for change in diff.iter_changes(&op) {
                let sign = match change.tag() {
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                    ChangeTag::Equal => ' ',
                };
                let _ = write!(out, "{sign}{change}");
                if change.missing_newline() {
                    out.push('\n');
                }
            }
        }
        out.push_str("  ...\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_lines_become_compact() {
        let cases = [
            (
                "   0.309286s n1 * start #1",
                Some("   309 * n1 starts (life 1)"),
            ),
            (
                "   0.309286s n1 > n2 Election e0 n1#1",
                Some("   309 n1->n2 Election e0"),
            ),
            (
                "   4.000100s n3 > n1 Coordinator e3 n3#2",
                Some("  4000 n3#2->n1 Coordinator e3"),
            ),
            (
                "   2.100000s n1 x n4 Vote n5 e2 n1#1 (cut)",
                Some("  2100 n1->n4 Vote n5 e2 (cut)"),
            ),
            (
                "   0.309830s n5 = leader, leader n5 e1 (was follower)",
                Some("   309 n5 = leader e1"),
            ),
            (
                "   0.310725s n4 = follower, leader n5 e1 (was candidate)",
                Some("   310 n4 = follower of n5 e1"),
            ),
            (
                "   0.309286s n1 = candidate, leader none e0 (was follower)",
                Some("   309 n1 = candidate e0"),
            ),
            (
                "   3.443000s n1 = follower, leader none e1 (was follower)",
                Some("  3443 n1 = follower, no leader e1"),
            ),
            ("   3.500000s n1 + n5#1 died", Some("  3500 n1: n5#1 died")),
            ("   3.000000s !! crash n5", Some("  3000 ! crash n5")),
            ("   0.309286s n1 > n2 Heartbeat n1#1", None),
            ("   0.309286s n1 + n2#1 joined", None),
            ("   0.309286s n1 ~ tick", None),
        ];
        for (line, want) in cases {
            assert_eq!(compact(line).as_deref(), want, "{line}");
        }
    }

    #[test]
    fn a_file_splits_at_the_separator_line() {
        assert_eq!(split("a\nb\n----\nc\nd\n"), ("a\nb\n", "c\nd\n"));
        assert_eq!(split("a\n"), ("a\n", ""));
        assert_eq!(split("a\n----\n"), ("a\n", ""));
    }

    #[test]
    fn a_wrong_trace_is_shown_as_a_diff_and_update_rewrites_it() {
        let dir = std::env::temp_dir().join(format!("ringleader-dd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("two.txt");
        let scenario = "seed = 1\nduration = \"2s\"\n[cluster]\nnodes = 2\n";
        std::fs::write(
            &path,
            format!("{scenario}----\n{LEGEND}\n   1 n9 = leader e7\n"),
        )
        .unwrap();
        let Outcome::Differs(diff) = check_file(&path, false) else {
            panic!("a wrong trace must differ");
        };
        assert!(diff.contains("-   1 n9 = leader e7"), "{diff}");
        assert!(diff.contains("+ "), "{diff}");
        assert!(matches!(check_file(&path, true), Outcome::Updated));
        assert!(matches!(check_file(&path, false), Outcome::Same));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(scenario), "the scenario is kept: {text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_diff_marks_what_changed() {
        let d = diff("a\nb\nc\n", "a\nx\nc\n");
        assert!(d.contains("-b\n"), "{d}");
        assert!(d.contains("+x\n"), "{d}");
        assert!(d.contains(" a\n"), "{d}");
    }
}
