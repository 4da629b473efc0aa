//! One state of a small cluster under exhaustive exploration, and the moves
//! out of it: the very `Node` code, a network that is a bag of messages in
//! flight (any may be delivered next, dropped or delivered twice), a disk per
//! node whose writes become stable only when the explorer says so, timers
//! that fire in any order, machine crashes and restarts, and optionally a
//! client (the core's sans-IO one) handed messages one move at a time.
//!
//! Time is each node's own: a node's clock moves only when one of its timers
//! fires (to that deadline), so every order of timers across nodes is one of
//! the moves and no property checked here may rest on timing (the quorum
//! lease is left to the random simulator).

use super::client::ClientSide;
use super::flight::{Carried, InFlight};
use super::words::{node_name, path};
use crate::addr::sim_addr;
use crate::bugs::InjectedBug;
use crate::disk::{write_ahead, Disk, Write};
use crate::invariants::{ElectionChecker, ReplicationChecker};
use ringleader_core::client::ClientEvent;
use ringleader_core::wire::{Message, ServerMsg};
use ringleader_core::{Action, Algorithm, Config, Event, Instant, Node, NodeId};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Most deadlines one timer move goes through before its node does
/// something (a node with nothing to do ticks for ever).
const QUIET_TICKS_MAX: usize = 10_000;

/// One move out of a state. Messages are named by their place among those
/// in flight (in the order they were sent), nodes by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    /// The message arrives (at a node that is down, it is lost).
    Deliver(u16),
    /// The network loses the message.
    Drop(u16),
    /// The message arrives, and a copy stays in flight.
    Duplicate(u16),
    /// The node's earliest timer fires (under a shared clock: the earliest
    /// timer of any node, whichever the number says).
    Timer(u8),
    /// The client's earliest timer fires (under a shared clock: when it is
    /// the earliest of all).
    ClientTimer,
    /// The user hands the client its next message.
    Submit,
    /// The node's disk finishes its sync: the writes it covered are stable.
    Sync(u8),
    /// The node's machine crashes: what no sync made stable is lost.
    Crash(u8),
    /// The node's process dies: what it wrote reaches the disk all the same
    /// (the system has it), the sync under way dies with it, and the
    /// client's connection to it is reset.
    Kill(u8),
    /// A node that crashed or was killed starts again from its disk.
    Restart(u8),
}

/// `m` as a script writes it: `deliver 3` (the fourth message in flight, in
/// the order sent), `drop 3`, `duplicate 3`, `timer n1`, `sync n2`, `crash
/// n3`, `kill n3`, `restart n3`, `submit`, `timer c1`.
impl fmt::Display for Move {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let node = |i: u8| node_name(usize::from(i));
        match *self {
            Move::Deliver(k) => write!(f, "deliver {k}"),
            Move::Drop(k) => write!(f, "drop {k}"),
            Move::Duplicate(k) => write!(f, "duplicate {k}"),
            Move::Timer(i) => write!(f, "timer {}", node(i)),
            Move::ClientTimer => f.write_str("timer c1"),
            Move::Submit => f.write_str("submit"),
            Move::Sync(i) => write!(f, "sync {}", node(i)),
            Move::Crash(i) => write!(f, "crash {}", node(i)),
            Move::Kill(i) => write!(f, "kill {}", node(i)),
            Move::Restart(i) => write!(f, "restart {}", node(i)),
        }
    }
}

impl Move {
    /// The node the move is made on, if it is made on one.
    pub fn node(self) -> Option<u8> {
        match self {
            Move::Timer(i) | Move::Sync(i) | Move::Crash(i) | Move::Kill(i) | Move::Restart(i) => {
                Some(i)
            }
            Move::Deliver(_)
            | Move::Drop(_)
            | Move::Duplicate(_)
            | Move::ClientTimer
            | Move::Submit => None,
        }
    }
}

/// How far the moves abstract from a real network and disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mode {
    /// One clock for every node: timers fire in the order of their
    /// deadlines (not in every order), and heartbeats arrive the moment they
    /// are sent (failure detection as on a quiet network). Much smaller
    /// spaces; what rests on timers firing out of order is not explored.
    pub shared_clock: bool,
    /// A disk finishes its sync right after the step that wrote, instead of
    /// as a move of its own (the write-ahead check still sees a message that
    /// leaves before its write).
    pub syncs_at_once: bool,
    /// A client joins (its session is open when exploring starts) and is
    /// handed up to this many chat messages, each a move; 0: no client.
    pub client_messages: u32,
}

/// How many faults a path may hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Budget {
    /// Messages lost.
    pub drops: u32,
    /// Messages delivered twice.
    pub duplicates: u32,
    /// Crashes: of a machine, or of a process only.
    pub crashes: u32,
}

/// One server: its node while it runs, its disk always.
#[derive(Clone, Debug)]
pub(crate) struct Server {
    pub(crate) id: NodeId,
    config: Config,
    pub(crate) node: Option<Node>,
    pub(crate) disk: Disk,
    /// The node's clock.
    local: Instant,
    pub(crate) lives: u64,
    /// It crashed since it last started.
    lost_power: bool,
}

/// The whole cluster at one point of a path.
#[derive(Clone, Debug)]
pub struct Model {
    pub(crate) servers: Vec<Server>,
    pub(crate) flight: Vec<InFlight>,
    /// The client, when the mode has one.
    pub(crate) client: Option<ClientSide>,
    /// Faults the path to here used.
    pub(crate) used: Budget,
    /// Who led each epoch, as the path went (what `one_leader_per_epoch`
    /// rests on, so it is part of the state).
    pub(crate) leaders: BTreeMap<u64, NodeId>,
    /// Moves taken: the checkers' clock (a millisecond each).
    pub(super) steps: u64,
    election: ElectionChecker,
    pub(crate) replication: ReplicationChecker,
    bug: InjectedBug,
    seed: u64,
    mode: Mode,
    /// A majority of the voters.
    majority: usize,
    /// Heartbeats under a shared clock, delivered after the step that sent
    /// them.
    pub(super) at_once: Vec<InFlight>,
    /// What happened, for the trace viewer (a replay only).
    pub(super) records: Option<Vec<crate::trace::Record>>,
}

/// What went wrong in a state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The invariant, as the random simulator names it.
    pub invariant: &'static str,
    /// What happened.
    pub detail: String,
}

impl Model {
    /// `nodes` nodes of `config` (voters filled in), each started once.
    pub fn new(nodes: usize, config: &Config, bug: InjectedBug, seed: u64, mode: Mode) -> Model {
        let mut config = config.clone();
        if config.voters.is_empty() {
            config.voters = (1..=nodes as u32).map(NodeId).collect();
        }
        let servers = (0..nodes)
            .map(|i| {
                let id = NodeId(i as u32 + 1);
                let mut own = Config {
                    addr: sim_addr(id),
                    ..config.clone()
                };
                bug.configure(&mut own, id);
                Server {
                    id,
                    config: own,
                    node: None,
                    disk: Disk::default(),
                    local: Instant::ZERO,
                    lives: 0,
                    lost_power: false,
                }
            })
            .collect();
        let quorum = config.election == Algorithm::Quorum;
        let client =
            (mode.client_messages > 0).then(|| ClientSide::new(nodes, mode.client_messages));
        let mut model = Model {
            servers,
            flight: Vec::new(),
            client,
            used: Budget::default(),
            leaders: BTreeMap::new(),
            steps: 0,
            election: ElectionChecker::new(&config, nodes, Duration::from_millis(2)),
            // No partition ever: a split history is a violation under every
            // algorithm, as in a random run without cuts.
            replication: ReplicationChecker::new(
                nodes,
                usize::from(mode.client_messages > 0),
                true,
                quorum,
            ),
            bug,
            seed,
            mode,
            majority: ringleader_core::leadership::majority(config.voters.len()),
            at_once: Vec::new(),
            records: None,
        };
        for i in 0..nodes {
            model.start(i);
        }
        model.client_step(ClientEvent::Start);
        model
    }

    /// Every move that can be made from here within `budget`, in a fixed order.
    /// Unless `any_order`, messages between two nodes arrive in the order they
    /// were sent, as on the connection that carries them (one lost or
    /// duplicated is still a move).
    pub fn moves(&self, budget: Budget, any_order: bool) -> Vec<Move> {
        let mut out = Vec::new();
        let mut seen: Vec<(usize, usize)> = Vec::new();
        for (k, f) in self.flight.iter().enumerate().take(usize::from(u16::MAX)) {
            if !any_order {
                if seen.contains(&(f.from, f.to)) {
                    continue;
                }
                seen.push((f.from, f.to));
            }
            let k = k as u16;
            out.push(Move::Deliver(k));
            if self.used.drops < budget.drops {
                out.push(Move::Drop(k));
            }
            if self.used.duplicates < budget.duplicates {
                out.push(Move::Duplicate(k));
            }
        }
        let earliest = self
            .mode
            .shared_clock
            .then(|| self.earliest_deadline().map(|(_, i)| i))
            .flatten();
        let timer = |i: usize| {
            if self.mode.shared_clock {
                earliest == Some(i)
            } else {
                self.deadline_of(i).is_some()
            }
        };
        for (i, s) in self.servers.iter().enumerate().take(usize::from(u8::MAX)) {
            let timer = timer(i);
            let i = i as u8;
            match &s.node {
                Some(_) => {
                    if timer {
                        out.push(Move::Timer(i));
                    }
                    if s.disk.syncing().is_some() {
                        out.push(Move::Sync(i));
                    }
                    if self.used.crashes < budget.crashes {
                        out.push(Move::Crash(i));
                        out.push(Move::Kill(i));
                    }
                }
                None => out.push(Move::Restart(i)),
            }
        }
        if let Some(c) = &self.client {
            if timer(self.servers.len()) {
                out.push(Move::ClientTimer);
            }
            if c.may_submit() {
                out.push(Move::Submit);
            }
        }
        out
    }

    /// The earliest deadline of a node that runs or of the client (numbered
    /// after the nodes), and whose it is.
    fn earliest_deadline(&self) -> Option<(Instant, usize)> {
        (0..=self.servers.len())
            .filter_map(|i| Some((self.deadline_of(i)?, i)))
            .min()
    }

    /// When endpoint `i` (a node that runs, or the client) has its next timer.
    fn deadline_of(&self, i: usize) -> Option<Instant> {
        match self.servers.get(i) {
            Some(s) => s.node.as_ref()?.next_deadline(),
            None if i == self.servers.len() => self.client.as_ref()?.client.next_deadline(),
            None => None,
        }
    }

    /// Makes `m`; false (and nothing changed) when it cannot be made here.
    pub fn apply(&mut self, m: Move) -> bool {
        self.steps += 1;
        match m {
            Move::Deliver(k) | Move::Duplicate(k) => {
                let k = usize::from(k);
                if k >= self.flight.len() {
                    return false;
                }
                let f = if let Move::Duplicate(_) = m {
                    self.used.duplicates += 1;
                    self.flight.get(k).cloned()
                } else {
                    Some(self.flight.remove(k))
                };
                if let Some(f) = f {
                    self.deliver(f);
                }
            }
            Move::Drop(k) => {
                if usize::from(k) >= self.flight.len() {
                    return false;
                }
                let f = self.flight.remove(usize::from(k));
                self.note_message(&f, Some("lost"));
                self.used.drops += 1;
            }
            Move::Timer(i) => return self.fire(usize::from(i)),
            Move::ClientTimer => return self.fire(self.servers.len()),
            Move::Submit => {
                if !self.client.as_ref().is_some_and(ClientSide::may_submit) {
                    return false;
                }
                self.with_client(ClientSide::submit);
            }
            Move::Sync(i) => return self.sync(usize::from(i)),
            Move::Crash(i) => return self.crash(usize::from(i), true),
            Move::Kill(i) => return self.crash(usize::from(i), false),
            Move::Restart(i) => {
                let i = usize::from(i);
                if self.servers.get(i).is_none_or(|s| s.node.is_some()) {
                    return false;
                }
                self.note(|_| m.to_string());
                self.start(i);
            }
        }
        true
    }

    /// Discovery first: syncs finished, messages delivered in the order sent
    /// and timers fired in the order of their deadlines, until every node
    /// running counts every other live, the client (if any) has its session
    /// and nothing is in flight (or `max` moves). Returns the moves made,
    /// the start of every path explored from here.
    pub fn settle(&mut self, max: usize) -> Vec<Move> {
        let mut made = Vec::new();
        while made.len() < max && !self.discovered() {
            let syncing = self.servers.iter().position(|s| s.disk.syncing().is_some());
            let next = if let Some(i) = syncing {
                Move::Sync(i as u8)
            } else if self.flight.is_empty() {
                match self.earliest_deadline() {
                    Some((_, i)) if i == self.servers.len() => Move::ClientTimer,
                    Some((_, i)) => Move::Timer(i as u8),
                    None => break,
                }
            } else {
                Move::Deliver(0)
            };
            if !self.apply(next) {
                break;
            }
            made.push(next);
        }
        made
    }

    fn discovered(&self) -> bool {
        let n = self.servers.len();
        self.flight.is_empty()
            && self
                .client
                .as_ref()
                .is_none_or(|c| c.client.phase() == ringleader_core::client::Phase::Ready)
            && self.servers.iter().all(|s| s.disk.syncing().is_none())
            && self.servers.iter().all(|s| {
                s.node
                    .as_ref()
                    .is_none_or(|node| node.members().live().count() + 1 >= n)
            })
    }

    /// The first violation of a safety invariant on the path to here.
    pub fn broken(&self) -> Option<Broken> {
        self.election
            .violations()
            .iter()
            .chain(self.replication.violations())
            .find(|v| v.explained_by.is_none())
            .map(|v| Broken {
                invariant: v.invariant,
                detail: v.detail.clone(),
            })
    }

    /// `m` in words, in this state (before it is made).
    pub fn describe(&self, m: Move) -> String {
        let n = self.servers.len();
        let flight = |k: u16| {
            self.flight
                .get(usize::from(k))
                .map_or_else(|| "?".to_owned(), |f| path(f, n))
        };
        match m {
            Move::Deliver(k) => format!("deliver {}", flight(k)),
            Move::Drop(k) => format!("drop {}", flight(k)),
            Move::Duplicate(k) => format!("deliver twice {}", flight(k)),
            Move::Timer(_) if self.mode.shared_clock => "timers".to_owned(),
            Move::ClientTimer if self.mode.shared_clock => "timers (c1's first)".to_owned(),
            Move::Submit => format!(
                "c1 is handed m{}",
                self.client.as_ref().map_or(0, |c| c.submitted) + 1
            ),
            // A timer, a sync, a crash, a kill or a restart, as a script says it.
            _ => m.to_string(),
        }
    }

    pub(super) fn at(&self) -> Instant {
        Instant::from_millis(self.steps)
    }

    /// Starts node `i` from its disk (the first time, from nothing).
    fn start(&mut self, i: usize) {
        let at = self.at();
        let seed = self.seed;
        let Some(s) = self.servers.get_mut(i) else {
            return;
        };
        s.lives += 1;
        let (log, persisted) = s.disk.read_back();
        let node_seed = crate::addr::node_seed(seed, i, s.lives);
        // The configuration was checked when the model was built.
        let Ok(node) =
            Node::restore_with_log(s.config.clone(), s.id, node_seed, s.local, persisted, log)
        else {
            return;
        };
        let lost_power = std::mem::take(&mut s.lost_power);
        self.replication
            .on_restart(at, i, &node, s.disk.written_log(), lost_power);
        s.node = Some(node);
        self.step(i, Event::Start);
        // As the random simulator does: what a start wrote is on the disk at
        // once, and the node hears so when its sync move comes.
        if let Some(s) = self.servers.get_mut(i) {
            s.disk.sync_now();
        }
    }

    /// Node `i`'s timers fire, one deadline after another, until a step does
    /// more than the routine (see [`routine`]): the deadlines in between are
    /// not moves of their own, and the heartbeats they sent are in flight
    /// like any message.
    fn fire(&mut self, i: usize) -> bool {
        let n = self.servers.len();
        for _ in 0..QUIET_TICKS_MAX {
            let due = if self.mode.shared_clock {
                self.earliest_deadline()
            } else {
                self.deadline_of(i).map(|at| (at, i))
            };
            let Some((deadline, i)) = due else {
                return false;
            };
            // Under a shared clock every clock reads the same.
            let shared = self.mode.shared_clock;
            for (k, s) in self.servers.iter_mut().enumerate() {
                if k == i || shared {
                    s.local = s.local.max(deadline);
                }
            }
            if let Some(c) = self.client.as_mut().filter(|_| i == n || shared) {
                c.local = c.local.max(deadline);
            }
            let taken = if i == n {
                self.client_step(ClientEvent::Tick)
            } else {
                self.step(i, Event::Tick)
            };
            if taken > 0 {
                break;
            }
        }
        true
    }

    fn sync(&mut self, i: usize) -> bool {
        let Some(s) = self.servers.get_mut(i) else {
            return false;
        };
        let Some(token) = s.disk.syncing() else {
            return false;
        };
        s.disk.synced(token);
        self.step(i, Event::Durable { token });
        true
    }

    /// Node `i` goes down: its machine (`power`: nothing unsynced is kept,
    /// no write is torn) or only its process.
    fn crash(&mut self, i: usize, power: bool) -> bool {
        let at = self.at();
        let Some(s) = self.servers.get_mut(i) else {
            return false;
        };
        if s.node.take().is_none() {
            return false;
        }
        if power {
            s.disk.power_lost(0, 0);
        }
        s.disk.process_crashed();
        s.lost_power |= power;
        let life = s.lives;
        self.used.crashes += 1;
        self.replication.on_down(at, i);
        let m = if power { Move::Crash } else { Move::Kill };
        self.note(|_| m(i as u8).to_string());
        if !power {
            // The machine is up: its kernel resets the client's connection.
            let reset = self
                .client
                .as_ref()
                .and_then(|c| c.closed_by_server(i, life));
            self.send_to_client(i, reset);
        }
        true
    }

    /// Feeds `event` to node `i` and carries out what it asks for, with
    /// what the mode makes happen at once (syncs, heartbeats); returns how
    /// many of the actions were more than routine.
    pub(super) fn step(&mut self, i: usize, event: Event) -> usize {
        let taken = self.step_once(i, event);
        if self.mode.syncs_at_once {
            while self
                .servers
                .get(i)
                .is_some_and(|s| s.disk.syncing().is_some())
            {
                self.sync(i);
            }
        }
        taken + self.deliver_at_once()
    }

    fn step_once(&mut self, i: usize, event: Event) -> usize {
        let at = self.at();
        let lie = self.bug.before_step(&event);
        let Some(s) = self.servers.get_mut(i) else {
            return 0;
        };
        let Some(node) = s.node.as_mut() else {
            return 0; // a message to a node that is down is lost
        };
        let mut actions = Vec::new();
        node.step_into(s.local, event, &mut actions);
        if let Some(lie) = lie {
            lie.tell(&mut actions, node.info());
        }
        let mut reads = Vec::new();
        let mut taken = actions.iter().filter(|a| !routine(a)).count();
        for action in actions {
            self.election.on_action(at, NodeId(i as u32 + 1), &action);
            if let Some(read) = self.carry_out(i, action) {
                reads.push(read);
            }
        }
        if let Some(s) = self.servers.get(i) {
            if let Some(node) = &s.node {
                self.replication
                    .after_step(at, i, node, s.disk.written_log());
                let logs = self.servers.iter().map(|s| s.disk.written_log());
                self.replication
                    .check_majority(at, i, node, logs, self.majority);
            }
        }
        for event in reads {
            taken += self.step(i, event);
        }
        taken
    }

    /// Puts `f` in flight. A heartbeat (or a client's ping, or its answer)
    /// replaces its sender's last one to the same endpoint still in flight,
    /// if they say the same: whoever hears the newer has heard all the older
    /// tells, so the older is as good as lost (a loss the network may cause
    /// anyway), and the bag of messages stays small however long timers run.
    pub(super) fn send(&mut self, mut f: InFlight) {
        f.sent = self.steps;
        if !f.is_keepalive() {
            return self.flight.push(f);
        }
        if self.mode.shared_clock {
            return self.at_once.push(f);
        }
        if let Some(k) = self.flight.iter().position(|g| g.same_keepalive(&f)) {
            self.flight.remove(k);
        }
        self.flight.push(f);
    }

    /// Carries out one action of node `i`; a read of its disk comes back as
    /// the event that answers it.
    fn carry_out(&mut self, i: usize, action: Action) -> Option<Event> {
        let n = self.servers.len();
        let at = self.at();
        let s = self.servers.get_mut(i)?;
        match action {
            Action::Send { to, msg } => {
                let j = (to.0 as usize).wrapping_sub(1);
                if let Some(node) = &s.node {
                    if let Some(broken) = write_ahead(&s.disk, node, to, &msg) {
                        self.replication.on_dependent_send(at, s.id.0, broken);
                    }
                }
                if j < n && j != i {
                    self.send(InFlight::new(i, j, Carried::Peer(msg)));
                }
            }
            Action::Multicast(msg) => {
                for j in (0..n).filter(|&j| j != i) {
                    self.send(InFlight::new(i, j, Carried::Peer(msg.clone())));
                }
            }
            Action::Persist { token, state } => {
                s.disk.write(token, Write::State(state));
            }
            Action::WriteLog { token, write } => {
                s.disk.write(token, Write::Log(*write));
            }
            Action::ReadLog { from, max } => {
                let entries = match s.disk.read(s.local, from, max) {
                    crate::disk::ReadOutcome::Entries(e) => e,
                    _ => Vec::new(),
                };
                return Some(Event::LogRead { from, entries });
            }
            Action::RoleChanged {
                new, leader, epoch, ..
            } => {
                if new == ringleader_core::Role::Leader {
                    self.leaders.entry(epoch).or_insert(s.id);
                }
                let node = s.id.0;
                if let Some(records) = &mut self.records {
                    records.push(crate::trace::Record::Role {
                        at: self.steps * 1000,
                        node,
                        role: new.to_string(),
                        leader: leader.map(|l| l.0),
                        epoch,
                    });
                }
            }
            Action::ToClient { client, msg } => {
                let life = s.lives;
                let what = self.client_of(client);
                let what = what.and_then(|c| c.server_message(i, life, *msg));
                self.send_to_client(i, what);
            }
            Action::CloseClient(client) => {
                let life = s.lives;
                let what = self.client_of(client);
                let what = what.and_then(|c| c.closed_by_server(i, life));
                self.send_to_client(i, what);
            }
            _ => {}
        }
        None
    }
}

/// A heartbeat (or the answer to a client's ping): sent whatever else
/// happens, so a timer that only sends heartbeats is not worth a move of its
/// own.
fn routine(action: &Action) -> bool {
    matches!(
        action,
        Action::Send {
            msg: Message::Heartbeat { .. },
            ..
        } | Action::Multicast(Message::Heartbeat { .. })
    ) || matches!(action, Action::ToClient { msg, .. } if **msg == ServerMsg::Pong)
}
