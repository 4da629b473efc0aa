//! The key-value store's application in the simulator: over 1,000 seeds of
//! heavy faults (crashes, restarts, partitions, pauses, clock skew, loss), the
//! replicas agree, and a read served by a fenced leader sees every write
//! acknowledged before it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use ringleader_core::app::Replica;
use ringleader_examples::kv::Kv;
use ringleader_sim::app::{AppSim, AppView};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// Replicas that applied the same index hold the same store (under quorum
/// one index names one history).
fn replicas_agree(view: &AppView<'_, Kv>) -> Result<(), String> {
    view.agree_by(Replica::applied)
}

/// A read on a fenced leader that applied its commit index: every key holds
/// the newest acknowledged write to it, or a later one.
fn fenced_reads() -> impl Fn(&AppView<'_, Kv>) -> Result<(), String> + Clone {
    // The newest acknowledged write per key, folded as acknowledgements come.
    let newest: RefCell<(usize, BTreeMap<String, u64>)> = RefCell::default();
    move |view| {
        let mut newest = newest.borrow_mut();
        let (folded, by_key) = &mut *newest;
        for a in view.acked.iter().skip(*folded) {
            if let Some((k, _)) = ringleader_examples::kv::parse_put(&a.payload) {
                let at = by_key.entry(k.to_owned()).or_default();
                *at = (*at).max(a.index);
            }
        }
        *folded = view.acked.len();
        for node in view.nodes.iter().filter(|n| n.fenced) {
            let Some(r) = node.replica else { continue };
            if r.applied() < node.commit {
                continue; // a read waits until then
            }
            for (key, acked_at) in by_key.iter() {
                let held = r.state().get(key).map_or(0, |(_, i)| i);
                if held < *acked_at {
                    return Err(format!(
                        "{} leads fenced in epoch {} but reads {key} as written at {held}, \
                         while the write at {acked_at} was acknowledged",
                        node.id, node.epoch
                    ));
                }
            }
        }
        Ok(())
    }
}

fn check(seed: u64) -> (usize, u64) {
    let report = AppSim::<Kv>::new(seed)
        .invariant("replicas_agree", replicas_agree)
        .invariant("fenced_reads_see_acked_writes", fenced_reads())
        // A failure is shrunk, and its replay file and drawing saved.
        .check_or_save(&std::env::temp_dir())
        .unwrap_or_else(|e| panic!("{e}"));
    let acked = report.checks.get("app_acked_kept").map_or(0, |c| c.checked);
    (report.violations.len(), acked)
}

#[test]
fn a_thousand_heavy_fault_seeds_keep_the_store_consistent() {
    let seeds: Vec<u64> = (1..=1000).collect();
    let (explained, kept) = std::thread::scope(|s| {
        let halves: Vec<_> = seeds
            .chunks(500)
            .map(|chunk| s.spawn(move || chunk.iter().map(|&seed| check(seed)).collect::<Vec<_>>()))
            .collect();
        halves
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .fold((0, 0), |(e, k), (e2, k2)| (e + e2, k + k2))
    });
    assert_eq!(explained, 0, "quorum explains nothing away");
    // The workload did something: acknowledged writes were checked on the nodes.
    assert!(
        kept > 10_000,
        "only {kept} acknowledged writes were checked"
    );
}

/// Replicas whose last applied entry is the same (index and stamp) hold the
/// same store, even where a split brain rewrote what they had applied.
fn same_history_same_store(view: &AppView<'_, Kv>) -> Result<(), String> {
    view.agree_by(|r| (r.applied(), r.applied_stamp()))
}

#[test]
fn under_bully_and_ring_replicas_follow_rewritten_histories() {
    let mut followed = 0;
    for election in [
        ringleader_core::Algorithm::Bully,
        ringleader_core::Algorithm::Ring,
    ] {
        for seed in 1..=150 {
            let report = AppSim::<Kv>::new(seed)
                .election(election)
                .snapshot_every(8)
                .invariant("same_history_same_store", same_history_same_store)
                .run()
                .unwrap();
            // Split brains are their documented limit: explained, never
            // a replica that fails to follow or disagrees on one history.
            let bad: Vec<_> = report
                .unexplained()
                .filter(|v| {
                    v.invariant == "same_history_same_store" || v.invariant == "app_follows_history"
                })
                .collect();
            assert!(bad.is_empty(), "{election}: {}", report.failure_text());
            followed += report
                .checks
                .get("app_rewrites_followed")
                .map_or(0, |c| c.checked);
        }
    }
    assert!(
        followed > 0,
        "no run rewrote a history: the test proves nothing"
    );
}

/// The store's own checks have teeth: with a bug planted in the core (the
/// simulator's hidden debug option), they fail within a few hundred seeds.
#[test]
fn the_stores_checks_find_planted_bugs() {
    use ringleader_sim::InjectedBug;
    let app_checks = [
        "replicas_agree",
        "fenced_reads_see_acked_writes",
        "app_acked_kept",
    ];
    for bug in [InjectedBug::MinorityQuorum, InjectedBug::AckBeforeAppend] {
        let found = (1..=300).find_map(|seed| {
            // Four nodes: the minority-quorum bug leaves one voter out of
            // each list, so two disjoint halves can each commit.
            let report = AppSim::<Kv>::new(seed)
                .nodes(4)
                .configure(|c| c.inject_bug = bug)
                .invariant("replicas_agree", replicas_agree)
                .invariant("fenced_reads_see_acked_writes", fenced_reads())
                .run()
                .unwrap();
            let hit = report
                .unexplained()
                .find(|v| app_checks.contains(&v.invariant))
                .map(|v| (seed, v.invariant));
            hit
        });
        assert!(
            found.is_some(),
            "{bug:?}: the store's checks found nothing in 300 seeds"
        );
        eprintln!("{bug:?}: found by {:?}", found);
    }
}

/// With retention on, a replica that restarts resumes from the snapshot it
/// saved: the disk keeps everything after it (the floor a real `Follower`
/// sets). A follower that falls behind its leader's retained log takes the
/// leader's application snapshot with the log's and goes on from it: no
/// replica is ever left unable to follow.
#[test]
fn with_retention_replicas_resume_from_their_snapshots() {
    let (mut installed, mut stuck) = (0, Vec::new());
    for seed in 1..=200 {
        let report = AppSim::<Kv>::new(seed)
            .snapshot_every(16)
            .configure(|c| c.retain = Some(40))
            .invariant("replicas_agree", replicas_agree)
            .invariant("fenced_reads_see_acked_writes", fenced_reads())
            .check_or_save(&std::env::temp_dir())
            .unwrap_or_else(|e| panic!("{e}"));
        installed += report
            .checks
            .get("app_snapshots_installed")
            .map_or(0, |c| c.checked);
        stuck.extend(
            report
                .violations
                .iter()
                .filter(|v| v.invariant == "app_follows_history")
                .map(|v| format!("seed {seed}: {v}")),
        );
    }
    eprintln!("replicas that went on from their leader's snapshot: {installed}");
    assert!(
        stuck.is_empty(),
        "replicas that could not follow:\n{}",
        stuck.join("\n")
    );
    assert!(
        installed > 0,
        "no replica fell behind a retained log: the test proves nothing"
    );
}
