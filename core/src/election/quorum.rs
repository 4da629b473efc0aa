//! Majority election with terms (Raft's election, with its up-to-date rule).
//!
//! A voter that hears no leader for a randomized election timeout (between one and
//! two timeouts, from the node's seeded rng) starts a new term, votes for itself and
//! asks the other voters. A voter grants at most one vote per term; the term and the
//! vote are persisted (an [`Action::Persist`](crate::Action::Persist), and the
//! reply waits until it is durable: see [`durable`](crate::durable)) so a restart
//! cannot vote twice. A candidate with a majority of the fixed
//! voter set leads that term; any node that sees a newer term follows it.
//!
//! Three refinements keep a healthy cluster stable and failover fast:
//! - pre-vote (as in etcd): before raising its term a voter asks whether the others
//!   would vote for it; they say no while they believe in a live leader, and nobody
//!   changes state either way. A node cut off in a minority, or one rejoining a
//!   healthy cluster, therefore never inflates its term, and on return it simply
//!   follows the leader's claim instead of deposing it;
//! - leadership is fenced by a lease (see [`lease`](super::lease)): a winner leads
//!   only once a majority of the voters promised, by answering its lease renewal,
//!   to vote for nobody else for a failure timeout; it renews every heartbeat
//!   interval and steps down before its lease can have run out on any voter's
//!   clock. A voter keeps its promise through its failure detector's verdict (a
//!   partitioned leader is alive) and ends it early only on proof that the
//!   leader's process is gone. So two nodes never lead at the same instant, not
//!   only never in the same term;
//! - a leader also steps down once its failure detector no longer sees a majority
//!   of the voters, which happens within one failure timeout of losing them.

use super::algorithm::{AlgoCtx, ElectionAlgorithm, LeaderLoss};
use super::deference::{Deference, Deferral};
use super::lease::{HeldLease, LeaseTerms, Promise};
use crate::config::Config;
use crate::id::{NodeId, NodeInfo};
use crate::leadership::Role;
use crate::membership::MembershipChange;
use crate::rank::rank_key;
use crate::time::Instant;
use crate::wire::ElectionMsg;
use rand::Rng;
use std::collections::BTreeSet;
use std::time::Duration;

/// State of the quorum algorithm.
#[derive(Clone, Debug)]
pub struct Quorum {
    voters: Vec<NodeId>,
    timeout: Duration,
    votes: BTreeSet<NodeId>,
    /// Pre-votes gathered for the next term, while asking.
    prevotes: Option<BTreeSet<NodeId>>,
    election_at: Instant,
    /// How often the leader renews its lease.
    renew_every: Duration,
    terms: LeaseTerms,
    /// What this node promised as a voter.
    promise: Promise,
    /// The lease this node acquires (it won a term) or holds (it leads).
    held: Option<HeldLease>,
    /// Whether the last candidacy found too few voters reachable (logged once).
    short_of_quorum: bool,
    /// Votes kept from worse-ranked candidates (see [`super::deference`]).
    deference: Deference,
    /// Live voters ranked ahead of this node, while the view stands: worked
    /// out again after any membership change (every change of a member's
    /// liveness or life is one), not on each of the leader's renewals.
    ahead: Option<u64>,
}

impl Quorum {
    pub(crate) fn new(config: &Config) -> Self {
        let mut voters = config.voters.clone();
        voters.sort();
        voters.dedup();
        Quorum {
            voters,
            timeout: config.election_timeout,
            votes: BTreeSet::new(),
            prevotes: None,
            election_at: Instant::MAX,
            renew_every: config.heartbeat_interval,
            terms: LeaseTerms::new(
                config.failure_timeout,
                config.max_drift_ppm,
                config.heartbeat_interval,
            ),
            promise: Promise::NONE,
            held: None,
            short_of_quorum: false,
            deference: Deference::default(),
            ahead: None,
        }
    }

    fn majority(&self) -> usize {
        crate::leadership::majority(self.voters.len())
    }

    fn is_voter(&self, id: NodeId) -> bool {
        self.voters.binary_search(&id).is_ok()
    }

    /// The election timer: one timeout, then the voters in `--rank` order (see
    /// [`standing_delay`](Self::standing_delay)) rather than Raft's random
    /// spread: the best-ranked voter that can win stands first, and the others
    /// a slot apart, so they do not split the vote either.
    fn reset_timer(&mut self, cx: &mut AlgoCtx<'_>) {
        self.election_at = cx.now + self.timeout + self.standing_delay(cx);
    }

    /// Voters this node can currently reach, itself included.
    fn reachable_voters(&self, cx: &AlgoCtx<'_>) -> usize {
        self.voters
            .iter()
            .filter(|&&v| v == cx.me.id || cx.view.get(v).is_some_and(|m| m.state.is_live()))
            .count()
    }

    /// Adopts a newer term: no vote in it yet, no leader known, no lease held.
    fn adopt_term(&mut self, cx: &mut AlgoCtx<'_>, term: u64) {
        if term > cx.persisted.term {
            cx.persisted.term = term;
            cx.persisted.voted_for = None;
            cx.persist();
            cx.set(Role::Follower, None, term);
            self.held = None;
            if self.election_at == Instant::MAX {
                self.reset_timer(cx); // stepped down from leading
            }
        }
    }

    /// Stands for election in the next term, after a majority said it would vote.
    fn campaign(&mut self, cx: &mut AlgoCtx<'_>) {
        self.prevotes = None;
        self.held = None;
        let term = next_term(cx);
        cx.persisted.term = term;
        cx.persisted.voted_for = Some(cx.me.id);
        // Persist before asking: the request is a promise about this term's vote.
        cx.persist();
        cx.set(Role::Candidate, None, term);
        if self.election_at == Instant::MAX {
            self.reset_timer(cx); // a candidacy that fails must be retried
        }
        self.votes.clear();
        self.votes.insert(cx.me.id);
        if self.votes.len() >= self.majority() {
            return self.won(cx);
        }
        let (last_epoch, last_index) = cx.log_tip;
        let ask = ElectionMsg::RequestVote {
            term,
            last_epoch,
            last_index,
        };
        // Its own vote counts in the majority it asks for: the request waits
        // until that vote is durable.
        self.ask_voters(cx, ask, |cx, v, m| cx.send_durable(v, m));
    }

    /// Sends `msg` to every other voter, by `send`.
    fn ask_voters(
        &self,
        cx: &mut AlgoCtx<'_>,
        msg: ElectionMsg,
        send: fn(&mut AlgoCtx<'_>, NodeId, ElectionMsg),
    ) {
        let me = cx.me.id;
        for &v in self.voters.iter().filter(|&&v| v != me) {
            send(cx, v, msg.clone());
        }
    }

    /// Whether this node must refuse its vote (and pre-vote) to `asker`: it leads,
    /// or it promised another leader.
    fn has_other_leader(&self, cx: &AlgoCtx<'_>, asker: NodeId) -> bool {
        cx.lead.role == Role::Leader || self.promise.forbids(cx.now, asker)
    }

    /// Whether a vote the other rules grant to `candidate` (log ending at
    /// `tip`) waits for a better-ranked voter; this node stands soon when it
    /// is that voter.
    fn defers(&mut self, cx: &mut AlgoCtx<'_>, candidate: NodeId, tip: (u64, u64)) -> bool {
        let deferral = self
            .deference
            .defer(cx, &self.voters, candidate, tip, self.timeout);
        if deferral == Some(Deferral::ToMe) {
            let at = cx.now + self.standing_delay(cx);
            self.election_at = self.election_at.min(at);
        }
        deferral.is_some()
    }

    /// A majority voted for this node: it leads once a majority also granted its
    /// lease (at once, when it is the only voter that counts).
    fn won(&mut self, cx: &mut AlgoCtx<'_>) {
        self.votes.clear();
        if self.majority() <= 1 {
            return self.lead(cx);
        }
        self.held = Some(HeldLease::new(cx.persisted.term, cx.now));
        self.renew(cx);
    }

    fn lead(&mut self, cx: &mut AlgoCtx<'_>) {
        if let Some(held) = self.held.as_mut() {
            held.leading = true;
        }
        // A pre-vote it asked for while acquiring the lease must not make the
        // leader stand again.
        self.prevotes = None;
        self.deference.reset();
        self.election_at = Instant::MAX; // a leader waits for no election
        cx.lead_epoch(cx.persisted.term);
    }

    /// Asks every other voter to renew its promise, stamped with this node's clock.
    fn renew(&mut self, cx: &mut AlgoCtx<'_>) {
        let Some(held) = self.held.as_mut() else {
            return;
        };
        held.next_renewal = cx.now + self.renew_every;
        let msg = ElectionMsg::LeaseRenew {
            term: held.term,
            stamp: cx.now.as_micros(),
        };
        self.ask_voters(cx, msg, |cx, v, m| cx.send(v, m));
    }

    /// A voter granted the renewal stamped `stamp`.
    fn on_grant(&mut self, cx: &mut AlgoCtx<'_>, from: NodeId, term: u64, stamp: u64) {
        let needed = self.majority() - 1;
        let voter = self.is_voter(from) && from != cx.me.id;
        let Some(held) = self.held.as_mut().filter(|h| h.term == term && voter) else {
            return;
        };
        held.grant(
            from,
            Instant::from_micros(stamp),
            cx.now,
            needed,
            self.terms,
        );
        if cx.lead.role == Role::Candidate && held.holds(cx.now) && cx.persisted.term == term {
            self.lead(cx);
        }
    }

    /// Gives up leading (or the lease a won term was acquiring), saying why.
    fn step_down(&mut self, cx: &mut AlgoCtx<'_>, why: std::fmt::Arguments<'_>) {
        tracing::warn!(term = cx.persisted.term, "stepping down: {why}");
        self.held = None;
        let term = cx.persisted.term;
        cx.set(Role::Follower, None, term);
        self.reset_timer(cx);
    }

    fn check_quorum(&mut self, cx: &mut AlgoCtx<'_>) {
        if cx.lead.role != Role::Leader {
            return;
        }
        let reachable = self.reachable_voters(cx);
        if reachable < self.majority() {
            let voters = self.voters.len();
            self.step_down(
                cx,
                format_args!("a majority of voters is unreachable ({reachable} of {voters})"),
            );
        }
    }

    /// The leader's lease: steps down when it ran out, renews when due.
    fn keep_lease(&mut self, cx: &mut AlgoCtx<'_>) {
        let Some(held) = self.held.as_ref() else {
            return;
        };
        if held.leading && cx.lead.role != Role::Leader {
            self.held = None; // no longer leads: nothing to renew
            return;
        }
        if held.leading && !held.holds(cx.now) {
            return self.step_down(
                cx,
                format_args!("the lease ran out (no majority of voters renewed it)"),
            );
        }
        if cx.now >= held.next_renewal {
            self.renew(cx);
        }
    }
}

impl ElectionAlgorithm for Quorum {
    fn boxed_clone(&self) -> Box<dyn ElectionAlgorithm> {
        Box::new(self.clone())
    }

    fn fingerprint(&self, mut h: &mut dyn std::hash::Hasher) {
        use std::hash::Hash;
        self.votes.hash(&mut h);
        self.prevotes.hash(&mut h);
        self.short_of_quorum.hash(&mut h);
        self.promise.to.hash(&mut h);
        self.deference.running().hash(&mut h);
        self.held
            .as_ref()
            .map(|l| (l.term, l.granted.keys().collect::<Vec<_>>()))
            .hash(&mut h);
    }

    fn on_start(&mut self, cx: &mut AlgoCtx<'_>) {
        // Whom this node promised in an earlier life is not on disk: it promises
        // nobody anything for one full promise, which outlasts any it gave then.
        self.promise = Promise {
            to: None,
            until: cx.now + self.terms.promise,
        };
        self.reset_timer(cx);
    }

    fn start_election(&mut self, cx: &mut AlgoCtx<'_>) {
        self.reset_timer(cx);
        if !self.is_voter(cx.me.id) || cx.lead.role == Role::Leader {
            return;
        }
        if self.promise.forbids(cx.now, cx.me.id) {
            // Its own vote is bound too: stand once the promise is over, in rank order.
            self.election_at = self.promise.until + self.standing_delay(cx);
            return;
        }
        let reachable = self.reachable_voters(cx);
        let short = reachable < self.majority();
        if short && !self.short_of_quorum {
            tracing::warn!(
                reachable,
                voters = self.voters.len(),
                needed = self.majority(),
                "cannot become leader: too few voters reachable for a majority"
            );
        }
        self.short_of_quorum = short;
        // Pre-vote: ask before raising the term, so a node that cannot win (cut off,
        // or facing a healthy leader) leaves everyone's term alone.
        let term = next_term(cx);
        self.prevotes = Some(BTreeSet::from([cx.me.id]));
        if self.majority() <= 1 {
            return self.campaign(cx);
        }
        let (last_epoch, last_index) = cx.log_tip;
        self.ask_voters(
            cx,
            ElectionMsg::PreVote {
                term,
                last_epoch,
                last_index,
            },
            |cx, v, m| cx.send(v, m),
        );
    }

    fn on_message(&mut self, cx: &mut AlgoCtx<'_>, from: &NodeInfo, msg: &ElectionMsg) {
        match *msg {
            ElectionMsg::PreVote {
                term,
                last_epoch,
                last_index,
            } => {
                let tip = (last_epoch, last_index);
                let granted = term > cx.persisted.term
                    && tip >= cx.log_tip
                    && self.is_voter(from.id)
                    && !self.has_other_leader(cx, from.id)
                    && !self.defers(cx, from.id, tip);
                cx.send(from.id, ElectionMsg::PreVoteReply { term, granted });
            }
            ElectionMsg::PreVoteReply { term, granted } => {
                let asked = next_term(cx);
                let voter = self.is_voter(from.id);
                let Some(prevotes) = self.prevotes.as_mut() else {
                    return;
                };
                if cx.lead.role == Role::Leader {
                    return;
                }
                if granted && term == asked && voter {
                    prevotes.insert(from.id);
                    if prevotes.len() >= self.majority() {
                        self.campaign(cx);
                    }
                }
            }
            // Only voters' terms count: a non-voter could otherwise raise
            // every term (and what is persisted) at will.
            ElectionMsg::NewerTerm { term } if self.is_voter(from.id) => self.adopt_term(cx, term),
            ElectionMsg::RequestVote {
                term,
                last_epoch,
                last_index,
            } => self.on_vote_request(cx, from.id, term, (last_epoch, last_index)),
            ElectionMsg::VoteReply { term, granted } if self.is_voter(from.id) => {
                self.adopt_term(cx, term);
                if cx.lead.role == Role::Candidate
                    && self.held.is_none()
                    && term == cx.persisted.term
                    && granted
                    && self.is_voter(from.id)
                {
                    self.votes.insert(from.id);
                    if self.votes.len() >= self.majority() {
                        self.won(cx);
                    }
                }
            }
            ElectionMsg::LeaseRenew { term, stamp } => {
                self.on_claim(cx, from, term);
                let follows = cx.lead.leader == Some(from.id) && cx.lead.epoch == term;
                if follows && cx.lead.role == Role::Follower {
                    cx.send(from.id, ElectionMsg::LeaseGrant { term, stamp });
                }
            }
            ElectionMsg::LeaseGrant { term, stamp } => self.on_grant(cx, from.id, term, stamp),
            _ => {}
        }
    }

    fn on_claim(&mut self, cx: &mut AlgoCtx<'_>, from: &NodeInfo, term: u64) {
        if !self.is_voter(from.id) {
            // Only a voter can win a term: a claim from anyone else is false.
            return;
        }
        if term < cx.persisted.term {
            // This node moved past the leader's term (a lost election) and cannot
            // follow it; a leader that keeps its majority would never learn that,
            // so tell it: it steps down and the next election runs above both.
            let mine = cx.persisted.term;
            cx.send(from.id, ElectionMsg::NewerTerm { term: mine });
            return;
        }
        self.adopt_term(cx, term);
        let mine = cx.lead.role == Role::Leader || self.held.is_some();
        if mine && from.id != cx.me.id {
            // Two winners of one term would mean a broken vote count; never follow.
            tracing::error!(term, other = %from.id, "another leader claims this node's term");
            return;
        }
        cx.follow(from.id, term);
        self.prevotes = None;
        self.deference.reset();
        // A leader of a term at least as new as any this node knew was elected
        // by a majority, so whatever it promised before is over: promise this one.
        self.promise = Promise {
            to: Some(from.id),
            until: cx.now + self.terms.promise,
        };
        self.reset_timer(cx);
    }

    fn on_leader_lost(&mut self, cx: &mut AlgoCtx<'_>, leader: NodeId, how: LeaderLoss) {
        if how == LeaderLoss::Gone {
            self.promise.release(leader);
        }
        // The survivors stand once the promise is over, one after the other.
        let from = self.promise.until.max(cx.now);
        let at = from + self.standing_delay(cx);
        self.election_at = if self.election_at < from {
            at // it would only be put off until the promise ends
        } else {
            self.election_at.min(at)
        };
    }

    fn on_process_gone(&mut self, cx: &mut AlgoCtx<'_>, peer: NodeId) {
        if self.promise.to == Some(peer) && cx.now < self.promise.until {
            // A process that is gone acts as leader no more: stand now (in
            // rank order) instead of waiting out the promise.
            self.promise.release(peer);
            self.election_at = cx.now + self.standing_delay(cx);
        }
    }

    fn view_changed(&mut self) {
        self.ahead = None;
    }

    fn on_member(&mut self, cx: &mut AlgoCtx<'_>, node: &NodeInfo, change: MembershipChange) {
        if matches!(change, MembershipChange::Left | MembershipChange::Rejoined) {
            self.promise.release(node.id);
        }
        if matches!(change, MembershipChange::Died | MembershipChange::Left) {
            self.check_quorum(cx);
        }
    }

    fn on_tick(&mut self, cx: &mut AlgoCtx<'_>) {
        self.check_quorum(cx);
        self.keep_lease(cx);
        if cx.lead.role != Role::Leader && cx.now >= self.election_at {
            self.start_election(cx);
        }
    }

    fn next_deadline(&self) -> Instant {
        let lease = self
            .held
            .as_ref()
            .map_or(Instant::MAX, HeldLease::next_deadline);
        self.election_at.min(lease)
    }

    fn resign(&mut self, cx: &mut AlgoCtx<'_>, why: &str) {
        if cx.lead.role == Role::Follower {
            return;
        }
        self.step_down(cx, format_args!("{why}"));
    }

    fn lease_end(&self) -> Option<Instant> {
        self.held.as_ref().filter(|h| h.leading).map(|h| h.until)
    }

    fn elect_after_settle(&self, _cx: &AlgoCtx<'_>) -> bool {
        false // the randomized election timer decides
    }
}

impl Quorum {
    /// How long after the leader is lost (or its promise over) this node stands:
    /// the live voters stand one after the other, best `--rank` first, a slot of
    /// an eighth of the timeout apart (plus a little jitter). Standing all at once
    /// would split the vote, and a split costs a whole randomized timeout; a slot
    /// is far longer than a vote's round trip, so the first candidate has its
    /// votes before the second would stand. A candidate whose log is behind is
    /// refused, and the next in line wins a slot later.
    fn standing_delay(&mut self, cx: &mut AlgoCtx<'_>) -> Duration {
        let slot = self.timeout.as_micros() as u64 / 8;
        let ahead = match self.ahead {
            Some(ahead) => ahead,
            None => *self.ahead.insert(self.voters_ahead(cx)),
        };
        debug_assert_eq!(
            ahead,
            self.voters_ahead(cx),
            "the view changed without a membership change"
        );
        let jitter = cx.rng.random_range(0..=slot / 2);
        Duration::from_micros(ahead * slot + jitter)
    }

    /// Live voters ranked ahead of this node.
    fn voters_ahead(&self, cx: &AlgoCtx<'_>) -> u64 {
        let mine = cx.my_rank();
        self.voters
            .iter()
            .filter_map(|&v| cx.view.get(v))
            .filter(|m| m.state.is_live() && rank_key(cx.rank, &m.info) > mine)
            .count() as u64
    }

    /// A candidate asks for this node's vote in `term`.
    fn on_vote_request(&mut self, cx: &mut AlgoCtx<'_>, from: NodeId, term: u64, tip: (u64, u64)) {
        if !self.is_voter(from) {
            return; // its term must not be adopted, let alone persisted
        }
        if self.has_other_leader(cx, from) {
            let mine = cx.persisted.term;
            let reply = ElectionMsg::VoteReply {
                term: mine,
                granted: false,
            };
            cx.send(from, reply);
            return;
        }
        self.adopt_term(cx, term);
        let mine = cx.persisted.term;
        let free = cx.persisted.voted_for.is_none_or(|v| v == from);
        // Raft's up-to-date rule: a candidate whose log is behind this
        // voter's could lack committed entries, so it gets no vote.
        let up_to_date = tip >= cx.log_tip;
        let granted = term == mine
            && free
            && up_to_date
            && self.is_voter(from)
            && !self.defers(cx, from, tip);
        if granted && cx.persisted.voted_for != Some(from) {
            cx.persisted.voted_for = Some(from);
            cx.persist(); // before the reply that depends on it
        }
        let reply = ElectionMsg::VoteReply {
            term: mine,
            granted,
        };
        if granted {
            self.reset_timer(cx);
            cx.send_durable(from, reply); // a vote counts once it is on disk
        } else {
            cx.send(from, reply);
        }
    }
}

/// The term a candidate stands in: above the persisted term and above the epoch of
/// its last log entry (a log restored without its term must not reuse an epoch).
fn next_term(cx: &AlgoCtx<'_>) -> u64 {
    cx.persisted.term.max(cx.log_tip.0).saturating_add(1)
}
