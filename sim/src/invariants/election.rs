//! The election invariants and measurements.
//!
//! - `one_leader_per_epoch` (safety, `quorum`): no two nodes ever lead the same epoch.
//! - `one_leader_at_a_time` (safety, `quorum`): at no virtual instant do two nodes
//!   act as leader, a node counting while it names itself leader and its lease
//!   covers that instant on its own clock (a paused leader counts until its lease
//!   runs out). Checked whenever a leadership changes, which is when a second
//!   leader could begin.
//! - `one_vote_per_term` (safety, `quorum`): no node grants votes to two candidates
//!   in one term, across restarts (term and vote are persisted).
//! - `leader_agreement` (liveness, all algorithms): by `q + B` after the last fault
//!   `q` (the cluster start if there is none), every live node names the same live
//!   leader, which leads; under `bully` and `ring` it is the highest-ranked live node;
//!   under `quorum` with no majority of the voters up, no node leads.
//!   `B = A + F + H + S + 6·T + 4·n·D` with `S` the settle period and `T` the election
//!   timeout (see the README). Excused only if a message was lost in the window.
//!
//! Measured: elections (a span of time during which the live nodes do not all name
//! the same live leader), the time each took, messages by kind, and the virtual time
//! during which more than one node led at once (split brain).

use crate::findings::Findings;
use crate::findings::{CheckCount, Violation};
use crate::tally::Tally;
use ringleader_core::rank::rank_key;
use ringleader_core::wire::Message;
use ringleader_core::{Action, Algorithm, Config, ElectionMsg, Instant, NodeId, Role};
use std::collections::BTreeMap;
use std::time::Duration;

use super::observed::{up_nodes, Observed};

/// Tracks leadership across the cluster.
#[derive(Clone, Debug)]
pub struct ElectionChecker {
    algorithm: Algorithm,
    rank: ringleader_core::RankBy,
    /// `quorum`'s voters: without a majority of them up, no leader is the
    /// right answer.
    voters: Vec<NodeId>,
    leaders_by_epoch: BTreeMap<u64, NodeId>,
    votes: BTreeMap<(NodeId, u64), NodeId>,
    bound: Duration,
    /// When the current disagreement began, if the cluster disagrees.
    open_since: Option<Instant>,
    durations: Vec<u64>,
    messages: Tally<u64>,
    leading_now: usize,
    /// Under `quorum`: whether more than one node acted as leader at the last check.
    many_leaders: bool,
    split_since: Option<Instant>,
    split_brain: Duration,
    pending_check: Option<(Instant, Instant)>,
    last_drop: Option<Instant>,
    findings: Findings,
}

/// What the election part of a run measured.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ElectionStats {
    /// Elections: spans during which the live nodes did not all name one live leader.
    pub elections: u64,
    /// Time from each election's trigger to agreement, in virtual milliseconds
    /// (the last entry is missing if the run ended in disagreement).
    pub election_ms: Vec<u64>,
    /// Election messages sent, by kind.
    pub election_messages: BTreeMap<&'static str, u64>,
    /// Virtual milliseconds during which more than one node led.
    pub split_brain_ms: u64,
}

impl ElectionChecker {
    /// A checker for nodes configured with `config`, `nodes` of them, on a network
    /// whose longest delay is `max_delay`.
    pub fn new(config: &Config, nodes: usize, max_delay: Duration) -> Self {
        let bound = config.announce_interval
            + config.failure_timeout
            + config.heartbeat_interval
            + config.settle
            + config.election_timeout * 6
            + max_delay * 4 * nodes as u32;
        let findings = Findings::new(&[
            "one_leader_per_epoch",
            "one_leader_at_a_time",
            "one_vote_per_term",
            "leader_agreement",
        ]);
        let voters = if config.voters.is_empty() {
            (1..=nodes as u32).map(NodeId).collect()
        } else {
            config.voters.clone()
        };
        ElectionChecker {
            algorithm: config.election,
            rank: config.rank,
            voters,
            leaders_by_epoch: BTreeMap::new(),
            votes: BTreeMap::new(),
            bound,
            open_since: None,
            durations: Vec::new(),
            messages: Tally::default(),
            leading_now: 0,
            many_leaders: false,
            split_since: None,
            split_brain: Duration::ZERO,
            pending_check: None,
            last_drop: None,
            findings,
        }
    }

    /// The agreement bound `B`.
    pub fn bound(&self) -> Duration {
        self.bound
    }

    /// A message was lost or cut.
    pub fn on_drop(&mut self, at: Instant) {
        self.last_drop = Some(at);
    }

    /// The latest fault so far happened at `at`: agreement is due by `at + B`.
    pub fn on_fault(&mut self, at: Instant) {
        self.pending_check = Some((at, at + self.bound));
    }
    /// What failed so far (the exhaustive explorer checks after every
    /// transition).
    pub fn violations(&self) -> &[crate::findings::Violation] {
        self.findings.violations()
    }

    /// Node `node` emitted `action` at `at`.
    #[inline]
    pub fn on_action(&mut self, at: Instant, node: NodeId, action: &Action) {
        // Asked of every action; few are the election's.
        let election = matches!(
            action,
            Action::Send {
                msg: Message::Election { .. },
                ..
            } | Action::RoleChanged { .. }
        );
        if election {
            self.on_election_action(at, node, action);
        }
    }

    #[inline(never)]
    fn on_election_action(&mut self, at: Instant, node: NodeId, action: &Action) {
        match action {
            Action::Send {
                to,
                msg: Message::Election { msg, .. },
            } => {
                *self.messages.entry(msg.kind()) += 1;
                if let ElectionMsg::VoteReply {
                    term,
                    granted: true,
                } = msg
                {
                    self.on_vote(at, node, *term, *to);
                }
            }
            Action::RoleChanged {
                new: Role::Leader,
                epoch,
                ..
            } if self.algorithm == Algorithm::Quorum => {
                let previous = *self.leaders_by_epoch.entry(*epoch).or_insert(node);
                let broken = previous != node;
                self.findings.count("one_leader_per_epoch", false);
                if broken {
                    self.findings.fail(
                        "one_leader_per_epoch",
                        at,
                        vec![previous.0, node.0],
                        format!(
                            "{node} became leader of epoch {epoch}, which {previous} already led"
                        ),
                    );
                }
            }
            _ => {}
        }
    }

    fn on_vote(&mut self, at: Instant, voter: NodeId, term: u64, candidate: NodeId) {
        let previous = *self.votes.entry((voter, term)).or_insert(candidate);
        self.findings.count("one_vote_per_term", false);
        if previous != candidate {
            self.findings.fail(
                "one_vote_per_term",
                at,
                vec![voter.0, previous.0, candidate.0],
                format!("{voter} voted for {previous} and then for {candidate} in term {term}"),
            );
        }
    }

    /// The leader every live node agrees on, if they all agree on a live one that leads.
    fn agreed(world: &dyn Observed) -> Option<NodeId> {
        let mut agreed = None;
        for node in up_nodes(world) {
            let leader = node.leadership().leader?;
            if agreed.is_some_and(|a| a != leader) {
                return None;
            }
            agreed = Some(leader);
        }
        let leader = agreed?;
        let lead = world
            .node((leader.0 as usize).checked_sub(1)?)?
            .leadership();
        (lead.role == Role::Leader).then_some(leader)
    }

    /// Re-evaluates agreement and split brain after something changed at `at`.
    pub fn after_change(&mut self, at: Instant, world: &dyn Observed) {
        let agreed = Self::agreed(world).is_some();
        match (self.open_since, agreed) {
            (None, false) => self.open_since = Some(at),
            (Some(since), true) => {
                self.durations
                    .push(at.saturating_since(since).as_millis() as u64);
                self.open_since = None;
            }
            _ => {}
        }
        let leading = up_nodes(world)
            .filter(|n| n.leadership().role == Role::Leader)
            .count();
        match (self.leading_now > 1, leading > 1) {
            (false, true) => self.split_since = Some(at),
            (true, false) => {
                if let Some(since) = self.split_since.take() {
                    self.split_brain += at.saturating_since(since);
                }
            }
            _ => {}
        }
        self.leading_now = leading;
        if self.algorithm == Algorithm::Quorum {
            self.check_one_leader(at, world);
        }
    }

    /// `one_leader_at_a_time`: who acts as leader at `at`, by each node's clock.
    fn check_one_leader(&mut self, at: Instant, world: &dyn Observed) {
        let acting: Vec<(NodeId, u64, Option<Instant>, Instant)> = (0..world.len())
            .filter_map(|i| world.node_and_clock(i, at))
            .filter(|(n, local)| n.leads_at(*local))
            .map(|(n, local)| (n.id(), n.leadership().epoch, n.lease_end(), local))
            .collect();
        self.findings.count("one_leader_at_a_time", false);
        let many = acting.len() > 1;
        if many && !self.many_leaders {
            let who: Vec<String> = acting
                .iter()
                .map(|(id, epoch, end, local)| match end {
                    Some(end) => format!(
                        "{id} leads e{epoch}, its lease has {} ms left on its clock",
                        end.saturating_since(*local).as_millis()
                    ),
                    None => format!("{id} leads e{epoch} without a lease"),
                })
                .collect();
            let nodes = acting.iter().map(|a| a.0 .0).collect();
            self.findings.fail(
                "one_leader_at_a_time",
                at,
                nodes,
                format!("two nodes act as leader at once: {}", who.join("; ")),
            );
        }
        self.many_leaders = many;
    }

    /// Evaluates the agreement bound if it fell due before `now`.
    #[inline]
    pub fn check_due(&mut self, now: Instant, world: &dyn Observed) {
        // Asked before every event; due once after each fault.
        if let Some((fault_at, deadline)) = self.pending_check {
            if deadline < now {
                self.check_agreement((fault_at, deadline), world);
            }
        }
    }

    /// The check the last fault asked for, now due.
    #[inline(never)]
    fn check_agreement(&mut self, (fault_at, deadline): (Instant, Instant), world: &dyn Observed) {
        self.pending_check = None;
        let agreed = Self::agreed(world);
        let expected = match self.algorithm {
            Algorithm::Quorum => agreed,
            Algorithm::Bully | Algorithm::Ring => up_nodes(world)
                .max_by_key(|n| rank_key(self.rank, &n.info()))
                .map(|n| n.id()),
        };
        let live_voters = up_nodes(world)
            .filter(|n| self.voters.contains(&n.id()))
            .count();
        let no_majority =
            self.algorithm == Algorithm::Quorum && live_voters * 2 <= self.voters.len();
        let holds = if no_majority {
            up_nodes(world).all(|n| n.leadership().role != Role::Leader)
        } else {
            agreed.is_some() && agreed == expected
        };
        let excused = !holds && self.last_drop.is_some_and(|d| d >= fault_at);
        self.findings.count("leader_agreement", excused);
        if !holds && !excused {
            let views: Vec<String> = up_nodes(world)
                .map(|n| {
                    let l = n.leadership();
                    format!(
                        "{}: {} of {} e{}",
                        n.id(),
                        l.role,
                        l.leader.map_or("none".into(), |x| x.to_string()),
                        l.epoch
                    )
                })
                .collect();
            let want = expected.map_or("one leader".to_owned(), |e| e.to_string());
            let nodes = up_nodes(world).map(|n| n.id().0).collect();
            self.findings.fail("leader_agreement", deadline, nodes, format!(
                "{} after the last fault at {fault_at}, the live nodes should all follow {want}, but: {}",
                humantime(self.bound), views.join("; ")
            ));
        }
    }

    /// Closes the books at the end of the run.
    pub fn finish(
        mut self,
        end: Instant,
    ) -> (
        Vec<Violation>,
        BTreeMap<&'static str, CheckCount>,
        ElectionStats,
    ) {
        if let Some(since) = self.split_since.take() {
            self.split_brain += end.saturating_since(since);
        }
        let elections = self.durations.len() as u64 + u64::from(self.open_since.is_some());
        let stats = ElectionStats {
            elections,
            election_ms: self.durations,
            election_messages: self.messages.to_map(),
            split_brain_ms: self.split_brain.as_millis() as u64,
        };
        let (violations, counts) = self.findings.finish();
        (violations, counts, stats)
    }
}

fn humantime(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}
