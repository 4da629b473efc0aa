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
        }
    }

    /// A tracer that also writes the text form to `out`.
    pub fn to_writer(out: &'w mut dyn Write) -> Self {
        Tracer {
            digest: Digest::default(),
            out: Some(out),
            error: None,
        }
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
        self.head(at, 1, node);
        self.digest.word(incarnation);
        self.line(format_args!("{at:>12} {node} * start #{incarnation}\n"));
    }

    /// A timer fired.
    pub fn tick(&mut self, at: Instant, node: NodeId) {
        self.head(at, 2, node);
        self.line(format_args!("{at:>12} {node} ~ tick\n"));
    }

    /// A message was delivered.
    pub fn deliver(&mut self, at: Instant, to: NodeId, msg: &Message) {
        self.head(at, 3, to);
        digest_message(&mut self.digest, msg);
        self.line(format_args!(
            "{at:>12} {to} < {} {}\n",
            msg.from(),
            Msg(msg)
        ));
    }

    /// The network dropped a message from `from` to `to`.
    pub fn dropped(
        &mut self,
        at: Instant,
        from: NodeId,
        to: NodeId,
        msg: &Message,
        why: DropReason,
    ) {
        self.head(at, 4, from);
        self.digest.word(u64::from(to.0));
        self.digest.word(why as u64);
        self.line(format_args!(
            "{at:>12} {from} x {to} {} ({})\n",
            Msg(msg),
            why.as_str()
        ));
    }

    /// A node emitted an action.
    pub fn action(&mut self, at: Instant, node: NodeId, action: &Action) {
        self.head(at, 5, node);
        match action {
            Action::Send { to, msg } => {
                self.digest.word(u64::from(to.0));
                digest_message(&mut self.digest, msg);
            }
            Action::Multicast(msg) => digest_message(&mut self.digest, msg),
            other => self.digest.value(other),
        }
        match action {
            Action::Send { to, msg } => {
                self.line(format_args!("{at:>12} {node} > {to} {}\n", Msg(msg)))
            }
            Action::Multicast(msg) => {
                self.line(format_args!("{at:>12} {node} >> all {}\n", Msg(msg)))
            }
            Action::Persist(p) => {
                let vote = p.voted_for.map_or("none".to_owned(), |v| v.to_string());
                self.line(format_args!(
                    "{at:>12} {node} * persist starts={} term={} vote={vote}\n",
                    p.starts, p.term
                ))
            }
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

    /// A fault was applied.
    pub fn fault(&mut self, at: Instant, fault: &Fault) {
        self.head(at, 6, NodeId(0));
        self.digest.value(fault);
        self.line(format_args!("{at:>12} !! {fault}\n"));
    }
}
