//! Scenario files: a whole simulated run — cluster, network, clients, a timeline of
//! faults, and what the run is expected to show — in TOML.
//!
//! ```toml
//! name = "leader crash"
//! seed = 7
//! duration = "20s"
//!
//! [cluster]
//! nodes = 3
//! election = "bully"
//!
//! [clients]
//! count = 2
//!
//! [[timeline]]
//! at = "5s"
//! fault = "crash n3"
//!
//! [expect]
//! ok = true
//! leader = "n2"
//! ```
//!
//! [`parse`] reads one (errors name the line), [`Scenario::to_toml`] writes one. A
//! replay file is a scenario whose random faults were turned into its timeline and
//! whose `[expect]` holds the violation and the trace digest to reproduce.

mod parse;
mod spec;
mod write;

pub use parse::{parse, ScenarioError};
pub use spec::{Expect, Scenario};

/// Reads the scenario file at `path`.
pub fn load(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: path.display().to_string(),
        line: None,
        message: format!("cannot read it: {e}"),
    })?;
    parse(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests;
