//! The sans-IO chat client: finds the leader, follows it across failovers, and
//! never loses or repeats a message.
//!
//! - Finding the leader: with configured server addresses it tries them in turn,
//!   otherwise it multicasts a probe and goes to the leader the answers name. A
//!   server that does not lead answers with a redirect; the client follows it.
//! - Sending: messages are numbered 1, 2, 3, ... and kept in a bounded buffer until
//!   the leader acknowledges their commit. While there is no leader they wait there;
//!   when the buffer is full, [`Client::send`] refuses with [`SendError::BufferFull`],
//!   so nothing is ever dropped silently. After every (re)connection the whole buffer
//!   is resent in order with the same numbers; the leader's deduplication makes that
//!   idempotent.
//! - Reading: the client tracks the next committed index it has not seen and asks
//!   every new leader to stream from there, so it sees each committed entry exactly
//!   once and in order.
//! - Liveness: it pings the leader every `ping_interval` and gives the connection up
//!   after `server_timeout` of silence (a crashed machine sends no FIN).
//!
//! The driver carries out [`ClientAction`]s and feeds [`ClientEvent`]s, like a node's.

#[cfg(test)]
mod tests;

use crate::id::NodeId;
use crate::log::{Entry, SeenRun};
use crate::time::Instant;
use crate::wire::{ClientId, ClientMsg, ServerMsg, MAX_SEEN_RUNS};
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// How a client behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// The client's id, random per session (0 is reserved).
    pub id: ClientId,
    /// The user's name.
    pub user: String,
    /// Servers to try, in turn; empty to find them by multicast probe.
    pub servers: Vec<SocketAddr>,
    /// Most unacknowledged messages kept; beyond it [`Client::send`] refuses.
    pub buffer_limit: usize,
    /// How often the client pings its leader.
    pub ping_interval: Duration,
    /// Silence after which the client gives up its connection and looks again.
    pub server_timeout: Duration,
    /// First pause before looking for the leader again after a failed attempt;
    /// it doubles with each failure in a row, up to `retry_interval`. Short: a
    /// leader whose process died is replaced in milliseconds, while the
    /// followers a client asks first may still name it for a moment.
    pub retry_min: Duration,
    /// Longest pause before looking for the leader again after a failed attempt.
    pub retry_interval: Duration,
    /// How long a probe waits for an answer that names a leader.
    pub probe_wait: Duration,
}

impl ClientConfig {
    /// Defaults for user `user` with id `id`: find servers by multicast, buffer
    /// 1000 messages, ping every second, give up after 3 s of silence.
    pub fn new(id: ClientId, user: impl Into<String>) -> Self {
        ClientConfig {
            id,
            user: user.into(),
            servers: Vec::new(),
            buffer_limit: 1000,
            ping_interval: Duration::from_secs(1),
            server_timeout: Duration::from_secs(3),
            retry_min: Duration::from_millis(10),
            retry_interval: Duration::from_millis(200),
            probe_wait: Duration::from_millis(500),
        }
    }
}

/// An input to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// Begin: look for the leader.
    Start,
    /// Time reached [`Client::next_deadline`].
    Tick,
    /// The connection asked for by the last [`ClientAction::Connect`] is up.
    Connected,
    /// The current connection failed or closed.
    Disconnected,
    /// A message from a server: on the connection, or a probe's answer by datagram.
    Received(ServerMsg),
}

/// An output of a client, for the driver (network) or the user (`Output`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAction {
    /// Multicast a probe for servers.
    Probe(ClientMsg),
    /// Close any current connection and connect to this address.
    Connect(SocketAddr),
    /// Send on the current connection.
    Send(ClientMsg),
    /// Close the current connection.
    Disconnect,
    /// Something for the user.
    Output(ClientOutput),
}

/// What the user is told.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClientOutput {
    /// A session is open at the leader.
    Connected {
        /// The leader.
        leader: NodeId,
        /// Its epoch.
        epoch: u64,
        /// Users connected to it.
        users: Vec<String>,
    },
    /// The leader is not the one of the previous session.
    LeaderChanged {
        /// The leader before.
        old: NodeId,
        /// The leader now.
        new: NodeId,
        /// Its epoch.
        epoch: u64,
    },
    /// The session at the leader ended; the client looks for the leader again.
    LeaderLost {
        /// Why.
        reason: &'static str,
    },
    /// The next committed entry of the history.
    Entry(Entry),
    /// `bully`/`ring` after a split brain healed: the history this client saw
    /// parts from the merged one after index `from - 1`; the merged history
    /// follows from `from` (entries seen from there on are replaced).
    Rewritten {
        /// The first index of the merged history that follows.
        from: u64,
    },
    /// Every message of this client up to `seq` is committed.
    Acked {
        /// The highest number acknowledged.
        seq: u64,
    },
    /// A user joined or left.
    Presence {
        /// Who.
        user: String,
        /// Joined (true) or left (false).
        joined: bool,
    },
    /// The answer to [`Client::history`].
    History(Vec<Entry>),
    /// The leader no longer keeps the entries before `first` (its retention
    /// deleted them): the stream (or the history asked for) goes on from there.
    HistoryStarts {
        /// The first index the leader still holds.
        first: u64,
    },
    /// The leader refused a request.
    Refused(String),
}

/// A numbered message kept until acknowledged.
#[derive(Clone, Debug)]
enum Outgoing {
    /// A chat message's text.
    Chat(Vec<u8>),
    /// An application's entry.
    Write(Vec<u8>),
}

impl Outgoing {
    fn message(&self, seq: u64) -> ClientMsg {
        match self {
            Outgoing::Chat(text) => ClientMsg::Chat {
                seq,
                text: text.clone(),
            },
            Outgoing::Write(payload) => ClientMsg::Write {
                seq,
                payload: payload.clone(),
            },
        }
    }
}

/// Why a message could not be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The buffer of unacknowledged messages is full; the message was not taken.
    BufferFull {
        /// The limit.
        limit: usize,
        /// Whether a leader is serving the client right now (it is only slow to
        /// acknowledge) or the messages wait for one.
        leader: bool,
    },
    /// The client has quit.
    Quit,
    /// Too large (more than [`crate::wire::MAX_CHAT_BYTES`]), or an
    /// application's entry that would read as a chat message (see
    /// [`crate::chat::is_chat_payload`]): the leader would refuse it.
    Invalid,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::BufferFull { limit, leader: true } => write!(
                f,
                "not sent: the buffer is full ({limit} messages wait for the leader's acknowledgement); try again in a moment"
            ),
            SendError::BufferFull {
                limit,
                leader: false,
            } => write!(
                f,
                "not sent: the buffer is full ({limit} messages wait for a leader); try again once it is back"
            ),
            SendError::Quit => f.write_str("not sent: the client has quit"),
            SendError::Invalid => f.write_str(
                "not sent: larger than the limit, or an entry that starts as a chat message does",
            ),
        }
    }
}

impl std::error::Error for SendError {}

impl fmt::Display for ClientOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientOutput::Connected {
                leader,
                epoch,
                users,
            } => {
                write!(
                    f,
                    "connected to leader {leader} e{epoch} ({} users)",
                    users.len()
                )
            }
            ClientOutput::LeaderChanged { old, new, epoch } => {
                write!(f, "leader changed {old} -> {new} e{epoch}")
            }
            ClientOutput::LeaderLost { reason } => write!(f, "leader lost: {reason}"),
            ClientOutput::Entry(e) if e.is_marker() => {
                write!(
                    f,
                    "entry {} e{} (leader {} marker)",
                    e.index, e.epoch, e.leader
                )
            }
            ClientOutput::Entry(e) => write!(
                f,
                "entry {} e{} c{}#{} from {}",
                e.index,
                e.epoch,
                e.id.client,
                e.id.seq,
                crate::chat::ChatMessage::of(e).map_or("an application", |m| m.author)
            ),
            ClientOutput::Acked { seq } => write!(f, "acked up to #{seq}"),
            ClientOutput::Rewritten { from } => {
                write!(f, "history rewritten from {from} (a split brain healed)")
            }
            ClientOutput::Presence { user, joined } => {
                write!(f, "{user} {}", if *joined { "joined" } else { "left" })
            }
            ClientOutput::History(e) => write!(f, "history of {} entries", e.len()),
            ClientOutput::HistoryStarts { first } => {
                write!(f, "history before #{first} is no longer kept")
            }
            ClientOutput::Refused(why) => write!(f, "refused: {why}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Probing { until: Instant },
    Connecting { addr: SocketAddr, until: Instant },
    Greeting { addr: SocketAddr, until: Instant },
    Ready { leader: NodeId, epoch: u64 },
    Waiting { until: Instant },
    Quit,
}

/// Where the client stands, for status displays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not started.
    Idle,
    /// Looking for the leader.
    Searching,
    /// In a session with the leader.
    Ready,
    /// Quit.
    Quit,
}

/// A chat client's state machine.
#[derive(Clone, Debug)]
pub struct Client {
    config: ClientConfig,
    state: State,
    /// Unacknowledged messages, oldest first: (number, what).
    buffer: VecDeque<(u64, Outgoing)>,
    /// The last acknowledged messages (at most `buffer_limit`), oldest first. A
    /// leader on the other side of a split brain may lack them: sent to it again
    /// before anything newer, they keep this client's order.
    kept: VecDeque<(u64, Outgoing)>,
    /// The last runs of entries seen (at most [`MAX_SEEN_RUNS`]), named in every
    /// hello so a new leader can tell where its history parts from this one.
    seen: VecDeque<SeenRun>,
    next_seq: u64,
    /// The next committed index not yet seen.
    next_index: u64,
    had_session: bool,
    last_leader: Option<NodeId>,
    next_server: usize,
    /// The address of the server last connected to; after losing the leader
    /// there, the next attempt goes elsewhere first (a stopped process's port
    /// still accepts connections, and its silence would cost a whole timeout).
    connected_to: Option<SocketAddr>,
    avoid: Option<SocketAddr>,
    last_heard: Instant,
    last_ping: Instant,
    /// The next pause before looking for the leader again.
    retry: Duration,
}

impl Client {
    /// A client that has sent and seen nothing yet.
    pub fn new(config: ClientConfig) -> Self {
        Client {
            config,
            state: State::Idle,
            buffer: VecDeque::new(),
            kept: VecDeque::new(),
            seen: VecDeque::new(),
            next_seq: 1,
            next_index: 1,
            had_session: false,
            last_leader: None,
            next_server: 0,
            connected_to: None,
            avoid: None,
            last_heard: Instant::ZERO,
            last_ping: Instant::ZERO,
            retry: Duration::ZERO,
        }
    }

    /// The client's id.
    pub fn id(&self) -> ClientId {
        self.config.id
    }

    /// Where the client stands.
    pub fn phase(&self) -> Phase {
        match self.state {
            State::Idle => Phase::Idle,
            State::Ready { .. } => Phase::Ready,
            State::Quit => Phase::Quit,
            _ => Phase::Searching,
        }
    }

    /// The leader of the current session.
    pub fn leader(&self) -> Option<(NodeId, u64)> {
        match self.state {
            State::Ready { leader, epoch } => Some((leader, epoch)),
            _ => None,
        }
    }

    /// Messages sent but not yet acknowledged.
    pub fn unacked(&self) -> usize {
        self.buffer.len()
    }

    /// True when [`send`](Self::send) would refuse for a full buffer.
    pub fn is_full(&self) -> bool {
        self.buffer.len() >= self.config.buffer_limit
    }

    /// The next committed index the client has not seen.
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// The number the next message will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// When [`ClientEvent::Tick`] is next due.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Idle | State::Quit => None,
            State::Probing { until }
            | State::Connecting { until, .. }
            | State::Greeting { until, .. }
            | State::Waiting { until } => Some(until),
            State::Ready { .. } => Some(
                (self.last_heard + self.config.server_timeout)
                    .min(self.last_ping + self.config.ping_interval),
            ),
        }
    }

    /// Takes a chat message from the user. It is sent at once when there is a
    /// leader, otherwise kept until there is one.
    pub fn send(
        &mut self,
        now: Instant,
        text: impl Into<Vec<u8>>,
        out: &mut Vec<ClientAction>,
    ) -> Result<u64, SendError> {
        let _ = now;
        self.enqueue(Outgoing::Chat(text.into()), out)
    }

    /// Takes an entry of the client's own application (see
    /// [`ClientMsg::Write`]): numbered, sent, resent and acknowledged as a chat
    /// message is, appended as it is.
    pub fn write(
        &mut self,
        payload: impl Into<Vec<u8>>,
        out: &mut Vec<ClientAction>,
    ) -> Result<u64, SendError> {
        self.enqueue(Outgoing::Write(payload.into()), out)
    }

    fn enqueue(&mut self, what: Outgoing, out: &mut Vec<ClientAction>) -> Result<u64, SendError> {
        let valid = match &what {
            Outgoing::Chat(text) => text.len() <= crate::wire::MAX_CHAT_BYTES,
            Outgoing::Write(raw) => {
                raw.len() <= crate::wire::MAX_CHAT_BYTES && !crate::chat::is_chat_payload(raw)
            }
        };
        if !valid {
            return Err(SendError::Invalid);
        }
        if self.state == State::Quit {
            return Err(SendError::Quit);
        }
        if self.buffer.len() >= self.config.buffer_limit {
            return Err(SendError::BufferFull {
                limit: self.config.buffer_limit,
                leader: matches!(self.state, State::Ready { .. }),
            });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if let State::Ready { .. } = self.state {
            out.push(ClientAction::Send(what.message(seq)));
        }
        self.buffer.push_back((seq, what));
        Ok(seq)
    }

    /// Asks the leader for the last `last` messages; false when there is no session.
    pub fn history(&mut self, last: u32, out: &mut Vec<ClientAction>) -> bool {
        let ready = matches!(self.state, State::Ready { .. });
        if ready {
            out.push(ClientAction::Send(ClientMsg::History { last }));
        }
        ready
    }

    /// Leaves for good: says goodbye to the leader and closes the connection.
    /// Unacknowledged messages are reported by [`unacked`](Self::unacked).
    pub fn quit(&mut self, out: &mut Vec<ClientAction>) {
        if let State::Ready { .. } = self.state {
            out.push(ClientAction::Send(ClientMsg::Bye));
        }
        if !matches!(self.state, State::Idle | State::Quit) {
            out.push(ClientAction::Disconnect);
        }
        self.state = State::Quit;
    }

    /// Feeds one event in; actions are appended to `out`.
    pub fn step(&mut self, now: Instant, event: ClientEvent, out: &mut Vec<ClientAction>) {
        match (self.state, event) {
            (State::Quit, _) => {}
            (State::Idle, ClientEvent::Start) => self.find_leader(now, out),
            (_, ClientEvent::Tick) => self.tick(now, out),
            (State::Connecting { addr, .. }, ClientEvent::Connected) => {
                self.last_heard = now;
                out.push(ClientAction::Send(ClientMsg::Hello {
                    user: self.config.user.clone(),
                    from_index: self.next_index,
                    resume: self.had_session,
                    seen: self.seen.iter().copied().collect(),
                }));
                self.state = State::Greeting {
                    addr,
                    until: now + self.config.server_timeout,
                };
            }
            (State::Connecting { .. } | State::Greeting { .. }, ClientEvent::Disconnected) => {
                self.wait(now);
            }
            (State::Ready { .. }, ClientEvent::Disconnected) => {
                self.lost(now, "connection to the leader closed", out);
            }
            (_, ClientEvent::Received(msg)) => self.on_message(now, msg, out),
            (state, event) => {
                tracing::trace!(?state, ?event, "client event ignored in this state");
            }
        }
    }

    fn on_message(&mut self, now: Instant, msg: ServerMsg, out: &mut Vec<ClientAction>) {
        if matches!(self.state, State::Greeting { .. } | State::Ready { .. }) {
            self.last_heard = now;
        }
        match (self.state, msg) {
            (
                State::Probing { .. },
                ServerMsg::Here {
                    leader: Some(l), ..
                },
            ) => {
                self.connect(now, l.addr, out);
            }
            (
                State::Greeting { .. },
                ServerMsg::Welcome {
                    leader,
                    epoch,
                    users,
                    next_seq,
                    rewrite_from,
                },
            ) => {
                if let Some(from) = rewrite_from {
                    self.rewritten(from, out);
                }
                self.welcomed(now, (leader, epoch), users, next_seq, out);
            }
            (State::Greeting { addr, .. }, ServerMsg::Redirect { leader, .. }) => {
                out.push(ClientAction::Disconnect);
                match leader {
                    Some(l) if l.addr != addr => self.connect(now, l.addr, out),
                    _ => self.wait(now),
                }
            }
            (State::Ready { .. }, ServerMsg::Redirect { leader, .. }) => {
                out.push(ClientAction::Output(ClientOutput::LeaderLost {
                    reason: "the server no longer leads",
                }));
                out.push(ClientAction::Disconnect);
                match leader {
                    Some(l) => self.connect(now, l.addr, out),
                    None => self.wait(now),
                }
            }
            (State::Ready { .. }, ServerMsg::Entries(entries)) => self.entries(now, entries, out),
            (State::Ready { .. }, ServerMsg::Ack { seq }) => self.acked(seq, out),
            (State::Ready { .. }, ServerMsg::Presence { user, joined }) => {
                out.push(ClientAction::Output(ClientOutput::Presence {
                    user,
                    joined,
                }));
            }
            (State::Ready { .. }, ServerMsg::HistoryStarts { first }) => {
                if first > self.next_index {
                    // The stream goes on from there: nothing before it comes.
                    self.next_index = first;
                    self.seen.clear();
                }
                out.push(ClientAction::Output(ClientOutput::HistoryStarts { first }));
            }
            (State::Ready { .. }, ServerMsg::History(entries)) => {
                out.push(ClientAction::Output(ClientOutput::History(entries)));
            }
            (State::Ready { .. } | State::Greeting { .. }, ServerMsg::Refused(why)) => {
                out.push(ClientAction::Output(ClientOutput::Refused(why)));
            }
            (_, other) => {
                tracing::trace!(msg = %other, "client ignored a message");
            }
        }
    }

    /// The leader's history parts from what this client saw: it streams the
    /// merged history from `from`.
    fn rewritten(&mut self, from: u64, out: &mut Vec<ClientAction>) {
        if from == 0 || from >= self.next_index {
            return; // nothing seen from there: nothing to take back
        }
        self.next_index = from;
        while self.seen.back().is_some_and(|r| r.first >= from) {
            self.seen.pop_back();
        }
        if let Some(run) = self.seen.back_mut() {
            run.last = run.last.min(from - 1);
        }
        out.push(ClientAction::Output(ClientOutput::Rewritten { from }));
    }

    /// The leader took the session: resend, in order, the acknowledged messages
    /// it lacks (from `next_seq`, which it expects next) and everything
    /// unacknowledged.
    fn welcomed(
        &mut self,
        now: Instant,
        (leader, epoch): (NodeId, u64),
        users: Vec<String>,
        next_seq: u64,
        out: &mut Vec<ClientAction>,
    ) {
        self.retry = self.config.retry_min;
        self.had_session = true;
        self.state = State::Ready { leader, epoch };
        self.last_ping = now;
        out.push(ClientAction::Output(ClientOutput::Connected {
            leader,
            epoch,
            users,
        }));
        if let Some(old) = self.last_leader.filter(|o| *o != leader) {
            out.push(ClientAction::Output(ClientOutput::LeaderChanged {
                old,
                new: leader,
                epoch,
            }));
        }
        self.last_leader = Some(leader);
        let lacking = self.kept.iter().filter(|(seq, _)| *seq >= next_seq);
        for (seq, what) in lacking.chain(&self.buffer) {
            out.push(ClientAction::Send(what.message(*seq)));
        }
    }

    /// Committed entries from the leader's stream, in order and without gaps.
    fn entries(&mut self, now: Instant, entries: Vec<Entry>, out: &mut Vec<ClientAction>) {
        for e in entries {
            if e.index < self.next_index {
                continue; // seen already
            }
            if e.index > self.next_index {
                tracing::warn!(
                    expected = self.next_index,
                    got = e.index,
                    "gap in the leader's stream; reconnecting"
                );
                return self.lost(now, "gap in the stream", out);
            }
            self.next_index += 1;
            self.saw(&e);
            out.push(ClientAction::Output(ClientOutput::Entry(e)));
        }
    }

    /// Extends the runs seen with entry `e` (the next in the stream).
    fn saw(&mut self, e: &Entry) {
        match self.seen.back_mut() {
            Some(run) if run.stamp == e.stamp() && run.last + 1 == e.index => run.last = e.index,
            _ => {
                if self.seen.len() >= MAX_SEEN_RUNS {
                    self.seen.pop_front();
                }
                self.seen.push_back(SeenRun {
                    stamp: e.stamp(),
                    first: e.index,
                    last: e.index,
                });
            }
        }
    }

    /// Everything up to `seq` is committed: move it from the buffer to the kept.
    fn acked(&mut self, seq: u64, out: &mut Vec<ClientAction>) {
        let before = self.buffer.len();
        while self.buffer.front().is_some_and(|(s, _)| *s <= seq) {
            if let Some(done) = self.buffer.pop_front() {
                if self.kept.len() >= self.config.buffer_limit {
                    self.kept.pop_front();
                }
                self.kept.push_back(done);
            }
        }
        if self.buffer.len() != before {
            out.push(ClientAction::Output(ClientOutput::Acked { seq }));
        }
    }

    fn tick(&mut self, now: Instant, out: &mut Vec<ClientAction>) {
        match self.state {
            State::Probing { until } | State::Waiting { until } if now >= until => {
                self.find_leader(now, out);
            }
            State::Connecting { until, .. } | State::Greeting { until, .. } if now >= until => {
                out.push(ClientAction::Disconnect);
                self.wait(now);
            }
            State::Ready { .. } => {
                if now >= self.last_heard + self.config.server_timeout {
                    out.push(ClientAction::Disconnect);
                    self.lost(now, "the leader went silent", out);
                } else if now >= self.last_ping + self.config.ping_interval {
                    self.last_ping = now;
                    out.push(ClientAction::Send(ClientMsg::Ping));
                }
            }
            _ => {}
        }
    }

    fn lost(&mut self, now: Instant, reason: &'static str, out: &mut Vec<ClientAction>) {
        out.push(ClientAction::Output(ClientOutput::LeaderLost { reason }));
        self.avoid = self.connected_to;
        self.find_leader(now, out);
    }

    fn wait(&mut self, now: Instant) {
        let pause = self.retry.clamp(
            self.config.retry_min,
            self.config.retry_interval.max(self.config.retry_min),
        );
        self.retry = pause * 2;
        self.state = State::Waiting { until: now + pause };
    }

    fn connect(&mut self, now: Instant, addr: SocketAddr, out: &mut Vec<ClientAction>) {
        self.connected_to = Some(addr);
        out.push(ClientAction::Connect(addr));
        self.state = State::Connecting {
            addr,
            until: now + self.config.server_timeout,
        };
    }

    fn find_leader(&mut self, now: Instant, out: &mut Vec<ClientAction>) {
        let n = self.config.servers.len();
        if let Some(addr) = self
            .config
            .servers
            .get(self.next_server % n.max(1))
            .copied()
        {
            self.next_server = (self.next_server + 1) % n;
            if self.avoid.take() == Some(addr) && n > 1 {
                return self.find_leader(now, out);
            }
            return self.connect(now, addr, out);
        }
        out.push(ClientAction::Probe(ClientMsg::Probe));
        self.state = State::Probing {
            until: now + self.config.probe_wait,
        };
    }
}
