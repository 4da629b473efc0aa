//! Proposals of the application that embeds this node: entries it appends to
//! the replicated log itself, without a client connection, and whose fate it
//! is told of once known.
//!
//! The driver steps [`Event::Propose`](crate::Event::Propose) with a ticket of
//! its choosing; the node answers with exactly one
//! [`Action::Proposal`] for that ticket: at once when
//! it cannot take the entry (not the leader, still syncing, too many pending,
//! too large), otherwise when the entry committed — or when it is certain it
//! never will (another leader's history replaced it).
//!
//! A proposal is an entry of a client of its own: each leadership of this node
//! (its [`Stamp`]) proposes as a fresh client id in the reserved local range
//! ([`LOCAL_CLIENT_BIT`]), numbering from 1. Within one leadership the
//! leader's log holds every entry it appended, so the numbers never leave a
//! gap, and no number is ever reused across leaderships or restarts (the
//! stamp differs), so the log's deduplication can never mistake one proposal
//! for another. Connected clients cannot name an id in that range.
//!
//! Resolution follows the log on every node, leader or not: once the commit
//! index passes a proposal's entry, it committed if the committed history
//! holds its id (at whichever index: a `bully`/`ring` merge may move it), and
//! is lost if the log no longer holds that id at all.

use crate::context::Ctx;
use crate::log::{ClientMsgId, Entry, Log, Offer, Stamp};
use crate::replication::{NotServing, Replication};
use crate::wire::MAX_CHAT_BYTES;
use crate::Action;

pub(crate) mod error;
pub use error::{ProposalError, PENDING_MAX};
use std::collections::{BTreeMap, VecDeque};

/// Client ids with this bit set belong to the proposals of a node's own
/// application; connected clients may not use them.
pub const LOCAL_CLIENT_BIT: u64 = 1 << 63;

/// Whether a client id is in the range reserved for local proposals.
pub fn is_local_client(client: u64) -> bool {
    client & LOCAL_CLIENT_BIT != 0
}

/// The client id a leadership of this node proposes as: unique per stamp (the
/// epoch's low 31 bits; a node leading 2^31 epochs wraps around).
fn local_client(stamp: Stamp) -> u64 {
    LOCAL_CLIENT_BIT | (u64::from(stamp.leader.0) << 31) | (stamp.epoch & 0x7FFF_FFFF)
}

#[derive(Clone, Debug)]
struct Pending {
    ticket: u64,
    /// Where it was appended; it may commit elsewhere after a merge.
    index: u64,
}

/// The proposals of this node's application that await their outcome.
#[derive(Clone, Debug, Default)]
pub(crate) struct Proposals {
    /// Made while this node, just elected, synced its log: offered once it
    /// serves, refused if it stops leading first.
    held: VecDeque<(u64, Box<[u8]>)>,
    /// By the entry's id.
    pending: BTreeMap<ClientMsgId, Pending>,
    /// The committed entries up to here were looked through for pending ids.
    scanned: u64,
}

impl Proposals {
    /// Whether any proposal awaits its outcome.
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.held.is_empty()
    }

    /// Offers the application's entry to the log, or says at once why not.
    pub(crate) fn propose(
        &mut self,
        cx: &mut Ctx<'_>,
        repl: &mut Replication,
        ticket: u64,
        payload: Box<[u8]>,
    ) {
        if payload.len() > MAX_CHAT_BYTES {
            let (len, limit) = (payload.len(), MAX_CHAT_BYTES);
            return tell(cx, ticket, Err(ProposalError::TooLarge { len, limit }));
        }
        if self.pending.len() + self.held.len() >= PENDING_MAX {
            return tell(cx, ticket, Err(ProposalError::Full));
        }
        if !cx.leading() {
            return tell(cx, ticket, Err(not_leader(cx)));
        }
        if !repl.serving() || !self.held.is_empty() {
            // Offered in order once the log is synced (end of this step or later).
            self.held.push_back((ticket, payload));
            return;
        }
        self.offer(cx, repl, ticket, payload);
    }

    /// End of a step: the proposals held while syncing are offered once this
    /// node serves, and refused once it no longer leads.
    #[inline(never)]
    pub(crate) fn offer_held(&mut self, cx: &mut Ctx<'_>, repl: &mut Replication) {
        if self.held.is_empty() {
            return;
        }
        if !cx.leading() {
            for (ticket, _) in std::mem::take(&mut self.held) {
                tell(cx, ticket, Err(not_leader(cx)));
            }
        } else if repl.serving() {
            for (ticket, payload) in std::mem::take(&mut self.held) {
                self.offer(cx, repl, ticket, payload);
            }
        }
    }

    /// Appends a proposal while this node leads and serves.
    fn offer(&mut self, cx: &mut Ctx<'_>, repl: &mut Replication, ticket: u64, payload: Box<[u8]>) {
        let stamp = Stamp {
            epoch: cx.lead.epoch,
            leader: cx.me.id,
        };
        let client = local_client(stamp);
        let seq = repl.log().client_position(client).0.saturating_add(1);
        let id = ClientMsgId { client, seq };
        let entry = Entry::new(id, payload, cx.now);
        match repl.propose(entry) {
            Ok(Offer::Appended(index)) => {
                if self.pending.is_empty() {
                    // Nothing was scanned for while none was pending.
                    self.scanned = repl.log().commit_index();
                }
                self.pending.insert(id, Pending { ticket, index });
            }
            Ok(other) => {
                // A fresh number of a fresh id is always appended.
                tracing::error!(?other, %id, "a local proposal was not appended");
                tell(cx, ticket, Err(ProposalError::Lost));
            }
            Err(NotServing::Syncing) => tell(cx, ticket, Err(ProposalError::Syncing)),
            Err(NotServing::NotLeader) => tell(cx, ticket, Err(not_leader(cx))),
        }
    }

    /// End of a step: tells the outcome of every proposal the commit index
    /// passed. Called before the log's window is trimmed.
    #[inline(never)]
    pub(crate) fn resolve(&mut self, cx: &mut Ctx<'_>, log: &Log) {
        let commit = log.commit_index();
        if self.pending.is_empty() || commit == self.scanned {
            self.scanned = commit;
            return;
        }
        // A cut below what was scanned (a healed split brain) rescans.
        let mut next = self.scanned.min(commit) + 1;
        while next <= commit {
            if log.missing(next) {
                // Not in memory (a snapshot was installed): only the per-client
                // numbering says what committed.
                next = log.start().max(next + 1);
                continue;
            }
            let entries = log.entries_from(next, 512);
            if entries.is_empty() {
                break;
            }
            for e in entries.iter().take_while(|e| e.index <= commit) {
                if let Some(p) = self.pending.remove(&e.id) {
                    tell(cx, p.ticket, Ok(e.index));
                }
            }
            next += entries.len() as u64;
        }
        self.scanned = commit;
        self.settle_passed(cx, log);
    }

    /// Proposals whose entry the commit index passed without committing it:
    /// lost when the log holds no such number of their id any more, unknown
    /// when a snapshot covers the number (it committed, somewhere before).
    fn settle_passed(&mut self, cx: &mut Ctx<'_>, log: &Log) {
        let commit = log.commit_index();
        let settled: Vec<(ClientMsgId, ProposalError)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.index <= commit)
            .filter_map(|(id, _)| {
                let (last_seq, last_index) = log.client_position(id.client);
                if last_seq < id.seq {
                    Some((*id, ProposalError::Lost))
                } else if last_index < log.start() {
                    Some((*id, ProposalError::Unknown))
                } else {
                    None // in the log at a later index (moved by a merge): waits
                }
            })
            .collect();
        for (id, error) in settled {
            if let Some(p) = self.pending.remove(&id) {
                tell(cx, p.ticket, Err(error));
            }
        }
    }
}

/// Tells the driver the fate of proposal `ticket`.
fn tell(cx: &mut Ctx<'_>, ticket: u64, outcome: Result<u64, ProposalError>) {
    cx.out.push(Action::Proposal { ticket, outcome });
}

/// Refusal by a node that does not lead, naming the leader it knows.
fn not_leader(cx: &Ctx<'_>) -> ProposalError {
    ProposalError::NotLeader {
        leader: cx.leader_info().map(|l| l.id),
    }
}

#[cfg(test)]
mod tests;
