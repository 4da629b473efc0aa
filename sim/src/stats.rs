//! Figures over many seeds: election messages by kind and time to agreement,
//! gathered in constant memory (HDR histograms) and merged across shards.

use crate::report::Report;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Significant decimal digits the percentiles keep: a reported p50 or p99 is
/// within 0.1 % of the true nearest-rank value (exact below 2,048). Counts,
/// means and maximums are exact.
pub const PRECISION_DIGITS: u8 = 3;

/// Mean, median, 99th percentile and maximum of a set of numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// How many numbers.
    pub count: usize,
    /// Their mean.
    pub mean: f64,
    /// The median (nearest rank, within [`PRECISION_DIGITS`]).
    pub p50: u64,
    /// The 99th percentile (nearest rank, within [`PRECISION_DIGITS`]).
    pub p99: u64,
    /// The largest.
    pub max: u64,
}

impl Summary {
    /// Summarises `values` (empty: all zero).
    pub fn of(values: Vec<u64>) -> Summary {
        let mut d = Distribution::default();
        for v in values {
            d.record(v, 1);
        }
        d.summary()
    }
}

/// Numbers recorded one by one in constant memory (an HDR histogram of
/// [`PRECISION_DIGITS`] digits, an exact count, sum and maximum), merged
/// with another in any order to the same figures. Serialised as its
/// non-empty buckets (each bucket's highest value and count), which read back
/// into the same buckets: a shard written to a file merges as exactly as one
/// kept in memory.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(into = "DistributionState", from = "DistributionState")]
pub struct Distribution {
    hist: Histogram<u64>,
    sum: u128,
    max: u64,
}

impl Default for Distribution {
    fn default() -> Self {
        Distribution {
            // Auto-resizing from 1: any u64 fits; 3 digits is a valid precision.
            hist: Histogram::new(PRECISION_DIGITS).unwrap_or_else(|_| unreachable!()),
            sum: 0,
            max: 0,
        }
    }
}

impl Distribution {
    /// Records `value` `times` times.
    pub fn record(&mut self, value: u64, times: u64) {
        if times == 0 {
            return;
        }
        // An auto-resizing histogram takes every u64.
        let _ = self.hist.record_n(value, times);
        self.sum = self
            .sum
            .saturating_add(u128::from(value) * u128::from(times));
        self.max = self.max.max(value);
    }

    /// Adds everything `other` recorded.
    pub fn merge(&mut self, other: &Distribution) {
        let _ = self.hist.add(&other.hist);
        self.sum = self.sum.saturating_add(other.sum);
        self.max = self.max.max(other.max);
    }

    /// How many numbers were recorded.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// The figures (all zero when nothing was recorded).
    pub fn summary(&self) -> Summary {
        let count = self.hist.len();
        if count == 0 {
            return Summary::default();
        }
        // Nearest rank: the smallest value with at least p of them at or below;
        // HDR answers with the top of the value's bucket, capped by the maximum.
        let rank = |p: f64| self.hist.value_at_quantile(p).min(self.max);
        Summary {
            count: usize::try_from(count).unwrap_or(usize::MAX),
            mean: self.sum as f64 / count as f64,
            p50: rank(0.5),
            p99: rank(0.99),
            max: self.max,
        }
    }
}

/// What a [`Distribution`] is written as.
#[derive(Serialize, Deserialize)]
struct DistributionState {
    /// `[value, count]`, one per non-empty bucket, the value being the
    /// bucket's highest (any value of a bucket records into it).
    buckets: Vec<(u64, u64)>,
    /// Exact sum (u128: a million seeds of large values do not overflow).
    sum: u128,
    max: u64,
}

impl From<Distribution> for DistributionState {
    fn from(d: Distribution) -> Self {
        DistributionState {
            buckets: d
                .hist
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
            sum: d.sum,
            max: d.max,
        }
    }
}

impl From<DistributionState> for Distribution {
    fn from(s: DistributionState) -> Self {
        let mut d = Distribution::default();
        for (value, count) in s.buckets {
            if count > 0 {
                // An auto-resizing histogram takes every u64.
                let _ = d.hist.record_n(value, count);
            }
        }
        d.sum = s.sum;
        d.max = s.max;
        d
    }
}

/// One algorithm's figures over a set of seeds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
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

/// [`ElectionFigures`] gathered one report at a time in constant memory
/// (whatever the number of seeds), and merged across threads or shards into
/// the figures one pass over every report gives. Serialisable, so that shards
/// run on other machines merge too.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FiguresBuilder {
    seeds: u64,
    failed_seeds: u64,
    elections: Distribution,
    time_to_agreement_ms: Distribution,
    messages_total: Distribution,
    /// Per kind: the seeds that sent it, by how many (the others sent none).
    messages: BTreeMap<String, Distribution>,
    split_brain_ms: Distribution,
}

impl FiguresBuilder {
    /// Adds one seed's report.
    pub fn add(&mut self, r: &Report) {
        let stats = &r.election_stats;
        self.seeds += 1;
        self.failed_seeds += u64::from(!r.ok());
        self.elections.record(stats.elections, 1);
        for ms in &stats.election_ms {
            self.time_to_agreement_ms.record(*ms, 1);
        }
        self.messages_total
            .record(stats.election_messages.values().sum(), 1);
        for (kind, n) in &stats.election_messages {
            self.messages
                .entry((*kind).to_owned())
                .or_default()
                .record(*n, 1);
        }
        self.split_brain_ms.record(stats.split_brain_ms, 1);
    }

    /// Adds everything `other` gathered.
    pub fn merge(&mut self, other: &FiguresBuilder) {
        self.seeds += other.seeds;
        self.failed_seeds += other.failed_seeds;
        self.elections.merge(&other.elections);
        self.time_to_agreement_ms.merge(&other.time_to_agreement_ms);
        self.messages_total.merge(&other.messages_total);
        for (kind, d) in &other.messages {
            self.messages.entry(kind.clone()).or_default().merge(d);
        }
        self.split_brain_ms.merge(&other.split_brain_ms);
    }

    /// The figures of algorithm `election`.
    pub fn figures(&self, election: &str) -> ElectionFigures {
        let messages = self
            .messages
            .iter()
            .map(|(kind, sent)| {
                // A kind a run never sent counts as zero in it.
                let mut all = sent.clone();
                all.record(0, self.seeds.saturating_sub(sent.count()));
                (kind.clone(), all.summary())
            })
            .collect();
        ElectionFigures {
            election: election.to_owned(),
            seeds: usize::try_from(self.seeds).unwrap_or(usize::MAX),
            failed_seeds: usize::try_from(self.failed_seeds).unwrap_or(usize::MAX),
            elections: self.elections.summary(),
            time_to_agreement_ms: self.time_to_agreement_ms.summary(),
            messages_total: self.messages_total.summary(),
            messages,
            split_brain_ms: self.split_brain_ms.summary(),
        }
    }
}

/// Adds up `reports`, all of one algorithm.
pub fn figures(election: &str, reports: &[&Report]) -> ElectionFigures {
    let mut b = FiguresBuilder::default();
    for r in reports {
        b.add(r);
    }
    b.figures(election)
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

    #[test]
    fn large_numbers_keep_three_digits_and_counts_means_and_maximums_stay_exact() {
        let values: Vec<u64> = (1..=100_000u64).map(|v| v * 1_000_003).collect();
        let s = Summary::of(values.clone());
        let exact = |k: usize| values[k - 1] as f64;
        for (got, want) in [(s.p50, exact(50_000)), (s.p99, exact(99_000))] {
            assert!((got as f64 - want).abs() / want < 1e-3, "{got} vs {want}");
        }
        assert_eq!((s.count, s.max), (100_000, 100_000 * 1_000_003));
        let sum: u128 = values.iter().map(|v| u128::from(*v)).sum();
        assert!((s.mean - sum as f64 / 1e5).abs() < 1e-6 * s.mean);
    }

    #[test]
    fn figures_gathered_in_shards_merge_into_the_figures_of_one_pass() {
        let reports: Vec<Report> = (1..=12)
            .map(|seed| {
                let config = crate::SimConfig {
                    seed,
                    nodes: 4,
                    duration: std::time::Duration::from_secs(20),
                    faults: crate::FaultProfile::Heavy,
                    ..crate::SimConfig::default()
                };
                crate::run(&config).unwrap()
            })
            .collect();
        let all: Vec<&Report> = reports.iter().collect();
        let one_pass = figures("bully", &all);
        assert_eq!(one_pass.seeds, 12);
        assert!(one_pass.elections.max > 0 && !one_pass.messages.is_empty());
        // Three shards (every third seed), each gathered in reverse order.
        let mut merged = FiguresBuilder::default();
        for shard in 0..3 {
            let mut b = FiguresBuilder::default();
            for r in all.iter().rev().skip(shard).step_by(3) {
                b.add(r);
            }
            merged.merge(&b);
        }
        assert_eq!(merged.figures("bully"), one_pass);
        // Written to JSON and read back, shards merge into the same figures.
        let mut from_files = FiguresBuilder::default();
        for shard in 0..2 {
            let mut b = FiguresBuilder::default();
            for r in all.iter().skip(shard).step_by(2) {
                b.add(r);
            }
            let text = serde_json::to_string(&b).unwrap();
            from_files.merge(&serde_json::from_str::<FiguresBuilder>(&text).unwrap());
        }
        assert_eq!(from_files.figures("bully"), one_pass);
    }

    #[test]
    fn a_distribution_read_back_keeps_its_buckets_and_exact_figures() {
        let mut d = Distribution::default();
        for v in [0, 1, 7, 2_047, 2_048, 2_049, 123_456_789, u64::MAX] {
            d.record(v, 3);
        }
        let text = serde_json::to_string(&d).unwrap();
        let back: Distribution = serde_json::from_str(&text).unwrap();
        assert_eq!(back.summary(), d.summary());
        assert_eq!(back.count(), 24);
        let mut twice = back.clone();
        twice.merge(&d);
        assert_eq!(twice.count(), 48);
        assert_eq!(twice.summary().p99, d.summary().p99);
    }
}
