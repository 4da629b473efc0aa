//! Per-node configuration, validated before a node is built.

use crate::id::NodeId;
use crate::leadership::Algorithm;
use crate::rank::RankBy;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

/// Longest cluster name accepted; keeps announcements small.
pub const MAX_CLUSTER_NAME: usize = 64;

/// How a node finds and watches its peers, and what it tells them about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Name of the cluster; announcements from another cluster are ignored.
    pub cluster: String,
    /// The address this node advertises to its peers.
    pub addr: SocketAddr,
    /// How often a node announces itself on the multicast channel.
    pub announce_interval: Duration,
    /// How often a node sends a heartbeat to every member of its view.
    pub heartbeat_interval: Duration,
    /// Silence after which a member is suspected (informational, reported in status).
    pub suspect_timeout: Duration,
    /// Silence after which a member is declared dead.
    pub failure_timeout: Duration,
    /// Most members a view holds; announcements beyond it are ignored and logged,
    /// so a flood of forged ids cannot exhaust memory.
    pub max_members: usize,
    /// The election algorithm; every node of a cluster must run the same.
    pub election: Algorithm,
    /// What makes a node the preferred leader under `bully` and `ring`.
    pub rank: RankBy,
    /// How long a starting node listens before its first election, so nodes started
    /// one after another agree on the same leader.
    pub settle: Duration,
    /// `bully`: wait for OK (twice it for COORDINATOR); `ring`: longest round;
    /// `quorum`: the election timeout, randomized between one and two of it.
    pub election_timeout: Duration,
    /// `quorum`: the fixed voter set; a majority of it elects.
    pub voters: Vec<NodeId>,
    /// `quorum`: the most, in parts per million, by which any node's clock may run
    /// fast or slow. The leader's lease is shorter than the voters' promise by
    /// this margin on both sides (see `election::lease`); a clock drifting more
    /// can give two leaders at once.
    pub max_drift_ppm: u32,
    /// Whether a peer whose connection ended and whose port then refused a
    /// fresh dial is declared dead at once (see [`crate::link`]): proof that
    /// its process is gone. Off, only the failure timeout declares death (for
    /// networks whose firewalls answer with resets).
    pub crash_proof: bool,
    /// Replication: most entries in one append message.
    pub batch_max: usize,
    /// Replication: most append messages in flight to one follower before an ack.
    pub inflight_max: usize,
    /// Catch-up: entries per chunk sent to a lagging or new server; a follower
    /// more than one chunk behind is caught up chunk by chunk and does not count
    /// as in sync.
    pub sync_chunk: usize,
    /// Client sessions: silence after which the leader drops a client (it pings
    /// every second).
    pub client_timeout: Duration,
    /// How long a write may take to become durable (see [`crate::durable`])
    /// before the disk counts as stalled: the node resigns any leadership and
    /// plays dead (no heartbeats, no votes) until its writes complete, so a hung
    /// disk cannot keep a lease or a leadership alive.
    pub disk_stall_timeout: Duration,
    /// Bytes of log entries kept in memory (see [`crate::log`]): older
    /// committed entries are read back from the driver's disk when a
    /// lagging follower or a resuming client needs them. At least
    /// [`log_keep`](Self::log_keep) entries stay whatever the limit.
    pub log_memory: usize,
    /// Entries kept in memory whatever [`log_memory`](Self::log_memory) says
    /// (default [`crate::log::KEEP_MIN`]: a client's `/history` is answered
    /// from memory).
    pub log_keep: usize,
}

/// The default [`Config::log_memory`]: 16 MiB, about 95,000 entries of
/// 100-byte messages.
pub const DEFAULT_LOG_MEMORY: usize = 16 << 20;

impl Default for Config {
    /// Timings that fit a LAN: a crashed member is declared dead 500 ms after it
    /// was last heard from.
    fn default() -> Self {
        Config {
            cluster: "ringleader".to_owned(),
            addr: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7000)),
            announce_interval: Duration::from_secs(1),
            heartbeat_interval: Duration::from_millis(100),
            suspect_timeout: Duration::from_millis(250),
            failure_timeout: Duration::from_millis(500),
            max_members: 1024,
            election: Algorithm::Bully,
            rank: RankBy::Id,
            settle: Duration::from_millis(300),
            election_timeout: Duration::from_millis(300),
            voters: Vec::new(),
            // Monotonic clocks disciplined by NTP are slewed by at most 500 ppm,
            // and a free-running crystal drifts far less: 1 % leaves a twentyfold
            // margin and costs a 500 ms lease under 10 ms.
            max_drift_ppm: 10_000,
            crash_proof: true,
            batch_max: 256,
            inflight_max: 4,
            sync_chunk: 100,
            client_timeout: Duration::from_secs(3),
            // Well above a healthy disk's worst fsync (tens of ms), well below
            // what a person notices as an outage.
            disk_stall_timeout: Duration::from_secs(2),
            log_memory: DEFAULT_LOG_MEMORY,
            log_keep: crate::log::KEEP_MIN,
        }
    }
}

/// Why a configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The cluster name is empty or longer than [`MAX_CLUSTER_NAME`] bytes.
    ClusterName(usize),
    /// An interval or timeout is zero.
    ZeroDuration(&'static str),
    /// The timeouts are not ordered heartbeat < suspect <= failure.
    TimeoutOrder,
    /// `max_members` is zero.
    NoMembers,
    /// `quorum` without voters.
    NoVoters,
    /// A replication size is zero.
    ZeroSize(&'static str),
    /// The drift bound is not below 50 % (a lease would last nothing).
    MaxDrift(u32),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ClusterName(len) => write!(
                f,
                "cluster name must be 1 to {MAX_CLUSTER_NAME} bytes long, got {len}"
            ),
            ConfigError::ZeroDuration(what) => write!(f, "{what} must be greater than zero"),
            ConfigError::TimeoutOrder => write!(
                f,
                "timeouts must satisfy heartbeat interval < suspect timeout <= failure timeout"
            ),
            ConfigError::NoMembers => write!(f, "max members must be at least 1"),
            ConfigError::NoVoters => write!(f, "the quorum election needs a non-empty voter set"),
            ConfigError::ZeroSize(what) => write!(f, "{what} must be at least 1"),
            ConfigError::MaxDrift(ppm) => write!(
                f,
                "max drift must be below 50 % (500000 ppm), got {ppm} ppm"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Checks the configuration for values that would make a node misbehave.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let len = self.cluster.len();
        if len == 0 || len > MAX_CLUSTER_NAME {
            return Err(ConfigError::ClusterName(len));
        }
        for (name, value) in [
            ("announce interval", self.announce_interval),
            ("heartbeat interval", self.heartbeat_interval),
            ("suspect timeout", self.suspect_timeout),
            ("failure timeout", self.failure_timeout),
            ("election timeout", self.election_timeout),
            ("client timeout", self.client_timeout),
            ("disk stall timeout", self.disk_stall_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::ZeroDuration(name));
            }
        }
        if self.heartbeat_interval >= self.suspect_timeout
            || self.suspect_timeout > self.failure_timeout
        {
            return Err(ConfigError::TimeoutOrder);
        }
        if self.max_members == 0 {
            return Err(ConfigError::NoMembers);
        }
        if self.election == Algorithm::Quorum && self.voters.is_empty() {
            return Err(ConfigError::NoVoters);
        }
        if self.max_drift_ppm >= 500_000 {
            return Err(ConfigError::MaxDrift(self.max_drift_ppm));
        }
        for (name, value) in [
            ("batch size", self.batch_max),
            ("in-flight batches", self.inflight_max),
            ("sync chunk", self.sync_chunk),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroSize(name));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_declares_death_well_under_a_second() {
        let c = Config::default();
        assert_eq!(c.validate(), Ok(()));
        assert!(c.failure_timeout + c.heartbeat_interval < Duration::from_secs(1));
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        let mut c = Config {
            cluster: String::new(),
            ..Config::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::ClusterName(0)));
        c.cluster = "x".repeat(MAX_CLUSTER_NAME + 1);
        assert_eq!(c.validate(), Err(ConfigError::ClusterName(65)));
        c.cluster = "ok".into();
        c.heartbeat_interval = Duration::ZERO;
        assert_eq!(
            c.validate(),
            Err(ConfigError::ZeroDuration("heartbeat interval"))
        );
        c.heartbeat_interval = Duration::from_secs(1);
        assert_eq!(c.validate(), Err(ConfigError::TimeoutOrder));
        c.heartbeat_interval = Duration::from_millis(10);
        c.max_members = 0;
        assert_eq!(c.validate(), Err(ConfigError::NoMembers));
        c.max_members = 8;
        c.election = Algorithm::Quorum;
        assert_eq!(c.validate(), Err(ConfigError::NoVoters));
    }
}
