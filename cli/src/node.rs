//! `ringleader node`: one real node.

use crate::parse;
use clap::Args;
use ringleader_core::durable::Durability;
use ringleader_core::{Algorithm, Config, NodeId, RankBy, Role};
use ringleader_runtime::{run_node, Hooks, HttpOptions, MulticastConfig, NodeEvent, NodeOptions};
use serde_json::json;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// What `ringleader node --help` says the command does.
pub const ABOUT: &str = "Run one real node. With only --id, nodes 1, 2, 3 started in three \
                         terminals find each other by multicast on loopback and elect a leader";

/// The port of node N is `port_base + N` unless `--listen` says otherwise.
pub const DEFAULT_PORT_BASE: u16 = 7100;
/// The status page's default port is the node's TCP port plus this.
pub const HTTP_PORT_OFFSET: u16 = 1000;

/// Flags of `node`.
#[derive(Args, Debug, Clone)]
pub struct NodeArgs {
    /// Read settings from a TOML file: each is one of these flags without its
    /// dashes (`election = "quorum"`, `peer = ["10.0.0.2:7101"]`,
    /// `no-multicast = true`); a flag given here as well wins over the file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// This node's id, from 1. With no other flag, nodes 1, 2, 3, ... started on one
    /// machine find each other by multicast on loopback and form a cluster.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=60000))]
    pub id: u32,
    /// TCP address for peers, clients and `status` (the same port on UDP takes
    /// datagrams from static peers and client probes). Default: 127.0.0.1:<port-base + id>.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// The address peers and clients are told to use, when it differs from --listen
    /// (e.g. listening on 0.0.0.0).
    #[arg(long)]
    pub advertise: Option<SocketAddr>,
    /// Serve a status page (`/`), the status as JSON (`/status`) and
    /// Prometheus metrics (`/metrics`) over HTTP at ADDR, or `off`. Default:
    /// 127.0.0.1 at the node's TCP port + 1000 (node 1: 127.0.0.1:8101), so
    /// only this machine reads it and the nodes of one machine never collide
    /// (if that port is taken the node warns and runs without the page; an
    /// address given here that cannot be used stops the node instead).
    /// It is read-only and needs no key, like `ringleader status`; on an
    /// address other machines reach it shows members' addresses, and client
    /// names unless a cluster key is set (then they are left out).
    #[arg(long, value_name = "ADDR|off", value_parser = parse::http)]
    pub http: Option<parse::Http>,
    /// Base of the default port: node N listens on port-base + N.
    #[arg(long, default_value_t = DEFAULT_PORT_BASE)]
    pub port_base: u16,
    /// The cluster's name; nodes of other clusters on the same group are ignored.
    #[arg(long, default_value = "ringleader")]
    pub cluster: String,
    /// Multicast group for discovery (administratively scoped by default).
    #[arg(long, default_value = "239.77.76.1")]
    pub group: Ipv4Addr,
    /// Multicast UDP port, shared by every node of the cluster.
    #[arg(long, default_value_t = 7400)]
    pub mcast_port: u16,
    /// Interface (its IPv4 address) to use for multicast: 127.0.0.1 keeps the
    /// cluster on this machine; a LAN address spans the LAN.
    #[arg(long, default_value = "127.0.0.1")]
    pub interface: Ipv4Addr,
    /// Do not use multicast; find peers through --peer only.
    #[arg(long)]
    pub no_multicast: bool,
    /// A peer's address (its --listen), told every announcement directly. Repeat it.
    #[arg(long = "peer", value_name = "ADDR")]
    pub peers: Vec<SocketAddr>,
    /// Election algorithm: bully, ring (Chang-Roberts) or quorum.
    #[arg(long, default_value = "bully", value_parser = parse::algorithm)]
    pub election: Algorithm,
    /// What makes a node the preferred leader: id, oldest or address. Under quorum
    /// it orders who stands first (a healthy leader is never preempted).
    #[arg(long, default_value = "id", value_parser = parse::rank)]
    pub rank: RankBy,
    /// quorum: the voting members, e.g. 1,2,3 (default 1,2,3).
    #[arg(long, value_parser = parse::ids)]
    pub voters: Option<parse::Ids>,
    /// Heartbeat interval.
    #[arg(long, default_value = "100ms", value_parser = parse::duration)]
    pub heartbeat: Duration,
    /// Election timeout (bully: wait for OK; ring: longest round; quorum: randomized
    /// between one and two of it).
    #[arg(long, default_value = "300ms", value_parser = parse::duration)]
    pub election_timeout: Duration,
    /// Silence after which a member is suspected (default: 2.5 heartbeats).
    #[arg(long, value_parser = parse::duration)]
    pub suspect_timeout: Option<Duration>,
    /// Silence after which a member is declared dead (default: 5 heartbeats).
    #[arg(long, value_parser = parse::duration)]
    pub failure_timeout: Option<Duration>,
    /// quorum: the most any clock here may run fast or slow, e.g. 1% or 500ppm.
    /// A leader's lease is that much shorter than the promise voters make, on
    /// both sides; clocks drifting more can give two leaders at once. The default
    /// is twenty times what NTP may slew a clock (500 ppm).
    #[arg(long, default_value = "1%", value_parser = parse::drift)]
    pub max_drift: u32,
    /// Do not take a refused connection as proof that a peer's process is gone.
    /// By default, when a peer's connection ends and a fresh dial to its
    /// address is refused, the peer is declared dead at once (a crashed process
    /// on a machine that is up); with this flag only the failure timeout does.
    /// Use it where a firewall rejects connections with a reset.
    #[arg(long)]
    pub no_crash_proof: bool,
    /// Interval of the multicast announcements.
    #[arg(long, default_value = "1s", value_parser = parse::duration)]
    pub announce: Duration,
    /// How long a starting node listens before its first election.
    #[arg(long, default_value = "300ms", value_parser = parse::duration)]
    pub settle: Duration,
    /// Where the node keeps its state (start count; quorum's term and vote).
    /// Default: ./ringleader-data/<cluster>/n<id>.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// What a write must reach before the node acknowledges or votes on it:
    /// `power` (fdatasync, group commit: an acknowledged message survives a
    /// loss of power on a majority) or `process` (handed to the operating
    /// system: survives a crash of the process, not of the machine).
    /// Default: power.
    #[arg(long, value_parser = parse::durability)]
    pub durability: Option<Durability>,
    /// Accepted for scripts of earlier versions: it meant what
    /// `--durability power`, the default now, does.
    #[arg(long, hide = true)]
    pub sync_log: bool,
    /// How long a write may take to become durable before the disk counts as
    /// stalled: the node then resigns any leadership and plays dead until the
    /// write completes, so a hung disk cannot keep a leadership alive.
    #[arg(long, default_value = "2s", value_parser = parse::duration)]
    pub disk_stall_timeout: Duration,
    /// How much of the log the node keeps in memory, e.g. 16MiB, 256MiB: the
    /// newest entries (never fewer than 2,000, nor any not yet committed and
    /// on the disk). Older ones are read back from the disk when a lagging
    /// follower or a resuming client needs them, so memory stays bounded
    /// however long the history.
    #[arg(long, default_value = "16MiB", value_parser = parse::bytes)]
    pub log_memory: usize,
    /// How much history to keep on disk (quorum only): a count of entries
    /// (`1000000`), an age (`30d`, `12h`, `90m`) or a size (`10GiB`). Older
    /// whole segments are deleted once a checkpoint covers them; a follower
    /// too far behind then catches up from a snapshot (the per-client
    /// numbering, so resent messages are still not duplicated), and a client
    /// resuming from before it is told where the kept history starts.
    /// Default: keep everything.
    #[arg(long, value_parser = parse::retain)]
    pub retain: Option<ringleader_runtime::logfile::Retain>,
    /// Bytes after which a log segment is closed (for tests: retention
    /// deletes whole segments).
    #[arg(long, hide = true, default_value = "64MiB", value_parser = parse::bytes)]
    pub segment_bytes: usize,
    /// Shell command run when this node becomes leader (environment:
    /// RINGLEADER_ROLE, RINGLEADER_LEADER, RINGLEADER_EPOCH, RINGLEADER_NODE).
    /// Under quorum it runs only once the node holds its lease. The epoch only
    /// grows: hand it to what the hook changes as a fencing token.
    #[arg(long, value_name = "CMD")]
    pub on_leader: Option<String>,
    /// Shell command run when this node becomes a follower of a known leader,
    /// and when it stops leading; then RINGLEADER_LED_UNTIL_MS says until when
    /// it led (ms since the Unix epoch): under quorum a process that stood still
    /// past its lease led only until the lease ended, before the hook runs.
    #[arg(long, value_name = "CMD")]
    pub on_follower: Option<String>,
    /// How long a hook may run before it is killed.
    #[arg(long, default_value = "10s", value_parser = parse::duration)]
    pub hook_timeout: Duration,
    /// Print one JSON object per event (start, role change, member change) on stdout.
    #[arg(long)]
    pub events: bool,
    /// Keys.
    #[command(flatten)]
    pub keys: crate::keys::NodeKeyArgs,
    /// Most chat clients connected at once; one more is told so and closed.
    #[arg(long, default_value_t = 1000, value_parser = parse::count)]
    pub max_clients: usize,
    /// Most connections at once that have not yet sent their first frame (and
    /// finished the key handshake); one more closes the oldest of them (never a
    /// refusal), so a flood of idle connections cannot crowd out peers and
    /// clients, who introduce themselves in a round trip.
    #[arg(long, default_value_t = 100, value_parser = parse::count)]
    pub max_pending: usize,
    /// A client connection silent this long is closed (clients ping every second).
    #[arg(long, default_value = "30s", value_parser = parse::duration)]
    pub client_idle_timeout: Duration,
    /// Start a quorum node whose data directory has a log but no state.json. It
    /// has forgotten its term and its vote and may vote twice in one term, which
    /// can elect two leaders: use it only when the file is lost for good.
    #[arg(long)]
    pub allow_missing_state: bool,
}

impl NodeArgs {
    /// The TCP address this node listens on.
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        match self.listen {
            Some(a) => Ok(a),
            None => {
                let port = u32::from(self.port_base) + self.id;
                let port = u16::try_from(port).map_err(|_| {
                    format!(
                        "--port-base {} + --id {} is past port 65535",
                        self.port_base, self.id
                    )
                })?;
                Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            }
        }
    }

    /// Where the status page is served, if anywhere (see `--http`).
    pub fn http_options(&self) -> Result<Option<HttpOptions>, String> {
        match self.http {
            Some(parse::Http::Off) => Ok(None),
            Some(parse::Http::At(addr)) => Ok(Some(HttpOptions {
                addr,
                required: true,
            })),
            None => {
                let listen = self.listen_addr()?;
                let port = listen.port().checked_add(HTTP_PORT_OFFSET).ok_or_else(|| {
                    format!(
                        "the default status page port ({} + {HTTP_PORT_OFFSET}) is past 65535: \
                         give one with --http ADDR, or --http off",
                        listen.port()
                    )
                })?;
                Ok(Some(HttpOptions {
                    addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                    required: false,
                }))
            }
        }
    }

    /// Everything the runtime needs, checked.
    pub fn options(&self) -> Result<NodeOptions, String> {
        let listen = self.listen_addr()?;
        let advertise = self.advertise.unwrap_or(listen);
        if advertise.ip().is_unspecified() {
            return Err(format!(
                "--listen {listen} is not an address peers can reach: add --advertise ADDR"
            ));
        }
        let defaults = Config::default();
        let suspect = self.suspect_timeout.unwrap_or(self.heartbeat * 5 / 2);
        let failure = self.failure_timeout.unwrap_or(self.heartbeat * 5);
        let config = Config {
            cluster: self.cluster.clone(),
            addr: advertise,
            announce_interval: self.announce,
            heartbeat_interval: self.heartbeat,
            suspect_timeout: suspect,
            failure_timeout: failure,
            election: self.election,
            rank: self.rank,
            settle: self.settle,
            election_timeout: self.election_timeout,
            max_drift_ppm: self.max_drift,
            crash_proof: !self.no_crash_proof,
            disk_stall_timeout: self.disk_stall_timeout,
            log_memory: self.log_memory,
            voters: self
                .voters
                .clone()
                .map_or_else(|| (1..=3).map(NodeId).collect(), |v| v.0),
            ..defaults
        };
        config
            .validate()
            .map_err(|e| format!("invalid configuration: {e}"))?;
        if self.retain.is_some() && self.election != ringleader_core::Algorithm::Quorum {
            return Err(format!(
                "--retain: {}",
                ringleader_sim::config::RETAIN_NEEDS_QUORUM
            ));
        }
        if self.no_multicast && self.peers.is_empty() {
            return Err("--no-multicast needs at least one --peer to find the cluster".into());
        }
        let data_dir = self.data_dir.clone().unwrap_or_else(|| {
            PathBuf::from("ringleader-data")
                .join(&self.cluster)
                .join(format!("n{}", self.id))
        });
        Ok(NodeOptions {
            id: NodeId(self.id),
            config,
            listen,
            multicast: (!self.no_multicast).then_some(MulticastConfig {
                group: self.group,
                port: self.mcast_port,
                interface: self.interface,
                ttl: 1,
            }),
            peers: self.peers.clone(),
            data_dir,
            durability: self.durability.unwrap_or_default(),
            retain: self.retain.unwrap_or_default(),
            segment_bytes: self.segment_bytes as u64,
            hooks: Hooks {
                on_leader: self.on_leader.clone(),
                on_follower: self.on_follower.clone(),
                timeout: self.hook_timeout,
            },
            keys: self.keys.load()?,
            allow_missing_state: self.allow_missing_state,
            http: self.http_options()?,
            limits: ringleader_runtime::limits::ConnLimits {
                max_clients: self.max_clients,
                max_pending: self.max_pending,
                client_idle: self.client_idle_timeout,
                ..Default::default()
            },
        })
    }
}

/// Raises this process's open-file limit to the hard limit; the limit now.
pub fn raise_open_file_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_err() {
        tracing::debug!("cannot raise the open-file limit to {hard}");
    }
    getrlimit(Resource::RLIMIT_NOFILE).map_or(soft, |(s, _)| s)
}

/// Raises the open-file limit to what the system allows, and warns if the
/// connection caps could still exhaust it (then clients past it would fail
/// instead of being told the node is full).
fn make_room_for_connections(limits: &ringleader_runtime::limits::ConnLimits) {
    let soft = raise_open_file_limit();
    // Sockets of the caps, plus peer links dialled out, files and a margin.
    let needed = limits.max_clients + limits.max_pending + 2 * limits.max_peers + 64;
    if (soft as usize) < needed {
        tracing::warn!(
            limit = soft,
            needed,
            "the open-file limit is below what the connection caps may use: lower \
             --max-clients / --max-pending or raise the limit (ulimit -n)"
        );
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Leader => "leader",
        Role::Follower => "follower",
        Role::Candidate => "candidate",
    }
}

/// The JSON line printed for an event with `--events`.
pub fn event_json(id: u32, event: &NodeEvent) -> serde_json::Value {
    match event {
        NodeEvent::Started { addr, starts, http } => {
            json!({
                "event": "started", "node": id, "addr": addr.to_string(), "starts": starts,
                "http": http.map(|a| format!("http://{a}/")), "pid": std::process::id()
            })
        }
        NodeEvent::Role {
            role,
            leader,
            epoch,
        } => json!({
            "event": "role", "node": id, "role": role_name(*role),
            "leader": leader.map(|l| l.0), "epoch": epoch
        }),
        NodeEvent::Member { node, change } => {
            json!({"event": "member", "node": id, "member": node.0, "change": change})
        }
    }
}

/// Runs `node`.
pub fn run(args: NodeArgs) -> ExitCode {
    let opts = match args.options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(crate::EXIT_USAGE);
        }
    };
    make_room_for_connections(&opts.limits);
    let Some(runtime) = crate::async_runtime(2) else {
        return ExitCode::FAILURE;
    };
    let id = args.id;
    let print_events = args.events;
    runtime.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let printer = tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if print_events {
                    println!("{}", event_json(id, &event));
                }
            }
        });
        let result = run_node(opts, Some(tx), shutdown_signal()).await;
        let _ = printer.await;
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
