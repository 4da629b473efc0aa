//! A rolling digest of the committed history, covering every field of every
//! entry (payloads included): folded forward by the writer as entries commit
//! (see [`super::fold`]), so a status query costs nothing, and recomputed
//! from the disk only when committed entries are replaced (a healed split
//! brain under bully or ring).

use ringleader_core::log::{Entry, Log};

/// FNV-1a, 64 bits, over the committed entries in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommitDigest {
    /// The digest.
    pub value: u64,
    /// The last index folded in.
    pub upto: u64,
}

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0100_0000_01b3;

fn fold(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    }
    h
}

fn fold_entry(h: u64, e: &Entry) -> u64 {
    let mut h = h;
    for word in [
        e.index,
        e.epoch,
        u64::from(e.leader.0),
        e.id.client,
        e.id.seq,
        e.at.as_micros(),
        e.payload.len() as u64,
    ] {
        h = fold(h, &word.to_le_bytes());
    }
    fold(h, &e.payload)
}

impl Default for CommitDigest {
    fn default() -> Self {
        CommitDigest {
            value: OFFSET,
            upto: 0,
        }
    }
}

impl CommitDigest {
    /// The digest of `log`'s committed entries.
    pub fn of(log: &Log) -> Self {
        let mut d = CommitDigest::default();
        d.advance(log);
        d
    }

    /// (Tests: the fold against which the writer's is checked.) Folds in
    /// what committed since; `cut_from`: entries from this index on
    /// were replaced (then what was folded past it is recomputed).
    #[cfg(test)]
    pub fn update(&mut self, log: &Log, cut_from: Option<u64>) {
        if cut_from.is_some_and(|c| c <= self.upto) || log.commit_index() < self.upto {
            *self = CommitDigest::default();
        }
        self.advance(log);
    }

    fn advance(&mut self, log: &Log) {
        let commit = log.commit_index();
        for e in log.all_from(self.upto + 1) {
            if e.index > commit {
                break;
            }
            self.fold(e);
        }
    }

    /// Folds in `e`, the entry after the last folded one (anything else is
    /// left out).
    pub fn fold(&mut self, e: &Entry) {
        if e.index == self.upto + 1 {
            self.value = fold_entry(self.value, e);
            self.upto = e.index;
        }
    }
}
