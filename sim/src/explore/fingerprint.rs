//! What makes two states of the explorer the same: a hash of the nodes'
//! states, their disks, the messages in flight (as a bag), the faults used
//! and who led which epoch, leaving out absolute times, deadlines and
//! random-number state (two paths that reach the same roles, terms, votes,
//! logs, views and messages by different timings meet here).
//!
//! The nodes are read through their public view (role, leader, epoch, term,
//! vote, log, commit and durable indexes, held messages, membership) and
//! `Node::fingerprint`: what else decides their next moves (an election's
//! tally or phase, a leader's progress with each follower, the clients'
//! sessions), times left out.

use super::client::ClientSide;
use super::flight::{Carried, InFlight};
use super::model::{Model, Server};
use crate::digest::Digest;
use ringleader_core::wire::Message;
use std::hash::Hash;

/// The state's fingerprint.
pub fn of(model: &Model) -> u64 {
    let mut d = Digest::default();
    for s in &model.servers {
        server(&mut d, s);
    }
    if let Some(c) = &model.client {
        client(&mut d, c);
    }
    let conn = model.client.as_ref().and_then(|c| c.conn).map(|c| c.id);
    let mut flight: Vec<u64> = model.flight.iter().map(|f| message(f, conn)).collect();
    flight.sort_unstable();
    d.word(flight.len() as u64);
    for m in flight {
        d.word(m);
    }
    model.used.hash(&mut d);
    for (epoch, leader) in &model.leaders {
        d.word(*epoch);
        d.word(u64::from(leader.0));
    }
    d.value_u64()
}

fn server(d: &mut Digest, s: &Server) {
    d.word(s.lives);
    d.word(u64::from(s.disk.syncing().is_some()));
    d.word(s.disk.unsynced_writes() as u64);
    let stable = s.disk.stable_state();
    stable.hash(d);
    let written = s.disk.written_log();
    d.word(written.commit_index());
    d.word(s.disk.stable_log().last_index());
    for index in written.start()..=written.last_index() {
        written.stamp_at(index).hash(d);
    }
    let Some(node) = &s.node else {
        d.word(u64::MAX);
        return;
    };
    d.word(node.lifecycle() as u64);
    let lead = node.leadership();
    d.word(lead.role as u64);
    lead.leader.hash(d);
    d.word(lead.epoch);
    node.persisted().hash(d);
    let log = node.log();
    d.word(log.last_index());
    d.word(log.commit_index());
    d.word(node.durable_index());
    d.word(node.held_messages() as u64);
    d.word(u64::from(node.disk_stalled()));
    node.fingerprint(d);
    for m in node.members().iter() {
        d.word(u64::from(m.info.id.0));
        d.word(m.info.incarnation.counter);
        m.state.hash(d);
    }
}

/// The client through its public view: where it is in finding the leader,
/// whom it follows, what it has sent and seen, its connection (the number
/// left out: only whether a message is on it counts, see [`message`]).
fn client(d: &mut Digest, c: &ClientSide) {
    d.word(c.client.phase() as u64);
    c.client.leader().hash(d);
    d.word(c.client.unacked() as u64);
    d.word(c.client.next_seq());
    d.word(c.client.next_index());
    d.word(u64::from(c.submitted));
    c.conn.map(|c| (c.server, c.life)).hash(d);
}

/// One message in flight: who to whom, and all it says. A message between
/// nodes counts its sender's life (the counter, not the clock it started
/// at); one to the client, whether it is on the connection `conn` the
/// client has now.
fn message(f: &InFlight, conn: Option<u64>) -> u64 {
    let mut d = Digest::default();
    d.word(f.from as u64);
    d.word(f.to as u64);
    match &f.what {
        Carried::Peer(msg) => peer_message(&mut d, msg),
        Carried::ToServer { msg, life } => {
            d.word(5);
            life.hash(&mut d);
            msg.hash(&mut d);
        }
        Carried::Closed { life } => {
            d.word(6);
            d.word(*life);
        }
        Carried::ToClient { msg, conn: on } => {
            d.word(7);
            d.word(u64::from(on.is_none() || *on == conn));
            msg.hash(&mut d);
        }
        Carried::Reset { conn: on } => {
            d.word(8);
            d.word(u64::from(Some(*on) == conn));
        }
    }
    d.value_u64()
}

/// A message between nodes: its sender's life and all it says.
fn peer_message(d: &mut Digest, msg: &Message) {
    d.word(msg.sender().incarnation.counter);
    match msg {
        Message::Heartbeat { leading, .. } => {
            d.word(1);
            leading.hash(d);
        }
        Message::Election { algorithm, msg, .. } => {
            d.word(2);
            algorithm.hash(d);
            msg.hash(d);
        }
        Message::Replication { msg, .. } => {
            d.word(3);
            msg.hash(d);
        }
        other => {
            d.word(4);
            other.kind().hash(d);
        }
    }
}
