//! The vocabulary of leadership every part shares: which algorithm a cluster runs,
//! a node's role, and who leads in which epoch.

use crate::id::NodeId;
use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which election algorithm a cluster runs; every node of a cluster must agree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// Garcia-Molina's bully algorithm.
    #[default]
    Bully,
    /// Chang-Roberts on the logical ring.
    Ring,
    /// Majority votes of a fixed voter set, with terms.
    Quorum,
}

impl FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bully" => Ok(Algorithm::Bully),
            "ring" => Ok(Algorithm::Ring),
            "quorum" => Ok(Algorithm::Quorum),
            other => Err(format!(
                "unknown election algorithm '{other}' (expected bully, ring or quorum)"
            )),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::Bully => "bully",
            Algorithm::Ring => "ring",
            Algorithm::Quorum => "quorum",
        })
    }
}

/// A node's part in leadership.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Follows the leader it names, or waits for one.
    Follower,
    /// Taking part in an election it started or joined.
    Candidate,
    /// Leads.
    Leader,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        })
    }
}

/// Who leads, as far as this node knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leadership {
    /// This node's role.
    pub role: Role,
    /// The leader it names, if any.
    pub leader: Option<NodeId>,
    /// The epoch of that leadership (the current term under `quorum`).
    pub epoch: u64,
    /// When this view of leadership began, on this node's clock.
    pub since: Instant,
}

impl Leadership {
    /// Whether node `me`, whose view this is, leads in it.
    pub fn leads(&self, me: NodeId) -> bool {
        self.role == Role::Leader && self.leader == Some(me)
    }
}

/// How many of `voters` make a majority under `quorum`: the count that any two
/// such sets share at least one member of.
pub fn majority(voters: usize) -> usize {
    voters / 2 + 1
}
