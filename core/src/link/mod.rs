//! Peer links, sans IO: when to dial a peer, how long to back off, what waits in
//! the queue and what is dropped, what a refused, reset or stalled connection
//! means. The runtime drives [`Links`] with real TCP connections; the simulator
//! drives the very same code with its model of connections, so every seed
//! exercises it.
//!
//! - One connection per direction: every node dials each peer it has something
//!   to say to, and writes only on the connections it dialled; a connection a
//!   peer dialled in is read, never written (the driver keeps it open and reads
//!   it). So no node's words wait for its peer to want to talk: a node that
//!   restarts and answers a probe is heard at once, whoever has the lower id.
//! - A node dials on its first message to the peer, again after a failure once
//!   its backoff is over (doubling from `backoff_min` to `backoff_max`, with
//!   jitter), and at once when the peer is heard from again by any way (a
//!   message on its own connection, an announcement, a datagram): a peer that
//!   restarted is reached within a message's delay of its first word, not after
//!   a backoff meant for a peer that is gone.
//! - Until a connection is up, messages wait in a bounded queue, oldest dropped
//!   first when it is full; a message that waited longer than `max_age` is stale
//!   (the node has timed out on it and moved on) and is dropped instead of sent.
//! - A connection that is refused, reset, times out or stalls (its writer cannot
//!   keep up) is given up; which of these it was is reported to the caller.
//! - **Proof that a peer's process is gone** (`crash_proof`): a connection that
//!   was up ends (the peer's side closed or reset it), a fresh dial made at
//!   once is refused, and nothing was heard from the peer in between. The
//!   machine answered for a process that no longer listens on its port, so the
//!   life the link last heard from is over: [`LinkAction::ProcessGone`] tells
//!   the node, which declares the peer dead at once instead of after its
//!   failure timeout. A machine that is down or cut off refuses nothing (its
//!   dials time out), so it is left to the failure detector. What can fake the
//!   proof: a firewall that rejects with a reset, or another program that took
//!   the port and closed it; ringleader itself never refuses while it runs (its
//!   listener stays open for the whole life of the process, at any load).

use crate::id::{Incarnation, NodeId};
use crate::time::Instant;
use crate::wire::Message;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// How links behave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// Most messages waiting for one peer's connection.
    pub queue_max: usize,
    /// First pause after a failed connection.
    pub backoff_min: Duration,
    /// Longest pause between attempts.
    pub backoff_max: Duration,
    /// A message older than this is not sent any more.
    pub max_age: Duration,
    /// A dial still unanswered after this long when the peer is heard from was
    /// likely made before the path worked (a partition that healed since, a
    /// machine that was down and is back) and may hang until it times out: a
    /// new dial is made beside it, and whichever gets through first is kept.
    /// The first two dials made again each wait twice as long.
    pub dial_patience: Duration,
    /// Whether a refused redial after a connection ended proves the peer's
    /// process gone (see the module docs).
    pub crash_proof: bool,
}

impl Default for LinkConfig {
    /// 4096 messages, backoff from 50 ms to 2 s, messages stale after 2 s, a
    /// dial made again after 50 ms when the peer is heard meanwhile (on a LAN a
    /// connection opens in far less; on a slower path the first dial still
    /// counts if it gets through first).
    fn default() -> Self {
        LinkConfig {
            queue_max: 4096,
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            max_age: Duration::from_secs(2),
            dial_patience: Duration::from_millis(50),
            crash_proof: true,
        }
    }
}

impl LinkConfig {
    /// Messages stay fresh for the failure timeout: after it the node has
    /// declared the peer dead and acts anew.
    pub fn for_node(config: &crate::config::Config) -> LinkConfig {
        LinkConfig {
            max_age: config.failure_timeout,
            crash_proof: config.crash_proof,
            ..LinkConfig::default()
        }
    }
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkFailure {
    /// Nobody listens at the peer's address: its process is gone (the machine
    /// answered for it).
    Refused,
    /// No answer at all: the machine is down or the path is cut.
    TimedOut,
    /// The peer closed or reset the connection.
    Reset,
    /// The connection could not take what was written to it in time.
    Stalled,
}

/// What [`Links`] asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkAction {
    /// Open connection `conn` to `peer`; report [`Links::connected`] or
    /// [`Links::failed`].
    Dial {
        /// The peer.
        peer: NodeId,
        /// The number this connection goes by.
        conn: u64,
    },
    /// Write `msg` on connection `conn` to `peer`.
    Write {
        /// The peer.
        peer: NodeId,
        /// The connection.
        conn: u64,
        /// The message.
        msg: Message,
    },
    /// Close connection `conn` to `peer` (given up, or replaced).
    Close {
        /// The peer.
        peer: NodeId,
        /// The connection.
        conn: u64,
    },
    /// Proof that life `life` of `peer` is over: its connection ended and a
    /// fresh dial was refused. The driver tells the node
    /// ([`Event::PeerGone`](crate::Event::PeerGone)).
    ProcessGone {
        /// The peer.
        peer: NodeId,
        /// The life that is over: the newest heard from.
        life: Incarnation,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No connection, none wanted yet.
    Idle,
    /// Connection `conn` is being opened, since `since`; `again` counts the
    /// dials that hung before it.
    Dialing {
        conn: u64,
        since: Instant,
        again: u32,
    },
    /// Connection `conn` is up.
    Up { conn: u64 },
    /// This node dials again at `until`.
    Backoff { until: Instant },
}

#[derive(Debug)]
struct Link {
    state: State,
    queue: VecDeque<(Instant, Message)>,
    /// The pause after the next failure.
    backoff: Duration,
    /// When this link last dialled.
    last_dial: Option<Instant>,
    /// When the peer was last heard from.
    heard: Option<Instant>,
    /// The newest life of the peer heard from.
    life: Option<Incarnation>,
    /// When a connection that was up ended at the peer's side, until a dial
    /// gets through again: a refused dial then, with nothing heard since,
    /// proves the peer's process gone.
    ended: Option<Instant>,
    /// When this link next needs a tick (see [`link_deadline`]), kept with
    /// every change so that [`Links::next_deadline`] reads, not scans.
    deadline: Option<Instant>,
}

/// Counts of what happened on the links, for status and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Messages dropped: the queue was full, or they grew stale waiting.
    pub dropped: u64,
    /// Connections given up.
    pub failures: u64,
    /// Dials made at once because a peer in backoff was heard from.
    pub early_dials: u64,
}

/// A node's links to its peers.
#[derive(Debug)]
pub struct Links {
    me: NodeId,
    config: LinkConfig,
    rng: ChaCha8Rng,
    peers: BTreeMap<NodeId, Link>,
    next_conn: u64,
    stats: LinkStats,
    /// The earliest of the links' deadlines, kept with every change: a
    /// driver asks after each step, and most steps change no timer (a
    /// message written on a connection that is up).
    next: Option<Instant>,
}

impl Links {
    /// No links yet. `rng` draws the backoff's jitter.
    pub fn new(me: NodeId, config: LinkConfig, rng: ChaCha8Rng) -> Links {
        Links {
            me,
            config,
            rng,
            peers: BTreeMap::new(),
            next_conn: 0,
            stats: LinkStats::default(),
            next: None,
        }
    }

    /// After `peer`'s link changed: its deadline again, and the earliest of
    /// all if that moved.
    fn touch(&mut self, peer: NodeId) {
        let Some(link) = self.peers.get_mut(&peer) else {
            return;
        };
        let deadline = link_deadline(link, &self.config);
        if deadline != link.deadline {
            link.deadline = deadline;
            self.next = self.peers.values().filter_map(|l| l.deadline).min();
        }
    }

    /// After changes to any links: every deadline again.
    fn touch_all(&mut self) {
        for link in self.peers.values_mut() {
            link.deadline = link_deadline(link, &self.config);
        }
        self.next = self.peers.values().filter_map(|l| l.deadline).min();
    }

    /// What happened so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    fn link(&mut self, peer: NodeId) -> &mut Link {
        let backoff = self.config.backoff_min;
        self.peers.entry(peer).or_insert_with(|| Link {
            state: State::Idle,
            queue: VecDeque::new(),
            backoff,
            last_dial: None,
            heard: None,
            life: None,
            ended: None,
            deadline: None,
        })
    }

    /// The connection to `peer` when it is up: what [`Links::send`] would write
    /// on at once, changing nothing (there is never a link to this node
    /// itself). A driver may write there itself and skip the action list on
    /// the common path.
    pub fn up(&self, peer: NodeId) -> Option<u64> {
        match self.peers.get(&peer)?.state {
            State::Up { conn } => Some(conn),
            _ => None,
        }
    }

    /// Sends `msg` to `peer`: at once on its connection, or queued until there is
    /// one (dialling it unless a dial is under way or the link backs off).
    pub fn send(&mut self, now: Instant, peer: NodeId, msg: Message, out: &mut Vec<LinkAction>) {
        if peer == self.me {
            return;
        }
        let queue_max = self.config.queue_max.max(1);
        let link = self.link(peer);
        if let State::Up { conn } = link.state {
            // No timer changes: the common case, kept cheap.
            return out.push(LinkAction::Write { peer, conn, msg });
        }
        let mut dropped = 0;
        while link.queue.len() >= queue_max {
            link.queue.pop_front();
            dropped += 1;
        }
        link.queue.push_back((now, msg));
        self.stats.dropped += dropped;
        if self.link(peer).state == State::Idle {
            self.dial(now, peer, 0, out);
        }
        self.touch(peer);
    }

    fn dial(&mut self, now: Instant, peer: NodeId, again: u32, out: &mut Vec<LinkAction>) {
        self.next_conn += 1;
        let conn = self.next_conn;
        let link = self.link(peer);
        link.state = State::Dialing {
            conn,
            since: now,
            again,
        };
        link.last_dial = Some(now);
        out.push(LinkAction::Dial { peer, conn });
    }

    /// `peer` was heard from (any message, by any way), so the path works and
    /// its process is up: a link backing off dials now, with the backoff reset,
    /// and beside a dial that hangs (see `dial_patience`) another is made.
    /// After a failure, dials stay at least `backoff_min` apart, so a peer whose
    /// datagrams arrive while its connections fail is not dialled at every word.
    ///
    /// A peer heard from in a new life (`life` newer than any heard before) has
    /// restarted: a connection up to it reaches its old process, whose machine
    /// answers what is written with a reset, after the words are lost (a probe's
    /// answer among them). It is closed and a new one dialled at once.
    pub fn heard_from(
        &mut self,
        now: Instant,
        peer: NodeId,
        life: Incarnation,
        out: &mut Vec<LinkAction>,
    ) {
        if self.on_heard(now, peer, life, out) {
            self.touch(peer);
        }
    }

    /// Returns false where the link's deadline cannot have moved: an open
    /// connection to the same life (the common case, on every message).
    fn on_heard(
        &mut self,
        now: Instant,
        peer: NodeId,
        life: Incarnation,
        out: &mut Vec<LinkAction>,
    ) -> bool {
        let (min, patience) = (self.config.backoff_min, self.config.dial_patience);
        let Some(link) = self.peers.get_mut(&peer) else {
            return false;
        };
        link.heard = Some(now);
        if link.life == Some(life) && matches!(link.state, State::Up { .. }) {
            // The common case, decided without the rest: the same life, no
            // new life to find.
            return false;
        }
        // Whether the old life is gone is not the links' to know: a wiped node's
        // new life counts too. A connection closed for nothing costs one dial,
        // one kept to a dead process costs the words written on it.
        let later = |old: Incarnation| life.supersedes(&old, true);
        let restarted = link.life.is_some_and(later);
        if link.life.is_none_or(later) {
            link.life = Some(life);
        }
        let again = match link.state {
            State::Up { conn } if restarted => {
                out.push(LinkAction::Close { peer, conn });
                link.backoff = min;
                0
            }
            State::Backoff { until } => {
                link.backoff = min;
                let soonest = link.last_dial.map_or(now, |t| t + min);
                if soonest > now {
                    link.state = State::Backoff {
                        until: until.min(soonest),
                    };
                    return true;
                }
                0
            }
            State::Dialing { again, .. } if hung_at(link, patience).is_some_and(|t| t <= now) => {
                again + 1
            }
            // Only a dial's deadline depends on when the peer was heard.
            State::Dialing { .. } => return true,
            State::Up { .. } | State::Idle => return false,
        };
        self.stats.early_dials += 1;
        self.dial(now, peer, again, out);
        true
    }

    /// Connection `conn` this node dialled is up: what waited goes out.
    pub fn connected(&mut self, now: Instant, peer: NodeId, conn: u64, out: &mut Vec<LinkAction>) {
        self.on_connected(now, peer, conn, out);
        self.touch(peer);
    }

    fn on_connected(&mut self, now: Instant, peer: NodeId, conn: u64, out: &mut Vec<LinkAction>) {
        let min = self.config.backoff_min;
        let Some(link) = self.peers.get_mut(&peer) else {
            return out.push(LinkAction::Close { peer, conn });
        };
        match link.state {
            State::Dialing { conn: c, .. } if c == conn => {}
            // A dial that seemed hung got through after all, before the one
            // made in its place: take it, and drop the newer.
            State::Dialing { conn: c, .. } if conn < c => {
                out.push(LinkAction::Close { peer, conn: c });
            }
            _ => return out.push(LinkAction::Close { peer, conn }), // given up meanwhile
        }
        link.state = State::Up { conn };
        link.backoff = min;
        link.ended = None;
        self.flush(now, peer, conn, out);
    }

    fn flush(&mut self, now: Instant, peer: NodeId, conn: u64, out: &mut Vec<LinkAction>) {
        let max_age = self.config.max_age;
        let Some(link) = self.peers.get_mut(&peer) else {
            return;
        };
        let mut stale = 0;
        for (at, msg) in link.queue.drain(..) {
            if now.saturating_since(at) >= max_age {
                stale += 1;
            } else {
                out.push(LinkAction::Write { peer, conn, msg });
            }
        }
        self.stats.dropped += stale;
    }

    /// Connection `conn` to `peer` failed or ended: the link backs off before
    /// the next attempt (cut short if the peer is heard from; the shortest
    /// pause if it was heard from while this dial was under way).
    pub fn failed(
        &mut self,
        now: Instant,
        peer: NodeId,
        conn: u64,
        why: LinkFailure,
        out: &mut Vec<LinkAction>,
    ) {
        self.on_failed(now, peer, conn, why, out);
        self.touch(peer);
    }

    fn on_failed(
        &mut self,
        now: Instant,
        peer: NodeId,
        conn: u64,
        why: LinkFailure,
        out: &mut Vec<LinkAction>,
    ) {
        let (min, max) = (self.config.backoff_min, self.config.backoff_max);
        let jitter = self.rng.random_range(0.5..1.5);
        let Some(link) = self.peers.get_mut(&peer) else {
            return;
        };
        let current = matches!(link.state, State::Dialing { conn: c, .. } | State::Up { conn: c } if c == conn);
        if !current {
            return; // an older connection, replaced already
        }
        self.stats.failures += 1;
        if why == LinkFailure::Stalled {
            out.push(LinkAction::Close { peer, conn });
        }
        if self.config.crash_proof {
            match (link.state, why) {
                (State::Up { .. }, LinkFailure::Reset) => {
                    // Ask the peer's machine whether its process still listens,
                    // now rather than after a backoff (but never faster than
                    // dials may follow each other: a peer that accepts and
                    // closes at once must not be dialled in a loop).
                    link.ended = Some(now);
                    if link.last_dial.is_none_or(|t| now >= t + min) {
                        link.backoff = min;
                        return self.dial(now, peer, 0, out);
                    }
                }
                (State::Dialing { .. }, LinkFailure::Refused) => {
                    let ended = link.ended.take();
                    let silent = ended.is_some_and(|e| link.heard.is_none_or(|h| h < e));
                    if let (true, Some(life)) = (silent, link.life) {
                        out.push(LinkAction::ProcessGone { peer, life });
                    }
                }
                _ => {}
            }
        }
        // A dial refused by a process that has been heard from since the dial
        // left raced with its restart: the peer is up, so try again soon.
        let raced = matches!(link.state, State::Dialing { since, .. }
            if link.heard.is_some_and(|h| h >= since));
        if raced {
            link.backoff = min;
        }
        let pause = link.backoff.mul_f64(jitter);
        link.backoff = (link.backoff * 2).clamp(min, max);
        link.state = State::Backoff { until: now + pause };
    }

    /// Time passed: a backoff that is over dials again if messages wait (else
    /// the next message dials); stale messages are dropped.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<LinkAction>) {
        if self.next.is_none_or(|next| next > now) {
            // Every link's deadline is later (kept so by each change): no
            // backoff ends, no dial hangs, nothing queued grows stale.
            return;
        }
        let (max_age, patience) = (self.config.max_age, self.config.dial_patience);
        let mut redial = Vec::new();
        let mut hung = Vec::new();
        let mut stale = 0;
        for (&peer, link) in self.peers.iter_mut() {
            if matches!(link.state, State::Up { .. }) {
                continue;
            }
            if let State::Dialing { again, .. } = link.state {
                if hung_at(link, patience).is_some_and(|t| t <= now) {
                    hung.push((peer, again + 1));
                }
            }
            let before = link.queue.len();
            link.queue
                .retain(|(at, _)| now.saturating_since(*at) < max_age);
            stale += (before - link.queue.len()) as u64;
            if let State::Backoff { until } = link.state {
                if now >= until {
                    link.state = State::Idle;
                    if !link.queue.is_empty() {
                        redial.push(peer);
                    }
                }
            }
        }
        self.stats.dropped += stale;
        for peer in redial {
            self.dial(now, peer, 0, out);
        }
        for (peer, again) in hung {
            self.stats.early_dials += 1;
            self.dial(now, peer, again, out);
        }
        if self.next.is_some() {
            // Links with no deadline (up, or idle, with nothing queued) are
            // left as they were by a tick: with only those, nothing changed.
            self.touch_all();
        }
    }

    /// When [`tick`](Self::tick) is next needed: the end of a backoff, the
    /// moment a dial counts as hung, or the moment the oldest waiting message
    /// grows stale.
    pub fn next_deadline(&self) -> Option<Instant> {
        debug_assert_eq!(
            self.next,
            self.peers
                .values()
                .filter_map(|l| link_deadline(l, &self.config))
                .min(),
            "a change to a link did not update its deadline"
        );
        self.next
    }

    /// True when a connection to `peer` is up.
    pub fn is_up(&self, peer: NodeId) -> bool {
        self.peers
            .get(&peer)
            .is_some_and(|l| matches!(l.state, State::Up { .. }))
    }

    /// Messages waiting for `peer`.
    pub fn queued(&self, peer: NodeId) -> usize {
        self.peers.get(&peer).map_or(0, |l| l.queue.len())
    }

    /// Closes every connection (the node is leaving); what still waits is dropped.
    pub fn close_all(&mut self, out: &mut Vec<LinkAction>) {
        for (&peer, link) in self.peers.iter_mut() {
            if let State::Up { conn } | State::Dialing { conn, .. } = link.state {
                out.push(LinkAction::Close { peer, conn });
            }
            link.state = State::Idle;
            link.queue.clear();
        }
        self.touch_all();
    }
}

/// When `link` next needs a tick: the end of its backoff, the moment its
/// dial counts as hung, or the moment its oldest waiting message grows stale.
fn link_deadline(link: &Link, config: &LinkConfig) -> Option<Instant> {
    let stale = link.queue.front().map(|(at, _)| *at + config.max_age);
    let timer = match link.state {
        State::Backoff { until } => Some(until),
        State::Dialing { .. } => hung_at(link, config.dial_patience),
        _ => None,
    };
    match (stale, timer) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// When a dial under way counts as hung: the peer was heard from since it
/// left, and it has had `patience` (doubled for each of the first two hung
/// dials before it, so a slow path gets a few dials in flight, not a stream).
fn hung_at(link: &Link, patience: Duration) -> Option<Instant> {
    let State::Dialing { since, again, .. } = link.state else {
        return None;
    };
    link.heard
        .filter(|&h| h >= since)
        .map(|_| since + patience.saturating_mul(1 << again.min(2)))
}

#[cfg(test)]
mod tests;
