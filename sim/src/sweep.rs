//! Running one configuration over many seeds, in parallel.
//!
//! Each run is independent and deterministic, so threads only share a counter of
//! the next seed to take; results come back through a channel in the order they
//! finish and are sorted by seed at the end, so the outcome never depends on the
//! number of jobs.

use crate::config::SimConfig;
use crate::report::Report;
use crate::world::{run, SimError};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

/// How to sweep.
#[derive(Clone, Copy, Debug)]
pub struct SweepOptions {
    /// Runs at once (at least 1).
    pub jobs: usize,
    /// Stop taking new seeds after the first failure.
    pub fail_fast: bool,
    /// Which share of the seeds to run ([`Shard::ALL`]: every one).
    pub shard: Shard,
}

/// A deterministic share of a seed range, for sweeps spread over machines:
/// shard `index` of `of` (from 0) runs every `of`-th seed from the range's
/// start + `index`. The shards of one range are disjoint and together hold
/// every seed, whatever the range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which share, from 0.
    pub index: u64,
    /// How many shares (at least 1).
    pub of: u64,
}

impl Shard {
    /// The whole range.
    pub const ALL: Shard = Shard { index: 0, of: 1 };

    /// The `n`-th seed (from 0) of this share of `seeds`, if it has one.
    pub fn nth(&self, seeds: &RangeInclusive<u64>, n: u64) -> Option<u64> {
        let offset = n.checked_mul(self.of.max(1))?.checked_add(self.index)?;
        let seed = seeds.start().checked_add(offset)?;
        (seed <= *seeds.end()).then_some(seed)
    }

    /// How many seeds of `seeds` this share holds.
    pub fn count(&self, seeds: &RangeInclusive<u64>) -> u64 {
        let of = self.of.max(1);
        let total = (seeds.end() - seeds.start()).saturating_add(1);
        // Seeds at offsets index, index + of, ... below total.
        total
            .checked_sub(self.index)
            .filter(|left| *left > 0)
            .map_or(0, |left| (left - 1) / of + 1)
    }
}

/// One seed's run.
#[derive(Debug)]
pub struct SeedRun {
    /// The seed.
    pub seed: u64,
    /// Its report, or why it could not run.
    pub report: Result<Report, String>,
}

impl SeedRun {
    /// Whether the run broke an invariant or could not run.
    pub fn failed(&self) -> bool {
        self.report.as_ref().map_or(true, |r| !r.ok())
    }
}

/// Runs `base` once for every seed in `seeds`, with `base.seed` replaced.
/// `on_run` sees each run as it finishes (for progress); the runs are returned
/// sorted by seed. With `fail_fast`, seeds not yet started after a failure are
/// skipped.
pub fn sweep(
    base: &SimConfig,
    seeds: RangeInclusive<u64>,
    opts: SweepOptions,
    mut on_run: impl FnMut(&SeedRun),
) -> Vec<SeedRun> {
    let mut out = Vec::new();
    sweep_each(base, seeds, opts, |run| {
        on_run(&run);
        out.push(run);
    });
    out.sort_by_key(|r| r.seed);
    out
}

/// [`sweep`] that keeps nothing: each run goes to `on_run` as it finishes
/// (in no particular order) and is dropped after, so a sweep of millions of
/// seeds holds only the runs in progress.
pub fn sweep_each(
    base: &SimConfig,
    seeds: RangeInclusive<u64>,
    opts: SweepOptions,
    mut on_run: impl FnMut(SeedRun),
) {
    let next = AtomicU64::new(0);
    let shard = opts.shard;
    let stop = AtomicBool::new(false);
    // Bounded: a slow consumer holds the workers back instead of a queue
    // of finished runs growing.
    let (tx, rx) = mpsc::sync_channel::<SeedRun>(opts.jobs.max(1) * 2);
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            let tx = tx.clone();
            let (next, stop, seeds) = (&next, &stop, &seeds);
            scope.spawn(move || loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let n = next.fetch_add(1, Ordering::Relaxed);
                // Past the range (or past u64::MAX): no seed left.
                let Some(seed) = shard.nth(seeds, n) else {
                    break;
                };
                let config = SimConfig {
                    seed,
                    ..base.clone()
                };
                let report = run(&config).map_err(|e: SimError| e.to_string());
                let run = SeedRun { seed, report };
                // The worker that failed raises the flag itself, before it could
                // take another seed; the receiver would be too late for one job.
                if opts.fail_fast && run.failed() {
                    stop.store(true, Ordering::Relaxed);
                }
                if tx.send(run).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for r in rx {
            on_run(r);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn base() -> SimConfig {
        SimConfig {
            nodes: 3,
            duration: Duration::from_secs(5),
            ..SimConfig::default()
        }
    }

    #[test]
    fn every_seed_runs_once_and_the_result_does_not_depend_on_jobs() {
        let digests = |jobs| {
            let mut seen = 0;
            let runs = sweep(
                &base(),
                1..=12,
                SweepOptions {
                    jobs,
                    fail_fast: false,
                    shard: Shard::ALL,
                },
                |_| seen += 1,
            );
            assert_eq!(seen, 12);
            runs.into_iter()
                .map(|r| (r.seed, r.report.map(|r| r.digest).unwrap_or_default()))
                .collect::<Vec<_>>()
        };
        let one = digests(1);
        assert_eq!(
            one.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            (1..=12).collect::<Vec<_>>()
        );
        assert_eq!(one, digests(4));
    }

    #[test]
    fn shards_are_disjoint_and_together_hold_every_seed() {
        for (range, of) in [
            (1..=12u64, 5u64),
            (0..=0, 3),
            (u64::MAX - 6..=u64::MAX, 4),
            (10..=13, 4),
        ] {
            let mut all = Vec::new();
            for index in 0..of {
                let shard = Shard { index, of };
                let seeds: Vec<u64> = (0..).map_while(|n| shard.nth(&range, n)).collect();
                assert_eq!(
                    seeds.len() as u64,
                    shard.count(&range),
                    "{range:?} {index}/{of}"
                );
                all.extend(seeds);
            }
            all.sort_unstable();
            assert_eq!(all, range.clone().collect::<Vec<_>>(), "{range:?} in {of}");
        }
        // A sweep of one shard runs exactly its seeds.
        let runs = sweep(
            &base(),
            1..=12,
            SweepOptions {
                jobs: 2,
                fail_fast: false,
                shard: Shard { index: 1, of: 5 },
            },
            |_| {},
        );
        assert_eq!(
            runs.iter().map(|r| r.seed).collect::<Vec<_>>(),
            vec![2, 7, 12]
        );
    }

    #[test]
    fn fail_fast_stops_taking_seeds() {
        // Followers that acknowledge what they refused: every seed fails.
        let mut bad = base();
        bad.duration = Duration::from_secs(30);
        bad.clients = 2;
        bad.faults = crate::FaultProfile::Heavy;
        bad.node.election = ringleader_core::Algorithm::Quorum;
        bad.inject_bug = crate::InjectedBug::AckBeforeAppend;
        for jobs in [1, 2] {
            let runs = sweep(
                &bad,
                1..=1000,
                SweepOptions {
                    jobs,
                    fail_fast: true,
                    shard: Shard::ALL,
                },
                |_| {},
            );
            // Each job has at most the one run in hand when the first fails.
            assert!(runs.len() <= jobs, "{jobs} jobs: {} runs", runs.len());
            assert!(runs.iter().any(SeedRun::failed));
        }
    }
}
