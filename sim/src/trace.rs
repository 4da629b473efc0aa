//! The trace: every delivered event and emitted action, as a digest and optionally
//! as readable text.
//!
//! One line per record, virtual time first:
//!
//! ```text
//!    0.041230s n2 < n1 Probe n1#1
//!    0.041230s n2 + n1#1 joined
//!    0.041230s n2 > n1 ProbeResponse n2#1
//!    5.000000s !! crash n3
//!    5.100000s n1 x n3 Heartbeat n1#1 (lost)
//! ```
//!
//! `<` a message received, `>` sent, `>>` multicast, `x` dropped by the network,
//! `+` a membership change, `=` a role change, `~` a tick, `*` a start or persist,
//! `!!` a fault. The
//! digest covers exactly what the text shows, so it is computed whether or not the
//! text is written, and writing the text never changes it.

use crate::digest::Digest;
use crate::faults::Fault;
use ringleader_core::client::ClientOutput;
use ringleader_core::wire::{ClientId, ClientMsg, Message, ServerMsg};
use ringleader_core::{Action, Instant, NodeId};
use std::io::{self, Write};

/// Records a run.
pub struct Tracer<'w> {
    digest: Digest,
    out: Option<&'w mut dyn Write>,
    error: Option<io::Error>,
    records: Option<&'w mut Vec<Record>>,
}

/// One thing that happened, structured for the trace viewer. Times are virtual
/// microseconds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A message between two nodes: delivered at `at`, or dropped (`dropped`
    /// says why; `at` is then when it was lost or turned away).
    Message {
        /// When it was sent.
        sent: u64,
        /// When it arrived or was dropped.
        at: u64,
        /// Sender.
        from: u32,
        /// Receiver.
        to: u32,
        /// Its kind, e.g. `Heartbeat`, `Election`, `Append`.
        kind: String,
        /// The message as the text trace shows it.
        label: String,
        /// `lost`, `cut` or `down` when it never arrived.
        dropped: Option<&'static str>,
    },
    /// A fault (or the end of a pause).
    Fault {
        /// When.
        at: u64,
        /// What, as scenario files write it.
        text: String,
    },
    /// A node's role changed.
    Role {
        /// When.
        at: u64,
        /// The node.
        node: u32,
        /// Its new role.
        role: String,
        /// The leader it now follows (itself when leading), if any.
        leader: Option<u32>,
        /// The epoch (term) of that leadership.
        epoch: u64,
    },
    /// A node started.
    Start {
        /// When.
        at: u64,
        /// The node.
        node: u32,
    },
}

/// The first word of a message's text form: its kind, finer than
/// [`Message::kind`] for election and replication messages.
fn kind_of(label: &str) -> String {
    label
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("")
        .to_owned()
}

/// Why the network dropped a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Random loss.
    Lost,
    /// A cut link.
    Cut,
    /// The receiver was down when it arrived.
    Down,
}

impl DropReason {
    fn as_str(self) -> &'static str {
        match self {
            DropReason::Lost => "lost",
            DropReason::Cut => "cut",
            DropReason::Down => "down",
        }
    }
}

struct Msg<'a>(&'a Message);

impl std::fmt::Display for Msg<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0.sender();
        match self.0 {
            Message::Election { msg, .. } => write!(f, "{msg} {}#{}", s.id, s.incarnation),
            Message::Replication { msg, .. } => write!(f, "{msg} {}#{}", s.id, s.incarnation),
            Message::Heartbeat {
                leading: Some(e), ..
            } => {
                write!(f, "Heartbeat {}#{} leads e{e}", s.id, s.incarnation)
            }
            _ => write!(f, "{} {}#{}", self.0.kind(), s.id, s.incarnation),
        }
    }
}

/// Out of line: only the viewer keeps records, and the hot callers stay small.
#[inline(never)]
fn push_record(records: &mut Vec<Record>, make: impl FnOnce() -> Record) {
    records.push(make());
}

/// Mixes in what the text form shows of a message: its kind, sender and life, and
/// its payload. Addresses are left out: in the simulator they follow from the id.
fn digest_message(d: &mut Digest, msg: &Message) {
    let sender = msg.sender();
    d.word(u64::from(sender.id.0));
    d.word(sender.incarnation.counter);
    d.word(sender.incarnation.started_at.as_micros());
    match msg {
        Message::Announce(_) => d.word(1),
        Message::Probe(_) => d.word(2),
        Message::ProbeResponse(_) => d.word(3),
        Message::Leave(_) => d.word(4),
        Message::Heartbeat { leading, .. } => {
            d.word(5);
            d.word(leading.map_or(0, |e| e.wrapping_add(1)));
        }
        Message::Election { algorithm, msg, .. } => {
            d.word(6);
            d.value(algorithm);
            d.value(msg);
        }
        Message::Replication { msg, .. } => {
            d.word(7);
            d.value(msg);
        }
    }
}

impl<'w> Tracer<'w> {
    /// A tracer that only keeps the digest.
    pub fn digest_only() -> Self {
        Tracer {
            digest: Digest::default(),
            out: None,
            error: None,
            records: None,
        }
    }

    /// A tracer that also writes the text form to `out`.
    pub fn to_writer(out: &'w mut dyn Write) -> Self {
        Tracer {
            digest: Digest::default(),
            out: Some(out),
            error: None,
            records: None,
        }
    }

    /// Also keeps structured records of the run (for the trace viewer).
    pub fn recording(mut self, records: &'w mut Vec<Record>) -> Self {
        self.records = Some(records);
        self
    }

    /// Keeps a record if records are kept: inlined, so the usual answer (they
    /// are not) costs a test, not a call.
    #[inline]
    fn record(&mut self, make: impl FnOnce() -> Record) {
        if let Some(r) = self.records.as_mut() {
            push_record(r, make);
        }
    }

    #[inline]
    fn record_message(
        &mut self,
        sent: Instant,
        at: Instant,
        (from, to): (NodeId, NodeId),
        msg: &Message,
        dropped: Option<DropReason>,
    ) {
        self.record(|| {
            let label = Msg(msg).to_string();
            Record::Message {
                sent: sent.as_micros(),
                at: at.as_micros(),
                from: from.0,
                to: to.0,
                kind: kind_of(&label),
                label,
                dropped: dropped.map(DropReason::as_str),
            }
        });
    }

    /// The digest of everything recorded so far.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The first write error, if writing the text failed.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    fn head(&mut self, at: Instant, tag: u64, node: NodeId) {
        self.digest.word(at.as_micros());
        self.digest.word(tag);
        self.digest.word(u64::from(node.0));
    }

    /// Whether the text is written: the hot records skip building their
    /// line's arguments when it is not.
    fn writing(&self) -> bool {
        self.out.is_some()
    }

    fn line(&mut self, args: std::fmt::Arguments<'_>) {
        if let Some(out) = self.out.as_mut() {
            if let Err(e) = out.write_fmt(args) {
                self.error.get_or_insert(e);
                self.out = None;
            }
        }
    }

    /// A node started (or restarted) in life `incarnation`.
    pub fn start(&mut self, at: Instant, node: NodeId, incarnation: u64) {
        self.record(|| Record::Start {
            at: at.as_micros(),
            node: node.0,
        });
        self.head(at, 1, node);
        self.digest.word(incarnation);
        self.line(format_args!("{at:>12} {node} * start #{incarnation}\n"));
    }

    /// A timer fired.
    pub fn tick(&mut self, at: Instant, node: NodeId) {
        self.head(at, 2, node);
        if self.writing() {
            self.line(format_args!("{at:>12} {node} ~ tick\n"));
        }
    }

    /// A message sent at `sent` was delivered: the `number`th handed to the
    /// network. The digest takes in the number alone: what the message says
    /// went in when it was sent, and the number tells it from every other.
    /// Inlined for the same reason as [`Tracer::action`].
    #[inline]
    pub fn deliver(
        &mut self,
        sent: Instant,
        at: Instant,
        to: NodeId,
        (number, msg): (u32, &Message),
    ) {
        self.record_message(sent, at, (msg.from(), to), msg, None);
        self.head(at, 3, to);
        self.digest.word(u64::from(number));
        if self.writing() {
            self.write_deliver(at, to, msg);
        }
    }

    #[inline(never)]
    fn write_deliver(&mut self, at: Instant, to: NodeId, msg: &Message) {
        self.line(format_args!(
            "{at:>12} {to} < {} {}\n",
            msg.from(),
            Msg(msg)
        ));
    }

    /// The network dropped a message from `from` to `to`, sent at `sent`.
    pub fn dropped(
        &mut self,
        (sent, at): (Instant, Instant),
        from: NodeId,
        to: NodeId,
        msg: &Message,
        why: DropReason,
    ) {
        self.record_message(sent, at, (from, to), msg, Some(why));
        self.head(at, 4, from);
        self.digest.word(u64::from(to.0));
        self.digest.word(why as u64);
        self.line(format_args!(
            "{at:>12} {from} x {to} {} ({})\n",
            Msg(msg),
            why.as_str()
        ));
    }

    /// A node emitted an action. Inlined where the simulator takes a step's
    /// actions: the digest is what nearly every run keeps; the text is out of line.
    #[inline]
    pub fn action(&mut self, at: Instant, node: NodeId, action: &Action) {
        if let Action::RoleChanged {
            new, leader, epoch, ..
        } = action
        {
            self.record(|| Record::Role {
                at: at.as_micros(),
                node: node.0,
                role: new.to_string(),
                leader: leader.map(|l| l.0),
                epoch: *epoch,
            });
        }
        self.head(at, 5, node);
        match action {
            Action::Send { to, msg } => {
                self.digest.word(u64::from(to.0));
                digest_message(&mut self.digest, msg);
            }
            Action::Multicast(msg) => digest_message(&mut self.digest, msg),
            other => self.digest.value(other),
        }
        if self.writing() {
            self.write_action(at, node, action);
        }
    }

    #[inline(never)]
    fn write_action(&mut self, at: Instant, node: NodeId, action: &Action) {
        match action {
            Action::Send { to, msg } => {
                self.line(format_args!("{at:>12} {node} > {to} {}\n", Msg(msg)))
            }
            Action::Multicast(msg) => {
                self.line(format_args!("{at:>12} {node} >> all {}\n", Msg(msg)))
            }
            Action::Persist { state: p, .. } => {
                let vote = p.voted_for.map_or("none".to_owned(), |v| v.to_string());
                self.line(format_args!(
                    "{at:>12} {node} * persist starts={} term={} vote={vote}\n",
                    p.starts, p.term
                ))
            }
            Action::WriteLog { .. } => {}
            Action::ReadLog { from, max } => self.line(format_args!(
                "{at:>12} {node} * read log from {from} (up to {max})\n"
            )),
            Action::RoleChanged {
                old,
                new,
                leader,
                epoch,
            } => {
                let leader = leader.map_or("none".to_owned(), |l| l.to_string());
                self.line(format_args!(
                    "{at:>12} {node} = {new}, leader {leader} e{epoch} (was {old})\n"
                ))
            }
            Action::Member { node: m, change } => self.line(format_args!(
                "{at:>12} {node} + {}#{} {change}\n",
                m.id, m.incarnation
            )),
            Action::ToClient { client, msg } => {
                self.line(format_args!("{at:>12} {node} > {client} {msg}\n"))
            }
            Action::CloseClient(client) => {
                self.line(format_args!("{at:>12} {node} > {client} close\n"))
            }
            Action::Proposal { ticket, outcome } => match outcome {
                Ok(index) => self.line(format_args!(
                    "{at:>12} {node} ! proposal {ticket} committed at {index}\n"
                )),
                Err(why) => self.line(format_args!(
                    "{at:>12} {node} ! proposal {ticket} failed: {why}\n"
                )),
            },
        }
    }

    /// A client's message reached server `to`.
    pub fn client_msg(&mut self, at: Instant, to: NodeId, client: ClientId, msg: &ClientMsg) {
        self.head(at, 7, to);
        self.digest.word(client.0);
        self.digest.value(msg);
        self.line(format_args!("{at:>12} {to} < {client} {msg}\n"));
    }

    /// A server's message reached client `c<client>`.
    pub fn server_msg(&mut self, at: Instant, client: u32, from: NodeId, msg: &ServerMsg) {
        self.head(at, 8, from);
        self.digest.word(u64::from(client));
        self.digest.value(msg);
        self.line(format_args!("{at:>12} c{client} < {from} {msg}\n"));
    }

    /// Client `c<client>` tells its user something.
    pub fn client_output(&mut self, at: Instant, client: u32, output: &ClientOutput) {
        self.head(at, 9, NodeId(0));
        self.digest.word(u64::from(client));
        self.digest.value(output);
        self.line(format_args!("{at:>12} c{client} : {output}\n"));
    }

    /// Client `c<client>` connects, connected or lost its connection to `server`.
    pub fn client_link(&mut self, at: Instant, client: u32, what: &'static str, server: NodeId) {
        self.head(at, 10, server);
        self.digest.word(u64::from(client));
        self.digest.value(what);
        self.line(format_args!("{at:>12} c{client} - {what} {server}\n"));
    }

    /// Something else happened to client `c<client>`.
    pub fn client_note(&mut self, at: Instant, client: u32, what: &'static str) {
        self.head(at, 11, NodeId(0));
        self.digest.word(u64::from(client));
        self.digest.value(what);
        self.line(format_args!("{at:>12} c{client} * {what}\n"));
    }

    /// Something happened on a peer link of `node` (to `peer`): dialled, up,
    /// accepted, refused, reset, timed out.
    pub fn link(&mut self, at: Instant, node: NodeId, peer: NodeId, what: &str) {
        self.head(at, 13, node);
        self.digest.word(u64::from(peer.0));
        self.digest.value(what);
        self.line(format_args!("{at:>12} {node} ~ link {peer} {what}\n"));
    }

    /// A paused node carries on.
    pub fn resume(&mut self, at: Instant, node: NodeId) {
        self.record(|| Record::Fault {
            at: at.as_micros(),
            text: format!("resume {node}"),
        });
        self.head(at, 12, node);
        self.line(format_args!("{at:>12} !! resume {node}\n"));
    }

    /// A fault was applied.
    pub fn fault(&mut self, at: Instant, fault: &Fault) {
        self.record(|| Record::Fault {
            at: at.as_micros(),
            text: fault.to_string(),
        });
        self.head(at, 6, NodeId(0));
        self.digest.value(fault);
        self.line(format_args!("{at:>12} !! {fault}\n"));
    }
}
