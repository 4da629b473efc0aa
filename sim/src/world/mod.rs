//! The world a run happens in: nodes, network, faults, clients and checkers
//! driven by one event queue, in rooms by job:
//!
//! - `state`: what the world is made of (slots, queue items, counters);
//! - `setup`: building a run from its configuration;
//! - `run_loop`: taking items in time order, and the report at the end;
//! - `handle`: what each kind of item does;
//! - `servers`: stepping nodes and carrying out their actions;
//! - `peer_links`: the nodes' peer connections under the core's links;
//! - `conns`: the open ends of those connections;
//! - `disk_io`: the disks' writes, syncs and reads;
//! - `clients`: the simulated clients and their connections;
//! - `apply_faults`: crashes, restarts, partitions, skew, pauses;
//! - `addr`: simulated addresses and seeds.

mod apply_faults;
mod clients;
mod conns;
mod disk_io;
mod error;
mod handle;
mod peer_links;
mod run_loop;
mod servers;
mod setup;
mod state;

pub use crate::addr::sim_addr;
pub use error::SimError;

use crate::config::SimConfig;
use crate::faults::ScheduledFault;
use crate::report::Report;
use crate::trace::{Record, Tracer};
use state::World;
use std::io::Write;

/// Runs `config` to the end, keeping only the trace digest.
pub fn run(config: &SimConfig) -> Result<Report, SimError> {
    World::new(config, Tracer::digest_only())?.run()
}

/// Runs `config` to the end with an application on every node; with
/// `records`, keeps the trace's records for the viewer.
pub(crate) fn run_with_app(
    config: &SimConfig,
    app: Box<dyn crate::app::host::AppHost>,
    records: Option<&mut Vec<Record>>,
) -> Result<Report, SimError> {
    let mut sink = std::io::sink();
    let tracer = match records {
        Some(records) => Tracer::to_writer(&mut sink).recording(records),
        None => Tracer::digest_only(),
    };
    let mut world = World::new(config, tracer)?;
    world.app = Some(app);
    world.run()
}

/// Runs `config` to the end, writing the readable trace to `out`.
pub fn run_traced(config: &SimConfig, out: &mut dyn Write) -> Result<Report, SimError> {
    World::new(config, Tracer::to_writer(out))?.run()
}

/// Runs `config` to the end, writing the readable trace to `out` and keeping
/// structured records of it in `records` (for the trace viewer).
pub fn run_recorded(
    config: &SimConfig,
    out: &mut dyn Write,
    records: &mut Vec<Record>,
) -> Result<Report, SimError> {
    World::new(config, Tracer::to_writer(out).recording(records))?.run()
}

/// The concrete fault schedule a run of `config` applies: generated and explicit faults.
pub fn fault_schedule(config: &SimConfig) -> Vec<ScheduledFault> {
    config.fault_schedule()
}
