//! A harness for tests on real processes: node processes on loopback (or in
//! network namespaces), chat clients fed through stdin, status polled until a
//! condition holds. Every process is killed when its handle drops, so a failing
//! test leaves nothing running.

#![allow(dead_code)] // each test file uses its own part of the harness

pub mod browser;

use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ringleader");

/// Ports for one test: each test gets its own block, so tests run in parallel.
pub struct Ports {
    pub base: u16,
    pub mcast: u16,
}

static NEXT_BLOCK: AtomicU16 = AtomicU16::new(0);

impl Ports {
    /// A fresh block of ports (node N on base + N) and a multicast port, spread by
    /// process id so parallel test binaries do not collide either.
    pub fn fresh() -> Ports {
        let block = u32::from(NEXT_BLOCK.fetch_add(1, Ordering::SeqCst));
        let pid_part = std::process::id() % 97;
        // 1500 blocks of 20 ports from 20000: below the ephemeral range (32768+).
        let slot = (pid_part * 16 + block) % 600;
        let base = u16::try_from(20000 + slot * 20).unwrap_or(20000);
        Ports {
            base,
            mcast: base + 19,
        }
    }
}

/// A node process.
pub struct NodeProc {
    pub id: u32,
    pub child: Child,
    pub addr: String,
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary to the end and returns what it did.
pub fn ringleader(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// A scratch directory removed at the end.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("ringleader-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The node logs are what explains a failure: kept for the reader.
            eprintln!("kept for inspection: {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts node `id` of cluster `cluster` on loopback with multicast.
pub fn start_node(
    cluster: &str,
    ports: &Ports,
    id: u32,
    scratch: &Scratch,
    extra: &[&str],
) -> NodeProc {
    let log = std::fs::File::create(scratch.0.join(format!("n{id}.log"))).unwrap();
    let child = Command::new(BIN)
        .args(["node", "--id", &id.to_string(), "--cluster", cluster])
        .args(["--port-base", &ports.base.to_string()])
        .args(["--mcast-port", &ports.mcast.to_string()])
        .arg("--data-dir")
        .arg(scratch.0.join(format!("n{id}")))
        // The default status page port (node port + 1000) may be another
        // test's node port: a test that wants the page names its address.
        .args(if extra.contains(&"--http") {
            &[][..]
        } else {
            &["--http", "off"][..]
        })
        .args(extra)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    NodeProc {
        id,
        child,
        addr: format!("127.0.0.1:{}", u32::from(ports.base) + id),
    }
}

/// A node's status, or `None` if it does not answer.
pub fn status(addr: &str) -> Option<Value> {
    let out = Command::new(BIN)
        .args(["status", "--server", addr, "--json", "--timeout", "1s"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// Polls `f` until it returns `Some`, or panics with `what` after `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The leader every given node names, once they all agree on one that serves.
pub fn agreed_leader(addrs: &[String]) -> Option<u64> {
    let mut leader = None;
    for a in addrs {
        let s = status(a)?;
        let l = s.get("leader")?.as_u64()?;
        if leader.is_some_and(|x| x != l) {
            return None;
        }
        if s.get("id")?.as_u64()? == l && !s.get("serving")?.as_bool()? {
            return None;
        }
        leader = Some(l);
    }
    let l = leader?;
    // The leader itself must say so and serve.
    let me = addrs
        .iter()
        .find_map(|a| status(a).filter(|s| s["id"].as_u64() == Some(l)))?;
    (me["role"] == "leader" && me["serving"] == true).then_some(l)
}

/// `--server ADDR` for each of `addrs`: a chat client's flags to know them all.
pub fn server_flags(addrs: &[String]) -> Vec<&str> {
    addrs
        .iter()
        .flat_map(|a| ["--server", a.as_str()])
        .collect()
}

/// A chat client process fed through stdin, printing JSON events.
pub struct ChatProc {
    pub child: Child,
    pub out: PathBuf,
}

impl Drop for ChatProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ChatProc {
    pub fn start(user: &str, ports: &Ports, scratch: &Scratch, extra: &[&str]) -> ChatProc {
        let out = scratch.0.join(format!("chat-{user}.json"));
        let err = std::fs::File::create(scratch.0.join(format!("chat-{user}.err"))).unwrap();
        let child = Command::new(BIN)
            .args(["chat", "--user", user, "--json"])
            .args(["--mcast-port", &ports.mcast.to_string()])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap();
        ChatProc { child, out }
    }

    pub fn say(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Every JSON event printed so far.
    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// (index, author, text) of every entry seen, in order.
    pub fn entries(&self) -> Vec<(u64, String, String)> {
        self.events()
            .iter()
            .filter(|e| e["event"] == "entry")
            .map(|e| {
                (
                    e["index"].as_u64().unwrap_or(0),
                    e["author"].as_str().unwrap_or("").to_owned(),
                    e["text"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    /// Closes stdin and waits for the client to leave; its exit status.
    pub fn finish(self) -> std::process::ExitStatus {
        self.finish_within(Duration::from_secs(30))
    }

    /// Closes stdin and waits at most `limit` for the client to leave.
    pub fn finish_within(mut self, limit: Duration) -> std::process::ExitStatus {
        drop(self.child.stdin.take());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < limit, "chat client did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
