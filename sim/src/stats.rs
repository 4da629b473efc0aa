//! Figures over many seeds: election messages by kind and time to agreement.

use crate::report::Report;
use serde::Serialize;
use std::collections::BTreeMap;

/// Mean, median, 99th percentile and maximum of a set of numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// How many numbers.
    pub count: usize,
    /// Their mean.
    pub mean: f64,
    /// The median (nearest rank).
    pub p50: u64,
    /// The 99th percentile (nearest rank).
    pub p99: u64,
    /// The largest.
    pub max: u64,
}

impl Summary {
    /// Summarises `values` (empty: all zero).
    pub fn of(mut values: Vec<u64>) -> Summary {
        if values.is_empty() {
            return Summary::default();
        }
        values.sort_unstable();
        let rank = |p: f64| {
            // Nearest rank: the smallest value with at least p of them at or below.
            let k = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
            values.get(k - 1).copied().unwrap_or(0)
        };
        Summary {
            count: values.len(),
            mean: values.iter().sum::<u64>() as f64 / values.len() as f64,
            p50: rank(0.5),
            p99: rank(0.99),
            max: values.last().copied().unwrap_or(0),
        }
    }
}

/// One algorithm's figures over a set of seeds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ElectionFigures {
    /// The election algorithm.
    pub election: String,
    /// Seeds run.
    pub seeds: usize,
    /// Seeds in which an invariant failed.
    pub failed_seeds: usize,
    /// Elections per seed.
    pub elections: Summary,
    /// Each election's time from trigger to agreement, in virtual ms, pooled
    /// over all seeds.
    pub time_to_agreement_ms: Summary,
    /// Election messages per seed, all kinds together.
    pub messages_total: Summary,
    /// Election messages per seed, by kind.
    pub messages: BTreeMap<String, Summary>,
    /// Milliseconds per seed with more than one leader.
    pub split_brain_ms: Summary,
}

/// Adds up `reports`, all of one algorithm.
pub fn figures(election: &str, reports: &[&Report]) -> ElectionFigures {
    let mut kinds: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in reports {
        for kind in r.election_stats.election_messages.keys() {
            kinds.entry((*kind).to_owned()).or_default();
        }
    }
    for r in reports {
        for (kind, values) in kinds.iter_mut() {
            // A kind a run never sent counts as zero in it.
            values.push(
                r.election_stats
                    .election_messages
                    .get(kind.as_str())
                    .copied()
                    .unwrap_or(0),
            );
        }
    }
    ElectionFigures {
        election: election.to_owned(),
        seeds: reports.len(),
        failed_seeds: reports.iter().filter(|r| !r.ok()).count(),
        elections: Summary::of(reports.iter().map(|r| r.election_stats.elections).collect()),
        time_to_agreement_ms: Summary::of(
            reports
                .iter()
                .flat_map(|r| r.election_stats.election_ms.iter().copied())
                .collect(),
        ),
        messages_total: Summary::of(
            reports
                .iter()
                .map(|r| r.election_stats.election_messages.values().sum())
                .collect(),
        ),
        messages: kinds
            .into_iter()
            .map(|(k, v)| (k, Summary::of(v)))
            .collect(),
        split_brain_ms: Summary::of(
            reports
                .iter()
                .map(|r| r.election_stats.split_brain_ms)
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_use_nearest_rank() {
        let s = Summary::of((1..=100).collect());
        assert_eq!((s.p50, s.p99, s.max, s.count), (50, 99, 100, 100));
        assert!((s.mean - 50.5).abs() < 1e-9);
        let one = Summary::of(vec![7]);
        assert_eq!((one.p50, one.p99, one.max), (7, 7, 7));
        assert_eq!(Summary::of(vec![]), Summary::default());
    }
}
