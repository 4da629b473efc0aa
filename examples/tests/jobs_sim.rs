//! The job runner's rule in the simulator: over 1,000 seeds of heavy faults,
//! at most one node may run the job at any instant (it is fenced: it leads,
//! its lease holds on its own skewed clock, its own epoch's entry
//! committed), the fencing token of each new run is higher than every one
//! before, and the replicated record of starts agrees between replicas.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use ringleader_core::NodeId;
use ringleader_examples::jobs::JobRecord;
use ringleader_sim::app::{AppSim, AppView};
use std::cell::RefCell;
use std::collections::BTreeMap;

fn one_job_at_a_time(view: &AppView<'_, JobRecord>) -> Result<(), String> {
    let running: Vec<String> = view
        .nodes
        .iter()
        .filter(|n| n.fenced)
        .map(|n| format!("{} (epoch {})", n.id, n.epoch))
        .collect();
    if running.len() > 1 {
        return Err(format!("the job runs on {} at once", running.join(" and ")));
    }
    Ok(())
}

/// Each run of the job (a node fenced, from when it starts to when it stops)
/// carries a higher epoch than every run before it.
fn tokens_only_grow() -> impl Fn(&AppView<'_, JobRecord>) -> Result<(), String> + Clone {
    let state: RefCell<(Option<(NodeId, u64)>, u64)> = RefCell::default();
    move |view| {
        let mut state = state.borrow_mut();
        let (current, highest) = &mut *state;
        let now = view
            .nodes
            .iter()
            .find(|n| n.fenced)
            .map(|n| (n.id, n.epoch));
        if now != *current {
            if let Some((node, epoch)) = now {
                if epoch <= *highest {
                    return Err(format!(
                        "{node} runs the job with token {epoch}, not above {highest} of an earlier run"
                    ));
                }
                *highest = epoch;
            }
            *current = now;
        }
        Ok(())
    }
}

fn records_agree(view: &AppView<'_, JobRecord>) -> Result<(), String> {
    let mut by_index = BTreeMap::new();
    for n in &view.nodes {
        let Some(r) = n.replica else { continue };
        if let Some(other) = by_index.insert(r.applied(), r.state()) {
            if other.starts != r.state().starts {
                return Err(format!("two records of starts at index {}", r.applied()));
            }
        }
    }
    Ok(())
}

#[test]
fn a_thousand_heavy_fault_seeds_run_the_job_once_at_a_time() {
    let seeds: Vec<u64> = (1..=1000).collect();
    let runs: u64 = std::thread::scope(|s| {
        let halves: Vec<_> = seeds
            .chunks(500)
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|&seed| {
                            let report = AppSim::<JobRecord>::new(seed)
                                .invariant("one_job_at_a_time", one_job_at_a_time)
                                .invariant("fencing_tokens_only_grow", tokens_only_grow())
                                .invariant("records_agree", records_agree)
                                .check_or_save(&std::env::temp_dir())
                                .unwrap_or_else(|e| panic!("{e}"));
                            assert!(report.violations.is_empty(), "{}", report.failure_text());
                            report.checks.get("app_acked_kept").map_or(0, |c| c.checked)
                        })
                        .sum::<u64>()
                })
            })
            .collect();
        halves.into_iter().map(|h| h.join().unwrap()).sum()
    });
    // Starts were recorded and checked on the nodes: the workload ran.
    assert!(runs > 1000, "only {runs} recorded starts were checked");
}

/// The job runner's checks have teeth: with majorities that need not overlap
/// (a bug planted in the core), two nodes run the job at once.
#[test]
fn the_job_checks_find_a_planted_split_brain() {
    let found = (1..=300).find_map(|seed| {
        let report = AppSim::<JobRecord>::new(seed)
            .nodes(4)
            .configure(|c| c.inject_bug = ringleader_sim::InjectedBug::MinorityQuorum)
            .invariant("one_job_at_a_time", one_job_at_a_time)
            .run()
            .unwrap();
        let hit = report
            .unexplained()
            .any(|v| v.invariant == "one_job_at_a_time")
            .then_some(seed);
        hit
    });
    assert!(
        found.is_some(),
        "one_job_at_a_time found nothing in 300 seeds"
    );
}
