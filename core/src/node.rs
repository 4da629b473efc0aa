//! One server's state machine: the parts composed behind one `step`.

use crate::action::Action;
use crate::config::{Config, ConfigError};
use crate::context::Ctx;
use crate::discovery::{Change, Discovery, DiscoveryStats};
use crate::durable::Journal;
use crate::election::Election;
use crate::event::Event;
use crate::id::{Incarnation, NodeId, NodeInfo};
use crate::leadership::Leadership;
use crate::log::{Entry, Log};
use crate::membership::{Member, Membership};
use crate::persist::Persisted;
use crate::proposals::Proposals;
use crate::rank::RankBy;
use crate::reads::Reads;
use crate::replication::Replication;
use crate::ring::Ring;
use crate::sessions::Sessions;
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
#[derive(Clone, Debug)]
pub struct Node {
    me: NodeInfo,
    rng: ChaCha8Rng,
    lifecycle: Lifecycle,
    last_now: Instant,
    discovery: Discovery,
    parts: Parts,
    rank: RankBy,
    /// Peer messages dropped for implausible values (see [`crate::plausible`]).
    implausible: u64,
    /// Off only in tests that check the parts hold without the filter.
    filter_implausible: bool,
    /// The writes asked for and the messages that wait for them.
    journal: Journal,
    /// Entries being read back from the disk.
    reads: Reads,
    /// The disk stalled (a write pending past `disk_stall`): the node resigned
    /// and plays dead until its writes complete.
    unfit: bool,
    disk_stall: std::time::Duration,
    /// A gap between two steps longer than this many µs means the process
    /// stood still (a running node steps at least every heartbeat interval).
    /// Kept in µs because every step compares against it.
    stood_still_us: u64,
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
        let journal = Journal::new(&log);
        let mut log = log;
        log.set_memory_limit(config.log_memory, config.log_keep);
        Ok(Node {
            me,
            rng: ChaCha8Rng::seed_from_u64(seed),
            lifecycle: Lifecycle::Idle,
            last_now: now,
            discovery: Discovery::new(&config, me),
            parts: Parts {
                // A `bully`/`ring` leader of an earlier life never leads its
                // old epoch again: entries it lost (a power cut) may live on
                // at its peers with the same stamp. (Under `quorum` the term
                // is never below the log's last epoch.)
                election: Election::new(
                    &config,
                    now,
                    Persisted {
                        term: persisted.term.max(log.last_epoch()),
                        ..persisted
                    },
                ),
                replication: Replication::new(&config, log, now),
                sessions: Sessions::new(config.client_timeout),
                proposals: Proposals::default(),
            },
            rank: config.rank,
            implausible: 0,
            filter_implausible: true,
            journal,
            reads: Reads::default(),
            unfit: false,
            disk_stall: config.disk_stall_timeout,
            stood_still_us: u64::try_from((config.heartbeat_interval * 4).as_micros())
                .unwrap_or(u64::MAX),
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
        let gap_us = now.as_micros().saturating_sub(self.last_now.as_micros());
        self.last_now = self.last_now.max(now);
        let now = self.last_now;
        let first = out.len();
        if gap_us > self.stood_still_us {
            // The process stood still (a pause, a frozen VM): its writer did
            // too, so the time does not count against the disk.
            self.journal
                .stood_still(std::time::Duration::from_micros(gap_us));
        }
        if self.lifecycle == Lifecycle::Running && self.parts.election.lease_lapsed(now) {
            self.end_lapsed_lease(now, out);
        }
        if self.lifecycle == Lifecycle::Running {
            self.check_disk(now, out);
        }
        self.handle(now, event, out);
        if self.lifecycle != Lifecycle::Idle {
            let log = self.parts.replication.log_mut();
            self.journal.end_step(now, log, out);
            log.evict(self.journal.evictable());
            self.reads.end_step(now, out);
        }
        if self.unfit {
            Self::play_dead(first, out);
        }
    }

    /// A lease that ran out while the node was not stepped (a paused process)
    /// ends before anything else is done as leader. Out of line, as the
    /// other rare turns of a step are: what every step runs stays small.
    #[inline(never)]
    fn end_lapsed_lease(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.with_ctx(now, out, |cx, p| p.election.tick(cx));
        self.sync_leadership(now, out);
    }

    /// Playing dead: nothing this step made (from `first` on) reaches the peers.
    #[inline(never)]
    fn play_dead(first: usize, out: &mut Vec<Action>) {
        let made = out.split_off(first);
        out.extend(
            made.into_iter()
                .filter(|a| !matches!(a, Action::Send { .. } | Action::Multicast(_))),
        );
    }

    /// A write pending past the stall bound makes the node unfit: it resigns
    /// whatever it leads and plays dead until its writes complete.
    #[inline]
    fn check_disk(&mut self, now: Instant, out: &mut Vec<Action>) {
        let stalled = self
            .journal
            .stalled_at(self.disk_stall)
            .is_some_and(|at| now >= at);
        if stalled && !self.unfit {
            self.go_unfit(now, out);
        }
    }

    #[inline(never)]
    fn go_unfit(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.unfit = true;
        let why = format!(
            "a disk write has not become durable in {} ms",
            self.disk_stall.as_millis()
        );
        tracing::error!("disk stalled: {why}; resigning and playing dead until it completes");
        self.with_ctx(now, out, |cx, p| p.election.resign(cx, &why));
        self.sync_leadership(now, out);
    }

    /// Entries read back from the disk: into the log's cache, and the parts
    /// that wait for them go on.
    #[inline(never)]
    fn on_log_read(&mut self, now: Instant, from: u64, entries: Vec<Entry>, out: &mut Vec<Action>) {
        if !self.reads.answered(from, entries.is_empty()) || entries.is_empty() {
            return;
        }
        let log = self.parts.replication.log_mut();
        if !log.read_back(entries, crate::reads::READ_ENTRIES_MAX) {
            tracing::warn!(from, "entries read back do not match the log; dropped");
            return;
        }
        self.with_ctx(now, out, |cx, p| p.replication.on_read(cx));
        self.parts.sessions.on_read();
        self.end_step(now, out);
    }

    /// Writes up to `token` are durable.
    fn on_durable(&mut self, now: Instant, token: u64, out: &mut Vec<Action>) {
        if !self.journal.durable(token, out) {
            return;
        }
        if self.unfit && self.journal.all_durable() {
            self.unfit = false;
            tracing::warn!("disk caught up: taking part again");
            self.with_ctx(now, out, |cx, p| p.election.recovered(cx));
        }
        self.parts.replication.on_durable();
        self.end_step(now, out);
    }

    /// The embedding application saved a snapshot (see [`Event::AppSnapshot`]).
    #[inline(never)]
    fn on_app_snapshot(&mut self, snapshot: std::sync::Arc<crate::log::AppSnapshot>) {
        let (index, bytes) = (snapshot.index, snapshot.state.len());
        if bytes > crate::log::APP_SNAPSHOT_BYTES_MAX {
            tracing::warn!(
                index,
                bytes,
                max = crate::log::APP_SNAPSHOT_BYTES_MAX,
                "the application's snapshot is too large to send to a follower: one behind the retained log cannot rebuild its state"
            );
        } else if !self.parts.replication.log_mut().keep_app(snapshot) {
            tracing::debug!(index, "an application snapshot older than the one kept");
        }
    }

    #[inline(never)]
    fn start(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.lifecycle = Lifecycle::Running;
        // Persist before announcing: the announcement carries the new
        // incarnation (the driver makes the start's writes durable first).
        let state = self.parts.election.persisted();
        self.journal.persist(now, state, out);
        self.journal.start_written();
        self.discovery.start(now, &mut self.rng, out);
        self.with_ctx(now, out, |cx, p| p.election.start(cx));
    }

    /// The driver learned that `peer`'s process in life `life` is gone (its
    /// connection was reset).
    #[inline(never)]
    fn on_peer_gone(
        &mut self,
        now: Instant,
        peer: NodeId,
        life: Incarnation,
        out: &mut Vec<Action>,
    ) {
        let changes = self.discovery.process_gone(now, peer, life, out);
        let proven = !changes.is_empty();
        self.membership_changed(now, changes, out);
        if proven {
            self.with_ctx(now, out, |cx, p| p.election.on_process_gone(cx, peer));
        }
        self.end_step(now, out);
    }

    fn handle(&mut self, now: Instant, event: Event, out: &mut Vec<Action>) {
        match (self.lifecycle, event) {
            (Lifecycle::Idle, Event::Start) => self.start(now, out),
            (Lifecycle::Running, Event::Tick) => {
                let changes = self.discovery.expire(now, out);
                self.membership_changed(now, changes, out);
                self.with_ctx(now, out, |cx, p| p.election.tick(cx));
                let claim = self.parts.election.claim();
                self.discovery.emit(now, &mut self.rng, claim, out);
                self.sync_leadership(now, out);
                self.with_ctx(now, out, |cx, p| p.replication.tick(cx));
                self.with_ctx(now, out, |cx, p| p.sessions.tick(cx));
                self.end_step(now, out);
            }
            (Lifecycle::Running, Event::Received(msg)) => {
                self.received(now, &msg, out);
            }
            (Lifecycle::Running, Event::FromClient { client, msg }) => {
                self.with_ctx(now, out, |cx, p| {
                    p.sessions.on_message(cx, &mut p.replication, client, msg)
                });
                self.end_step(now, out);
            }
            (Lifecycle::Running, Event::Propose { ticket, payload }) => {
                self.with_ctx(now, out, |cx, p| {
                    p.proposals.propose(cx, &mut p.replication, ticket, payload)
                });
                self.end_step(now, out);
            }
            (Lifecycle::Running, Event::ClientGone { client }) => {
                self.with_ctx(now, out, |cx, p| p.sessions.gone(cx, client));
                self.end_step(now, out);
            }
            (Lifecycle::Running, Event::PeerGone { peer, life }) => {
                self.on_peer_gone(now, peer, life, out);
            }
            (Lifecycle::Running, Event::Durable { token }) => self.on_durable(now, token, out),
            (Lifecycle::Running, Event::LogRead { from, entries }) => {
                self.on_log_read(now, from, entries, out)
            }
            (Lifecycle::Running, Event::LogCompacted { snapshot }) => {
                let index = snapshot.index;
                if !self.parts.replication.log_mut().compact(snapshot) {
                    tracing::warn!(
                        index,
                        "the driver's compaction does not fit the log; ignored"
                    );
                }
            }
            (Lifecycle::Running, Event::AppSnapshot { snapshot }) => {
                self.on_app_snapshot(snapshot);
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

    /// A running node takes in a peer's message.
    fn received(&mut self, now: Instant, msg: &Message, out: &mut Vec<Action>) {
        if !self.plausible(msg) {
            return;
        }
        if let Some(changes) = self.discovery.on_message(now, msg, out) {
            self.membership_changed(now, changes, out);
            self.dispatch(now, msg, out);
        }
        self.end_step(now, out);
    }

    /// Lets implausible messages through, for tests that check each part
    /// holds on its own (defence in depth).
    #[cfg(test)]
    pub(crate) fn without_plausibility_filter(&mut self) {
        self.filter_implausible = false;
    }

    /// Whether `msg`'s numbers are plausible; a message that is not is
    /// counted and logged (the 1st, 2nd, 4th, 8th... time: a flood cannot fill
    /// the log) and dropped before any part sees it.
    fn plausible(&mut self, msg: &Message) -> bool {
        if !self.filter_implausible {
            return true;
        }
        let highest = self
            .parts
            .election
            .highest_epoch()
            .max(self.parts.replication.log().last_epoch());
        let Err(why) = crate::plausible::check(msg, highest) else {
            return true;
        };
        self.implausible += 1;
        if self.implausible.is_power_of_two() {
            tracing::warn!(
                peer = %msg.from(),
                kind = msg.kind(),
                dropped = self.implausible,
                "dropped a peer message: {why}"
            );
        }
        false
    }

    /// Hands a message discovery accepted to the part it is for.
    fn dispatch(&mut self, now: Instant, msg: &Message, out: &mut Vec<Action>) {
        match msg {
            Message::Heartbeat {
                from,
                leading: Some(epoch),
            } => self.with_ctx(now, out, |cx, p| p.election.on_claim(cx, from, *epoch)),
            Message::Heartbeat {
                from,
                leading: None,
            } => self.with_ctx(now, out, |cx, p| {
                p.election.on_unclaimed_heartbeat(cx, from)
            }),
            Message::Election {
                from,
                algorithm,
                msg,
            } => self.with_ctx(now, out, |cx, p| {
                p.election.on_message(cx, from, *algorithm, msg)
            }),
            Message::Replication { from, msg } => self.on_replication(now, from, msg, out),
            Message::Announce(_)
            | Message::Probe(_)
            | Message::ProbeResponse(_)
            | Message::Leave(_) => {}
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
            let lead = self.parts.election.leadership();
            if (lead.leader != Some(from.id) || lead.epoch != *epoch) && *epoch >= lead.epoch {
                self.with_ctx(now, out, |cx, p| p.election.on_claim(cx, from, *epoch));
            }
        }
        self.sync_leadership(now, out);
        self.with_ctx(now, out, |cx, p| p.replication.on_message(cx, from.id, msg));
        if let Some(epoch) = self.parts.replication.take_epoch_collision() {
            self.with_ctx(now, out, |cx, p| p.election.supersede(cx, epoch));
        }
    }

    /// Tells replication who leads now, so it starts or stops leading.
    #[inline]
    fn sync_leadership(&mut self, now: Instant, out: &mut Vec<Action>) {
        // After every step, and in step nearly always: no call for that.
        let lead = self.parts.election.leadership();
        if !self.parts.replication.in_step_with(&lead, self.me.id) {
            self.hand_over_leadership(now, out);
        }
    }

    #[inline(never)]
    fn hand_over_leadership(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.with_ctx(now, out, |cx, p| p.replication.on_leadership(cx));
    }

    /// End of every step: replication and sessions catch up with what happened.
    /// Held client messages are offered before the flush so they leave in its
    /// batch; what the flush commits (a leader alone commits at once) is
    /// delivered after it.
    fn end_step(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.sync_leadership(now, out);
        // Most steps have nothing for the sessions: no context is built for them.
        // The passes themselves (sessions' and proposals') are out of line:
        // inlined, they made this function large for every step.
        let lead = self.parts.election.leadership();
        let leading = lead.leads(self.me.id).then_some(lead.epoch);
        if !self.parts.sessions.nothing_to_offer(leading) {
            self.with_ctx(now, out, |cx, p| p.sessions.offer(cx, &mut p.replication));
        }
        if !self.parts.proposals.is_empty() {
            self.with_ctx(now, out, |cx, p| {
                p.proposals.offer_held(cx, &mut p.replication)
            });
        }
        if !self.parts.replication.nothing_to_flush() {
            self.with_ctx(now, out, |cx, p| p.replication.flush(cx));
        }
        let commit = self.parts.replication.log().commit_index();
        if !self.parts.sessions.nothing_to_deliver(commit) {
            self.with_ctx(now, out, |cx, p| {
                p.sessions.deliver(cx, p.replication.log())
            });
        }
        if !self.parts.proposals.is_empty() {
            self.with_ctx(now, out, |cx, p| {
                p.proposals.resolve(cx, p.replication.log())
            });
        }
    }

    /// Runs `f` with the context of this input and the parts it may change.
    /// The context's leadership is read when it is made, so each part's call
    /// gets a context of its own.
    fn with_ctx<R>(
        &mut self,
        now: Instant,
        out: &mut Vec<Action>,
        f: impl FnOnce(&mut Ctx<'_>, &mut Parts) -> R,
    ) -> R {
        let log = self.parts.replication.log();
        let log_tip = (log.last_epoch(), log.last_index());
        let durable_tip = self.journal.durable_tip(log);
        let mut cx = Ctx {
            now,
            me: self.me,
            view: self.discovery.view(),
            lead: self.parts.election.leadership(),
            log_tip,
            rng: &mut self.rng,
            out,
            journal: &mut self.journal,
            durable_tip,
            unfit: self.unfit,
            reads: &mut self.reads,
        };
        f(&mut cx, &mut self.parts)
    }

    /// Hands the membership changes discovery reported to the other parts.
    #[inline]
    fn membership_changed(&mut self, now: Instant, changes: Vec<Change>, out: &mut Vec<Action>) {
        // Nearly every message changes nothing: no call for it.
        if !changes.is_empty() {
            self.hand_over_changes(now, changes, out);
        }
    }

    #[inline(never)]
    fn hand_over_changes(&mut self, now: Instant, changes: Vec<Change>, out: &mut Vec<Action>) {
        for (node, change) in changes {
            self.parts.replication.on_member(node.id, change);
            self.with_ctx(now, out, |cx, p| p.election.on_member(cx, &node, change));
        }
    }

    /// Hashes what decides this node's next moves beyond what its public
    /// accessors show (an election under way, a leader's progress with each
    /// follower, the clients' sessions), leaving out times, deadlines and
    /// random-number state: the simulator's exhaustive explorer tells states
    /// apart by it. Stable within a build, not across builds.
    pub fn fingerprint(&self, h: &mut dyn std::hash::Hasher) {
        self.parts.election.fingerprint(h);
        self.parts.replication.fingerprint(h);
        self.parts.sessions.fingerprint(h);
        h.write_u8(u8::from(self.unfit));
    }

    /// When the node next needs a [`Event::Tick`]; `None` when it needs none.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.lifecycle {
            Lifecycle::Running => {
                // An unfit node's election stands still (see `crate::durable`):
                // its timers wait for the disk to catch up.
                let election = if self.unfit {
                    Instant::MAX
                } else {
                    self.parts.election.next_deadline()
                };
                let at = self
                    .discovery
                    .next_deadline()
                    .min(election)
                    .min(self.parts.replication.next_deadline())
                    .min(self.parts.sessions.next_deadline());
                let stall = match self.journal.stalled_at(self.disk_stall) {
                    Some(at) if !self.unfit => at,
                    _ => Instant::MAX,
                };
                Some(at.min(stall)).filter(|d| *d != Instant::MAX)
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
        self.parts.election.leadership()
    }

    /// Whether this node acts as leader at `now` on its clock: it leads, and under
    /// `quorum` its lease has not run out. A node whose process was paused past
    /// its lease still names itself leader until its next step, which steps down
    /// first; this is what the simulator's `one_leader_at_a_time` checks.
    pub fn leads_at(&self, now: Instant) -> bool {
        self.leadership().role == crate::leadership::Role::Leader
            && self.lease_end().is_none_or(|end| now < end)
    }

    /// Whether this node may act alone as leader at `now` (its own clock): it
    /// [leads](Node::leads_at), serves, and has committed an entry of its own
    /// leadership (its epoch's marker), so its commit index covers every
    /// entry committed before it was elected — what a read served from its
    /// own state needs (Raft's read rule; under `quorum` the lease then keeps
    /// any other leader from committing until it runs out).
    pub fn fenced_at(&self, now: Instant) -> bool {
        let log = self.log();
        let own = crate::log::Stamp {
            epoch: self.leadership().epoch,
            leader: self.id(),
        };
        self.leads_at(now) && self.serving() && log.stamp_at(log.commit_index()) == Some(own)
    }

    /// While this node leads under `quorum` with other voters: when its lease
    /// runs out on its clock (it steps down at that instant unless renewed).
    pub fn lease_end(&self) -> Option<Instant> {
        self.parts.election.lease_end()
    }

    /// The logical ring as this node sees it: live members and itself, by rank.
    pub fn ring(&self) -> Ring {
        Ring::new(&self.me, self.discovery.view(), self.rank)
    }

    /// What this node has persisted (or asked to persist) so far.
    pub fn persisted(&self) -> Persisted {
        self.parts.election.persisted()
    }

    /// The log: every entry this node holds, and how far it is committed. The
    /// driver keeps it durable (see the crate docs).
    pub fn log(&self) -> &Log {
        self.parts.replication.log()
    }

    /// The highest log index this node's disk holds as its log does now (see
    /// [`crate::durable`]).
    pub fn durable_index(&self) -> u64 {
        self.journal.durable_tip(self.parts.replication.log())
    }

    /// Whether the disk counts as stalled: the node resigned and plays dead.
    pub fn disk_stalled(&self) -> bool {
        self.unfit
    }

    /// How many messages wait for writes to become durable.
    pub fn held_messages(&self) -> usize {
        self.journal.held_len()
    }

    /// While leading: the followers counted as in sync.
    pub fn in_sync(&self) -> Option<Vec<NodeId>> {
        self.parts.replication.in_sync()
    }

    /// While leading and serving: whether it accepts client messages now.
    pub fn serving(&self) -> bool {
        self.parts.replication.serving()
    }

    /// While leading: the clients with a session, and their users.
    pub fn clients(&self) -> Vec<(ClientId, String)> {
        self.parts.sessions.users()
    }

    /// Peer messages dropped so far for implausible values.
    pub fn implausible_dropped(&self) -> u64 {
        self.implausible
    }

    /// What discovery ignored so far.
    pub fn discovery_stats(&self) -> DiscoveryStats {
        self.discovery.stats()
    }
}

/// The parts a context is lent to: everything but discovery, which owns the
/// view the context borrows.
#[derive(Clone, Debug)]
struct Parts {
    election: Election,
    replication: Replication,
    sessions: Sessions,
    proposals: Proposals,
}
