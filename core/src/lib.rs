#![warn(clippy::indexing_slicing)]
//! # ringleader-core
//!
//! The sans-IO heart of ringleader: one pure state machine per server. No clocks, no
//! sockets, no threads, no OS randomness and no hash-ordered iteration live here, so
//! the same seed and the same inputs always give byte-identical outputs. The tokio
//! runtime and the simulator drive the very same [`Node`].
//!
//! ## The driver contract
//!
//! 1. Build a node with [`Node::new`] (or [`Node::restore`] with what it persisted
//!    before), then feed it [`Event::Start`].
//! 2. Every input is one [`Event`], passed with the current time:
//!    `node.step(now, event)` or `node.step_into(now, event, &mut buf)`. Time must not
//!    go backwards between calls (asserted in debug builds).
//! 3. Carry out the returned [`Action`]s in order. Messages may be sent at once:
//!    none depends on a write that is not durable yet (the node holds those back
//!    itself).
//! 4. Writes — [`Action::WriteLog`] (what the step changed in the log: a cut,
//!    entries, the commit index) and [`Action::Persist`] (term, vote, start
//!    count) — carry tokens 1, 2, 3, ... Carry them out in token order, off the
//!    event loop if you like, and step [`Event::Durable`] with the highest token
//!    whose write, and every one before it, is on stable storage (or, in a
//!    process-crash-only mode, handed to the operating system). Until then the
//!    node holds back what depends on them — a follower's acknowledgement, a
//!    vote, a candidate's request for votes, the leader's own count toward
//!    commit — and nothing else (see [`durable`]). The one exception: the
//!    writes of the [`Event::Start`] step must be durable before its other
//!    actions (the new incarnation it announces must never be reused).
//! 5. A write pending for longer than [`Config::disk_stall_timeout`] (not
//!    counting time the node was not stepped at all: a paused process) makes the
//!    disk count as stalled: the node resigns any leadership and plays dead (no
//!    message to a peer) until [`Event::Durable`] covers every write issued.
//! 6. Reads — [`Action::ReadLog`]: the node keeps only a window of its log in
//!    memory ([`Config::log_memory`]); a lagging follower's catch-up, a client
//!    resuming from an old index or a peer's fetch needs older entries, and
//!    the node asks for them. Answer with [`Event::LogRead`] (the entries from
//!    the copy on stable storage, off the event loop if you like); an empty
//!    answer is a failed read, asked again later (see [`reads`]). Entries
//!    that do not match the log's stamps are dropped.
//! 7. After every step ask [`Node::next_deadline`] and deliver [`Event::Tick`] once
//!    that time is reached. A tick that comes early or twice does no harm; a tick that
//!    never comes stalls the node. `None` means no timer is needed.
//!
//! ## Where things live
//!
//! - [`Node`] ([`node`]): the state machine that composes the parts below.
//! - Its parts, private: `discovery` (announcements, probes, heartbeats, failure
//!   detection), `election` (bully, Chang-Roberts and quorum behind one trait),
//!   `replication` (the leader's and the followers' side of copying the log),
//!   `sessions` (the leader's client sessions). Each handles one input with the
//!   node's one context type (`context`).
//! - The vocabulary they share, in leaf modules: [`leadership`] (algorithm, role,
//!   who leads), [`membership`] (the view and its changes), [`rank`], [`id`],
//!   [`time`], [`persist`], [`config`], [`action`] and [`event`] (the driver contract),
//!   [`durable`] (writes and what waits for them), [`reads`] (entries read back
//!   from the disk).
//! - [`log`]: the replicated log of client messages, with per-client deduplication;
//!   a window of it in memory, the stamps of all of it.
//! - [`ring`]: the logical ring of live members ordered by rank.
//! - [`wire`]: messages and their encodings (datagrams, frames).
//! - [`client`]: the sans-IO chat client that follows the leader.

pub mod action;
pub mod app;
pub mod chat;
pub mod client;
pub mod config;
mod context;
mod discovery;
pub mod durable;
mod election;
pub mod event;
#[cfg(test)]
mod hostile_tests;
pub mod id;
pub mod leadership;
pub mod link;
pub mod log;
pub mod membership;
pub mod node;
pub mod persist;
pub mod plausible;
pub mod proposals;
pub mod rank;
pub mod reads;
mod replication;
pub mod ring;
mod sessions;
#[cfg(test)]
mod step_fuzz;
#[cfg(test)]
mod test_net;
pub mod time;
pub mod wire;

pub use action::Action;
pub use config::{Config, ConfigError};
pub use discovery::DiscoveryStats;
pub use event::Event;
pub use id::{Incarnation, NodeId, NodeInfo};
pub use leadership::{Algorithm, Leadership, Role};
pub use membership::{Member, MemberState, Membership, MembershipChange};
pub use node::{Lifecycle, Node};
pub use persist::Persisted;
pub use proposals::ProposalError;
pub use rank::RankBy;
pub use time::Instant;
pub use wire::ElectionMsg;
