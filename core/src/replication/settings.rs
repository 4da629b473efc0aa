//! Replication's settings, taken from the node's configuration once.

use crate::config::Config;
use crate::id::NodeId;
use crate::leadership::Algorithm;
use crate::rank::RankBy;
use std::time::Duration;

/// Replication settings, from the node's [`Config`].
#[derive(Clone, Debug)]
pub(super) struct Settings {
    pub(super) algorithm: Algorithm,
    pub(super) voters: Vec<NodeId>,
    pub(super) rank: RankBy,
    pub(super) batch_max: usize,
    pub(super) inflight_max: usize,
    pub(super) chunk: usize,
    pub(super) heartbeat: Duration,
    pub(super) retransmit: Duration,
    pub(super) gather_timeout: Duration,
    /// `bully`/`ring`: a leader serves no sooner than this after its node started,
    /// so every member has announced itself at least once and the view is whole.
    pub(super) warmup: Duration,
}

impl Settings {
    pub(super) fn new(config: &Config) -> Self {
        let mut voters = config.voters.clone();
        voters.sort();
        voters.dedup();
        Settings {
            algorithm: config.election,
            voters,
            rank: config.rank,
            batch_max: config.batch_max,
            inflight_max: config.inflight_max,
            chunk: config.sync_chunk,
            heartbeat: config.heartbeat_interval,
            retransmit: config.heartbeat_interval * 3,
            gather_timeout: config.election_timeout,
            warmup: config.announce_interval + config.heartbeat_interval,
        }
    }
}
