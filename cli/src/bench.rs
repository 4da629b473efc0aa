//! `ringleader bench`: real nodes on loopback, measured. Figures are printed, never
//! asserted: failover time, replication throughput, memory per message.

use clap::{Args, Subcommand};
use ringleader_core::client::ClientOutput;
use ringleader_runtime::auth::Key;
use ringleader_runtime::chat::{run_chat, ChatCommand, ChatOptions, ChatUpdate};
use ringleader_runtime::envelope::StatusReply;
use ringleader_runtime::MulticastConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// The benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// From losing the leader to the first message acknowledged through the new
    /// leader, over a number of runs each: `kill -9` of its process (its port
    /// refuses: crash detection in milliseconds) and SIGSTOP (a silent peer, as
    /// a dead machine: the failure timeout, and under quorum its lease, first).
    /// Median and worst of each.
    Failover(FailoverArgs),
    /// Committed chat messages per second through a 3-node cluster on loopback.
    Throughput(crate::bench_throughput::ThroughputArgs),
    /// A node's resident memory holding N messages of 100 bytes.
    Memory(MemoryArgs),
    /// How fast a node that lost its data directory is brought up to date:
    /// 3 nodes hold N messages, a follower's data is wiped, it starts again
    /// empty; messages per second until it holds everything committed.
    Catchup(crate::bench_catchup::CatchupArgs),
    /// A node under attack: 20,000 connection attempts, 1,000 slowloris
    /// connections, a flood of garbage. Its memory during and after each, the
    /// log it writes, and an honest client's acknowledgements meanwhile.
    Hostile(crate::bench_hostile::HostileArgs),
    /// CPU a node of an idle cluster uses, per algorithm: an idle cluster
    /// exchanges heartbeats and announcements, nothing more.
    Idle(IdleArgs),
    /// The embedding API: 3 nodes inside this process, entries proposed
    /// through the leader's handle one at a time and many in flight, and a
    /// follower reading the committed history back.
    Propose(crate::bench_propose::ProposeArgs),
}

/// Whether a benchmark's cluster authenticates with keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KeysMode {
    /// No keys (the loopback default).
    Off,
    /// Cluster key and client key.
    On,
    /// Both, one after the other, side by side in the figures.
    Both,
}

impl KeysMode {
    pub(crate) fn runs(self) -> &'static [bool] {
        match self {
            KeysMode::Off => &[false],
            KeysMode::On => &[true],
            KeysMode::Both => &[false, true],
        }
    }
}

pub(crate) fn keys_name(keyed: bool) -> &'static str {
    if keyed {
        "with keys"
    } else {
        "no keys"
    }
}

/// Flags of `bench failover`.
#[derive(Args, Debug)]
pub struct FailoverArgs {
    /// How many failovers to measure.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
    /// Election algorithm.
    #[arg(long, default_value = "bully", value_parser = crate::parse::algorithm)]
    election: ringleader_core::Algorithm,
    /// Heartbeat interval.
    #[arg(long, default_value = "100ms", value_parser = crate::parse::duration)]
    heartbeat: Duration,
    /// Election timeout.
    #[arg(long, default_value = "300ms", value_parser = crate::parse::duration)]
    election_timeout: Duration,
    /// Port block: nodes on base+1.., multicast on base+19.
    /// Default: a free block of 20 ports between 20000 and 32000, found at start.
    #[arg(long)]
    port_base: Option<u16>,
    /// Measure without keys, with them, or both (the cost of authentication).
    #[arg(long, value_enum, default_value = "both")]
    keys: KeysMode,
}

/// Flags of `bench memory`.
#[derive(Args, Debug)]
pub struct MemoryArgs {
    /// Messages the node ends up holding.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    messages: u64,
    /// Bytes per message.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Port block: the node on base+1, multicast on base+19.
    /// Default: a free block of 20 ports between 20000 and 32000, found at start.
    #[arg(long)]
    port_base: Option<u16>,
}

/// Flags of `bench idle`.
#[derive(Args, Debug)]
pub struct IdleArgs {
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=50))]
    nodes: u32,
    /// How long to measure, once the cluster has a leader, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = crate::parse::duration)]
    measure: Duration,
    /// Port block: nodes on base+1.., multicast on base+19.
    /// Default: a free block of 20 ports between 20000 and 32000, found at start.
    #[arg(long)]
    port_base: Option<u16>,
}

/// The block of 20 ports to run nodes on (node N on base + N, multicast on
/// base + 19): the one given, or a free one, so a benchmark never lands on a
/// cluster already running (or on another benchmark).
pub fn port_block(given: Option<u16>) -> Result<u16, String> {
    if let Some(base) = given {
        return Ok(base);
    }
    let free = |port: u16| {
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
    };
    // 600 blocks of 20 from 20000: below the ephemeral range (32768+).
    let start = std::process::id() % 600;
    for attempt in 0..600 {
        let block = (start + attempt * 7) % 600;
        let Ok(base) = u16::try_from(20_000 + block * 20) else {
            continue;
        };
        if (1..20).all(|i| free(base + i)) {
            return Ok(base);
        }
    }
    Err("no free block of 20 ports between 20000 and 32000: give one with --port-base".into())
}

/// Runs a benchmark.
pub fn run(cmd: BenchCommand) -> ExitCode {
    let Some(runtime) = crate::async_runtime(2) else {
        return ExitCode::FAILURE;
    };
    let result = runtime.block_on(async {
        match cmd {
            BenchCommand::Failover(a) => failover(a).await,
            BenchCommand::Throughput(a) => crate::bench_throughput::throughput(a).await,
            BenchCommand::Memory(a) => memory(a).await,
            BenchCommand::Catchup(a) => crate::bench_catchup::catchup(a).await,
            BenchCommand::Idle(a) => idle(a).await,
            BenchCommand::Hostile(a) => crate::bench_hostile::hostile(a).await,
            BenchCommand::Propose(a) => crate::bench_propose::propose(a).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A node's status, if it answers within `limit`.
pub(crate) async fn status_within(
    addr: SocketAddr,
    limit: Duration,
) -> Option<ringleader_runtime::status::Status> {
    match tokio::time::timeout(limit, crate::status::ask(addr)).await {
        Ok(Ok(StatusReply(s))) => Some(s),
        _ => None,
    }
}

/// Starts a node process with `line`, its log appended to `dir/n<id>.log`.
fn spawn_node(dir: &std::path::Path, id: u32, line: &[String]) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("n{id}.log")))
        .map_err(|e| format!("cannot create a node's log: {e}"))?;
    Command::new(exe)
        .args(line)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start a node: {e}"))
}

/// Node processes of one benchmark cluster, killed on drop.
pub(crate) struct Nodes {
    pub(crate) children: Vec<(u32, Child)>,
    base: u16,
    pub(crate) dir: PathBuf,
    /// The client key, if the nodes run with keys.
    client_key: Option<Key>,
    /// Each node's command line, to start it again.
    args: Vec<(u32, Vec<String>)>,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Nodes {
    pub(crate) fn start(n: u32, base: u16, name: &str, extra: &[String]) -> Result<Nodes, String> {
        Self::start_keyed(n, base, name, extra, false)
    }

    /// Like [`start`](Self::start); `keyed`: with a fresh cluster key and client key.
    pub(crate) fn start_keyed(
        n: u32,
        base: u16,
        name: &str,
        extra: &[String],
        keyed: bool,
    ) -> Result<Nodes, String> {
        let dir =
            std::env::temp_dir().join(format!("ringleader-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut extra = extra.to_vec();
        let mut client_key = None;
        if keyed {
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let (cluster, client) = (Key::generate(), Key::generate());
            for (key, file, flag) in [
                (&cluster, "cluster.key", "--cluster-key-file"),
                (&client, "client.key", "--client-key-file"),
            ] {
                let path = dir.join(file);
                key.write_new(&path).map_err(|e| e.to_string())?;
                extra.extend([flag.to_owned(), path.display().to_string()]);
            }
            client_key = Some(client);
        }
        let voters: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
        let mut children = Vec::new();
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut args = Vec::new();
        for id in 1..=n {
            let mut line: Vec<String> = vec![
                "node".into(),
                "--id".into(),
                id.to_string(),
                "--cluster".into(),
                name.into(),
                "--port-base".into(),
                base.to_string(),
                "--mcast-port".into(),
                (base + 19).to_string(),
                "--voters".into(),
                voters.join(","),
                "--data-dir".into(),
                dir.join(format!("n{id}")).display().to_string(),
                "--http".into(),
                "off".into(),
            ];
            line.extend(extra.iter().cloned());
            children.push((id, spawn_node(&dir, id, &line)?));
            args.push((id, line));
        }
        Ok(Nodes {
            children,
            base,
            dir,
            client_key,
            args,
        })
    }

    /// Kills node `id` (SIGKILL), removes its data directory, and starts it
    /// again empty: a node whose disk was replaced.
    pub(crate) async fn restart_empty(&mut self, id: u32) -> Result<(), String> {
        self.restart_after(id, |dir| {
            std::fs::remove_dir_all(dir)
                .map_err(|e| format!("cannot remove {}: {e}", dir.display()))
        })
        .await
    }

    /// Kills node `id` (SIGKILL) and starts it again on the same data.
    pub(crate) async fn restart(&mut self, id: u32) -> Result<(), String> {
        self.restart_after(id, |_| Ok(())).await
    }

    /// Kills node `id`, does `meanwhile` to its data directory, and starts it
    /// again.
    async fn restart_after(
        &mut self,
        id: u32,
        meanwhile: impl FnOnce(&std::path::Path) -> Result<(), String>,
    ) -> Result<(), String> {
        let line = self
            .args
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, l)| l.clone())
            .ok_or("no such node")?;
        if let Some((_, child)) = self.children.iter_mut().find(|(i, _)| *i == id) {
            let _ = child.kill().await;
        }
        meanwhile(&self.dir.join(format!("n{id}")))?;
        let child = spawn_node(&self.dir, id, &line)?;
        self.children.retain(|(i, _)| *i != id);
        self.children.push((id, child));
        Ok(())
    }

    /// The process id of node `id`, while it runs.
    pub(crate) fn pid(&self, id: u32) -> Option<u32> {
        self.children
            .iter()
            .find(|(i, _)| *i == id)
            .and_then(|(_, c)| c.id())
    }

    /// A chat client of this cluster (holding its client key, if any).
    pub(crate) fn chat(&self, user: &str, servers: Vec<SocketAddr>, buffer: usize) -> ChatHandle {
        chat(
            user,
            servers,
            self.multicast(),
            buffer,
            self.client_key.clone(),
        )
    }

    pub(crate) fn addr(&self, id: u32) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.base + id as u16))
    }

    fn multicast(&self) -> MulticastConfig {
        MulticastConfig {
            port: self.base + 19,
            ..MulticastConfig::default()
        }
    }

    /// Waits until every running node names one serving leader.
    pub(crate) async fn leader(&self, limit: Duration) -> Result<u32, String> {
        let start = Instant::now();
        while start.elapsed() < limit {
            let mut named = Vec::new();
            for (id, _) in &self.children {
                if let Some(s) = status_within(self.addr(*id), Duration::from_millis(500)).await {
                    named.push((s.leader, s.id == s.leader.unwrap_or(0) && s.serving));
                }
            }
            if named.len() == self.children.len() {
                if let Some(l) = named.first().and_then(|n| n.0) {
                    if named.iter().all(|n| n.0 == Some(l)) && named.iter().any(|n| n.1) {
                        return Ok(l);
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(format!("no leader within {limit:?}"))
    }
}

pub(crate) struct ChatHandle {
    pub(crate) commands: mpsc::Sender<ChatCommand>,
    pub(crate) updates: mpsc::UnboundedReceiver<ChatUpdate>,
    pub(crate) task:
        tokio::task::JoinHandle<std::io::Result<ringleader_runtime::chat::ChatSummary>>,
}

fn chat(
    user: &str,
    servers: Vec<SocketAddr>,
    multicast: MulticastConfig,
    buffer: usize,
    client_key: Option<Key>,
) -> ChatHandle {
    let (ctx, crx) = mpsc::channel(1 << 16);
    let (utx, urx) = mpsc::unbounded_channel();
    let opts = ChatOptions {
        user: user.to_owned(),
        servers,
        multicast,
        buffer_limit: buffer,
        wait_when_full: true,
        client_key,
    };
    ChatHandle {
        commands: ctx,
        updates: urx,
        task: tokio::spawn(run_chat(opts, crx, utx)),
    }
}

fn median_and_worst(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let median = if v.is_empty() {
        0.0
    } else if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    (median, v.last().copied().unwrap_or(0.0))
}

/// How the leader is taken away in a failover run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loss {
    /// `kill -9` of its process: the machine is up, its port refuses.
    Kill,
    /// `kill -STOP`: a silent peer, as a dead machine or a cut cable would be
    /// (its connections stay open, nothing answers).
    Silence,
}

impl Loss {
    fn name(self) -> &'static str {
        match self {
            Loss::Kill => "kill -9",
            Loss::Silence => "silent (SIGSTOP)",
        }
    }
}

async fn failover(a: FailoverArgs) -> Result<(), String> {
    println!(
        "failover: {} runs each, 3 {} nodes, heartbeat {:?}, election timeout {:?}",
        a.runs, a.election, a.heartbeat, a.election_timeout
    );
    let mut figures = Vec::new();
    for &keyed in a.keys.runs() {
        for loss in [Loss::Kill, Loss::Silence] {
            let (mut serving, mut acked) = (Vec::new(), Vec::new());
            for run in 1..=a.runs {
                let (s, ack) = failover_once(&a, run, loss, keyed).await?;
                println!(
                    "  {}, {} run {run}/{}: a new leader serves after {s:.0} ms, the client's first ack after {ack:.0} ms",
                    keys_name(keyed),
                    loss.name(),
                    a.runs
                );
                serving.push(s);
                acked.push(ack);
                tokio::time::sleep(Duration::from_millis(200)).await; // ports free again
            }
            figures.push((
                keyed,
                loss,
                median_and_worst(&mut serving),
                median_and_worst(&mut acked),
            ));
        }
    }
    println!(
        "failover of the leader, {} runs each, {}: new leader serving | client's first ack through it",
        a.runs, a.election
    );
    for (keyed, loss, (sm, sw), (am, aw)) in figures {
        println!(
            "  {:<9} {:<18} median {sm:>5.0} ms, worst {sw:>5.0} ms | median {am:>5.0} ms, worst {aw:>5.0} ms",
            keys_name(keyed),
            loss.name()
        );
    }
    Ok(())
}

/// Polls the nodes other than `old` (every 2 ms) until one leads and serves;
/// the time since `from`.
async fn new_leader_serving(addrs: Vec<SocketAddr>, old: u32, from: Instant) -> Option<Duration> {
    let deadline = from + Duration::from_secs(30);
    while Instant::now() < deadline {
        for addr in &addrs {
            if let Some(s) = status_within(*addr, Duration::from_millis(200)).await {
                if s.id != old && s.role == "leader" && s.serving {
                    return Some(from.elapsed());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

/// One run: a cluster, a chat client sending all along, the leader taken away;
/// the time until another node leads and serves (asked every 2 ms), and until
/// the client's first message is acknowledged through it.
async fn failover_once(
    a: &FailoverArgs,
    run: u32,
    loss: Loss,
    keyed: bool,
) -> Result<(f64, f64), String> {
    let extra = vec![
        "--election".to_owned(),
        a.election.to_string(),
        "--heartbeat".to_owned(),
        format!("{}us", a.heartbeat.as_micros()),
        "--election-timeout".to_owned(),
        format!("{}us", a.election_timeout.as_micros()),
    ];
    let name = format!("bench-failover-{run}");
    let mut nodes = Nodes::start_keyed(
        3,
        crate::bench::port_block(a.port_base)?,
        &name,
        &extra,
        keyed,
    )?;
    let leader = nodes.leader(Duration::from_secs(20)).await?;
    let servers = (1..=3).map(|i| nodes.addr(i)).collect();
    let mut c = nodes.chat("bench", servers, 1000);
    // Traffic all along: a message every 2 ms.
    let sender = {
        let tx = c.commands.clone();
        tokio::spawn(async move {
            let mut i = 0u64;
            loop {
                i += 1;
                if tx.send(ChatCommand::Send(format!("m{i}"))).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    wait_acked(&mut c.updates, Duration::from_secs(10)).await?;
    let victim = nodes
        .children
        .iter_mut()
        .find(|(id, _)| *id == leader)
        .ok_or("the leader is not one of ours")?;
    let killed_at = Instant::now();
    match loss {
        Loss::Kill => victim.1.start_kill().map_err(|e| e.to_string())?,
        Loss::Silence => {
            let pid = victim.1.id().ok_or("the leader has exited")?;
            let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).map_err(|e| e.to_string())?);
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP)
                .map_err(|e| format!("cannot stop the leader: {e}"))?;
        }
    }
    let survivors = (1..=3)
        .filter(|&i| i != leader)
        .map(|i| nodes.addr(i))
        .collect();
    let serving = tokio::spawn(new_leader_serving(survivors, leader, killed_at));
    let took = first_ack_elsewhere(&mut c.updates, leader, killed_at)
        .await
        .map_err(|e| format!("{} run {run}: {e}", loss.name()))?;
    let serving = serving
        .await
        .ok()
        .flatten()
        .ok_or_else(|| format!("{} run {run}: no new leader serves", loss.name()))?;
    sender.abort();
    let _ = c.commands.send(ChatCommand::Quit(Duration::ZERO)).await;
    let _ = c.task.await;
    drop(nodes); // kills every node, the stopped one too
    Ok((serving.as_secs_f64() * 1000.0, took.as_secs_f64() * 1000.0))
}

/// Time from `killed_at` to the first acknowledgement from a session at a
/// leader other than `old`.
async fn first_ack_elsewhere(
    updates: &mut mpsc::UnboundedReceiver<ChatUpdate>,
    old: u32,
    killed_at: Instant,
) -> Result<Duration, String> {
    let mut moved = false;
    let deadline = killed_at + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, updates.recv()).await {
            Ok(Some(ChatUpdate::Output(ClientOutput::Connected { leader: l, .. })))
                if l.0 != old =>
            {
                moved = true;
            }
            Ok(Some(ChatUpdate::Output(ClientOutput::Acked { .. }))) if moved => {
                return Ok(killed_at.elapsed());
            }
            Ok(Some(_)) => {}
            _ => return Err("no acknowledgement through a new leader within 30 s".to_owned()),
        }
    }
}

async fn wait_acked(
    updates: &mut mpsc::UnboundedReceiver<ChatUpdate>,
    limit: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, updates.recv()).await {
            Ok(Some(ChatUpdate::Output(ClientOutput::Acked { .. }))) => return Ok(()),
            Ok(Some(_)) => {}
            _ => return Err("no message acknowledged".into()),
        }
    }
}

/// One client sending `n` messages as fast as acknowledgements allow, keeping at
/// most `window` in flight; returns when all are acknowledged.
pub(crate) async fn blast(
    mut c: ChatHandle,
    n: u64,
    size: usize,
    window: u64,
) -> Result<(), String> {
    let payload = "x".repeat(size);
    let (mut sent, mut acked) = (0u64, 0u64);
    while acked < n {
        while sent < n && sent - acked < window {
            sent += 1;
            c.commands
                .send(ChatCommand::Send(payload.clone()))
                .await
                .map_err(|_| "client stopped")?;
        }
        match tokio::time::timeout(Duration::from_secs(30), c.updates.recv()).await {
            Ok(Some(ChatUpdate::Output(ClientOutput::Acked { seq }))) => acked = acked.max(seq),
            Ok(Some(ChatUpdate::Refused(e))) => return Err(e.to_string()),
            Ok(Some(_)) => {}
            _ => return Err(format!("stalled at {acked} of {n} acknowledged")),
        }
    }
    let _ = c.commands.send(ChatCommand::Quit(Duration::ZERO)).await;
    let _ = c.task.await;
    Ok(())
}

pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

async fn memory(a: MemoryArgs) -> Result<(), String> {
    let mut nodes = Nodes::start(
        1,
        crate::bench::port_block(a.port_base)?,
        "bench-memory",
        &[],
    )?;
    nodes.leader(Duration::from_secs(20)).await?;
    let pid = nodes.pid(1).ok_or("node gone")?;
    let before = rss_kib(pid).unwrap_or(0);
    println!(
        "memory: one node, {} messages of {} bytes (resident before: {} MiB)",
        a.messages,
        a.size,
        before / 1024
    );
    let clients = 4u64;
    let per = a.messages.div_ceil(clients);
    let mut tasks = Vec::new();
    for i in 0..clients {
        let c = nodes.chat(&format!("m{i}"), vec![nodes.addr(1)], 1000);
        tasks.push(tokio::spawn(blast(c, per, a.size, 900)));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(pid).ok_or("cannot read the node's memory")?;
    let payload = per * clients * a.size as u64;
    println!(
        "memory: resident {:.1} MiB holding {} messages ({:.1} MiB of payload): {:.2} x the payload, {:.0} bytes per message",
        after as f64 / 1024.0,
        per * clients,
        payload as f64 / 1048576.0,
        (after * 1024) as f64 / payload as f64,
        (after * 1024) as f64 / (per * clients) as f64
    );
    restart_time(&mut nodes, per * clients).await
}

/// Kills the node (SIGKILL), starts it again on its data, and prints how long
/// until it answers (its log read back) and until it serves again.
async fn restart_time(nodes: &mut Nodes, messages: u64) -> Result<(), String> {
    let start = Instant::now();
    nodes.restart(1).await?;
    let addr = nodes.addr(1);
    let mut answered = None;
    while start.elapsed() < Duration::from_secs(120) {
        if let Some(s) = status_within(addr, Duration::from_millis(500)).await {
            let at = *answered.get_or_insert(start.elapsed());
            if s.role == "leader" && s.serving && s.commit_index >= messages {
                let serves = start.elapsed();
                let rss = nodes.pid(1).and_then(rss_kib).unwrap_or(0);
                tokio::time::sleep(Duration::from_secs(3)).await;
                let later = nodes.pid(1).and_then(rss_kib).unwrap_or(0);
                println!(
                    "memory: restart after kill -9 holding {messages} messages: answers after {:.0} ms, serves after {:.0} ms; resident {:.1} MiB then, {:.1} MiB 3 s later",
                    at.as_secs_f64() * 1000.0,
                    serves.as_secs_f64() * 1000.0,
                    rss as f64 / 1024.0,
                    later as f64 / 1024.0
                );
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err("the restarted node did not serve within 120 s".into())
}

/// CPU time a process has used, in seconds (`/proc/PID/stat`, in USER_HZ:
/// 100 per second on Linux).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

async fn idle(a: IdleArgs) -> Result<(), String> {
    for election in ["bully", "ring", "quorum"] {
        let extra = ["--election".to_owned(), election.to_owned()];
        let nodes = Nodes::start(
            a.nodes,
            crate::bench::port_block(a.port_base)?,
            &format!("bench-idle-{election}"),
            &extra,
        )?;
        nodes.leader(Duration::from_secs(20)).await?;
        // Let the start's elections and catch-ups settle.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let pids: Vec<u32> = nodes.children.iter().filter_map(|(_, c)| c.id()).collect();
        let before: Vec<Option<f64>> = pids.iter().map(|p| cpu_seconds(*p)).collect();
        let start = Instant::now();
        tokio::time::sleep(a.measure).await;
        let wall = start.elapsed().as_secs_f64();
        let shares: Vec<f64> = pids
            .iter()
            .zip(before)
            .filter_map(|(p, b)| Some((cpu_seconds(*p)? - b?) / wall * 100.0))
            .collect();
        let worst = shares.iter().copied().fold(0.0, f64::max);
        let mean = shares.iter().sum::<f64>() / shares.len().max(1) as f64;
        println!(
            "idle: {election}, {} nodes, {:.0} s: {mean:.2} % of a core per node on average, {worst:.2} % at most",
            a.nodes, wall
        );
        drop(nodes);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}
