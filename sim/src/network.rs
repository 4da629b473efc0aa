//! The network model: which links are up, and what happens to each message.

use rand::distr::Bernoulli;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Latency and misbehaviour of every link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// Shortest one-way delay.
    pub latency_min: Duration,
    /// Longest one-way delay of a message that is not reordered.
    pub latency_max: Duration,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a delivered message arrives twice.
    pub duplicate: f64,
    /// Probability that a message is held back by up to another `latency_max`, so
    /// later messages overtake it.
    pub reorder: f64,
}

impl Default for NetworkConfig {
    /// A LAN: 0.2 to 2 ms, no loss, no duplication, no reordering.
    fn default() -> Self {
        NetworkConfig {
            latency_min: Duration::from_micros(200),
            latency_max: Duration::from_millis(2),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
        }
    }
}

impl NetworkConfig {
    /// The longest a delivered message can take, reordering included.
    pub fn max_delay(&self) -> Duration {
        if self.reorder > 0.0 {
            self.latency_max * 2
        } else {
            self.latency_max
        }
    }

    /// Checks that probabilities are probabilities and the latency range is a range.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "{name} must be a probability between 0 and 1, got {p}"
                ));
            }
        }
        if self.latency_min > self.latency_max {
            return Err(format!(
                "latency minimum {:?} is above the maximum {:?}",
                self.latency_min, self.latency_max
            ));
        }
        Ok(())
    }
}

/// What the network does with one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// The link is cut.
    Cut,
    /// Lost.
    Lost,
    /// Delivered after the delay, and a second time after `duplicate`, if any.
    Delivered {
        /// Delay of the first copy.
        delay: Duration,
        /// Delay of the duplicate.
        duplicate: Option<Duration>,
    },
}

/// Link state between every pair of nodes, by index.
#[derive(Clone, Debug)]
pub struct Network {
    config: NetworkConfig,
    /// The configured chances, ready to draw from (a draw per message: not
    /// worth setting up again each time). `None`: never.
    loss: Option<Bernoulli>,
    duplicate: Option<Bernoulli>,
    reorder: Option<Bernoulli>,
    /// The latency range in µs, worked out once: a draw per message.
    latency_us: (u64, u64),
    nodes: usize,
    /// `up[from * nodes + to]`: messages from `from` reach `to`.
    up: Vec<bool>,
}

impl Network {
    /// A fully connected network of `nodes`.
    pub fn new(config: NetworkConfig, nodes: usize) -> Self {
        let chance = |p: f64| Bernoulli::new(p).ok().filter(|_| p > 0.0);
        Network {
            loss: chance(config.loss),
            duplicate: chance(config.duplicate),
            reorder: chance(config.reorder),
            latency_us: (
                config.latency_min.as_micros() as u64,
                config.latency_max.as_micros() as u64,
            ),
            config,
            nodes,
            up: vec![true; nodes * nodes],
        }
    }

    /// The model's parameters.
    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// True when messages from `from` reach `to`.
    pub fn is_up(&self, from: usize, to: usize) -> bool {
        self.up
            .get(from * self.nodes + to)
            .copied()
            .unwrap_or(false)
    }

    /// Sets one direction of one link.
    pub fn set(&mut self, from: usize, to: usize, up: bool) {
        if let Some(link) = self.up.get_mut(from * self.nodes + to) {
            *link = up;
        }
    }

    /// Reconnects everything.
    pub fn heal(&mut self) {
        self.up.fill(true);
    }

    /// Decides what happens to one message from `from` to `to`.
    pub fn fate(&self, from: usize, to: usize, rng: &mut ChaCha8Rng) -> Fate {
        if !self.is_up(from, to) {
            return Fate::Cut;
        }
        if self.loss.is_some_and(|d| rng.sample(d)) {
            return Fate::Lost;
        }
        let delay = self.delay(rng);
        let duplicate = self
            .duplicate
            .is_some_and(|d| rng.sample(d))
            .then(|| self.delay(rng));
        Fate::Delivered { delay, duplicate }
    }

    /// A latency drawn from the configured range (the model of a stream segment).
    pub(crate) fn delay(&self, rng: &mut ChaCha8Rng) -> Duration {
        let (lo, hi) = self.latency_us;
        let mut micros = rng.random_range(lo..=hi);
        if self.reorder.is_some_and(|d| rng.sample(d)) {
            micros += rng.random_range(0..=hi);
        }
        Duration::from_micros(micros)
    }
}
