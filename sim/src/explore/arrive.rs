//! What arrives where: a message in flight reaches a node (or is lost at one
//! that is down) or the client, what the client does is carried out, and
//! what happens is kept for the trace viewer.

use super::client::{ClientSide, Stepped};
use super::flight::{Carried, InFlight};
use super::model::Model;
use super::words::{label, path};
use crate::clients::client_id;
use ringleader_core::client::ClientEvent;
use ringleader_core::Event;

impl Model {
    /// Delivers what a shared clock makes arrive the moment it is sent.
    pub(super) fn deliver_at_once(&mut self) -> usize {
        let mut taken = 0;
        for f in std::mem::take(&mut self.at_once) {
            taken += self.arrive(f);
        }
        taken
    }

    /// `f` arrives (noted for the viewer).
    pub(super) fn deliver(&mut self, f: InFlight) -> usize {
        let n = self.servers.len();
        let down = (f.to < n && !self.reaches(&f)).then_some("down");
        if f.from == n || f.to == n {
            // Only a replay keeps notes: words are made only then.
            self.note(|_| {
                let lost = if down.is_some() { " (lost: down)" } else { "" };
                format!("{}{lost}", path(&f, n))
            });
        } else {
            self.note_message(&f, down);
        }
        self.arrive(f)
    }

    /// Whether `f`, bound for a server, finds it running, and in the life
    /// its connection was made with (a datagram or a peer's message reaches
    /// whichever life is up).
    fn reaches(&self, f: &InFlight) -> bool {
        let Some(s) = self.servers.get(f.to).filter(|s| s.node.is_some()) else {
            return false;
        };
        match f.what {
            Carried::ToServer {
                life: Some(life), ..
            }
            | Carried::Closed { life } => life == s.lives,
            _ => true,
        }
    }

    /// `f` arrives: at a node that is down (or at a later life than its
    /// connection's), it is lost. Returns how many actions were more than
    /// routine.
    pub(super) fn arrive(&mut self, f: InFlight) -> usize {
        if f.to == self.servers.len() {
            return self.with_client(|c, lives| c.receive(f.what, lives));
        }
        if !self.reaches(&f) {
            return 0;
        }
        let client = client_id(0);
        let event = match f.what {
            Carried::Peer(msg) => Event::Received(msg),
            Carried::ToServer { msg, .. } => Event::FromClient { client, msg },
            Carried::Closed { .. } => Event::ClientGone { client },
            Carried::ToClient { .. } | Carried::Reset { .. } => return 0,
        };
        self.step(f.to, event)
    }

    /// Each server's life while it runs (what the client's connections reach).
    fn lives(&self) -> Vec<Option<u64>> {
        self.servers
            .iter()
            .map(|s| s.node.as_ref().map(|_| s.lives))
            .collect()
    }

    /// Lets the client act (`f`), then carries out what it did; 0 without
    /// a client.
    pub(super) fn with_client(
        &mut self,
        f: impl FnOnce(&mut ClientSide, &[Option<u64>]) -> Stepped,
    ) -> usize {
        let lives = self.lives();
        let Some(c) = self.client.as_mut() else {
            return 0;
        };
        let done = f(c, &lives);
        self.client_did(done)
    }

    /// Feeds `event` to the client.
    pub(super) fn client_step(&mut self, event: ClientEvent) -> usize {
        self.with_client(|c, lives| c.step(event, lives))
    }

    /// Carries out what a step of the client did: its messages go in
    /// flight, what it was told goes to the checkers.
    fn client_did(&mut self, done: Stepped) -> usize {
        let at = self.at();
        for o in &done.outputs {
            self.replication.on_client_output(at, 0, o);
        }
        for text in done.notes {
            self.note(|_| text);
        }
        for f in done.sent {
            self.send(f);
        }
        done.taken + self.deliver_at_once()
    }

    /// The client, if `id` is its.
    pub(super) fn client_of(&self, id: ringleader_core::wire::ClientId) -> Option<&ClientSide> {
        self.client.as_ref().filter(|_| id == client_id(0))
    }

    /// Puts what server `i` sends the client in flight.
    pub(super) fn send_to_client(&mut self, i: usize, what: Option<Carried>) {
        if let Some(what) = what {
            self.send(InFlight::new(i, self.servers.len(), what));
        }
    }

    /// Keeps what happens from now on for the trace viewer.
    pub fn record(&mut self) {
        self.records = Some(Vec::new());
    }

    /// What was kept since [`record`](Self::record).
    pub fn take_records(&mut self) -> Vec<crate::trace::Record> {
        self.records.take().unwrap_or_default()
    }

    /// Keeps a line for the viewer, made by `text` only when a replay records.
    pub(super) fn note(&mut self, text: impl FnOnce(u64) -> String) {
        let at = self.steps * 1000;
        if let Some(records) = &mut self.records {
            records.push(crate::trace::Record::Fault { at, text: text(at) });
        }
    }

    /// Keeps a message between nodes for the viewer (when a replay records):
    /// delivered, or lost (`dropped` says why).
    pub(super) fn note_message(&mut self, f: &InFlight, dropped: Option<&'static str>) {
        let at = self.steps * 1000;
        if let Some(records) = &mut self.records {
            let label = label(&f.what);
            records.push(crate::trace::Record::Message {
                sent: f.sent * 1000,
                at,
                from: f.from as u32 + 1,
                to: f.to as u32 + 1,
                kind: label.split(' ').next().unwrap_or("").to_owned(),
                label,
                dropped,
            });
        }
    }
}
