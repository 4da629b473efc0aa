//! What makes two states of the explorer the same: a hash of the nodes'
//! states, their disks, the messages in flight (as a bag), the faults used
//! and who led which epoch, leaving out absolute times, deadlines and
//! random-number state (two paths that reach the same roles, terms, votes,
//! logs, views and messages by different timings meet here).
//!
//! The nodes are read through their public view (role, leader, epoch, term,
//! vote, log, commit and durable indexes, held messages, membership): state
//! the view does not show (an election's tally under way, say) does not tell
//! two states apart, so a bound reached says "no violation in the states
//! told apart", a limit the README states.

use super::model::{InFlight, Model, Server};
use crate::digest::Digest;
use ringleader_core::wire::Message;
use std::hash::Hash;

/// The state's fingerprint.
pub fn of(model: &Model) -> u64 {
    let mut d = Digest::default();
    for s in &model.servers {
        server(&mut d, s);
    }
    let mut flight: Vec<u64> = model.flight.iter().map(message).collect();
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
    for m in node.members().iter() {
        d.word(u64::from(m.info.id.0));
        d.word(m.info.incarnation.counter);
        m.state.hash(d);
    }
}

/// One message in flight: who to whom, its sender's life (the counter, not
/// the clock it started at) and all it says.
fn message(f: &InFlight) -> u64 {
    let mut d = Digest::default();
    d.word(f.from as u64);
    d.word(f.to as u64);
    let sender = f.msg.sender();
    d.word(sender.incarnation.counter);
    match &f.msg {
        Message::Heartbeat { leading, .. } => {
            d.word(1);
            leading.hash(&mut d);
        }
        Message::Election { algorithm, msg, .. } => {
            d.word(2);
            algorithm.hash(&mut d);
            msg.hash(&mut d);
        }
        Message::Replication { msg, .. } => {
            d.word(3);
            msg.hash(&mut d);
        }
        other => {
            d.word(4);
            other.kind().hash(&mut d);
        }
    }
    d.value_u64()
}
