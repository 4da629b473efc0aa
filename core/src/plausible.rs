//! Which values a peer's message may carry, whatever the transport let through.
//!
//! Decoding only proves a message well formed. Before any part of a node looks
//! at it, every number in it is checked:
//! - no epoch, term, index, commit, sequence number, incarnation counter or
//!   timestamp lies within 2^32 of the top of its range ([`TOP_MARGIN`]): the
//!   node adds to such values (the next epoch, the next index) and must never
//!   wrap or saturate into a value that sticks;
//! - no epoch or term is more than [`EPOCH_LEAP`] above the highest this node
//!   has seen: an honest cluster moves up one epoch per election, so a leap of a
//!   million is a forgery (or a bug) that would otherwise leave every later
//!   election behind it.
//!
//! A message that fails is dropped whole and counted; nothing in it is adopted.

use crate::log::Entry;
use crate::wire::{AppendOutcome, ElectionMsg, Message, ReplicationMsg};

/// Values this close to `u64::MAX` are refused: room for any sum the node makes.
pub const TOP_MARGIN: u64 = 1 << 32;
/// How far above the highest epoch seen a message's epoch or term may be.
pub const EPOCH_LEAP: u64 = 1_000_000;

/// Why a message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implausible {
    /// A number within [`TOP_MARGIN`] of the top of its range.
    NearTheTop(&'static str),
    /// An epoch or term more than [`EPOCH_LEAP`] above the highest seen.
    EpochLeap(u64),
    /// Numbers that do not fit together.
    Inconsistent(&'static str),
}

impl std::fmt::Display for Implausible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Implausible::NearTheTop(what) => {
                write!(f, "its {what} is within 2^32 of the largest value")
            }
            Implausible::Inconsistent(what) => write!(f, "{what}"),
            Implausible::EpochLeap(e) => write!(
                f,
                "its epoch {e} is more than {EPOCH_LEAP} above any this node has seen"
            ),
        }
    }
}

/// Checks every number of `msg` against the bounds above; `highest` is the
/// highest epoch this node has seen. The first number that fails, in the
/// message's order, is the answer.
pub fn check(msg: &Message, highest: u64) -> Result<(), Implausible> {
    let c = Checker { highest };
    let sender = msg.sender();
    position("incarnation", sender.incarnation.counter)?;
    position("start time", sender.incarnation.started_at.as_micros())?;
    match msg {
        Message::Heartbeat {
            leading: Some(e), ..
        } => c.epoch(*e),
        Message::Election { msg, .. } => c.election(msg),
        Message::Replication { msg, .. } => c.replication(msg),
        _ => Ok(()),
    }
}

/// A number the node may add to: refused within [`TOP_MARGIN`] of the top.
fn position(what: &'static str, v: u64) -> Result<(), Implausible> {
    if v > u64::MAX - TOP_MARGIN {
        return Err(Implausible::NearTheTop(what));
    }
    Ok(())
}

/// What a message is checked against: the highest epoch seen.
struct Checker {
    highest: u64,
}

impl Checker {
    fn epoch(&self, e: u64) -> Result<(), Implausible> {
        position("epoch", e)?;
        if e > self.highest.saturating_add(EPOCH_LEAP) {
            return Err(Implausible::EpochLeap(e));
        }
        Ok(())
    }

    fn entries(&self, entries: &[Entry]) -> Result<(), Implausible> {
        for e in entries {
            self.epoch(e.epoch)?;
            position("index", e.index)?;
            position("sequence number", e.id.seq)?;
            position("client id", e.id.client)?;
        }
        Ok(())
    }

    fn election(&self, msg: &ElectionMsg) -> Result<(), Implausible> {
        match msg {
            ElectionMsg::Election { epoch }
            | ElectionMsg::Ok { epoch }
            | ElectionMsg::Coordinator { epoch } => self.epoch(*epoch),
            ElectionMsg::Vote { candidate, epoch } => {
                self.epoch(*epoch)?;
                position("incarnation", candidate.incarnation.counter)
            }
            ElectionMsg::Elected { leader, epoch } => {
                self.epoch(*epoch)?;
                position("incarnation", leader.incarnation.counter)
            }
            ElectionMsg::PreVote {
                term,
                last_epoch,
                last_index,
            }
            | ElectionMsg::RequestVote {
                term,
                last_epoch,
                last_index,
            } => {
                self.epoch(*term)?;
                self.epoch(*last_epoch)?;
                position("index", *last_index)
            }
            ElectionMsg::PreVoteReply { term, .. }
            | ElectionMsg::NewerTerm { term }
            | ElectionMsg::VoteReply { term, .. } => self.epoch(*term),
            ElectionMsg::LeaseRenew { term, stamp } | ElectionMsg::LeaseGrant { term, stamp } => {
                self.epoch(*term)?;
                position("stamp", *stamp)
            }
        }
    }

    fn replication(&self, msg: &ReplicationMsg) -> Result<(), Implausible> {
        self.epoch(msg.epoch())?;
        match msg {
            ReplicationMsg::Append {
                prev_index,
                prev,
                entries,
                commit,
                ..
            }
            | ReplicationMsg::Chunk {
                prev_index,
                prev,
                entries,
                commit,
                ..
            }
            | ReplicationMsg::Rewrite {
                prev_index,
                prev,
                entries,
                commit,
                ..
            } => {
                position("index", *prev_index)?;
                self.epoch(prev.epoch)?;
                self.entries(entries)?;
                position("commit index", *commit)
            }
            ReplicationMsg::AppendReply { outcome, .. } => match outcome {
                AppendOutcome::Matched(i)
                | AppendOutcome::Mismatch { hint: i }
                | AppendOutcome::Conflict { index: i } => position("index", *i),
                AppendOutcome::EpochTaken => Ok(()),
            },
            ReplicationMsg::TipRequest { commit, .. } => position("commit index", *commit),
            ReplicationMsg::Tip {
                last_index,
                last_epoch,
                commit,
                ..
            } => {
                position("index", *last_index)?;
                self.epoch(*last_epoch)?;
                position("commit index", *commit)
            }
            ReplicationMsg::Fetch { from, .. } => position("index", *from),
            ReplicationMsg::CatchUpFrom { .. } => Ok(()),
            ReplicationMsg::AppSnapshot { .. } => self.app_snapshot_part(msg),
            ReplicationMsg::Snapshot { .. } => self.snapshot_part(msg),
        }
    }

    /// A part of an application snapshot: its numbers fit together.
    fn app_snapshot_part(&self, msg: &ReplicationMsg) -> Result<(), Implausible> {
        let ReplicationMsg::AppSnapshot {
            index,
            stamp,
            len,
            number,
            of,
            bytes,
            commit,
            ..
        } = msg
        else {
            return Ok(());
        };
        position("index", *index)?;
        self.epoch(stamp.epoch)?;
        position("commit index", *commit)?;
        let numbered = *of > 0 && number < of && *of <= crate::wire::SNAPSHOT_PARTS_MAX;
        let sized = usize::try_from(*len)
            .is_ok_and(|l| l <= crate::log::APP_SNAPSHOT_BYTES_MAX && bytes.len() <= l)
            && bytes.len() <= crate::log::ENTRIES_BYTES_MAX;
        if !(numbered && sized && index <= commit) {
            return Err(Implausible::Inconsistent(
                "an application snapshot part whose numbers do not fit together",
            ));
        }
        Ok(())
    }

    /// A part of the log's snapshot: its numbers fit together.
    fn snapshot_part(&self, msg: &ReplicationMsg) -> Result<(), Implausible> {
        let ReplicationMsg::Snapshot {
            part,
            number,
            of,
            commit,
            app,
            ..
        } = msg
        else {
            return Ok(());
        };
        position("index", part.index)?;
        if let Some(at) = app {
            position("index", *at)?;
        }
        self.epoch(part.stamp.epoch)?;
        position("commit index", *commit)?;
        let numbered = *of > 0 && number < of && *of <= crate::wire::SNAPSHOT_PARTS_MAX;
        if !(numbered && part.plausible()) {
            return Err(Implausible::Inconsistent(
                "a snapshot part whose numbers do not fit together",
            ));
        }
        for (client, seq, _) in &part.clients {
            position("client id", *client)?;
            position("sequence number", *seq)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{Incarnation, NodeId, NodeInfo};
    use crate::time::Instant;

    fn me(counter: u64) -> NodeInfo {
        NodeInfo {
            id: NodeId(2),
            addr: "10.0.0.2:7000".parse().unwrap(),
            incarnation: Incarnation {
                counter,
                started_at: Instant::from_millis(5),
            },
        }
    }

    fn claim(epoch: u64) -> Message {
        Message::Heartbeat {
            from: me(1),
            leading: Some(epoch),
        }
    }

    #[test]
    fn ordinary_values_pass() {
        assert_eq!(check(&claim(7), 6), Ok(()));
        assert_eq!(check(&claim(EPOCH_LEAP), 0), Ok(()));
    }

    #[test]
    fn an_epoch_far_above_any_seen_is_refused() {
        assert_eq!(
            check(&claim(EPOCH_LEAP + 1), 0),
            Err(Implausible::EpochLeap(EPOCH_LEAP + 1))
        );
        let term = Message::Election {
            from: me(1),
            algorithm: crate::Algorithm::Quorum,
            msg: ElectionMsg::NewerTerm { term: u64::MAX },
        };
        assert!(
            check(&term, u64::MAX).is_err(),
            "near the top, whatever was seen"
        );
    }

    #[test]
    fn numbers_near_the_top_are_refused_wherever_they_are() {
        let hb = Message::Heartbeat {
            from: me(u64::MAX),
            leading: None,
        };
        assert_eq!(check(&hb, 0), Err(Implausible::NearTheTop("incarnation")));
        let tip = Message::Replication {
            from: me(1),
            msg: Box::new(ReplicationMsg::TipRequest {
                epoch: 1,
                commit: u64::MAX,
            }),
        };
        assert_eq!(check(&tip, 1), Err(Implausible::NearTheTop("commit index")));
        let reply = Message::Replication {
            from: me(1),
            msg: Box::new(ReplicationMsg::AppendReply {
                epoch: 1,
                outcome: AppendOutcome::Matched(u64::MAX - 5),
            }),
        };
        assert_eq!(check(&reply, 1), Err(Implausible::NearTheTop("index")));
    }
}
