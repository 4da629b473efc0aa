//! # ringleader-sim
//!
//! A seeded discrete-event simulator that drives the very same
//! [`ringleader_core::Node`] the runtime drives, over a modelled network with
//! latency, loss, duplication, reordering, partitions and one-way cuts, with node
//! crashes, restarts, graceful leaves and drifting clocks, and checks invariants on
//! every step.
//!
//! Everything random derives from one `u64` seed; the queue orders events by
//! (virtual time, insertion counter). No async runtime, no serialization, and no
//! allocation per event where a reused buffer serves: a run of a 5-node cluster over
//! ten virtual minutes takes a few milliseconds.
//!
//! ```
//! use ringleader_sim::{run, SimConfig};
//! let report = run(&SimConfig { seed: 7, ..SimConfig::default() }).unwrap();
//! assert!(report.ok());
//! assert_eq!(report.digest, run(&SimConfig { seed: 7, ..SimConfig::default() }).unwrap().digest);
//! ```
//!
//! Where things live: [`world`] (the run loop), [`queue`], [`network`], [`clock`],
//! [`faults`] (fault kinds and the random generator), [`invariants`], [`trace`] and
//! [`digest`], [`report`].

mod addr;
pub mod app;
pub mod bugs;
mod clients;
pub mod clock;
pub mod config;
pub mod digest;
mod disk;
pub mod explore;
pub mod faults;
pub mod findings;
pub mod invariants;
pub mod network;
pub mod queue;
pub mod report;
pub mod scenario;
pub mod shrink;
pub mod stats;
pub mod sweep;
mod tally;
pub mod trace;
pub mod units;
pub mod viewer;
pub mod world;

pub use bugs::InjectedBug;
pub use config::SimConfig;
pub use faults::{Fault, FaultProfile, ScheduledFault};
pub use network::NetworkConfig;
pub use report::{Report, Violation};
pub use world::{fault_schedule, run, run_recorded, run_traced, SimError};
