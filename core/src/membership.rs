//! The membership view: who this node knows, in which life, and how they are doing.

use crate::id::{NodeId, NodeInfo};
use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// How a member is doing, as far as this node can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MemberState {
    /// Heard from within the suspect timeout.
    Alive,
    /// Silent for longer than the suspect timeout, not yet the failure timeout.
    Suspect,
    /// Silent for longer than the failure timeout.
    Dead,
    /// Said goodbye.
    Left,
}

impl MemberState {
    /// Alive or suspect: still counted as a member.
    pub fn is_live(self) -> bool {
        matches!(self, MemberState::Alive | MemberState::Suspect)
    }
}

impl fmt::Display for MemberState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemberState::Alive => "alive",
            MemberState::Suspect => "suspect",
            MemberState::Dead => "dead",
            MemberState::Left => "left",
        })
    }
}

/// What changed about a member; each change is reported once, as an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MembershipChange {
    /// First heard of.
    Joined,
    /// Silent past the suspect timeout.
    Suspected,
    /// A suspect was heard from again.
    Recovered,
    /// Silent past the failure timeout.
    Died,
    /// Left gracefully.
    Left,
    /// Back after being dead or gone, or restarted with a new incarnation.
    Rejoined,
}

impl fmt::Display for MembershipChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MembershipChange::Joined => "joined",
            MembershipChange::Suspected => "suspected",
            MembershipChange::Recovered => "recovered",
            MembershipChange::Died => "died",
            MembershipChange::Left => "left",
            MembershipChange::Rejoined => "rejoined",
        })
    }
}

/// One entry of the view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// What the member last said about itself.
    pub info: NodeInfo,
    /// How it is doing.
    pub state: MemberState,
    /// When anything was last heard from it, on this node's clock.
    pub last_heard: Instant,
    /// When it entered its current state, on this node's clock.
    pub since: Instant,
}

/// Every member this node knows of, ordered by id so iteration is deterministic.
#[derive(Clone, Debug, Default)]
pub struct Membership {
    members: BTreeMap<NodeId, Member>,
}

impl Membership {
    /// The entry for `id`, if known.
    pub fn get(&self, id: NodeId) -> Option<&Member> {
        self.members.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: NodeId) -> Option<&mut Member> {
        self.members.get_mut(&id)
    }

    pub(crate) fn insert(&mut self, member: Member) {
        self.members.insert(member.info.id, member);
    }

    /// Every known member, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Member> + Clone {
        self.members.values()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Member> {
        self.members.values_mut()
    }

    /// Members currently alive or suspect, by id.
    pub fn live(&self) -> impl Iterator<Item = &Member> + Clone {
        self.iter().filter(|m| m.state.is_live())
    }

    /// How many members are known, in any state.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when no member is known.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}
