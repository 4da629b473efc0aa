//! # ringleader-runtime
//!
//! Runs the sans-IO [`ringleader_core::Node`] on real sockets with tokio, and the
//! sans-IO chat [`ringleader_core::client::Client`] against real servers.
//!
//! - [`driver`]: one task per node: events in, actions out ([`run_node`]).
//! - [`udp`]: the multicast group socket and the unicast socket (socket2).
//! - [`listener`]: incoming TCP connections (peers, clients, status queries).
//! - [`peers`]: outgoing peer links with bounded queues and reconnect backoff.
//! - [`frames`]: length-prefixed frames on streams.
//! - [`envelope`]: the preface of a TCP connection and the datagram envelope.
//! - [`chat`]: the chat client's driver.
//! - [`status`]: what `ringleader status` shows.
//! - [`store`]: the data directory (term, vote and start count, synced).
//! - [`hooks`]: commands run on role changes.
//! - [`clock`]: the core's clock on a real machine.
//! - [`embed`]: a node inside your own service: leadership, proposals, the
//!   committed history ([`embed::NodeHandle`]).
//! - [`http`]: the status page, `/status` and `/metrics` over HTTP ([`metrics`]).

pub mod auth;
pub mod chat;
pub mod clock;
pub mod datagrams;
pub mod driver;
pub mod embed;
pub mod envelope;
pub mod frames;
pub mod hooks;
pub mod http;
pub mod human;
pub mod inbound;
pub mod limits;
pub mod listener;
pub mod logfile;
pub mod metrics;
pub mod peers;
pub mod queue;
pub mod ratelimit;
pub mod secure_link;
pub mod status;
pub mod store;
pub mod udp;
pub mod writer;

pub use driver::{run_node, HttpOptions, NodeEvent, NodeOptions, RuntimeError};
pub use hooks::{Hooks, RoleChange};
pub use status::Status;
pub use udp::MulticastConfig;
