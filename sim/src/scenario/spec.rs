//! What a scenario is: a run, and what it should show.

use crate::config::SimConfig;
use crate::report::Report;
use ringleader_core::NodeId;

/// A parsed scenario: the run it describes and what the run should show.
#[derive(Clone, Debug, Default)]
pub struct Scenario {
    /// A short name.
    pub name: String,
    /// What the scenario shows, for people.
    pub description: String,
    /// The run.
    pub config: SimConfig,
    /// What the run should show.
    pub expect: Expect,
    /// Scripted moves of `sim explore` (the `[explore]` form) in place of
    /// a seeded run: `config` gives the cluster, the seed and a planted bug.
    pub explore: Option<crate::explore::Script>,
}

/// What a run should show; every field that is set is checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    /// `true`: every invariant holds.
    pub ok: Option<bool>,
    /// Every live node follows this leader at the end.
    pub leader: Option<NodeId>,
    /// This invariant fails (a replay file of a failure).
    pub violation: Option<String>,
    /// The trace digest (a replay file: the very same run).
    pub digest: Option<String>,
}

impl Expect {
    /// Whether anything is expected at all.
    pub fn is_empty(&self) -> bool {
        *self == Expect::default()
    }

    /// What in `report` differs from what was expected; empty when all matched.
    pub fn mismatches(&self, report: &Report) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(ok) = self.ok {
            if ok != report.ok() {
                let found = report
                    .violations
                    .first()
                    .map_or("none".to_owned(), |v| v.invariant.to_owned());
                out.push(if ok {
                    format!(
                        "expected every invariant to hold, but {} failed (first: {found})",
                        report.violations.len()
                    )
                } else {
                    "expected a violation, but every invariant held".to_owned()
                });
            }
        }
        if let Some(leader) = self.leader {
            let wrong: Vec<String> = report
                .leaders
                .iter()
                .filter(|(_, l)| **l != Some(leader.0))
                .map(|(n, l)| {
                    format!(
                        "n{n} follows {}",
                        l.map_or("nobody".into(), |l| format!("n{l}"))
                    )
                })
                .collect();
            if report.leaders.is_empty() {
                out.push(format!(
                    "expected {leader} to lead at the end, but no node is up"
                ));
            } else if !wrong.is_empty() {
                out.push(format!(
                    "expected {leader} to lead at the end, but {}",
                    wrong.join(", ")
                ));
            }
        }
        if let Some(invariant) = &self.violation {
            if !report.violations.iter().any(|v| v.invariant == invariant) {
                out.push(format!(
                    "expected invariant '{invariant}' to fail, but {}",
                    if report.ok() {
                        "every invariant held".to_owned()
                    } else {
                        let names: std::collections::BTreeSet<&str> =
                            report.violations.iter().map(|v| v.invariant).collect();
                        format!(
                            "only {} failed",
                            names.into_iter().collect::<Vec<_>>().join(", ")
                        )
                    }
                ));
            }
        }
        if let Some(digest) = &self.digest {
            if *digest != report.digest {
                out.push(format!(
                    "expected trace digest {digest}, got {}: the run differs",
                    report.digest
                ));
            }
        }
        out
    }
}
