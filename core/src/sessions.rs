//! The leader's client sessions: who is connected, what each has been sent, and
//! which of its messages await their commit to be acknowledged.
//!
//! Only the leader holds sessions. A non-leader answers every client request with a
//! redirect to the leader it knows of, never by pretending to lead. A hello that
//! arrives while no leader is known (an election is under way) is held for up to a
//! third of the client timeout and answered the moment a leader is known, so a
//! client reaches the new leader within a round trip of its election instead of
//! after its next retry; only then "no leader" is the answer. When the leader stops
//! leading it redirects and closes every session, so clients move on at once.

use crate::action::Action;
use crate::chat::ChatMessage;
use crate::context::Ctx;
use crate::log::{ClientMsgId, Entry, Log, Offer, SeenRun};
use crate::replication::Replication;
use crate::time::Instant;
use crate::wire::{
    ClientId, ClientMsg, ServerMsg, MAX_CHAT_BYTES, MAX_HISTORY, MAX_SEEN_RUNS, MAX_USER_NAME,
};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// Most entries in one push to a client.
const PUSH_MAX: usize = 512;

// A `/history` is answered from the log's window in memory.
const _: () = assert!(crate::log::KEEP_MIN >= 2 * crate::wire::MAX_HISTORY as usize);
/// Users named in a welcome.
const WELCOME_USERS_MAX: usize = 100;
/// Most messages a session holds while its leader is still syncing.
const HELD_MAX: usize = 10_000;

#[derive(Clone, Debug)]
struct Session {
    user: String,
    /// Next committed index to push.
    next: u64,
    last_heard: Instant,
    /// Log index -> the client's number at that index, awaiting commit.
    awaiting: BTreeMap<u64, u64>,
    /// Messages received while the leader was not yet serving, or that wait for
    /// earlier numbers of the same client: their numbers and payloads (a chat
    /// message already signed).
    held: VecDeque<(u64, Vec<u8>)>,
    /// Whether waiting for earlier numbers was logged (once per session).
    gap_reported: bool,
}

/// What a client's hello says.
#[derive(Clone, Debug)]
struct Greeting {
    user: String,
    from_index: u64,
    resume: bool,
    seen: Vec<SeenRun>,
}

/// A hello held while no leader is known.
#[derive(Clone, Debug)]
struct Waiting {
    until: Instant,
    greeting: Greeting,
}

/// The leader's client sessions.
#[derive(Clone, Debug)]
pub(crate) struct Sessions {
    sessions: BTreeMap<ClientId, Session>,
    /// The epoch the sessions belong to: their pending acknowledgements name
    /// indexes of this leadership's log, meaningless in any other.
    epoch: Option<u64>,
    /// The commit index the sessions were last brought up to.
    delivered: u64,
    /// A session changed since (a hello, a chat, held messages): walk them again.
    dirty: bool,
    /// A session waits for entries read back from the disk: walk them again
    /// every step until they came.
    reading: bool,
    timeout: Duration,
    next_check: Instant,
    /// Hellos held while no leader is known, answered once one is.
    waiting: BTreeMap<ClientId, Waiting>,
    /// Some session may hold messages: set when one is held, cleared when a
    /// walk of the sessions finds none. Every step asks; the walk is for
    /// the steps that may find some.
    may_hold: bool,
}

impl Sessions {
    /// Hashes the sessions but for their times (see
    /// [`crate::Node::fingerprint`]).
    pub(crate) fn fingerprint(&self, mut h: &mut dyn std::hash::Hasher) {
        use std::hash::Hash;
        for (client, s) in &self.sessions {
            (client, s.next, &s.awaiting, s.held.len()).hash(&mut h);
        }
        (self.epoch, self.delivered, self.dirty, self.reading).hash(&mut h);
        self.waiting.keys().for_each(|c| c.hash(&mut h));
    }

    pub(crate) fn new(timeout: Duration) -> Self {
        Sessions {
            sessions: BTreeMap::new(),
            epoch: None,
            delivered: 0,
            dirty: false,
            reading: false,
            timeout,
            next_check: Instant::MAX,
            waiting: BTreeMap::new(),
            may_hold: false,
        }
    }

    /// Connected users, for status.
    pub(crate) fn users(&self) -> Vec<(ClientId, String)> {
        self.sessions
            .iter()
            .map(|(c, s)| (*c, s.user.clone()))
            .collect()
    }

    pub(crate) fn next_deadline(&self) -> Instant {
        self.next_check
    }

    fn reschedule(&mut self) {
        let sessions = self.sessions.values().map(|s| s.last_heard + self.timeout);
        let waiting = self.waiting.values().map(|w| w.until);
        self.next_check = sessions.chain(waiting).min().unwrap_or(Instant::MAX);
    }

    pub(crate) fn on_message(
        &mut self,
        cx: &mut Ctx<'_>,
        repl: &mut Replication,
        client: ClientId,
        msg: ClientMsg,
    ) {
        if let ClientMsg::Probe = msg {
            let (server, leader, epoch) = (cx.me, cx.leader_info(), cx.lead.epoch);
            return cx.send_client(
                client,
                ServerMsg::Here {
                    server,
                    leader,
                    epoch,
                },
            );
        }
        if !cx.leading() {
            if let Some(s) = self.sessions.remove(&client) {
                tracing::debug!(%client, user = %s.user, "session ended: no longer leading");
            }
            if let (None, ClientMsg::Hello { .. }) = (cx.leader_info(), &msg) {
                if let Some(greeting) = Greeting::of(msg) {
                    let until = cx.now + self.timeout / 3;
                    self.waiting.insert(client, Waiting { until, greeting });
                }
                return self.reschedule();
            }
            self.waiting.remove(&client);
            let (leader, epoch) = (cx.leader_info(), cx.lead.epoch);
            return cx.send_client(client, ServerMsg::Redirect { leader, epoch });
        }
        if let Some(s) = self.sessions.get_mut(&client) {
            s.last_heard = cx.now;
        }
        self.dirty = true;
        match msg {
            ClientMsg::Probe => {}
            hello @ ClientMsg::Hello { .. } => {
                if let Some(greeting) = Greeting::of(hello) {
                    self.hello(cx, repl.log(), client, greeting);
                }
            }
            ClientMsg::Chat { seq, text } => self.take(cx, repl, client, seq, Payload::Chat(text)),
            ClientMsg::Write { seq, payload } => {
                self.take(cx, repl, client, seq, Payload::Write(payload));
            }
            ClientMsg::History { last } => history(cx, repl.log(), client, last),
            ClientMsg::Ping => cx.send_client(client, ServerMsg::Pong),
            ClientMsg::Bye => {
                if let Some(s) = self.sessions.remove(&client) {
                    tracing::info!(%client, user = %s.user, "client left");
                    self.tell_others(cx, client, &s.user, false);
                }
                cx.out.push(Action::CloseClient(client));
            }
        }
        self.reschedule();
    }

    /// A chat message or an application's entry: held in order, and offered
    /// at once while serving.
    fn take(
        &mut self,
        cx: &mut Ctx<'_>,
        repl: &mut Replication,
        client: ClientId,
        seq: u64,
        payload: Payload,
    ) {
        let Some(s) = self.sessions.get_mut(&client) else {
            return refuse(cx, client, "no session: send Hello first".into());
        };
        let (Payload::Chat(bytes) | Payload::Write(bytes)) = &payload;
        if bytes.len() > MAX_CHAT_BYTES {
            return refuse(
                cx,
                client,
                format!(
                    "message #{seq} is {} bytes; the limit is {MAX_CHAT_BYTES}",
                    bytes.len()
                ),
            );
        }
        // A chat message is signed with the session's user name, and an
        // application's entry may not read as one: a client cannot write in
        // another's name.
        let entry = match payload {
            Payload::Chat(text) => ChatMessage {
                author: &s.user,
                text: &text,
            }
            .encode()
            .into_vec(),
            Payload::Write(raw) if crate::chat::is_chat_payload(&raw) => {
                return refuse(
                    cx,
                    client,
                    format!("entry #{seq} starts as a chat message does (byte 0xFF): send it as a chat message"),
                );
            }
            Payload::Write(raw) => raw,
        };
        if s.held.len() >= HELD_MAX {
            return refuse(
                cx,
                client,
                "too many messages while the leader syncs".into(),
            );
        }
        s.held.push_back((seq, entry));
        self.may_hold = true;
        if repl.serving() {
            offer_held(cx, repl, client, s);
        }
    }

    fn hello(&mut self, cx: &mut Ctx<'_>, log: &Log, client: ClientId, greeting: Greeting) {
        let Greeting {
            user,
            from_index,
            resume,
            seen,
        } = greeting;
        if crate::proposals::is_local_client(client.0) {
            // The range of the node's own proposals: a client there could
            // collide with them (and be taken for them).
            refuse(cx, client, "client ids from 2^63 up are reserved".into());
            return cx.out.push(Action::CloseClient(client));
        }
        if user.is_empty() || user.len() > MAX_USER_NAME || user.chars().any(char::is_control) {
            refuse(
                cx,
                client,
                format!("user name must be 1 to {MAX_USER_NAME} printable bytes"),
            );
            return cx.out.push(Action::CloseClient(client));
        }
        let known = self.sessions.contains_key(&client);
        let from_index = from_index.max(1);
        let rewrite_from = parted_at(log, from_index, &seen);
        if let Some(at) = rewrite_from {
            tracing::info!(%client, %user, saw_up_to = from_index - 1, merged_from = at, "client saw another branch of a split brain: its history is rewritten");
        } else {
            tracing::info!(%client, %user, resume, "client connected");
        }
        self.sessions.insert(
            client,
            Session {
                user: user.clone(),
                next: rewrite_from.unwrap_or(from_index),
                last_heard: cx.now,
                awaiting: BTreeMap::new(),
                held: VecDeque::new(),
                gap_reported: false,
            },
        );
        // A greeting, not a directory: a bounded sample keeps it small however
        // many clients are connected.
        let users = self
            .sessions
            .values()
            .map(|s| s.user.clone())
            .take(WELCOME_USERS_MAX)
            .collect();
        let next_seq = log.client_position(client.0).0.saturating_add(1);
        cx.send_client(
            client,
            ServerMsg::Welcome {
                leader: cx.me.id,
                epoch: cx.lead.epoch,
                users,
                next_seq,
                rewrite_from,
            },
        );
        if !resume && !known {
            self.tell_others(cx, client, &user, true);
        }
    }

    fn tell_others(&self, cx: &mut Ctx<'_>, about: ClientId, user: &str, joined: bool) {
        for &c in self.sessions.keys().filter(|c| **c != about) {
            cx.send_client(
                c,
                ServerMsg::Presence {
                    user: user.to_owned(),
                    joined,
                },
            );
        }
    }

    /// A client's stream closed.
    pub(crate) fn gone(&mut self, cx: &mut Ctx<'_>, client: ClientId) {
        self.waiting.remove(&client);
        if let Some(s) = self.sessions.remove(&client) {
            tracing::info!(%client, user = %s.user, "client disconnected");
            self.tell_others(cx, client, &s.user, false);
            self.reschedule();
        }
    }

    /// Time passed: drop silent clients.
    pub(crate) fn tick(&mut self, cx: &mut Ctx<'_>) {
        if cx.now < self.next_check {
            return;
        }
        let silent: Vec<ClientId> = self
            .sessions
            .iter()
            .filter(|(_, s)| cx.now >= s.last_heard + self.timeout)
            .map(|(c, _)| *c)
            .collect();
        for client in silent {
            if let Some(s) = self.sessions.remove(&client) {
                tracing::info!(%client, user = %s.user, "client timed out");
                self.tell_others(cx, client, &s.user, false);
                cx.out.push(Action::CloseClient(client));
            }
        }
        let now = cx.now;
        let expired: Vec<ClientId> = self
            .waiting
            .iter()
            .filter(|(_, w)| now >= w.until)
            .map(|(c, _)| *c)
            .collect();
        for client in expired {
            self.waiting.remove(&client);
            let epoch = cx.lead.epoch;
            cx.send_client(
                client,
                ServerMsg::Redirect {
                    leader: None,
                    epoch,
                },
            );
        }
        self.reschedule();
    }

    /// A leader is known again: answer the hellos held meanwhile.
    fn answer_waiting(&mut self, cx: &mut Ctx<'_>, log: &Log) {
        if self.waiting.is_empty() || cx.leader_info().is_none() {
            return;
        }
        for (client, w) in std::mem::take(&mut self.waiting) {
            if cx.leading() {
                self.hello(cx, log, client, w.greeting);
            } else {
                let (leader, epoch) = (cx.leader_info(), cx.lead.epoch);
                cx.send_client(client, ServerMsg::Redirect { leader, epoch });
            }
        }
        self.reschedule();
    }

    /// Whether [`offer`](Self::offer) would find nothing to do for a node
    /// leading `leading` (its epoch, `None` when not leading): the leadership
    /// is the one it followed, no hello waits, no message is held.
    pub(crate) fn nothing_to_offer(&self, leading: Option<u64>) -> bool {
        debug_assert!(
            self.may_hold || self.sessions.values().all(|s| s.held.is_empty()),
            "a session holds messages the flag does not know of"
        );
        self.epoch == leading && self.waiting.is_empty() && !self.may_hold
    }

    /// Whether [`deliver`](Self::deliver) would find nothing to do with the
    /// log committed up to `commit` (its own first test).
    pub(crate) fn nothing_to_deliver(&self, commit: u64) -> bool {
        self.epoch.is_none() || (!self.dirty && !self.reading && commit == self.delivered)
    }

    /// End of a step, before replication's flush: follow a change of leadership,
    /// answer hellos held while no leader was known, and offer the messages held
    /// while this leader was syncing, so they leave in the flush's batch.
    #[inline(never)]
    pub(crate) fn offer(&mut self, cx: &mut Ctx<'_>, repl: &mut Replication) {
        let current = cx.leading().then_some(cx.lead.epoch);
        if self.epoch != current {
            self.epoch = current;
            if !self.sessions.is_empty() {
                // Possibly to this very node, leading a new epoch: the clients come
                // back and resend, and the acknowledgements start afresh.
                let (leader, epoch) = (cx.leader_info(), cx.lead.epoch);
                tracing::info!(
                    sessions = self.sessions.len(),
                    "leadership changed: redirecting clients"
                );
                self.may_hold = false;
                for client in std::mem::take(&mut self.sessions).into_keys() {
                    cx.send_client(client, ServerMsg::Redirect { leader, epoch });
                    cx.out.push(Action::CloseClient(client));
                }
                self.reschedule();
            }
        }
        // After the sessions of an old leadership are gone, not before.
        self.answer_waiting(cx, repl.log());
        if current.is_none() || !repl.serving() {
            return;
        }
        let mut holding = false;
        for (&client, s) in self.sessions.iter_mut() {
            if !s.held.is_empty() {
                offer_held(cx, repl, client, s);
                self.dirty = true;
                holding |= !s.held.is_empty();
            }
        }
        self.may_hold = holding;
    }

    /// End of a step, after replication's flush (which may have committed):
    /// acknowledge what committed and push the committed entries each client
    /// has not seen yet.
    #[inline(never)]
    pub(crate) fn deliver(&mut self, cx: &mut Ctx<'_>, log: &Log) {
        let commit = log.commit_index();
        // Most steps change nothing here.
        if self.nothing_to_deliver(commit) {
            return;
        }
        self.dirty = false;
        let mut reading = false;
        for (&client, s) in self.sessions.iter_mut() {
            let mut acked = None;
            while let Some(entry) = s.awaiting.first_entry() {
                if *entry.key() > commit {
                    break;
                }
                acked = acked.max(Some(entry.remove()));
            }
            if let Some(seq) = acked {
                cx.send_client(client, ServerMsg::Ack { seq });
            }
            if s.next < log.start() {
                // Compacted away: say where the retained history starts.
                s.next = log.start();
                cx.send_client(client, ServerMsg::HistoryStarts { first: s.next });
            }
            while s.next <= commit {
                if log.missing(s.next) {
                    // Older than the window in memory: read back first.
                    cx.want_read(s.next);
                    reading = true;
                    break;
                }
                let n = usize::try_from(commit - s.next + 1)
                    .unwrap_or(PUSH_MAX)
                    .min(PUSH_MAX);
                let entries = log.entries_from(s.next, n).to_vec();
                if entries.is_empty() {
                    break;
                }
                s.next += entries.len() as u64;
                cx.send_client(client, ServerMsg::Entries(entries));
            }
        }
        self.delivered = commit;
        self.reading = reading;
    }

    /// Entries were read back from the disk: the sessions waiting for them go on.
    pub(crate) fn on_read(&mut self) {
        self.dirty = true;
    }
}

/// The last `last` committed messages (markers left out), oldest first.
fn history(cx: &mut Ctx<'_>, log: &Log, client: ClientId, last: u32) {
    let n = last.min(MAX_HISTORY) as usize;
    let committed = log.committed();
    let newest = committed.iter().rev().filter(|e| !e.is_marker()).take(n);
    // The newest that fit in one message.
    let fit = crate::log::fitting(newest.clone());
    let mut entries: Vec<Entry> = newest.take(fit).cloned().collect();
    entries.reverse();
    if entries.len() < n && log.start() > 1 {
        // Fewer than asked for, and older ones were compacted away.
        cx.send_client(client, ServerMsg::HistoryStarts { first: log.start() });
    }
    cx.send_client(client, ServerMsg::History(entries));
}

fn refuse(cx: &mut Ctx<'_>, client: ClientId, why: String) {
    tracing::info!(%client, %why, "client request refused");
    cx.send_client(client, ServerMsg::Refused(why));
}

impl Greeting {
    fn of(msg: ClientMsg) -> Option<Greeting> {
        match msg {
            ClientMsg::Hello {
                user,
                from_index,
                resume,
                mut seen,
            } => {
                // Only the newest runs count; more is a client to distrust.
                let extra = seen.len().saturating_sub(MAX_SEEN_RUNS);
                seen.drain(..extra);
                Some(Greeting {
                    user,
                    from_index,
                    resume,
                    seen,
                })
            }
            _ => None,
        }
    }
}

/// Where a resuming client's history parts from this leader's: the index the
/// stream must start again from, when that is before where the client stands.
/// Only a `bully`/`ring` split brain makes histories part; the runs the client
/// saw name its history (see [`Log::shared_with`]).
fn parted_at(log: &Log, from_index: u64, seen: &[SeenRun]) -> Option<u64> {
    if from_index <= 1 || seen.is_empty() {
        return None;
    }
    let shared = log.shared_with(seen).min(from_index - 1);
    (shared + 1 < from_index).then_some(shared + 1)
}

/// What a client asked to append.
enum Payload {
    /// A chat message's text.
    Chat(Vec<u8>),
    /// An application's entry, as it is.
    Write(Vec<u8>),
}

/// Offers a session's held messages in order, while the leader serves. A message
/// leaves the queue only once the log has taken it; one that comes after numbers
/// this log lacks waits (a client that moved between the sides of a split brain:
/// its earlier messages come in when the branches merge), and is offered again at
/// the end of every step until they do.
fn offer_held(cx: &mut Ctx<'_>, repl: &mut Replication, client: ClientId, s: &mut Session) {
    while let Some(&(seq, _)) = s.held.front() {
        let expected = repl.log().client_position(client.0).0.saturating_add(1);
        if seq > expected {
            if !s.gap_reported {
                s.gap_reported = true;
                tracing::warn!(%client, seq, expected, "client's earlier messages are not in this log (another branch of a split brain?); holding its later ones until they are");
            }
            return;
        }
        let Some((seq, payload)) = s.held.pop_front() else {
            return;
        };
        let id = ClientMsgId {
            client: client.0,
            seq,
        };
        match repl.propose(Entry::new(id, payload, cx.now)) {
            Ok(Offer::Appended(i) | Offer::Duplicate(i) | Offer::Old(i)) => {
                s.awaiting.insert(i, seq);
            }
            Ok(Offer::Gap { expected }) => {
                // Checked above; only a client claiming the markers' id gets here.
                tracing::warn!(%client, seq, expected, "client message refused: not in order");
            }
            Err(why) => {
                // Checked above; cannot happen within one step.
                tracing::error!(%client, seq, ?why, "leader stopped serving while offering");
                return;
            }
        }
    }
}
