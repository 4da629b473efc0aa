//! What checking finds: violations, and how often each invariant was checked
//! or excused.

use crate::tally::Tally;
use ringleader_core::Instant;
use serde::Serialize;
use std::collections::BTreeMap;

/// One invariant that did not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which invariant.
    pub invariant: &'static str,
    /// Virtual time, in milliseconds, at which it was found broken.
    pub at_ms: u64,
    /// The nodes involved, by id.
    pub nodes: Vec<u32>,
    /// What exactly was wrong.
    pub detail: String,
    /// Why it may happen, when a documented cause explains it (see the README's
    /// limits): an explained violation is reported, but is not a bug.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explained_by: Option<String>,
}

/// `n1, n3`, or `the cluster` when no node in particular is named.
pub fn nodes_text(nodes: &[u32]) -> String {
    if nodes.is_empty() {
        return "the cluster".to_owned();
    }
    nodes
        .iter()
        .map(|n| format!("n{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::fmt::Display for Violation {
    /// `committed_agreement at 1234 ms (n1, n3): what was wrong`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at {} ms ({}): {}",
            self.invariant,
            self.at_ms,
            nodes_text(&self.nodes),
            self.detail
        )
    }
}

/// How often an invariant with a bound was checked, and how often a fault in its
/// window excused it (a lost message, a cut link, a restart).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CheckCount {
    /// Checks that ran and held (or failed, see violations).
    pub checked: u64,
    /// Checks skipped because their precondition did not hold.
    pub excused: u64,
}

/// What a checker found: how often each invariant was checked or excused, and
/// every violation.
#[derive(Clone, Debug, Default)]
pub(crate) struct Findings {
    counts: Tally<CheckCount>,
    violations: Vec<Violation>,
}

impl Findings {
    /// Findings that list `names` even if they are never checked.
    pub(crate) fn new(names: &[&'static str]) -> Self {
        let mut findings = Findings::default();
        for name in names {
            findings.counts.entry(name);
        }
        findings
    }

    pub(crate) fn count(&mut self, name: &'static str, excused: bool) {
        let c = self.counts.entry(name);
        if excused {
            c.excused += 1;
        } else {
            c.checked += 1;
        }
    }

    pub(crate) fn fail(
        &mut self,
        invariant: &'static str,
        at: Instant,
        nodes: Vec<u32>,
        detail: String,
    ) {
        self.violations.push(Violation {
            invariant,
            at_ms: at.as_millis(),
            nodes,
            detail,
            explained_by: None,
        });
    }

    /// The last violation found is explained by `why`.
    pub(crate) fn explain_last(&mut self, why: String) {
        if let Some(v) = self.violations.last_mut() {
            v.explained_by = Some(why);
        }
    }

    pub(crate) fn counts(&self) -> BTreeMap<&'static str, CheckCount> {
        self.counts.to_map()
    }

    pub(crate) fn violations(&self) -> &[Violation] {
        &self.violations
    }

    pub(crate) fn finish(self) -> (Vec<Violation>, BTreeMap<&'static str, CheckCount>) {
        let counts = self.counts();
        (self.violations, counts)
    }
}
