//! `ringleader cluster`: a local cluster of node processes in one command.

mod preflight;
mod screen;

use crate::node::{shutdown_signal, NodeArgs};
use clap::Args;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use ringleader_core::{Algorithm, RankBy};
use ringleader_runtime::NodeOptions;
use screen::Screen;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::process::Command;

/// Flags of `cluster`.
#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// How many nodes (ids 1..=N).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    nodes: u32,
    /// Election algorithm: bully, ring (Chang-Roberts) or quorum (voters: every node).
    #[arg(long, default_value = "bully", value_parser = crate::parse::algorithm)]
    election: Algorithm,
    /// What makes a node the preferred leader under bully and ring.
    #[arg(long, default_value = "id", value_parser = crate::parse::rank)]
    rank: RankBy,
    /// The cluster's name.
    #[arg(long, default_value = "ringleader")]
    cluster: String,
    /// Node N listens on 127.0.0.1:<port-base + N>.
    #[arg(long, default_value_t = crate::node::DEFAULT_PORT_BASE)]
    port_base: u16,
    /// Multicast UDP port.
    #[arg(long, default_value_t = 7400)]
    mcast_port: u16,
    /// Heartbeat interval of every node.
    #[arg(long, default_value = "100ms", value_parser = crate::parse::duration)]
    heartbeat: Duration,
    /// Election timeout of every node.
    #[arg(long, default_value = "300ms", value_parser = crate::parse::duration)]
    election_timeout: Duration,
    /// Directory for the nodes' data and logs (n<id>/ and n<id>.log).
    #[arg(long, default_value = "ringleader-data")]
    data_dir: PathBuf,
    /// Keys handed to every node.
    #[command(flatten)]
    keys: crate::keys::NodeKeyArgs,
    /// Every node's durability (see `ringleader node --help`): power or
    /// process. Default: power.
    #[arg(long, value_parser = crate::parse::durability)]
    durability: Option<ringleader_core::durable::Durability>,
    /// Node N serves its status page at 127.0.0.1:<http-port-base + N>.
    /// Default: port-base + 1000.
    #[arg(long)]
    http_port_base: Option<u16>,
    /// No status pages.
    #[arg(long)]
    no_http: bool,
    /// Print every suspicion and recovery of a member (by default they are
    /// summed up every 10 s: on a busy machine heartbeats run late).
    #[arg(long)]
    verbose: bool,
}

/// What a node's process tells `cluster`, in order: its events, then its end.
enum News {
    /// An event it printed (`--events` JSON).
    Event(Value),
    /// It ended, and how.
    Exit {
        id: u32,
        pid: Option<u32>,
        status: std::io::Result<std::process::ExitStatus>,
    },
}

/// A node process started by `cluster`.
struct Started {
    id: u32,
    pid: Option<u32>,
    /// Its log, and where this run's part of it begins.
    log: (PathBuf, u64),
}

/// Runs `cluster`.
pub fn run(args: ClusterArgs) -> ExitCode {
    let Some(runtime) = crate::async_runtime(1) else {
        return ExitCode::FAILURE;
    };
    runtime.block_on(cluster(args))
}

/// Every node's options as it will parse them, checked; or the exit.
fn all_options(args: &ClusterArgs) -> Result<Vec<NodeOptions>, ExitCode> {
    if !args.no_http && http_addr(args, args.nodes).is_none() {
        eprintln!(
            "error: the status pages' ports (http-port-base + 1..{}) pass 65535: give \
             --http-port-base, or --no-http",
            args.nodes
        );
        return Err(ExitCode::from(crate::EXIT_USAGE));
    }
    (1..=args.nodes)
        .map(|id| {
            node_args(args, id).options().map_err(|e| {
                eprintln!("error: {e}");
                ExitCode::from(crate::EXIT_USAGE)
            })
        })
        .collect()
}

/// Refuses (and says why) if another process holds what the nodes need.
fn check_free(args: &ClusterArgs, opts: &[NodeOptions]) -> Result<(), ExitCode> {
    let needs: Vec<preflight::Needs<'_>> = opts
        .iter()
        .map(|o| preflight::Needs {
            id: o.id.0,
            listen: o.listen,
            http: o.http.map(|h| h.addr),
            data_dir: &o.data_dir,
        })
        .collect();
    let conflicts = preflight::conflicts(&needs);
    if conflicts.is_empty() {
        return Ok(());
    }
    eprintln!("error: cannot start the cluster; nothing was started and no file was changed:");
    for c in &conflicts {
        eprintln!("  {c}");
    }
    eprintln!(
        "Is a cluster already running? `ringleader status --server 127.0.0.1:{}` asks it. \
         Stop it, or choose other --port-base / --http-port-base / --data-dir / --cluster.",
        u32::from(args.port_base) + 1
    );
    Err(ExitCode::FAILURE)
}

async fn cluster(args: ClusterArgs) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot find this program to start the nodes: {e}");
            return ExitCode::FAILURE;
        }
    };
    let base = args.data_dir.join(&args.cluster);
    let opts = match all_options(&args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if let Err(code) = check_free(&args, &opts) {
        return code;
    }
    if let Err(e) = std::fs::create_dir_all(&base) {
        eprintln!("error: cannot create {}: {e}", base.display());
        return ExitCode::FAILURE;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<News>();
    let mut running = Vec::new();
    for id in 1..=args.nodes {
        match spawn_node(&args, &exe, &base, id, &tx) {
            Ok(started) => running.push(started),
            Err(message) => {
                eprintln!("error: {message}");
                stop_all(&running, &mut rx).await;
                return ExitCode::FAILURE;
            }
        }
    }
    drop(tx);
    println!(
        "starting {} {} nodes on 127.0.0.1:{}..{} (logs and data in {}); Ctrl-C stops them",
        args.nodes,
        args.election,
        u32::from(args.port_base) + 1,
        u32::from(args.port_base) + args.nodes,
        base.display()
    );
    let mut ended = BTreeSet::new();
    let code = watch(&args, &running, &mut rx, &mut ended).await;
    println!("stopping the nodes");
    running.retain(|r| !ended.contains(&r.id));
    stop_all(&running, &mut rx).await;
    code
}

/// Prints what the nodes do until Ctrl-C (success), a node that fails to
/// start, or the end of every node (failures).
async fn watch(
    args: &ClusterArgs,
    running: &[Started],
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<News>,
    ended: &mut BTreeSet<u32>,
) -> ExitCode {
    let mut screen = Screen::new(args.nodes, args.verbose, std::time::Instant::now());
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        let lines = tokio::select! {
            () = &mut shutdown => return ExitCode::SUCCESS,
            _ = ticks.tick() => screen.tick(std::time::Instant::now()),
            news = rx.recv() => match news {
                None => Vec::new(),
                Some(News::Event(v)) => screen.on_event(&v),
                Some(News::Exit { id, pid, status }) => {
                    ended.insert(id);
                    let how = exit_text(&status);
                    if !screen.started(u64::from(id)) {
                        let why = running
                            .iter()
                            .find(|r| r.id == id)
                            .and_then(|r| last_error(&r.log))
                            .unwrap_or_else(|| format!("it {how}"));
                        eprintln!("error: n{id} failed to start: {why}");
                        return ExitCode::FAILURE;
                    }
                    screen.on_exit(u64::from(id), pid, &how)
                }
            },
        };
        for line in lines {
            println!("{line}");
        }
        if screen.live() == 0 {
            eprintln!(
                "every node has exited; see their logs in {}",
                args.data_dir.join(&args.cluster).display()
            );
            return ExitCode::FAILURE;
        }
    }
}

/// How a process ended, in words.
fn exit_text(status: &std::io::Result<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(0), _) => "exited (status 0)".to_owned(),
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(sig)) => {
                let name = Signal::try_from(sig).map_or("unknown", Signal::as_str);
                format!("was killed by signal {sig} ({name})")
            }
            (None, None) => "ended".to_owned(),
        },
        Err(e) => format!("could not be waited for ({e})"),
    }
}

/// The last `error:` line a node wrote to its log in this run (read from
/// the last 64 KiB at most: the logs of earlier runs stay above it).
fn last_error((path, from): &(PathBuf, u64)) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let start = (*from).max(len.saturating_sub(64 * 1024));
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut run = Vec::new();
    file.take(64 * 1024).read_to_end(&mut run).ok()?;
    String::from_utf8_lossy(&run)
        .lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error:").trim().to_owned())
}

/// The flags node `id` of the cluster runs with, as `node` would parse them.
fn node_args(args: &ClusterArgs, id: u32) -> NodeArgs {
    NodeArgs {
        config: None,
        id,
        listen: None,
        advertise: None,
        port_base: args.port_base,
        http: Some(http_addr(args, id).map_or(crate::parse::Http::Off, crate::parse::Http::At)),
        cluster: args.cluster.clone(),
        group: "239.77.76.1"
            .parse()
            .unwrap_or(std::net::Ipv4Addr::new(239, 77, 76, 1)),
        mcast_port: args.mcast_port,
        interface: std::net::Ipv4Addr::LOCALHOST,
        no_multicast: false,
        peers: Vec::new(),
        election: args.election,
        rank: args.rank,
        voters: None,
        heartbeat: args.heartbeat,
        election_timeout: args.election_timeout,
        max_drift: ringleader_core::Config::default().max_drift_ppm,
        no_crash_proof: false,
        suspect_timeout: None,
        failure_timeout: None,
        announce: Duration::from_secs(1),
        settle: Duration::from_millis(300),
        data_dir: Some(args.data_dir.join(&args.cluster).join(format!("n{id}"))),
        durability: args.durability,
        sync_log: false,
        disk_stall_timeout: Duration::from_secs(2),
        log_memory: ringleader_core::config::DEFAULT_LOG_MEMORY,
        retain: None,
        segment_bytes: 64 << 20,
        on_leader: None,
        on_follower: None,
        hook_timeout: Duration::from_secs(10),
        events: true,
        keys: args.keys.clone(),
        allow_missing_state: false,
        max_clients: 1000,
        max_pending: 100,
        client_idle_timeout: Duration::from_secs(30),
    }
}

/// Starts node `id` as a child process whose events and end go to `tx` and
/// whose log goes to the end of `<base>/n<id>.log` (never emptied: an
/// earlier run's log is kept above this run's).
fn spawn_node(
    args: &ClusterArgs,
    exe: &std::path::Path,
    base: &std::path::Path,
    id: u32,
    tx: &tokio::sync::mpsc::UnboundedSender<News>,
) -> Result<Started, String> {
    let log_path = base.join(format!("n{id}.log"));
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let from = log.metadata().map_or(0, |m| m.len());
    let _ = writeln!(
        log,
        "--- ringleader cluster: n{id} starting at {} ---",
        ringleader_runtime::human::local_now()
    );
    let mut cmd = Command::new(exe);
    cmd.arg("node")
        .args(node_flags(args, base, id))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "info");
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start node {id}: {e}"))?;
    let pid = child.id();
    let out = child.stdout.take();
    let tx = tx.clone();
    // Events first, then the end: a node's last words come before its exit.
    tokio::spawn(async move {
        if let Some(out) = out {
            let mut lines = tokio::io::BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(News::Event(v));
                }
            }
        }
        let status = child.wait().await;
        let _ = tx.send(News::Exit { id, pid, status });
    });
    Ok(Started {
        id,
        pid,
        log: (log_path, from),
    })
}

/// The command line of node `id`.
fn node_flags(args: &ClusterArgs, base: &std::path::Path, id: u32) -> Vec<String> {
    let voters: Vec<String> = (1..=args.nodes).map(|i| i.to_string()).collect();
    let mut flags: Vec<String> = [
        "--id",
        &id.to_string(),
        "--cluster",
        &args.cluster,
        "--port-base",
        &args.port_base.to_string(),
        "--mcast-port",
        &args.mcast_port.to_string(),
        "--election",
        &args.election.to_string(),
        "--rank",
        &args.rank.to_string(),
        "--voters",
        &voters.join(","),
        "--heartbeat",
        &format!("{}us", args.heartbeat.as_micros()),
        "--election-timeout",
        &format!("{}us", args.election_timeout.as_micros()),
        "--http",
        &http_addr(args, id).map_or_else(|| "off".to_owned(), |a| a.to_string()),
        "--events",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    flags.push("--data-dir".to_owned());
    flags.push(base.join(format!("n{id}")).display().to_string());
    flags.extend(args.keys.to_args());
    if let Some(d) = args.durability {
        flags.extend(["--durability".to_owned(), d.to_string()]);
    }
    flags
}

/// Where node `id` serves its status page.
fn http_addr(args: &ClusterArgs, id: u32) -> Option<std::net::SocketAddr> {
    if args.no_http {
        return None;
    }
    let base = args
        .http_port_base
        .map_or(u32::from(args.port_base) + 1000, u32::from);
    let port = u16::try_from(base + id).ok()?;
    Some(std::net::SocketAddr::from((
        std::net::Ipv4Addr::LOCALHOST,
        port,
    )))
}

/// Asks the nodes of `running` (none of which has ended yet) to leave
/// (SIGTERM) and reports each end; kills any still running after 3 s.
async fn stop_all(running: &[Started], rx: &mut tokio::sync::mpsc::UnboundedReceiver<News>) {
    for r in running {
        if let Some(pid) = r.pid.and_then(|p| i32::try_from(p).ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let mut left: Vec<u32> = running.iter().map(|r| r.id).collect();
    while !left.is_empty() {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(News::Exit { id, pid, status })) => {
                left.retain(|l| *l != id);
                let pid = pid.map_or_else(String::new, |p| format!(" (pid {p})"));
                println!("n{id}{pid} {}", exit_text(&status));
            }
            Ok(Some(News::Event(_))) => {}
            Ok(None) => break,
            Err(_) => {
                for r in running.iter().filter(|r| left.contains(&r.id)) {
                    eprintln!("n{} did not stop in 3 s; killing it", r.id);
                    if let Some(pid) = r.pid.and_then(|p| i32::try_from(p).ok()) {
                        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                    }
                }
                break;
            }
        }
    }
}
