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
//! 3. Carry out the returned [`Action`]s in order. An [`Action::Persist`] must be
//!    durable before any later action of the same step is carried out: later
//!    messages may depend on it.
//! 4. After every step ask [`Node::next_deadline`] and deliver [`Event::Tick`] once
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
//!   [`time`], [`persist`], [`config`], [`action`] and [`event`] (the driver contract).
//! - [`log`]: the replicated log of client messages, with per-client deduplication.
//! - [`ring`]: the logical ring of live members ordered by rank.
//! - [`wire`]: messages and their encodings (datagrams, frames).
//! - [`client`]: the sans-IO chat client that follows the leader.

pub mod action;
pub mod client;
pub mod config;
mod context;
mod discovery;
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
pub mod rank;
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
pub use rank::RankBy;
pub use time::Instant;
pub use wire::ElectionMsg;
