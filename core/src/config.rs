//! Per-node configuration, validated before a node is built.

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
}

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
    }
}
