//! What the examples' real-process tests share: ports on loopback, scratch
//! directories, processes killed when their handle drops, polling.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Ports for one test: node N on `base + N`, the multicast port `base + 19`,
/// the application's port of node N on `base + 10 + N`.
pub struct Ports {
    pub base: u16,
}

impl Ports {
    /// A block spread by process id: one of 500 blocks of 20 from 10000,
    /// below the ephemeral range (32768 up, where any outgoing connection
    /// may hold a port) and below the blocks of the command's own tests and
    /// benchmarks (20000 to 32000).
    pub fn fresh(salt: u32) -> Ports {
        let slot = (std::process::id() % 97 * 7 + salt) % 500;
        Ports {
            base: u16::try_from(10000 + slot * 20).unwrap(),
        }
    }
}

/// A scratch directory, removed at the end unless the test failed.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("ringleader-example-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for inspection: {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A process, killed (SIGKILL) when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The flags of node `id` of a three-voter quorum cluster on `ports`.
pub fn node_flags(ports: &Ports, scratch: &Scratch, cluster: &str, id: u32) -> Vec<String> {
    [
        "--id",
        &id.to_string(),
        "--cluster",
        &format!("{cluster}-{}", ports.base),
        "--port-base",
        &ports.base.to_string(),
        "--mcast-port",
        &(ports.base + 19).to_string(),
        "--election",
        "quorum",
        "--voters",
        "1,2,3",
        "--http",
        "off",
        "--data-dir",
        &scratch.0.join(format!("n{id}")).display().to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Starts `bin` with `args`, its stderr in `log`.
pub fn spawn(bin: &str, args: &[String], log: PathBuf) -> Proc {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Proc(
        Command::new(bin)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap(),
    )
}

/// Polls `f` until it gives a value, or panics naming `what` after `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
