//! One server's state machine: the parts composed behind one `step`.

use crate::action::Action;
use crate::config::{Config, ConfigError};
use crate::discovery::{Discovery, DiscoveryStats, Member, Membership};
use crate::election::{Election, Leadership, Parts};
use crate::event::Event;
use crate::id::{Incarnation, NodeId, NodeInfo};
use crate::persist::Persisted;
use crate::time::Instant;
use crate::wire::Message;
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
    election: Election,
    rank: crate::election::rank::RankBy,
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
            ..persisted
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
            election: Election::new(&config, now, &persisted),
            rank: config.rank,
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
                self.with_election(now, out, |e, p| e.start(p));
            }
            (Lifecycle::Running, Event::Tick) => {
                let mark = out.len();
                self.discovery.expire(now, out);
                self.membership_to_election(now, mark, out);
                self.with_election(now, out, |e, p| e.tick(p));
                let claim = self.election.claim();
                self.discovery.emit(now, &mut self.rng, claim, out);
            }
            (Lifecycle::Running, Event::Received(msg)) => {
                let mark = out.len();
                let accepted = self.discovery.on_message(now, &msg, out);
                self.membership_to_election(now, mark, out);
                if accepted {
                    match &msg {
                        Message::Heartbeat {
                            from,
                            leading: Some(epoch),
                        } => self.with_election(now, out, |e, p| e.on_claim(p, from, *epoch)),
                        Message::Heartbeat {
                            from,
                            leading: None,
                        } => self.with_election(now, out, |e, p| e.on_unclaimed_heartbeat(p, from)),
                        Message::Election {
                            from,
                            algorithm,
                            msg,
                        } => self
                            .with_election(now, out, |e, p| e.on_message(p, from, *algorithm, msg)),
                        _ => {}
                    }
                }
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

    fn with_election(
        &mut self,
        now: Instant,
        out: &mut Vec<Action>,
        f: impl FnOnce(&mut Election, Parts<'_>),
    ) {
        let parts = Parts {
            now,
            me: self.me,
            view: self.discovery.view(),
            rng: &mut self.rng,
            out,
            persisted: &mut self.persisted,
        };
        f(&mut self.election, parts);
    }

    /// Hands the membership changes discovery just reported to the election part.
    fn membership_to_election(&mut self, now: Instant, mark: usize, out: &mut Vec<Action>) {
        let changes: Vec<_> = out
            .get(mark..)
            .unwrap_or_default()
            .iter()
            .filter_map(|a| match a {
                Action::Member { node, change } => Some((*node, *change)),
                _ => None,
            })
            .collect();
        for (node, change) in changes {
            self.with_election(now, out, |e, p| e.on_member(p, &node, change));
        }
    }

    /// When the node next needs a [`Event::Tick`]; `None` when it needs none.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.lifecycle {
            Lifecycle::Running => {
                let at = self
                    .discovery
                    .next_deadline()
                    .min(self.election.next_deadline());
                Some(at).filter(|d| *d != Instant::MAX)
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

    /// Who leads, as far as this node knows, and since when.
    pub fn leadership(&self) -> Leadership {
        self.election.leadership()
    }

    /// The logical ring as this node sees it: live members and itself, by rank.
    pub fn ring(&self) -> crate::ring::Ring {
        crate::ring::Ring::new(&self.me, self.discovery.view(), self.rank)
    }

    /// What this node has persisted (or asked to persist) so far.
    pub fn persisted(&self) -> Persisted {
        self.persisted
    }

    /// What discovery ignored so far.
    pub fn discovery_stats(&self) -> DiscoveryStats {
        self.discovery.stats()
    }
}
