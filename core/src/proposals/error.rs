//! Why a proposal did not commit: a leaf, so the driver contract (`Action`)
//! names it without importing the proposals' machinery.

use crate::id::NodeId;
use std::fmt;

/// Most proposals awaiting their commit at once; one more is refused as
/// [`ProposalError::Full`].
pub const PENDING_MAX: usize = 65_536;

/// Why a proposal did not commit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProposalError {
    /// This node does not lead; `leader` is the one it knows of, if any.
    NotLeader {
        /// The leader this node names.
        leader: Option<NodeId>,
    },
    /// This node was just elected and is bringing its log up to date (a round
    /// trip or two). Proposals made meanwhile wait for it; only a question
    /// that cannot wait (a fence) is answered with this.
    Syncing,
    /// [`PENDING_MAX`] proposals await their commit already.
    Full,
    /// The entry is larger than an entry may be.
    TooLarge {
        /// Its size in bytes.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The entry was appended but another leader's history replaced it: it did
    /// not commit and never will. Propose it again if it still matters.
    Lost,
    /// This node's log was replaced by a snapshot from its leader before it saw
    /// whether the entry committed (it fell far behind): look for it in the
    /// committed history.
    Unknown,
    /// The node is stopping or has stopped: a driver's answer to a proposal
    /// it can no longer hand over (the node itself never gives it).
    ShuttingDown,
}

impl fmt::Display for ProposalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProposalError::NotLeader { leader: Some(l) } => {
                write!(f, "this node does not lead; {l} does")
            }
            ProposalError::NotLeader { leader: None } => {
                f.write_str("this node does not lead and knows no leader (an election is under way)")
            }
            ProposalError::Syncing => {
                f.write_str("this node was just elected and is syncing its log; try again shortly")
            }
            ProposalError::Full => write!(f, "{PENDING_MAX} proposals await their commit already"),
            ProposalError::TooLarge { len, limit } => {
                write!(f, "the entry is {len} bytes; the limit is {limit}")
            }
            ProposalError::Lost => {
                f.write_str("another leader's history replaced the entry: it did not commit")
            }
            ProposalError::Unknown => f.write_str(
                "this node's log was replaced by a snapshot before it saw whether the entry committed",
            ),
            ProposalError::ShuttingDown => f.write_str("the node is shutting down"),
        }
    }
}

impl std::error::Error for ProposalError {}
