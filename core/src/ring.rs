//! The logical ring: this node and its live members, ordered by rank.
//!
//! The ring is derived from the membership view every time it is needed, so it is
//! repaired the moment a member dies, joins or leaves: a dead successor is simply
//! not in it, and ring messages go to the next live node instead of stalling.

use crate::id::{NodeId, NodeInfo};
use crate::membership::Membership;
use crate::rank::{rank_key, RankBy};

/// Live members and this node, lowest rank first; the successor of the last is the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    order: Vec<NodeInfo>,
}

impl Ring {
    /// The ring as `me` sees it.
    pub fn new(me: &NodeInfo, view: &Membership, rank: RankBy) -> Ring {
        let mut order: Vec<NodeInfo> = view.live().map(|m| m.info).collect();
        order.push(*me);
        order.sort_by_key(|n| rank_key(rank, n));
        Ring { order }
    }

    /// Members in ring order, lowest rank first.
    pub fn order(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.order.iter().map(|n| n.id)
    }

    /// Number of nodes on the ring.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when the ring is empty (never, for a ring built by [`Ring::new`]).
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn position(&self, id: NodeId) -> Option<usize> {
        self.order.iter().position(|n| n.id == id)
    }

    /// The next node after `id`; `None` when `id` is alone or not on the ring.
    pub fn successor(&self, id: NodeId) -> Option<NodeInfo> {
        let i = self.position(id)?;
        let next = self.order.get((i + 1) % self.order.len()).copied()?;
        (next.id != id).then_some(next)
    }

    /// The node before `id`; `None` when `id` is alone or not on the ring.
    pub fn predecessor(&self, id: NodeId) -> Option<NodeInfo> {
        let i = self.position(id)?;
        let prev = self
            .order
            .get((i + self.order.len() - 1) % self.order.len())
            .copied()?;
        (prev.id != id).then_some(prev)
    }
}
