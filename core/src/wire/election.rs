//! The election messages of bully, Chang-Roberts and quorum.

use crate::id::NodeInfo;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The election messages of all three algorithms.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ElectionMsg {
    /// bully: "I am holding an election", to every higher-ranked node.
    Election {
        /// Highest epoch the sender has seen.
        epoch: u64,
    },
    /// bully: "I outrank you and take over the election".
    Ok {
        /// Highest epoch the sender has seen.
        epoch: u64,
    },
    /// bully: "I am the leader of this epoch", to everyone.
    Coordinator {
        /// The new epoch.
        epoch: u64,
    },
    /// ring: the best candidate so far, travelling to the successor.
    Vote {
        /// The candidate (boxed: rare and large, it would bloat every message).
        candidate: Box<NodeInfo>,
        /// Highest epoch seen along the way.
        epoch: u64,
    },
    /// ring: the winner, announced round the ring.
    Elected {
        /// The new leader (boxed, as the candidate above).
        leader: Box<NodeInfo>,
        /// The new epoch.
        epoch: u64,
    },
    /// quorum: "would you vote for me in this term?", asked before raising the term.
    PreVote {
        /// The term the sender would stand in.
        term: u64,
        /// Epoch of the sender's last log entry.
        last_epoch: u64,
        /// Index of the sender's last log entry.
        last_index: u64,
    },
    /// quorum: the answer to a pre-vote; changes nothing on either side.
    PreVoteReply {
        /// The term asked about.
        term: u64,
        /// Whether the vote would be given.
        granted: bool,
    },
    /// quorum: "your term is behind mine", sent to a leader whose claim is stale so
    /// it steps down and a new election can run above both terms.
    NewerTerm {
        /// The sender's term.
        term: u64,
    },
    /// quorum: "vote for me in this term".
    RequestVote {
        /// The candidate's term.
        term: u64,
        /// Epoch of the candidate's last log entry.
        last_epoch: u64,
        /// Index of the candidate's last log entry.
        last_index: u64,
    },
    /// quorum: the answer to a vote request.
    VoteReply {
        /// The voter's term.
        term: u64,
        /// Whether the vote was given.
        granted: bool,
    },
    /// quorum: the leader (or a candidate that won) asks a voter to renew its
    /// promise not to vote for anyone else for a while.
    LeaseRenew {
        /// The leader's term.
        term: u64,
        /// When the leader sent it, in microseconds on its own clock; echoed back.
        stamp: u64,
    },
    /// quorum: a voter renewed its promise to the leader of `term`.
    LeaseGrant {
        /// The term of the leader it promised.
        term: u64,
        /// The stamp of the renewal it answers.
        stamp: u64,
    },
}

impl ElectionMsg {
    /// A short name, for traces and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            ElectionMsg::Election { .. } => "Election",
            ElectionMsg::Ok { .. } => "Ok",
            ElectionMsg::Coordinator { .. } => "Coordinator",
            ElectionMsg::Vote { .. } => "Vote",
            ElectionMsg::Elected { .. } => "Elected",
            ElectionMsg::PreVote { .. } => "PreVote",
            ElectionMsg::PreVoteReply { .. } => "PreVoteReply",
            ElectionMsg::NewerTerm { .. } => "NewerTerm",
            ElectionMsg::RequestVote { .. } => "RequestVote",
            ElectionMsg::VoteReply { .. } => "VoteReply",
            ElectionMsg::LeaseRenew { .. } => "LeaseRenew",
            ElectionMsg::LeaseGrant { .. } => "LeaseGrant",
        }
    }
}

impl fmt::Display for ElectionMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElectionMsg::Election { epoch }
            | ElectionMsg::Ok { epoch }
            | ElectionMsg::Coordinator { epoch } => {
                write!(f, "{} e{epoch}", self.kind())
            }
            ElectionMsg::Vote { candidate, epoch } => write!(f, "Vote {} e{epoch}", candidate.id),
            ElectionMsg::Elected { leader, epoch } => write!(f, "Elected {} e{epoch}", leader.id),
            ElectionMsg::PreVote {
                term,
                last_epoch,
                last_index,
            } => write!(f, "PreVote t{term} log {last_index}/e{last_epoch}"),
            ElectionMsg::PreVoteReply { term, granted } => {
                write!(
                    f,
                    "PreVoteReply t{term} {}",
                    if *granted { "yes" } else { "no" }
                )
            }
            ElectionMsg::NewerTerm { term } => write!(f, "NewerTerm t{term}"),
            ElectionMsg::RequestVote {
                term,
                last_epoch,
                last_index,
            } => write!(f, "RequestVote t{term} log {last_index}/e{last_epoch}"),
            ElectionMsg::VoteReply { term, granted } => {
                write!(
                    f,
                    "VoteReply t{term} {}",
                    if *granted { "yes" } else { "no" }
                )
            }
            ElectionMsg::LeaseRenew { term, stamp } | ElectionMsg::LeaseGrant { term, stamp } => {
                write!(f, "{} t{term} @{stamp}us", self.kind())
            }
        }
    }
}
