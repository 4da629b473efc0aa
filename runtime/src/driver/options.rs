//! What runs a node: its options, what it reports, why it stops.

use crate::auth::Keys;
use crate::hooks::Hooks;
use crate::store::StoreError;
use crate::udp::MulticastConfig;
use ringleader_core::durable::Durability;
use ringleader_core::{Config, ConfigError, NodeId, Role};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything a real node needs to run.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// The node's id.
    pub id: NodeId,
    /// The core's configuration; `config.addr` is the address peers and clients
    /// are told to use (usually `listen`).
    pub config: Config,
    /// TCP address for peers, clients and status queries; the same port on UDP
    /// takes datagrams from static peers and clients' probes.
    pub listen: SocketAddr,
    /// The multicast channel, or `None` to rely on static peers only.
    pub multicast: Option<MulticastConfig>,
    /// Static peers' addresses (their `listen`), told every announcement by unicast.
    pub peers: Vec<SocketAddr>,
    /// Where the node keeps its state and its log across restarts.
    pub data_dir: PathBuf,
    /// What a write must reach before the node counts on it: the operating
    /// system (`process`) or stable storage (`power`, with group commit).
    pub durability: Durability,
    /// How much history the log keeps (see [`crate::logfile::retain`]).
    pub retain: crate::logfile::Retain,
    /// Bytes after which a log segment is closed (tests make it small).
    pub segment_bytes: u64,
    /// Role-change hooks.
    pub hooks: Hooks,
    /// The cluster key and the client key; without a cluster key anyone who can
    /// reach the node's ports can speak as a member.
    pub keys: Keys,
    /// Caps and deadlines of incoming connections.
    pub limits: crate::limits::ConnLimits,
    /// Start a `quorum` node whose data directory holds a log but no state file
    /// (it forgot its term and its vote, and may vote twice in a term).
    pub allow_missing_state: bool,
    /// Where to serve the status page and metrics over HTTP (see
    /// [`crate::http`]), if anywhere.
    pub http: Option<HttpOptions>,
}

/// Where the status page is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpOptions {
    /// The address.
    pub addr: SocketAddr,
    /// Whether the node must not start without it (it was asked for): when
    /// not, an address in use costs a warning and the page, not the node.
    pub required: bool,
}

/// Something that happened, for whoever runs the node (the CLI prints them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// Listening, with the node's incarnation counter.
    Started {
        /// TCP address.
        addr: SocketAddr,
        /// How many times this node has started, this time included.
        starts: u64,
        /// Where its status page is served, if it is.
        http: Option<SocketAddr>,
    },
    /// The node's role or the leader it names changed.
    Role {
        /// The role now.
        role: Role,
        /// The leader named.
        leader: Option<NodeId>,
        /// The epoch.
        epoch: u64,
    },
    /// A member's state changed.
    Member {
        /// The member.
        node: NodeId,
        /// What happened (`joined`, `died`, ...).
        change: String,
    },
}

/// Why a node could not start or had to stop.
#[derive(Debug)]
pub enum RuntimeError {
    /// The TCP or UDP address could not be bound.
    Listen(SocketAddr, io::Error),
    /// The multicast channel could not be set up.
    Multicast(MulticastConfig, io::Error),
    /// The data directory is unusable.
    Store(StoreError),
    /// The configuration is invalid.
    Config(ConfigError),
    /// A `quorum` node found a log but no state file.
    MissingState(PathBuf),
    /// The writer thread could not be started.
    Writer(io::Error),
    /// The HTTP address could not be bound.
    Http(SocketAddr, io::Error),
    /// The node stopped for a reason told here (an embedded node's task).
    Stopped(String),
}

impl std::fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuntimeError::Listen(addr, e) if e.kind() == io::ErrorKind::AddrInUse => {
                write!(f, "cannot listen on {addr}: the address is in use (another node with this id or port?)")
            }
            RuntimeError::Listen(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            RuntimeError::Multicast(m, e) => write!(
                f,
                "cannot use multicast group {}:{} on interface {}: {e} (use --no-multicast with --peer to run without it)",
                m.group, m.port, m.interface
            ),
            RuntimeError::Store(e) => write!(f, "{e}"),
            RuntimeError::Config(e) => write!(f, "invalid configuration: {e}"),
            RuntimeError::Writer(e) => write!(f, "cannot start the writer thread: {e}"),
            RuntimeError::Stopped(why) => f.write_str(why),
            RuntimeError::Http(addr, e) if e.kind() == io::ErrorKind::AddrInUse => write!(
                f,
                "cannot serve the status page on {addr}: the address is in use \
                 (another node's? choose one with --http ADDR, or --http off)"
            ),
            RuntimeError::Http(addr, e) => write!(
                f,
                "cannot serve the status page on {addr}: {e} (choose one with --http ADDR, or --http off)"
            ),
            RuntimeError::MissingState(p) => write!(
                f,
                "{} is missing but this data directory holds a log: the node has lost the \
                 term it reached and the vote it cast, and under quorum it could vote twice \
                 in one term (two leaders). Restore the file, or start with \
                 --allow-missing-state to accept that risk",
                p.display()
            ),
        }
    }
}

impl std::error::Error for RuntimeError {}

impl From<StoreError> for RuntimeError {
    fn from(e: StoreError) -> Self {
        RuntimeError::Store(e)
    }
}
