//! One server's state machine: the parts composed behind one `step`.

use crate::action::Action;
use crate::config::{Config, ConfigError};
use crate::discovery::{Discovery, DiscoveryStats, Member, Membership};
use crate::election::{Election, Leadership, Parts};
use crate::event::Event;
use crate::id::{Incarnation, NodeId, NodeInfo};
use crate::log::Log;
use crate::persist::Persisted;
use crate::replication::{Io, Replication};
use crate::sessions::{self, Sessions};
use crate::time::Instant;
use crate::wire::{ClientId, Message, ReplicationMsg};
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
    replication: Replication,
    sessions: Sessions,
    rank: crate::election::rank::RankBy,
}

impl Node {
    /// A node that has never run before (nothing persisted).
    pub fn new(config: Config, id: NodeId, seed: u64, now: Instant) -> Result<Node, ConfigError> {
        Node::restore(config, id, seed, now, Persisted::default())
    }

    /// A node restarting with the state it persisted in an earlier life, but no log.
    pub fn restore(
        config: Config,
        id: NodeId,
        seed: u64,
        now: Instant,
        persisted: Persisted,
    ) -> Result<Node, ConfigError> {
        Node::restore_with_log(config, id, seed, now, persisted, Log::default())
    }

    /// A node restarting with the state and the log it persisted in an earlier life.
    pub fn restore_with_log(
        config: Config,
        id: NodeId,
        seed: u64,
        now: Instant,
        persisted: Persisted,
        log: Log,
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
            replication: Replication::new(&config, log, now),
            sessions: Sessions::new(config.client_timeout),
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
                self.sync_leadership(now, out);
                self.with_replication(now, out, |r, io| r.tick(io));
                self.with_sessions(now, out, |s, cx, _| s.tick(cx));
                self.after_step(now, out);
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
                        Message::Replication { from, msg } => {
                            self.on_replication(now, from, msg, out)
                        }
                        _ => {}
                    }
                }
                self.after_step(now, out);
            }
            (Lifecycle::Running, Event::FromClient { client, msg }) => {
                self.with_sessions(now, out, |s, cx, r| s.on_message(cx, r, client, msg));
                self.after_step(now, out);
            }
            (Lifecycle::Running, Event::ClientGone { client }) => {
                self.with_sessions(now, out, |s, cx, _| s.gone(cx, client));
                self.after_step(now, out);
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

    /// A replication message. An append from a leader this node does not follow
    /// yet counts as that leader's claim first (it may arrive before the heartbeat
    /// that carries the claim).
    fn on_replication(
        &mut self,
        now: Instant,
        from: &NodeInfo,
        msg: &ReplicationMsg,
        out: &mut Vec<Action>,
    ) {
        if let ReplicationMsg::Append { epoch, .. } = msg {
            let lead = self.election.leadership();
            if (lead.leader != Some(from.id) || lead.epoch != *epoch) && *epoch >= lead.epoch {
                self.with_election(now, out, |e, p| e.on_claim(p, from, *epoch));
            }
        }
        self.sync_leadership(now, out);
        self.with_replication(now, out, |r, io| r.on_message(io, from.id, msg));
        if let Some(epoch) = self.replication.take_epoch_collision() {
            self.with_election(now, out, |e, p| e.supersede(p, epoch));
        }
    }

    /// Tells replication who leads now, so it starts or stops leading.
    fn sync_leadership(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.with_replication(now, out, |r, io| r.on_leadership(io));
    }

    /// End of every step: replication and sessions catch up with what happened.
    fn after_step(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.sync_leadership(now, out);
        self.with_sessions(now, out, |s, cx, r| s.after_step(cx, r));
        self.with_replication(now, out, |r, io| r.flush(io));
        // The flush may have committed (a leader alone commits at once).
        self.with_sessions(now, out, |s, cx, r| s.after_step(cx, r));
    }

    fn with_replication(
        &mut self,
        now: Instant,
        out: &mut Vec<Action>,
        f: impl FnOnce(&mut Replication, &mut Io<'_>),
    ) {
        let mut io = Io {
            now,
            me: self.me,
            view: self.discovery.view(),
            lead: self.election.leadership(),
            out,
        };
        f(&mut self.replication, &mut io);
    }

    fn with_sessions(
        &mut self,
        now: Instant,
        out: &mut Vec<Action>,
        f: impl FnOnce(&mut Sessions, &mut sessions::Ctx<'_>, &mut Replication),
    ) {
        let lead = self.election.leadership();
        let leader = lead.leader.and_then(|l| {
            if l == self.me.id {
                Some(self.me)
            } else {
                self.discovery.view().get(l).map(|m| m.info)
            }
        });
        let mut cx = sessions::Ctx {
            now,
            me: self.me,
            leader,
            epoch: lead.epoch,
            out,
        };
        f(&mut self.sessions, &mut cx, &mut self.replication);
    }

    fn with_election(
        &mut self,
        now: Instant,
        out: &mut Vec<Action>,
        f: impl FnOnce(&mut Election, Parts<'_>),
    ) {
        let log = self.replication.log();
        let parts = Parts {
            now,
            me: self.me,
            log_tip: (log.last_epoch(), log.last_index()),
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
            self.replication.on_member(node.id, change);
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
                    .min(self.election.next_deadline())
                    .min(self.replication.next_deadline())
                    .min(self.sessions.next_deadline());
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

    /// The log: every entry this node holds, and how far it is committed. The
    /// driver keeps it durable (see the crate docs).
    pub fn log(&self) -> &Log {
        self.replication.log()
    }

    /// The lowest log index replaced since the last call (see
    /// [`Log::take_rewritten_from`]): for a driver that keeps the log on disk.
    pub fn take_log_rewritten_from(&mut self) -> Option<u64> {
        self.replication.log_mut().take_rewritten_from()
    }

    /// Gives up the node, keeping its log: what survives a crash when the log is
    /// durable.
    pub fn into_log(self) -> Log {
        self.replication.into_log()
    }

    /// While leading: the followers counted as in sync.
    pub fn in_sync(&self) -> Option<Vec<NodeId>> {
        self.replication.in_sync()
    }

    /// While leading and serving: whether it accepts client messages now.
    pub fn serving(&self) -> bool {
        self.replication.serving()
    }

    /// While leading: the clients with a session, and their users.
    pub fn clients(&self) -> Vec<(ClientId, String)> {
        self.sessions.users()
    }

    /// What discovery ignored so far.
    pub fn discovery_stats(&self) -> DiscoveryStats {
        self.discovery.stats()
    }
}
