//! Your application in the simulator: the [`StateMachine`](ringleader_core::app::StateMachine) a real node feeds
//! (see `ringleader_runtime::embed`) runs on every simulated node, built from
//! that node's committed history on its simulated disk; it proposes through
//! its node while that node leads; and your own invariants are checked after
//! every event, next to ringleader's, under the same seeds and faults.
//!
//! ```
//! use ringleader_core::app::StateMachine;
//! use ringleader_core::log::Entry;
//! use ringleader_sim::app::{AppSim, SimApp};
//!
//! /// How many of its own entries each replica applied.
//! #[derive(Default)]
//! struct Counter(u64);
//!
//! impl StateMachine for Counter {
//!     fn apply(&mut self, e: &Entry) {
//!         if e.payload.as_ref() == b"+1" {
//!             self.0 += 1;
//!         }
//!     }
//!     fn snapshot(&self) -> Vec<u8> {
//!         self.0.to_be_bytes().to_vec()
//!     }
//!     fn restore(&mut self, s: &[u8]) -> Result<(), String> {
//!         self.0 = u64::from_be_bytes(s.try_into().map_err(|_| "8 bytes expected")?);
//!         Ok(())
//!     }
//! }
//!
//! impl SimApp for Counter {
//!     fn proposal(&self, _turn: &ringleader_sim::app::Proposing) -> Option<Vec<u8>> {
//!         Some(b"+1".to_vec())
//!     }
//! }
//!
//! let report = AppSim::<Counter>::new(7)
//!     .invariant("counts_only_grow", |view| {
//!         // Replicas that applied as far hold the same count.
//!         let mut seen = std::collections::BTreeMap::new();
//!         for n in view.nodes.iter().filter_map(|n| n.replica) {
//!             if let Some(c) = seen.insert(n.applied(), n.state().0) {
//!                 if c != n.state().0 {
//!                     return Err(format!("two counts at index {}", n.applied()));
//!                 }
//!             }
//!         }
//!         Ok(())
//!     })
//!     .run()
//!     .unwrap();
//! assert!(report.ok(), "{}", report.failure_text());
//! ```

mod chat;
pub(crate) mod host;
mod spec;

pub use chat::rooms_agree;
pub use spec::{Acked, AppNode, AppView, Invariant, Proposing, SimApp};

use crate::config::SimConfig;
use crate::faults::FaultProfile;
use crate::report::Report;
use crate::world::SimError;
use ringleader_core::Algorithm;
use std::time::Duration;

/// Makes a fresh copy of an invariant (with its own state) for each run.
type InvariantFactory<S> = Box<dyn Fn() -> Invariant<S>>;

/// A simulated run of your application (see the [module docs](self)).
pub struct AppSim<S: SimApp> {
    config: SimConfig,
    propose_every: Duration,
    snapshot_every: u64,
    invariants: Vec<(&'static str, InvariantFactory<S>)>,
}

impl<S: SimApp> AppSim<S> {
    /// A run of seed `seed`: five `quorum` nodes for a virtual minute, heavy
    /// faults, no chat clients (the application is the workload).
    pub fn new(seed: u64) -> Self {
        let mut config = SimConfig {
            seed,
            nodes: 5,
            clients: 0,
            duration: Duration::from_secs(60),
            faults: FaultProfile::Heavy,
            ..SimConfig::default()
        };
        config.node.election = Algorithm::Quorum;
        AppSim {
            config,
            propose_every: Duration::from_millis(50),
            snapshot_every: 64,
            invariants: Vec::new(),
        }
    }

    /// Number of nodes.
    pub fn nodes(mut self, n: u32) -> Self {
        self.config.nodes = n;
        self
    }

    /// The fault profile.
    pub fn faults(mut self, profile: FaultProfile) -> Self {
        self.config.faults = profile;
        self
    }

    /// The election algorithm; an application that is
    /// [`StateMachine::QUORUM_ONLY`](ringleader_core::app::StateMachine::QUORUM_ONLY) refuses the others.
    pub fn election(mut self, algorithm: Algorithm) -> Self {
        self.config.node.election = algorithm;
        self
    }

    /// Virtual time the run lasts.
    pub fn duration(mut self, d: Duration) -> Self {
        self.config.duration = d;
        self
    }

    /// How often a leading node's application gets to propose.
    pub fn propose_every(mut self, d: Duration) -> Self {
        self.propose_every = d.max(Duration::from_millis(1));
        self
    }

    /// Every how many entries a replica takes a snapshot (a rewrite under
    /// `bully`/`ring` restores the newest one before it).
    pub fn snapshot_every(mut self, n: u64) -> Self {
        self.snapshot_every = n.max(1);
        self
    }

    /// Changes anything else of the run's configuration (clients, network,
    /// retention, durability...).
    pub fn configure(mut self, f: impl FnOnce(&mut SimConfig)) -> Self {
        f(&mut self.config);
        self
    }

    /// Adds a check of your own, named `name` in the report. A check that
    /// keeps state between events (in a `RefCell`, say) starts each run (a
    /// replay, each try of a shrink) from a clone of it as given here.
    pub fn invariant(
        mut self,
        name: &'static str,
        check: impl Fn(&AppView<'_, S>) -> Result<(), String> + Clone + 'static,
    ) -> Self {
        let factory = move || -> Invariant<S> { Box::new(check.clone()) };
        self.invariants.push((name, Box::new(factory)));
        self
    }

    /// The run's configuration (what a replay needs besides the application).
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The same application and invariants on the cluster, network and
    /// faults of a scenario file (a replay file `shrink` wrote, say).
    pub fn scenario(mut self, path: &std::path::Path) -> Result<Self, String> {
        let scenario = crate::scenario::load(path).map_err(|e| e.to_string())?;
        self.config = scenario.concrete().config;
        Ok(self)
    }

    /// Runs to the end. The report holds ringleader's findings and yours;
    /// [`Report::failure_text`] says what failed.
    pub fn run(&self) -> Result<Report, SimError> {
        self.run_config(&self.config, None)
    }

    fn run_config(
        &self,
        config: &SimConfig,
        records: Option<&mut Vec<crate::trace::Record>>,
    ) -> Result<Report, SimError> {
        if S::QUORUM_ONLY && config.node.election != Algorithm::Quorum {
            return Err(SimError::Config(format!(
                "this application runs under quorum only, not {}",
                config.node.election
            )));
        }
        let invariants = self
            .invariants
            .iter()
            .map(|(name, make)| (*name, make()))
            .collect();
        let host = host::Host::<S>::new(
            config.nodes as usize,
            self.propose_every,
            self.snapshot_every,
            invariants,
        );
        crate::world::run_with_app(config, Box::new(host), records)
    }

    /// The run as the HTML viewer draws it (the same page as `ringleader
    /// sim view`), with its report.
    pub fn html(&self) -> Result<(Report, String), String> {
        self.html_of(&self.config)
    }

    fn html_of(&self, config: &SimConfig) -> Result<(Report, String), String> {
        let mut records = Vec::new();
        let report = self
            .run_config(config, Some(&mut records))
            .map_err(|e| e.to_string())?;
        let title = format!("seed {} with an application", config.seed);
        let page = crate::viewer::html(&title, &report, &records)?;
        Ok((report, page))
    }

    /// Shrinks a failing run (by its first violation, or `invariant`) to the
    /// smallest run that still fails it, in at most `budget` runs: the
    /// result's scenario is a replay file ([`crate::scenario::Scenario::to_toml`])
    /// that [`AppSim::scenario`] runs again.
    pub fn shrink(
        &self,
        invariant: Option<&str>,
        budget: u64,
    ) -> Result<crate::shrink::Shrunk, crate::shrink::ShrinkError> {
        let scenario = crate::scenario::Scenario {
            config: self.config.clone(),
            ..Default::default()
        };
        crate::shrink::shrink_with(
            &scenario,
            invariant,
            budget,
            |_, _| {},
            |c| self.run_config(c, None),
        )
    }

    /// Runs, and on a violation no documented limit explains: shrinks it,
    /// writes the replay file and the viewer's page next to each other in
    /// `dir`, and returns what failed with how to run it again. For tests:
    /// `sim.check_or_save(dir).unwrap_or_else(|e| panic!("{e}"))`.
    pub fn check_or_save(&self, dir: &std::path::Path) -> Result<Report, String> {
        let report = self.run().map_err(|e| e.to_string())?;
        let Some(first) = report.unexplained().next() else {
            return Ok(report);
        };
        let invariant = first.invariant;
        let mut text = report.failure_text();
        let shrunk = self.shrink(Some(invariant), 300).ok();
        let (config, scenario_text) = match &shrunk {
            Some(s) => (s.scenario.config.clone(), s.scenario.to_toml()),
            None => (self.config.clone(), String::new()),
        };
        let stem = dir.join(format!("app-seed-{}-{invariant}", self.config.seed));
        if !scenario_text.is_empty() {
            let path = stem.with_extension("toml");
            if std::fs::write(&path, scenario_text).is_ok() {
                text.push_str(&format!(
                    "\nshrunk to {}; replay: AppSim::<{}>::new(0).scenario(Path::new(\"{}\"))?.run()",
                    shrunk.as_ref().map_or(String::new(), |s| s.scenario.config.nodes.to_string() + " nodes"),
                    std::any::type_name::<S>(),
                    path.display()
                ));
            }
        }
        if let Ok((_, page)) = self.html_of(&config) {
            let path = stem.with_extension("html");
            if std::fs::write(&path, page).is_ok() {
                text.push_str(&format!("\nthe run drawn: {}", path.display()));
            }
        }
        Err(text)
    }
}

#[cfg(test)]
mod tests;
