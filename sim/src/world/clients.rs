//! Client emulation: connections to servers that carry what a client sends and
//! what a server answers, in order, probes by datagram, and the clients' own
//! pace of sending.

use super::state::{Item, World};
use crate::addr::addr_node;
use crate::clients::{number, ordered, Link, SimClient};
use rand::Rng;
use ringleader_core::client::{ClientAction, ClientEvent};
use ringleader_core::wire::{ClientId, ServerMsg};
use ringleader_core::{Instant, NodeId};
use std::net::SocketAddr;
use std::time::Duration;

impl World<'_> {
    /// Carries out a server's message to a client: on the client's connection to
    /// that server, or (an answer to a probe) as a datagram.
    pub(super) fn server_to_client(&mut self, i: usize, client: ClientId, msg: ServerMsg) {
        let from = NodeId(i as u32 + 1);
        let link = self
            .slots
            .0
            .get(i)
            .and_then(|s| s.links.get(&client).copied());
        let delay = self.net.delay(&mut self.rng);
        match link {
            Some((c, link)) => {
                let Some(l) = self.clients.get_mut(c).and_then(|sc| sc.link_if(link)) else {
                    return;
                };
                let at = ordered(self.now, delay, &mut l.down_last);
                self.queue.push(
                    at,
                    Item::ToClient {
                        client: c,
                        from,
                        link: Some(link),
                        msg: Box::new(msg),
                    },
                );
            }
            None if matches!(msg, ServerMsg::Here { .. }) => {
                let c = (client.0 as usize).wrapping_sub(1);
                if c < self.clients.len() {
                    self.queue.push(
                        self.now + delay,
                        Item::ToClient {
                            client: c,
                            from,
                            link: None,
                            msg: Box::new(msg),
                        },
                    );
                }
            }
            None => {} // the client is not connected here any more
        }
    }

    /// The server side closed connection `link` of client `c`: the client hears
    /// of it after whatever is still in flight towards it.
    pub(super) fn reset_link(&mut self, c: usize, link: u64) {
        let delay = self.net.delay(&mut self.rng);
        let Some(l) = self.clients.get_mut(c).and_then(|sc| sc.link_if(link)) else {
            return;
        };
        let at = ordered(self.now, delay, &mut l.down_last);
        self.queue.push(
            at,
            Item::LinkState {
                client: c,
                link,
                up: false,
            },
        );
    }

    pub(super) fn client_step(&mut self, c: usize, event: ClientEvent) {
        self.with_client(c, |sc, now, out| sc.client.step(now, event, out));
    }

    /// Lets client `c` act, then carries out what it asked for.
    pub(super) fn with_client<R>(
        &mut self,
        c: usize,
        f: impl FnOnce(&mut SimClient, Instant, &mut Vec<ClientAction>) -> R,
    ) -> Option<R> {
        let sc = self.clients.get_mut(c)?;
        let mut out = std::mem::take(&mut self.client_actions);
        let result = f(sc, self.now, &mut out);
        self.client_apply(c, &mut out);
        self.client_actions = out;
        Some(result)
    }

    pub(super) fn client_apply(&mut self, c: usize, out: &mut Vec<ClientAction>) {
        for action in out.drain(..) {
            match action {
                ClientAction::Probe(_) => {
                    for server in 0..self.slots.0.len() {
                        let delay = self.net.delay(&mut self.rng);
                        self.queue
                            .push(self.now + delay, Item::Probe { server, client: c });
                    }
                }
                ClientAction::Connect(addr) => self.client_connect(c, addr),
                ClientAction::Send(msg) => {
                    let delay = self.net.delay(&mut self.rng);
                    let Some(l) = self.clients.get_mut(c).and_then(|sc| sc.link.as_mut()) else {
                        continue;
                    };
                    let at = ordered(self.now, delay, &mut l.up_last);
                    let (server, life, link) = (l.server, l.life, l.id);
                    self.queue.push(
                        at,
                        Item::ToServer {
                            server,
                            life,
                            client: c,
                            link,
                            msg: Box::new(msg),
                        },
                    );
                }
                ClientAction::Disconnect => self.client_close(c),
                ClientAction::Output(o) => {
                    self.tracer.client_output(self.now, number(c), &o);
                    self.replication.on_client_output(self.now, c, &o);
                }
            }
        }
        let Some(sc) = self.clients.get_mut(c) else {
            return;
        };
        match sc.client.next_deadline() {
            Some(at) if sc.tick_at.is_none_or(|t| at < t || t < self.now) => {
                let at = at.max(self.now);
                sc.tick_at = Some(at);
                self.queue.push(at, Item::ClientTick(c));
            }
            Some(_) => {}
            None => sc.tick_at = None,
        }
    }

    /// Closes the client's current connection; the server hears of it.
    pub(super) fn client_close(&mut self, c: usize) {
        let delay = self.net.delay(&mut self.rng);
        let Some(sc) = self.clients.get_mut(c) else {
            return;
        };
        if let Some(mut l) = sc.link.take() {
            let at = ordered(self.now, delay, &mut l.up_last);
            self.queue.push(
                at,
                Item::LinkClosed {
                    server: l.server,
                    life: l.life,
                    client: c,
                    link: l.id,
                },
            );
        }
    }

    pub(super) fn client_connect(&mut self, c: usize, addr: SocketAddr) {
        self.client_close(c);
        let server = addr_node(addr).filter(|&i| i < self.slots.0.len());
        let life = server
            .and_then(|i| self.slots.0.get(i))
            .map(|s| (s.lives, s.node.is_some()));
        let delay = self.net.delay(&mut self.rng) * 2; // the handshake's round trip
        let Some(sc) = self.clients.get_mut(c) else {
            return;
        };
        sc.next_link += 1;
        let id = sc.next_link;
        let at = self.now + delay;
        sc.link = Some(Link {
            id,
            server: server.unwrap_or(usize::MAX),
            life: life.map_or(0, |(l, _)| l),
            up_last: at,
            down_last: at,
        });
        let up = life.is_some_and(|(_, running)| running);
        let target = server.map_or(NodeId(0), |i| NodeId(i as u32 + 1));
        self.tracer
            .client_link(self.now, number(c), "connecting to", target);
        self.queue.push(
            at,
            Item::LinkState {
                client: c,
                link: id,
                up,
            },
        );
    }

    pub(super) fn schedule_send(&mut self, c: usize) {
        let Some(every) = self.send_every else {
            return;
        };
        // Spread between half and one and a half of the mean interval.
        let micros = every.as_micros() as u64;
        let wait =
            Duration::from_micros(micros / 2 + self.client_rng.random_range(0..=micros.max(1)));
        let at = self.now + wait;
        if at < self.send_until {
            self.queue.push(at, Item::ClientSend(c));
        }
    }

    pub(super) fn client_send(&mut self, c: usize) {
        self.counters.events += 1;
        if self.clients.get(c).is_none_or(|sc| sc.quit) {
            return;
        }
        let seq = self.clients.get(c).map_or(0, |sc| sc.client.next_seq());
        let client = number(c);
        let write = self.app.as_ref().and_then(|a| a.client_write(client, seq));
        let sent = self.with_client(c, |sc, now, out| {
            let accepted = match write {
                // The application's clients write its entries.
                Some(payload) => sc.client.write(payload, out).is_ok(),
                None => {
                    let text = crate::clients::chat_text(seq, number(c));
                    sc.client.send(now, text, out).is_ok()
                }
            };
            (accepted, sc.client.unacked())
        });
        if let Some((accepted, unacked)) = sent {
            self.replication.on_client_send(accepted, unacked);
        }
        self.schedule_send(c);
    }

    pub(super) fn client_quit(&mut self, c: usize) {
        let quit = self.with_client(c, |sc, _, out| {
            sc.quit = true;
            sc.client.quit(out);
        });
        if quit.is_some() {
            self.replication.on_client_quit(c);
        }
    }
}
