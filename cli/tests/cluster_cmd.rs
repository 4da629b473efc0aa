//! `ringleader cluster` tells the truth: who runs (pids, status pages), who
//! leads once every live node agrees (and again after a kill -9), how each
//! node ended; it refuses to start over a running cluster without touching
//! it, reports a node that cannot start with its error, and keeps the logs
//! of earlier runs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod real;

use real::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// A `cluster` process and the lines it printed (stdout and stderr).
struct ClusterProc {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Drop for ClusterProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cluster_flags(ports: &Ports, scratch: &Scratch) -> Vec<String> {
    let mut flags: Vec<String> = ["cluster", "--nodes", "3", "--cluster"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    flags.push(format!("cmd-{}", ports.base));
    flags.extend(["--port-base".to_owned(), ports.base.to_string()]);
    flags.extend(["--mcast-port".to_owned(), ports.mcast.to_string()]);
    // Status pages inside the test's own block of ports.
    flags.extend(["--http-port-base".to_owned(), (ports.base + 10).to_string()]);
    flags.extend(["--data-dir".to_owned(), scratch.0.display().to_string()]);
    flags
}

impl ClusterProc {
    fn start(flags: &[String]) -> ClusterProc {
        let mut child = Command::new(BIN)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        ClusterProc {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line (from now on) that `want` accepts.
    fn wait_line(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {what}; saw:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// SIGTERM, then every line to the end; the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        status
    }
}

/// Every "all follow nL (epoch e)" line comes after nL said it leads in e.
fn agreement_follows_the_leaders_word(lines: &[String]) {
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.split(" follow n").nth(1) else {
            continue;
        };
        let leader: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let epoch = rest
            .split("(epoch ")
            .nth(1)
            .unwrap()
            .split(')')
            .next()
            .unwrap();
        let said = format!("n{leader} is leader (epoch {epoch})");
        assert!(
            lines[..i].contains(&said),
            "'{line}' before '{said}':\n{}",
            lines.join("\n")
        );
    }
}

fn pid_of(started: &str) -> i32 {
    started
        .split("(pid ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn the_cluster_command_reports_pids_pages_agreement_kills_and_exits() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("cluster-cmd");
    let flags = cluster_flags(&ports, &scratch);
    let mut c = ClusterProc::start(&flags);
    let n3 = c.wait_line("n3 started", |l| l.starts_with("n3 started (pid "));
    let page = format!("status page http://127.0.0.1:{}/", ports.base + 13);
    assert!(n3.contains(&page), "{n3}");
    c.wait_line("agreement", |l| {
        l.starts_with("== all 3 live nodes follow n3 (epoch")
    });
    let addrs: Vec<String> = (1..=3)
        .map(|i| format!("127.0.0.1:{}", u32::from(ports.base) + i))
        .collect();
    assert_eq!(
        wait_for(Duration::from_secs(10), "n3 serving", || agreed_leader(
            &addrs
        )),
        3
    );

    // kill -9 of the leader: its end, with the signal, then the survivors.
    let pid = pid_of(&n3);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let killed = format!("n3 (pid {pid}) was killed by signal 9 (SIGKILL)");
    c.wait_line(&killed, |l| l == killed);
    c.wait_line("the survivors agree", |l| {
        l.starts_with("== all 2 live nodes follow n2 (epoch") && l.ends_with("down: n3")
    });
    assert!(c.stop().success());
    for id in [1, 2] {
        assert!(
            c.seen.iter().any(|l| l.starts_with(&format!("n{id} (pid ")) && l.ends_with("exited (status 0)")),
            "n{id}'s exit:\n{}",
            c.seen.join("\n")
        );
    }
    for a in &addrs {
        assert!(std::net::TcpStream::connect(a).is_err(), "{a} stopped");
    }
    agreement_follows_the_leaders_word(&c.seen);

    // Again over the same data: the agreement waits for the leader's own
    // word, and the first run's logs are still there.
    let mut again = ClusterProc::start(&flags);
    again.wait_line("agreement", |l| {
        l.starts_with("== all 3 live nodes follow n3")
    });
    assert!(again.stop().success());
    agreement_follows_the_leaders_word(&again.seen);
    let log =
        std::fs::read_to_string(scratch.0.join(format!("cmd-{}/n1.log", ports.base))).unwrap();
    assert_eq!(
        log.matches("--- ringleader cluster: n1 starting").count(),
        2,
        "{log}"
    );
}

#[test]
fn a_cluster_over_a_running_one_refuses_and_changes_nothing() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("cluster-twice");
    let flags = cluster_flags(&ports, &scratch);
    let mut first = ClusterProc::start(&flags);
    first.wait_line("agreement", |l| {
        l.starts_with("== all 3 live nodes follow n3")
    });
    let log = scratch.0.join(format!("cmd-{}/n3.log", ports.base));
    let before = std::fs::metadata(&log).unwrap().len();
    let out = Command::new(BIN).args(&flags).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing was started and no file was changed"),
        "{err}"
    );
    assert!(
        err.contains(&format!("n1: TCP 127.0.0.1:{} is in use", ports.base + 1)),
        "{err}"
    );
    assert!(err.contains("is held by the node with pid"), "{err}");
    assert!(
        std::fs::metadata(&log).unwrap().len() >= before,
        "the log was not emptied"
    );
    let addrs: Vec<String> = (1..=3)
        .map(|i| format!("127.0.0.1:{}", u32::from(ports.base) + i))
        .collect();
    let leader = wait_for(Duration::from_secs(10), "the first cluster serving", || {
        agreed_leader(&addrs)
    });
    assert_eq!(leader, 3, "the first cluster still runs, n3 leads");
    assert!(first.stop().success());
}

#[test]
fn a_node_that_cannot_start_is_reported_with_its_error_and_the_command_fails() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("cluster-fail");
    let flags = cluster_flags(&ports, &scratch);
    // n2's data directory is a file.
    let dir = scratch.0.join(format!("cmd-{}", ports.base));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("n2"), b"not a directory").unwrap();
    let mut c = ClusterProc::start(&flags);
    let line = c.wait_line("n2's failure", |l| {
        l.starts_with("error: n2 failed to start: ")
    });
    assert!(line.contains("data directory"), "{line}");
    let status = c.child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    while let Ok(line) = c.lines.recv_timeout(Duration::from_secs(2)) {
        c.seen.push(line);
    }
    // The others were asked to leave and did; the failed one is not waited for.
    let text = c.seen.join("\n");
    assert!(!text.contains("did not stop"), "{text}");
    for id in [1, 3] {
        assert!(
            text.contains(&format!("n{id} (pid ")),
            "n{id}'s end is reported:\n{text}"
        );
    }
    // The others were stopped with it.
    for id in [1, 3] {
        let addr = format!("127.0.0.1:{}", u32::from(ports.base) + id);
        wait_for(Duration::from_secs(5), "the other nodes stopped", || {
            std::net::TcpStream::connect(&addr).is_err().then_some(())
        });
    }
}
