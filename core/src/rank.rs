//! Who outranks whom under `bully` and `ring`.

use crate::id::NodeInfo;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// What makes a node the preferred leader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RankBy {
    /// The highest node id wins (the default).
    #[default]
    Id,
    /// The node running longest wins (who-is-the-boss); ties by id.
    OldestStart,
    /// The lowest address, then the lowest port, wins (quorum-controller); ties by id.
    LowestAddr,
}

impl FromStr for RankBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "id" => Ok(RankBy::Id),
            "oldest" | "oldest-start" => Ok(RankBy::OldestStart),
            "address" | "lowest-address" => Ok(RankBy::LowestAddr),
            other => Err(format!(
                "unknown rank '{other}' (expected id, oldest or address)"
            )),
        }
    }
}

impl fmt::Display for RankBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RankBy::Id => "id",
            RankBy::OldestStart => "oldest",
            RankBy::LowestAddr => "address",
        })
    }
}

/// A node's rank: greater wins. Every node computes the same key from the same
/// `NodeInfo`, so all agree on the order without exchanging it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RankKey(u128, u32, u32);

fn addr_bits(addr: &SocketAddr) -> (u128, u16) {
    let ip = match addr {
        SocketAddr::V4(a) => u128::from(a.ip().to_ipv6_mapped()),
        SocketAddr::V6(a) => u128::from(*a.ip()),
    };
    (ip, addr.port())
}

/// The rank of `node` under `rank`.
pub fn rank_key(rank: RankBy, node: &NodeInfo) -> RankKey {
    let id = node.id.0;
    match rank {
        RankBy::Id => RankKey(0, 0, id),
        RankBy::OldestStart => RankKey(
            u128::from(u64::MAX - node.incarnation.started_at.as_micros()),
            0,
            id,
        ),
        RankBy::LowestAddr => {
            let (ip, port) = addr_bits(&node.addr);
            RankKey(u128::MAX - ip, u32::from(u16::MAX - port), id)
        }
    }
}
