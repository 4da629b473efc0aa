//! Retention: how much history the log keeps. Whole closed segments older
//! than that are deleted once a checkpoint of the committed history covers
//! them; the node is told what they amounted to (a snapshot) and sends it to
//! followers too far behind.

use super::fold::Folded;
use ringleader_core::log::Snapshot;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// How much history to keep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Retain {
    /// Everything (the default).
    #[default]
    All,
    /// At least this many of the newest entries.
    Entries(u64),
    /// At least the entries appended within this long.
    Age(Duration),
    /// At least this many bytes of the newest segments.
    Bytes(u64),
}

/// Checkpoints kept to compact at: one per closed segment.
const CHECKPOINTS_MAX: usize = 256;

/// What retention knows of the segments and the checkpoints it may compact at.
#[derive(Debug, Default)]
pub struct Segments {
    /// Per segment: the highest index written to it, the time of its newest
    /// entry (µs on the leaders' clocks) and its length in bytes.
    pub max: BTreeMap<u64, (u64, u64, u64)>,
    /// The fold of the committed history as each closed segment's entries
    /// all committed, oldest first.
    pub checkpoints: VecDeque<Folded>,
    /// Closed segments' highest indexes the fold has not reached yet.
    awaiting: VecDeque<u64>,
}

impl Segments {
    /// Entry `index` (appended at `at`) was written to `segment`.
    pub fn written(&mut self, segment: u64, index: u64, at: u64, len: u64) {
        let slot = self.max.entry(segment).or_default();
        slot.0 = slot.0.max(index);
        slot.1 = slot.1.max(at);
        slot.2 = len;
    }

    /// Segment `segment` closed.
    pub fn closed(&mut self, segment: u64) {
        if let Some((max, _, _)) = self.max.get(&segment) {
            self.awaiting.push_back(*max);
        }
    }

    /// The history is folded as `folded` (shown after every entry, so a
    /// checkpoint falls where a closed segment's entries end, however far a
    /// commit index jumps): a checkpoint once it covers a closed segment's
    /// entries (what a compaction can stand on).
    pub fn folded(&mut self, folded: &Folded) {
        if self.awaiting.front().is_none_or(|max| *max > folded.upto()) {
            return;
        }
        let mut reached = false;
        while self
            .awaiting
            .front()
            .is_some_and(|max| *max <= folded.upto())
        {
            self.awaiting.pop_front();
            reached = true;
        }
        if reached {
            if self.checkpoints.len() >= CHECKPOINTS_MAX {
                self.checkpoints.pop_front();
            }
            self.checkpoints.push_back(folded.clone());
        }
    }

    /// The highest index `retain` lets go of, `last` being the last index
    /// written and `now` the time (µs), counting only closed segments (not
    /// `current`).
    fn droppable(&self, retain: Retain, last: u64, now: u64, current: u64) -> u64 {
        let closed = self.max.range(..current);
        match retain {
            Retain::All => 0,
            Retain::Entries(n) => last.saturating_sub(n),
            Retain::Age(d) => {
                let before = now.saturating_sub(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
                closed
                    .filter(|(_, (_, at, _))| *at < before)
                    .map(|(_, (max, _, _))| *max)
                    .max()
                    .unwrap_or(0)
            }
            Retain::Bytes(b) => {
                let mut kept = self.max.get(&current).map_or(0, |m| m.2);
                for (_, (max, _, len)) in closed.rev() {
                    if kept >= b {
                        return *max;
                    }
                    kept += len;
                }
                0
            }
        }
    }

    /// Where to compact now, if anywhere: the newest checkpoint `retain`
    /// lets go of, past the log's `start` and not past `floor`, with the
    /// segments it frees (every closed one whose entries it covers). The
    /// checkpoints before it go.
    pub fn compaction(
        &mut self,
        retain: Retain,
        (start, last, now, current): (u64, u64, u64, u64),
        floor: u64,
    ) -> Option<(Snapshot, Vec<u64>)> {
        let limit = self.droppable(retain, last, now, current).min(floor);
        let at = self
            .checkpoints
            .iter()
            .rposition(|f| f.upto() <= limit && f.upto() >= start)?;
        let folded = self.checkpoints.get(at)?.clone();
        let index = folded.upto();
        let freed: Vec<u64> = self
            .max
            .range(..current)
            .filter(|(_, (max, _, _))| *max <= index)
            .map(|(s, _)| *s)
            .collect();
        if freed.is_empty() {
            return None;
        }
        self.checkpoints.drain(..=at);
        for s in &freed {
            self.max.remove(s);
        }
        let snap = Snapshot {
            index,
            stamp: folded.runs.stamp_at(index)?,
            clients: folded
                .clients
                .iter()
                .map(|(c, (seq, i))| (*c, *seq, *i))
                .collect(),
            digest: folded.digest.value,
        };
        Some((snap, freed))
    }
}
