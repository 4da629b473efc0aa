//! Invariants, checked while the run goes, never only at the end.
//!
//! Safety properties are checked the moment an action could break them. Bounded
//! liveness properties become obligations with a deadline when their trigger happens
//! (a start, a crash, a heal) and are evaluated at the first step past the deadline.
//! An obligation is excused, and counted as such, only when a fault inside its window
//! makes the bound inapplicable: a message between the two nodes was lost or cut, or
//! one of them crashed or restarted (which raises a fresh obligation of its own).

mod discovery;
mod election;
mod holders;
mod node_commits;
mod observed;
mod replication;

pub use discovery::DiscoveryChecker;
pub use election::{ElectionChecker, ElectionStats};
pub use observed::Observed;
pub(crate) use replication::NAMES as REPLICATION_INVARIANTS;
pub use replication::{ReplicationChecker, ReplicationStats};
