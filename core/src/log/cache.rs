//! Entries read back from the driver's disk (older than the log's window in
//! memory), kept for the few readers that asked for them: a lagging
//! follower's catch-up, a client resuming from an old index. A handful of
//! chunks, the oldest given way first, so memory stays bounded whatever the
//! readers ask for.

use super::entry::Entry;
use std::collections::VecDeque;

/// Chunks kept at once: one per reader a node serves from the disk at a time
/// (a reader whose chunk gave way asks again).
pub const READ_CHUNKS: usize = 4;

/// The entries read back, in chunks of contiguous indexes.
#[derive(Clone, Debug, Default)]
pub struct ReadCache {
    chunks: VecDeque<Vec<Entry>>,
}

impl ReadCache {
    /// Keeps `chunk` (contiguous, not empty), giving way to it the oldest chunk
    /// when full, and any chunk it overlaps.
    pub fn insert(&mut self, chunk: Vec<Entry>) {
        let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
            return;
        };
        let (first, last) = (first.index, last.index);
        self.chunks.retain(|c| {
            let (f, l) = (
                c.first().map_or(0, |e| e.index),
                c.last().map_or(0, |e| e.index),
            );
            l < first || f > last
        });
        if self.chunks.len() >= READ_CHUNKS {
            self.chunks.pop_front();
        }
        self.chunks.push_back(chunk);
    }

    /// The cached entries from `from` on, up to the end of their chunk.
    pub fn from(&self, from: u64) -> &[Entry] {
        for c in &self.chunks {
            let Some(first) = c.first().map(|e| e.index) else {
                continue;
            };
            let Some(offset) = from.checked_sub(first) else {
                continue;
            };
            if let Some(rest) = usize::try_from(offset).ok().and_then(|o| c.get(o..)) {
                if !rest.is_empty() {
                    return rest;
                }
            }
        }
        &[]
    }

    /// The entry at `index`, if cached.
    pub fn get(&self, index: u64) -> Option<&Entry> {
        self.from(index).first()
    }

    /// Forgets every entry before `start` (compacted away).
    pub fn cut_before(&mut self, start: u64) {
        self.chunks
            .retain(|c| c.last().is_some_and(|e| e.index >= start));
        for c in &mut self.chunks {
            let gone = c.partition_point(|e| e.index < start);
            c.drain(..gone);
        }
    }

    /// Forgets every entry from `from` on (they were replaced).
    pub fn cut(&mut self, from: u64) {
        for c in &mut self.chunks {
            let keep = c.partition_point(|e| e.index < from);
            c.truncate(keep);
        }
        self.chunks.retain(|c| !c.is_empty());
    }
}
