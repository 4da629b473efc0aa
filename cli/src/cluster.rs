//! `ringleader cluster`: a local cluster of node processes in one command.

use crate::node::{shutdown_signal, NodeArgs};
use clap::Args;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use ringleader_core::{Algorithm, RankBy};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

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
}

struct Running {
    id: u32,
    child: Child,
}

/// Runs `cluster`.
pub fn run(args: ClusterArgs) -> ExitCode {
    let Some(runtime) = crate::async_runtime(1) else {
        return ExitCode::FAILURE;
    };
    runtime.block_on(cluster(args))
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
    if let Err(e) = std::fs::create_dir_all(&base) {
        eprintln!("error: cannot create {}: {e}", base.display());
        return ExitCode::FAILURE;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let mut running = Vec::new();
    for id in 1..=args.nodes {
        match spawn_node(&args, &exe, &base, id, &tx) {
            Ok(child) => running.push(Running { id, child }),
            Err((message, code)) => {
                eprintln!("error: {message}");
                stop_all(&mut running).await;
                return code;
            }
        }
    }
    drop(tx);
    println!(
        "started {} {} nodes on 127.0.0.1:{}..{} (logs and data in {}); Ctrl-C stops them",
        args.nodes,
        args.election,
        u32::from(args.port_base) + 1,
        u32::from(args.port_base) + args.nodes,
        base.display()
    );
    let mut leaders: BTreeMap<u64, u64> = BTreeMap::new();
    let mut named: BTreeMap<u64, Option<u64>> = BTreeMap::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let code = loop {
        tokio::select! {
            () = &mut shutdown => break ExitCode::SUCCESS,
            event = rx.recv() => {
                let Some(v) = event else {
                    eprintln!("every node has exited; see the logs in {}", base.display());
                    break ExitCode::FAILURE;
                };
                report(&v, &mut leaders, &mut named, args.nodes);
            }
        }
    };
    println!("stopping the nodes");
    stop_all(&mut running).await;
    code
}

/// The flags node `id` of the cluster runs with, as `node` would parse them.
fn node_args(args: &ClusterArgs, id: u32) -> NodeArgs {
    NodeArgs {
        id,
        listen: None,
        advertise: None,
        port_base: args.port_base,
        http: None,
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
        data_dir: None,
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

/// Starts node `id` as a child process whose events (JSON lines) go to `tx` and
/// whose log goes to `<base>/n<id>.log`.
fn spawn_node(
    args: &ClusterArgs,
    exe: &std::path::Path,
    base: &std::path::Path,
    id: u32,
    tx: &tokio::sync::mpsc::UnboundedSender<Value>,
) -> Result<Child, (String, ExitCode)> {
    // Check the flags the way the node will, so a bad one fails here once.
    node_args(args, id)
        .options()
        .map_err(|e| (e.to_string(), ExitCode::from(crate::EXIT_USAGE)))?;
    let log_path = base.join(format!("n{id}.log"));
    let log = std::fs::File::create(&log_path).map_err(|e| {
        (
            format!("cannot create {}: {e}", log_path.display()),
            ExitCode::FAILURE,
        )
    })?;
    let voters: Vec<String> = (1..=args.nodes).map(|i| i.to_string()).collect();
    let mut cmd = Command::new(exe);
    cmd.arg("node")
        .args(["--id", &id.to_string()])
        .args(["--cluster", &args.cluster])
        .args(["--port-base", &args.port_base.to_string()])
        .args(["--mcast-port", &args.mcast_port.to_string()])
        .args(["--election", &args.election.to_string()])
        .args(["--rank", &args.rank.to_string()])
        .args(["--voters", &voters.join(",")])
        .args(["--heartbeat", &format!("{}us", args.heartbeat.as_micros())])
        .args([
            "--election-timeout",
            &format!("{}us", args.election_timeout.as_micros()),
        ])
        .arg("--data-dir")
        .arg(base.join(format!("n{id}")))
        .arg("--events")
        .args(args.keys.to_args())
        .args(
            args.durability
                .map(|d| vec!["--durability".to_owned(), d.to_string()])
                .unwrap_or_default(),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "info");
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| (format!("cannot start node {id}: {e}"), ExitCode::FAILURE))?;
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
    }
    Ok(child)
}

fn report(
    v: &Value,
    leaders: &mut BTreeMap<u64, u64>,
    named: &mut BTreeMap<u64, Option<u64>>,
    n: u32,
) {
    let node = v.get("node").and_then(Value::as_u64).unwrap_or(0);
    match v.get("event").and_then(Value::as_str) {
        Some("started") => println!(
            "n{node} started at {} (start #{})",
            v.get("addr").and_then(Value::as_str).unwrap_or("?"),
            v.get("starts").and_then(Value::as_u64).unwrap_or(0)
        ),
        Some("role") => {
            let role = v.get("role").and_then(Value::as_str).unwrap_or("?");
            let leader = v.get("leader").and_then(Value::as_u64);
            let epoch = v.get("epoch").and_then(Value::as_u64).unwrap_or(0);
            println!(
                "n{node} is {role}{} (epoch {epoch})",
                leader.map_or(String::new(), |l| format!(", leader n{l}"))
            );
            named.insert(node, leader);
            if role == "leader" {
                leaders.insert(epoch, node);
            }
            // Say it once the whole cluster agrees.
            let all_agree = named.len() == n as usize
                && leader.is_some()
                && named.values().all(|l| *l == leader);
            if all_agree {
                if let Some(l) = leader {
                    println!("== all {n} nodes follow n{l} (epoch {epoch})");
                }
            }
        }
        Some("member") => println!(
            "n{node} sees n{} {}",
            v.get("member").and_then(Value::as_u64).unwrap_or(0),
            v.get("change").and_then(Value::as_str).unwrap_or("?")
        ),
        _ => {}
    }
}

/// Asks every node to leave (SIGTERM), then kills any still running after 3 s.
async fn stop_all(running: &mut Vec<Running>) {
    for r in running.iter() {
        if let Some(pid) = r.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
    }
    for r in running.iter_mut() {
        match tokio::time::timeout(Duration::from_secs(3), r.child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                eprintln!("n{} did not stop in 3 s; killing it", r.id);
                let _ = r.child.kill().await;
            }
        }
    }
    running.clear();
}
