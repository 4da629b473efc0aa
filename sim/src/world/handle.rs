//! Handling one item of the queue: each kind of item has its own handler, and
//! an item for a paused server waits until it carries on.

use super::state::{Item, World};
use crate::clients::{client_id, number};
use crate::invariants::Observed;
use crate::trace::DropReason;
use ringleader_core::client::ClientEvent;
use ringleader_core::link::Links;
use ringleader_core::wire::{ClientMsg, Message, ServerMsg};
use ringleader_core::{Event, Instant, NodeId};

impl World<'_> {
    /// Handles one item that fell due now. The handlers of rare items
    /// (faults, starts, link news, reads) are kept out of line: inlined,
    /// they made this function and its frame larger for every item.
    pub(super) fn handle(&mut self, item: Item) {
        if let Some(until) = self.paused_server(&item) {
            return self.hold_back(until, item);
        }
        match item {
            Item::Tick(i) => self.on_tick(i),
            Item::Deliver {
                to,
                number,
                msg,
                sent,
                life,
            } => self.on_deliver(to as usize, (number, msg), sent, life),
            Item::Link {
                node,
                life,
                peer,
                conn,
                news,
            } => self.on_link_news(node, life, peer, conn, news),
            Item::Start(i) => {
                self.counters.events += 1;
                self.election.on_fault(self.now);
                self.start(i);
                self.election.after_change(self.now, &self.slots);
            }
            Item::ClientStart(c) => {
                self.counters.events += 1;
                self.tracer.client_note(self.now, number(c), "start");
                self.client_step(c, ClientEvent::Start);
                self.schedule_send(c);
            }
            Item::ClientTick(c) => self.on_client_tick(c),
            Item::ClientSend(c) => self.client_send(c),
            Item::ToServer {
                server,
                life,
                client,
                link,
                msg,
            } => self.on_to_server(server, life, client, link, *msg),
            Item::Probe { server, client } => self.on_probe(server, client),
            Item::ToClient {
                client,
                from,
                link,
                msg,
            } => self.on_to_client(client, from, link, *msg),
            Item::LinkState { client, link, up } => self.on_link_state(client, link, up),
            Item::LinkClosed {
                server,
                life,
                client,
                link,
            } => self.on_link_closed(server, life, client, link),
            Item::Resume(i) => self.on_resume(i),
            Item::Synced { node, life, token } => self.on_synced(node, life, token),
            Item::Written { node, life, token } => self.on_written(node, life, token),
            Item::ReadDone {
                node,
                life,
                from,
                outcome,
            } => self.on_read(node, life, from, outcome),
            Item::Fault(fault) => {
                self.counters.events += 1;
                self.counters.faults += 1;
                self.tracer.fault(self.now, &fault);
                self.election.on_fault(self.now);
                self.apply_fault(fault);
                self.election.after_change(self.now, &self.slots);
            }
        }
    }

    fn on_tick(&mut self, i: usize) {
        let Some(slot) = self.slots.0.get_mut(i) else {
            return;
        };
        if slot.tick_at != Some(self.now) {
            return; // superseded by an earlier tick, or the node went down
        }
        slot.tick_at = None;
        self.counters.events += 1;
        let local = slot.clock.local(self.now);
        let due = slot.node.is_some() && slot.node_deadline.is_some_and(|t| t <= local);
        if due {
            self.tracer.tick(self.now, slot.id);
            self.step(i, Event::Tick);
        }
        // The links are ticked as the node is: when their deadline has come
        // (after the node's step, which may have given them work).
        let links_due = self.slots.0.get(i).is_some_and(|s| {
            let deadline = s.peer_links.as_ref().and_then(Links::next_deadline);
            deadline.is_some_and(|t| t <= local)
        });
        if links_due {
            self.link_tick(i);
        } else {
            self.reschedule(i);
        }
    }

    fn on_deliver(
        &mut self,
        to: usize,
        (number, msg): (u32, Message),
        sent: Instant,
        life: Option<u64>,
    ) {
        self.counters.events += 1;
        let Some(slot) = self.slots.0.get(to) else {
            return;
        };
        if slot.node.is_none() || life.is_some_and(|l| l != slot.lives) {
            self.counters.to_down += 1;
            self.tracer.dropped(
                (sent, self.now),
                msg.from(),
                slot.id,
                &msg,
                DropReason::Down,
            );
            return;
        }
        self.counters.messages += 1;
        self.tracer.deliver(sent, self.now, slot.id, (number, &msg));
        let from = (msg.from().0 as usize).wrapping_sub(1);
        self.link_heard(to, from, msg.sender().incarnation);
        self.step(to, Event::Received(msg));
    }

    fn on_client_tick(&mut self, c: usize) {
        let Some(sc) = self.clients.get_mut(c) else {
            return;
        };
        if sc.tick_at != Some(self.now) {
            return;
        }
        sc.tick_at = None;
        self.counters.events += 1;
        self.client_step(c, ClientEvent::Tick);
    }

    /// A client's segment reaches a server on connection `link`.
    fn on_to_server(&mut self, server: usize, life: u64, client: usize, link: u64, msg: ClientMsg) {
        self.counters.events += 1;
        let Some(slot) = self.slots.0.get_mut(server) else {
            return;
        };
        if slot.node.is_none() || slot.lives != life {
            return; // the server died; the client will time out
        }
        let id = client_id(client);
        if slot.retired.get(&id).is_some_and(|r| link <= *r) {
            return; // a connection this server closed or replaced
        }
        if let Some(&(_, current)) = slot.links.get(&id) {
            if link < current {
                return;
            }
            if link > current {
                slot.retired.insert(id, current);
            }
        }
        slot.links.insert(id, (client, link));
        let node = slot.id;
        self.tracer.client_msg(self.now, node, id, &msg);
        self.step(server, Event::FromClient { client: id, msg });
    }

    #[inline(never)]
    fn on_probe(&mut self, server: usize, client: usize) {
        self.counters.events += 1;
        if self.slots.node(server).is_none() {
            return;
        }
        let id = client_id(client);
        let node = NodeId(server as u32 + 1);
        self.tracer
            .client_msg(self.now, node, id, &ClientMsg::Probe);
        self.step(
            server,
            Event::FromClient {
                client: id,
                msg: ClientMsg::Probe,
            },
        );
    }

    fn on_to_client(&mut self, client: usize, from: NodeId, link: Option<u64>, msg: ServerMsg) {
        self.counters.events += 1;
        let Some(sc) = self.clients.get_mut(client) else {
            return;
        };
        if sc.quit || link.is_some_and(|l| sc.link_if(l).is_none()) {
            return; // a connection the client has given up
        }
        self.tracer.server_msg(self.now, number(client), from, &msg);
        self.client_step(client, ClientEvent::Received(msg));
    }

    #[inline(never)]
    fn on_link_state(&mut self, client: usize, link: u64, up: bool) {
        self.counters.events += 1;
        let Some(sc) = self.clients.get_mut(client) else {
            return;
        };
        let Some(l) = sc.link_if(link) else {
            return;
        };
        let server = NodeId(l.server as u32 + 1);
        if !up {
            sc.link = None;
        }
        let (what, event) = if up {
            ("connected to", ClientEvent::Connected)
        } else {
            ("disconnected from", ClientEvent::Disconnected)
        };
        self.tracer
            .client_link(self.now, number(client), what, server);
        self.client_step(client, event);
    }

    /// The client closed connection `link`; the server hears of it.
    #[inline(never)]
    fn on_link_closed(&mut self, server: usize, life: u64, client: usize, link: u64) {
        self.counters.events += 1;
        let id = client_id(client);
        let Some(slot) = self.slots.0.get_mut(server) else {
            return;
        };
        if slot.node.is_none() || slot.lives != life || slot.links.get(&id) != Some(&(client, link))
        {
            return;
        }
        slot.links.remove(&id);
        self.step(server, Event::ClientGone { client: id });
    }

    /// A paused node carries on.
    #[inline(never)]
    fn on_resume(&mut self, i: usize) {
        let Some(slot) = self.slots.0.get_mut(i) else {
            return;
        };
        if slot.paused_until != Some(self.now) {
            return; // it crashed or restarted meanwhile
        }
        slot.paused_until = None;
        self.counters.events += 1;
        let id = slot.id;
        self.tracer.resume(self.now, id);
        self.election.on_fault(self.now);
        self.silenced(i);
        self.election.after_change(self.now, &self.slots);
    }

    /// The server an item is addressed to, for the items a paused server must not
    /// see yet.
    fn server_of(item: &Item) -> Option<usize> {
        match item {
            Item::Tick(i) => Some(*i),
            Item::Deliver { to, .. } => Some(*to as usize),
            Item::Link { node, .. }
            | Item::Synced { node, .. }
            | Item::Written { node, .. }
            | Item::ReadDone { node, .. } => Some(*node),
            Item::ToServer { server, .. }
            | Item::Probe { server, .. }
            | Item::LinkClosed { server, .. } => Some(*server),
            _ => None,
        }
    }

    /// Until when `item`'s server is paused, if it is now: the item waits.
    /// Decided by reference, so the common case moves nothing.
    fn paused_server(&self, item: &Item) -> Option<Instant> {
        let slot = self.slots.0.get(Self::server_of(item)?)?;
        slot.paused_until
            .filter(|&until| until > self.now && slot.node.is_some())
    }

    /// Holds `item` back until its paused server carries on at `until`. Out
    /// of line: rare, and it keeps the handler small.
    #[inline(never)]
    fn hold_back(&mut self, until: Instant, item: Item) {
        if let Item::Tick(i) = item {
            let Some(slot) = self.slots.0.get_mut(i) else {
                return;
            };
            if slot.tick_at != Some(self.now) {
                return; // superseded anyway
            }
            slot.tick_at = Some(until);
            slot.tick_for = None;
        }
        self.queue.push(until, item);
    }
}
