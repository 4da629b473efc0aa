//! The explorer's client: the core's sans-IO [`Client`] (the code `ringleader
//! chat` runs) with a connection that is up the moment it is asked for when
//! its server runs (refused when it does not), carrying what the client sends
//! in order. What it is told goes to the checkers (`ack_means_committed`,
//! `client_order`); what it sends goes in flight like any message, so every
//! order of its messages against the servers' is explored too.

use super::flight::{Carried, InFlight};
use crate::addr::{addr_node, sim_addr};
use crate::clients::{client_id, number};
use ringleader_core::client::{Client, ClientAction, ClientConfig, ClientEvent, ClientOutput};
use ringleader_core::wire::{ClientMsg, ServerMsg};
use ringleader_core::{Instant, NodeId};
use std::collections::VecDeque;

/// The client's connection: to which life of which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Conn {
    /// Its number (connections the client gave up are told apart by it).
    pub(crate) id: u64,
    pub(crate) server: usize,
    pub(crate) life: u64,
}

/// The client and what it holds beside its state machine.
#[derive(Clone, Debug)]
pub(crate) struct ClientSide {
    pub(crate) client: Client,
    /// The client's clock.
    pub(crate) local: Instant,
    pub(crate) conn: Option<Conn>,
    next_conn: u64,
    /// Messages handed to it so far, and the most it is handed.
    pub(crate) submitted: u32,
    pub(crate) limit: u32,
}

/// What one step of the client did.
#[derive(Debug, Default)]
pub(crate) struct Stepped {
    /// Messages it put in flight.
    pub(crate) sent: Vec<InFlight>,
    /// What it told its user.
    pub(crate) outputs: Vec<ClientOutput>,
    /// Actions beyond keeping the session alive.
    pub(crate) taken: usize,
    /// Connections it opened and closed, in words (for the viewer).
    pub(crate) notes: Vec<String>,
}

impl ClientSide {
    /// A client of `servers` servers (it tries them in turn) that will be
    /// handed up to `limit` messages.
    pub(crate) fn new(servers: usize, limit: u32) -> Self {
        let mut config = ClientConfig::new(client_id(0), format!("user{}", number(0)));
        config.servers = (1..=servers as u32).map(|i| sim_addr(NodeId(i))).collect();
        ClientSide {
            client: Client::new(config),
            local: Instant::ZERO,
            conn: None,
            next_conn: 0,
            submitted: 0,
            limit,
        }
    }

    /// Whether another message may be handed to it.
    pub(crate) fn may_submit(&self) -> bool {
        self.submitted < self.limit
    }

    /// The user hands it the next message. `lives`: each server's life while
    /// it runs (the client's own endpoint is numbered after them).
    pub(crate) fn submit(&mut self, lives: &[Option<u64>]) -> Stepped {
        self.submitted += 1;
        let text = format!("m{}", self.submitted);
        let mut actions = Vec::new();
        // Refused only when the buffer is full, which a handful of messages
        // never makes it.
        let _ = self.client.send(self.local, text, &mut actions);
        let mut done = Stepped::default();
        self.carry_out(actions, lives, &mut done);
        done.taken += 1;
        done
    }

    /// Feeds `event` and carries out what follows.
    pub(crate) fn step(&mut self, event: ClientEvent, lives: &[Option<u64>]) -> Stepped {
        let mut done = Stepped::default();
        let mut actions = Vec::new();
        self.client.step(self.local, event, &mut actions);
        self.carry_out(actions, lives, &mut done);
        done
    }

    /// `what` reaches the client; stale connections' messages are ignored.
    pub(crate) fn receive(&mut self, what: Carried, lives: &[Option<u64>]) -> Stepped {
        let current = self.conn.map(|c| c.id);
        match what {
            Carried::ToClient { msg, conn } if conn.is_none() || conn == current => {
                self.step(ClientEvent::Received(msg), lives)
            }
            Carried::Reset { conn } if Some(conn) == current => {
                self.conn = None;
                self.step(ClientEvent::Disconnected, lives)
            }
            _ => Stepped::default(),
        }
    }

    /// Server `i`, in life `life`, sends `msg` to the client: on the client's
    /// connection to it, or as a datagram when it answers a probe; `None`
    /// when the client is not connected there.
    pub(crate) fn server_message(&self, i: usize, life: u64, msg: ServerMsg) -> Option<Carried> {
        if matches!(msg, ServerMsg::Here { .. }) {
            return Some(Carried::ToClient { msg, conn: None });
        }
        let conn = Some(self.conn_to(i, life)?);
        Some(Carried::ToClient { msg, conn })
    }

    /// Server `i`, in life `life`, closes the client's connection.
    pub(crate) fn closed_by_server(&self, i: usize, life: u64) -> Option<Carried> {
        let conn = self.conn_to(i, life)?;
        Some(Carried::Reset { conn })
    }

    /// The number of the client's connection, if it is to server `i` in
    /// life `life`.
    fn conn_to(&self, i: usize, life: u64) -> Option<u64> {
        self.conn
            .filter(|c| c.server == i && c.life == life)
            .map(|c| c.id)
    }

    fn carry_out(&mut self, actions: Vec<ClientAction>, lives: &[Option<u64>], done: &mut Stepped) {
        let me = lives.len();
        let mut queue: VecDeque<ClientAction> = actions.into();
        while let Some(action) = queue.pop_front() {
            if !matches!(action, ClientAction::Send(ClientMsg::Ping)) {
                done.taken += 1;
            }
            let mut follow = Vec::new();
            match action {
                ClientAction::Probe(msg) => {
                    for to in 0..lives.len() {
                        let what = Carried::ToServer {
                            msg: msg.clone(),
                            life: None,
                        };
                        done.sent.push(InFlight::new(me, to, what));
                    }
                }
                ClientAction::Connect(addr) => {
                    self.close(me, done);
                    let server = addr_node(addr).filter(|&i| i < lives.len());
                    let life = server.and_then(|i| lives.get(i).copied().flatten());
                    let event = match (server, life) {
                        (Some(server), Some(life)) => {
                            self.next_conn += 1;
                            self.conn = Some(Conn {
                                id: self.next_conn,
                                server,
                                life,
                            });
                            done.notes.push(format!("c1 connected to n{}", server + 1));
                            ClientEvent::Connected
                        }
                        _ => ClientEvent::Disconnected,
                    };
                    self.client.step(self.local, event, &mut follow);
                }
                ClientAction::Send(msg) => {
                    if let Some(c) = self.conn {
                        let what = Carried::ToServer {
                            msg,
                            life: Some(c.life),
                        };
                        done.sent.push(InFlight::new(me, c.server, what));
                    }
                }
                ClientAction::Disconnect => self.close(me, done),
                ClientAction::Output(o) => done.outputs.push(o),
            }
            queue.extend(follow);
        }
    }

    /// Gives up the current connection; its server hears of it.
    fn close(&mut self, me: usize, done: &mut Stepped) {
        if let Some(c) = self.conn.take() {
            done.notes
                .push(format!("c1 closed its connection to n{}", c.server + 1));
            done.sent.push(InFlight::new(
                me,
                c.server,
                Carried::Closed { life: c.life },
            ));
        }
    }
}
