//! One server's state machine: the parts composed behind one `step`.

use crate::action::Action;
use crate::config::{Config, ConfigError};
use crate::discovery::{Discovery, DiscoveryStats, Member, Membership};
use crate::event::Event;
use crate::id::{Incarnation, NodeId, NodeInfo};
use crate::persist::Persisted;
use crate::time::Instant;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Where a node is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Built, waiting for [`Event::Start`].
    Idle,
    /// Started and taking part.
    Running,
    /// Left gracefully; ignores everything.
    Left,
}

/// A server's sans-IO state machine. See the crate docs for the driver contract.
#[derive(Debug)]
pub struct Node {
    me: NodeInfo,
    rng: ChaCha8Rng,
    persisted: Persisted,
    lifecycle: Lifecycle,
    last_now: Instant,
    discovery: Discovery,
}

impl Node {
    /// A node that has never run before (nothing persisted).
    pub fn new(config: Config, id: NodeId, seed: u64, now: Instant) -> Result<Node, ConfigError> {
        Node::restore(config, id, seed, now, Persisted::default())
    }

    /// A node restarting with the state it persisted in an earlier life.
    pub fn restore(
        config: Config,
        id: NodeId,
        seed: u64,
        now: Instant,
        persisted: Persisted,
    ) -> Result<Node, ConfigError> {
        config.validate()?;
        let persisted = Persisted {
            starts: persisted.starts.saturating_add(1),
        };
        let me = NodeInfo {
            id,
            addr: config.addr,
            incarnation: Incarnation {
                counter: persisted.starts,
                started_at: now,
            },
        };
        Ok(Node {
            me,
            rng: ChaCha8Rng::seed_from_u64(seed),
            persisted,
            lifecycle: Lifecycle::Idle,
            last_now: now,
            discovery: Discovery::new(&config, me),
        })
    }

    /// Feeds one event in; returns what the driver must do, in order.
    pub fn step(&mut self, now: Instant, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        self.step_into(now, event, &mut out);
        out
    }

    /// Like [`step`](Self::step), appending to a buffer the caller reuses (and drains).
    pub fn step_into(&mut self, now: Instant, event: Event, out: &mut Vec<Action>) {
        debug_assert!(
            now >= self.last_now,
            "driver contract: time went backwards ({} < {})",
            now,
            self.last_now
        );
        self.last_now = self.last_now.max(now);
        let now = self.last_now;
        match (self.lifecycle, event) {
            (Lifecycle::Idle, Event::Start) => {
                self.lifecycle = Lifecycle::Running;
                // Persist before announcing: the announcement carries the new incarnation.
                out.push(Action::Persist(self.persisted));
                self.discovery.start(now, &mut self.rng, out);
            }
            (Lifecycle::Running, Event::Tick) => self.discovery.tick(now, &mut self.rng, out),
            (Lifecycle::Running, Event::Received(msg)) => {
                self.discovery.on_message(now, &msg, out);
            }
            (Lifecycle::Running, Event::Leave) => {
                self.lifecycle = Lifecycle::Left;
                self.discovery.leave(out);
            }
            (Lifecycle::Idle, Event::Leave) => self.lifecycle = Lifecycle::Left,
            (state, event) => {
                tracing::trace!(?state, ?event, "event ignored in this state");
            }
        }
    }

    /// When the node next needs a [`Event::Tick`]; `None` when it needs none.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.lifecycle {
            Lifecycle::Running => {
                Some(self.discovery.next_deadline()).filter(|d| *d != Instant::MAX)
            }
            Lifecycle::Idle | Lifecycle::Left => None,
        }
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.me.id
    }

    /// What this node tells its peers about itself.
    pub fn info(&self) -> NodeInfo {
        self.me
    }

    /// Where the node is in its life.
    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    /// The membership view.
    pub fn members(&self) -> &Membership {
        self.discovery.view()
    }

    /// One member of the view.
    pub fn member(&self, id: NodeId) -> Option<&Member> {
        self.discovery.view().get(id)
    }

    /// What discovery ignored so far.
    pub fn discovery_stats(&self) -> DiscoveryStats {
        self.discovery.stats()
    }
}
