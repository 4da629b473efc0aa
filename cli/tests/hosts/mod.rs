//! Hosts in network namespaces on one machine: each node in its own namespace
//! with its own address on a bridge (veth pairs; multicast crosses the bridge),
//! links cut and healed, partitions, signals, chat clients in any namespace.
//! Needs root and `ip` (iproute2): [`skipped`] says why a test cannot run here,
//! and fails it on CI (`CI=true`), where it must.

#![allow(dead_code)] // each test file uses its own part of the harness

use crate::real::{ChatProc, Scratch, BIN};
use serde_json::Value;
use std::process::{Child, Command, Stdio};

pub fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn ip_ok(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Can this process make namespaces? `None` if yes, else why not. Asked once per
/// test binary: the tests run in parallel and would race on the probe's name.
pub fn missing_requirement() -> Option<String> {
    static ANSWER: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    ANSWER.get_or_init(probe_requirements).clone()
}

pub fn probe_requirements() -> Option<String> {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        return Some("needs root to create network namespaces".into());
    }
    if !ip(&["-V"]) {
        return Some("needs `ip` from iproute2".into());
    }
    let probe = format!("rlprobe{}", std::process::id());
    if !ip(&["netns", "add", &probe]) {
        return Some("`ip netns add` is not permitted here".into());
    }
    ip(&["netns", "del", &probe]);
    None
}

/// True (and says why) when namespaces cannot be made here; on CI that fails
/// the test instead.
pub fn skipped() -> bool {
    let Some(why) = missing_requirement() else {
        return false;
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "on CI this test must run, but it {why}"
    );
    eprintln!("skipping the network-namespace test: it {why}");
    true
}

/// The namespaces and links of one test; removed on drop, even after a failure.
pub struct Net {
    pub tag: String,
    pub subnet: u32,
    pub nodes: u32,
    pub procs: Vec<(u32, Child)>,
}

impl Net {
    pub fn bridge_ns(&self) -> String {
        format!("rlbr{}", self.tag)
    }
    pub fn node_ns(&self, i: u32) -> String {
        format!("rln{i}x{}", self.tag)
    }
    pub fn addr(&self, i: u32) -> String {
        format!("10.77.{}.{i}", self.subnet())
    }
    pub fn subnet(&self) -> u32 {
        self.subnet
    }

    pub fn build(nodes: u32) -> Net {
        // Tests run in parallel: each gets its own names and subnet.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let pid = std::process::id();
        let net = Net {
            tag: format!("{}{n}", pid % 10_000),
            subnet: 20 + (pid % 70 * 3 + n) % 230,
            nodes,
            procs: Vec::new(),
        };
        let br = net.bridge_ns();
        ip_ok(&["netns", "add", &br]);
        ip_ok(&["-n", &br, "link", "set", "lo", "up"]);
        ip_ok(&["-n", &br, "link", "add", "br0", "type", "bridge"]);
        // Flood multicast rather than wait for an IGMP querier that is not there.
        ip_ok(&[
            "-n",
            &br,
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ip_ok(&[
            "-n",
            &br,
            "addr",
            "add",
            &format!("10.77.{}.254/24", net.subnet()),
            "dev",
            "br0",
        ]);
        ip_ok(&["-n", &br, "link", "set", "br0", "up"]);
        for i in 1..=nodes {
            let ns = net.node_ns(i);
            ip_ok(&["netns", "add", &ns]);
            ip_ok(&["-n", &ns, "link", "set", "lo", "up"]);
            // veth: eth0 inside the node, p<i> on the bridge.
            ip_ok(&[
                "-n",
                &ns,
                "link",
                "add",
                "eth0",
                "type",
                "veth",
                "peer",
                "name",
                &format!("p{i}"),
                "netns",
                &br,
            ]);
            ip_ok(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", net.addr(i)),
                "dev",
                "eth0",
            ]);
            ip_ok(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip_ok(&["-n", &br, "link", "set", &format!("p{i}"), "master", "br0"]);
            ip_ok(&["-n", &br, "link", "set", &format!("p{i}"), "up"]);
        }
        net
    }

    pub fn start(&mut self, i: u32, scratch: &Scratch, election: &str) {
        self.start_with(i, scratch, election, &[]);
    }

    /// Starts node `i` with `extra` flags after the usual ones.
    pub fn start_with(&mut self, i: u32, scratch: &Scratch, election: &str, extra: &[String]) {
        let voters: Vec<String> = (1..=self.nodes).map(|v| v.to_string()).collect();
        let log = std::fs::File::create(scratch.0.join(format!("n{i}.log"))).unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.node_ns(i),
                BIN,
                "node",
                "--id",
                &i.to_string(),
            ])
            .args(["--listen", &format!("{}:7100", self.addr(i))])
            .args(["--interface", &self.addr(i)])
            .args(["--election", election, "--voters", &voters.join(",")])
            // Power-loss durability (the default, said here so it stays so):
            // the chaos runs hold with fdatasync and group commit in the path.
            .args(["--durability", "power"])
            .arg("--data-dir")
            .arg(scratch.0.join(format!("n{i}")))
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.procs.push((i, child));
    }

    pub fn kill(&mut self, i: u32) {
        for (id, c) in &mut self.procs {
            if *id == i {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        self.procs.retain(|(id, _)| *id != i);
    }

    /// Status of node `i`, asked from its own namespace (which reaches it
    /// whatever side of a partition it is on).
    pub fn status(&self, i: u32) -> Option<Value> {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.node_ns(i),
                BIN,
                "status",
                "--json",
                "--timeout",
                "1s",
            ])
            .args(["--server", &format!("{}:7100", self.addr(i))])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())?
    }

    pub fn cut(&self, i: u32) {
        ip_ok(&[
            "-n",
            &self.bridge_ns(),
            "link",
            "set",
            &format!("p{i}"),
            "nomaster",
        ]);
    }

    pub fn heal(&self, i: u32) {
        ip_ok(&[
            "-n",
            &self.bridge_ns(),
            "link",
            "set",
            &format!("p{i}"),
            "master",
            "br0",
        ]);
    }

    /// Splits the network: the nodes of `side` move to a second bridge, out of
    /// reach of the others (and of the bridge's namespace).
    pub fn partition(&self, side: &[u32]) {
        let br = self.bridge_ns();
        if !ip(&["-n", &br, "link", "show", "br1"]) {
            ip_ok(&["-n", &br, "link", "add", "br1", "type", "bridge"]);
            ip_ok(&[
                "-n",
                &br,
                "link",
                "set",
                "br1",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ]);
            ip_ok(&["-n", &br, "link", "set", "br1", "up"]);
        }
        for i in side {
            ip_ok(&["-n", &br, "link", "set", &format!("p{i}"), "master", "br1"]);
        }
    }

    /// Every node back on the one bridge.
    pub fn heal_all(&self) {
        for i in 1..=self.nodes {
            self.heal(i);
        }
    }

    /// Sends `signal` to node `i`'s process (`ip netns exec` execs the node,
    /// so the child is the node).
    pub fn signal(&self, i: u32, signal: nix::sys::signal::Signal) {
        for (id, c) in &self.procs {
            if *id == i {
                let pid = nix::unistd::Pid::from_raw(c.id() as i32);
                nix::sys::signal::kill(pid, signal).unwrap();
            }
        }
    }

    /// CPU time (clock ticks) node `i` has used so far.
    pub fn cpu_ticks(&self, i: u32) -> Option<u64> {
        let (_, c) = self.procs.iter().find(|(id, _)| *id == i)?;
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", c.id())).ok()?;
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    }

    /// Once every node in `ids` names one serving leader and holds the same
    /// committed history: that status.
    pub fn converged(&self, ids: &[u32]) -> Option<Value> {
        self.agreed(ids)?;
        self.same_history(ids)
    }

    /// Once every node in `ids` holds the same committed history: the first's
    /// status.
    pub fn same_history(&self, ids: &[u32]) -> Option<Value> {
        let st: Vec<Value> = ids.iter().map(|i| self.status(*i)).collect::<Option<_>>()?;
        let first = st.first()?.clone();
        st.iter()
            .all(|s| {
                s["commit_digest"] == first["commit_digest"]
                    && s["commit_index"] == first["commit_index"]
            })
            .then_some(first)
    }

    /// The leader all of `ids` name, once they agree and it serves.
    pub fn agreed(&self, ids: &[u32]) -> Option<u64> {
        let all: Vec<Value> = ids.iter().map(|i| self.status(*i)).collect::<Option<_>>()?;
        let l = all.first()?["leader"].as_u64()?;
        let agree = all.iter().all(|s| s["leader"].as_u64() == Some(l));
        let serving = all
            .iter()
            .any(|s| s["id"].as_u64() == Some(l) && s["serving"] == true);
        (agree && serving).then_some(l)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for (_, c) in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
        for i in 1..=self.nodes {
            ip(&["netns", "del", &self.node_ns(i)]);
        }
        ip(&["netns", "del", &self.bridge_ns()]);
    }
}

/// A chat client in the bridge's namespace, reaching the nodes by their addresses.
pub fn chat(net: &Net, scratch: &Scratch, user: &str) -> ChatProc {
    chat_in(net, scratch, user, &net.bridge_ns())
}

/// A chat client in namespace `ns`, knowing every node's address.
pub fn chat_in(net: &Net, scratch: &Scratch, user: &str, ns: &str) -> ChatProc {
    let out = scratch.0.join(format!("chat-{user}.json"));
    let servers: Vec<String> = (1..=net.nodes)
        .flat_map(|i| ["--server".to_owned(), format!("{}:7100", net.addr(i))])
        .collect();
    let child = Command::new("ip")
        .args(["netns", "exec", ns, BIN, "chat", "--user", user, "--json"])
        .args(&servers)
        .stdin(Stdio::piped())
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    ChatProc { child, out }
}
