//! The log's window in memory: how many bytes of entries it keeps, which it
//! may let go of (committed ones the disk holds), and how it is rebuilt from
//! what a driver read back (a summary of what is out of memory, then the
//! newest entries).

use super::entry::Entry;
use super::runs::StampRuns;
use super::state::Log;
use std::collections::BTreeMap;

/// What an entry costs in memory (its author is shared per client).
pub(super) fn footprint(e: &Entry) -> usize {
    std::mem::size_of::<Entry>().saturating_add(e.payload.len())
}

/// What a log knows of the entries it no longer holds in memory: enough to
/// rebuild it from a driver's disk without reading them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogSummary {
    /// The stamps of entries 1 ..= `runs.last()`: the entries summarised.
    pub runs: StampRuns,
    /// Per client: its last message number among them and its index.
    pub clients: BTreeMap<u64, (u64, u64)>,
}

impl Log {
    /// Keeps at most about `bytes` of entries in memory, but never fewer than
    /// `keep` entries, nor any that is not committed and on the disk (see
    /// [`evict`](Self::evict)).
    pub fn set_memory_limit(&mut self, bytes: usize, keep: usize) {
        self.memory_limit = bytes;
        self.keep = keep;
    }

    /// Bytes of entries in memory, and how many entries.
    pub fn memory(&self) -> (usize, usize) {
        (self.memory, self.entries.len())
    }

    /// The first index held in memory (one past the last when none is).
    pub fn memory_from(&self) -> u64 {
        self.base + 1
    }

    /// Lets go of the oldest entries in memory, up to `upto` (committed and
    /// on stable storage: the driver can read them back), while the window
    /// is over its limit. Works in batches of an eighth of the limit so the
    /// cost per entry stays constant.
    #[inline]
    pub fn evict(&mut self, upto: u64) {
        // Called after every step; over the limit only now and then.
        let slack = self.memory_limit / 8;
        if self.memory > self.memory_limit.saturating_add(slack) {
            self.evict_over_limit(upto);
        }
    }

    #[inline(never)]
    fn evict_over_limit(&mut self, upto: u64) {
        let upto = upto.min(self.commit);
        let mut drop = 0usize;
        let mut memory = self.memory;
        for e in &self.entries {
            if memory <= self.memory_limit
                || e.index > upto
                || self.entries.len() - drop <= self.keep
            {
                break;
            }
            memory -= footprint(e);
            super::state::note_client(&mut self.clients_base, e);
            drop += 1;
        }
        if drop > 0 {
            self.entries.drain(..drop);
            self.memory = memory;
            self.base += drop as u64;
        }
    }

    /// Lets go of every entry in memory up to `index`, whatever the limit
    /// (they were compacted away).
    pub(super) fn drop_through(&mut self, index: u64) {
        let n = usize::try_from(index.saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        for e in self.entries.drain(..n) {
            self.memory = self.memory.saturating_sub(footprint(&e));
            super::state::note_client(&mut self.clients_base, &e);
        }
        self.base = self.base.max(index);
    }

    /// Keeps the first `keep` entries (committed or not); what replaced
    /// entries in memory is rebuilt from what is left.
    pub(super) fn cut_to(&mut self, keep: u64) {
        if keep >= self.last_index() {
            return;
        }
        self.runs.truncate(keep);
        self.cache.cut(keep + 1);
        if keep < self.base {
            // Deeper than the window (a `bully`/`ring` history rewritten after
            // a split brain healed): the per-client numbers of what is out of
            // memory stay as they were, which may make a client's message that
            // only the replaced branch held count as seen. Logged: a limit of
            // a window that small.
            tracing::warn!(
                keep,
                window_from = self.base + 1,
                "history replaced below the memory window: client numbering kept as it was"
            );
            self.entries.clear();
            self.memory = 0;
            self.base = keep;
        } else {
            let rest = usize::try_from(keep - self.base).unwrap_or(usize::MAX);
            let gone: usize = self
                .entries
                .get(rest..)
                .unwrap_or_default()
                .iter()
                .map(footprint)
                .sum();
            self.entries.truncate(rest);
            self.memory = self.memory.saturating_sub(gone);
        }
        self.clients.clone_from(&self.clients_base);
        for e in &self.entries {
            super::state::note_client(&mut self.clients, e);
        }
    }

    /// What the log knows of the entries out of memory.
    pub fn summary(&self) -> LogSummary {
        let mut runs = self.runs.clone();
        runs.truncate(self.base);
        LogSummary {
            runs,
            clients: self.clients_base.clone(),
        }
    }

    /// A log rebuilt from a driver's disk: `summary` of entries 1 ..= N, the
    /// entries after them (`tail`, in memory), `commit` of them committed.
    /// `None` if the tail does not continue the summary without a gap.
    pub fn resume(summary: LogSummary, tail: Vec<Entry>, commit: u64) -> Option<Log> {
        let base = summary.runs.last();
        let contiguous = tail
            .iter()
            .enumerate()
            .all(|(i, e)| Some(e.index) == base.checked_add(i as u64 + 1));
        if !contiguous {
            return None;
        }
        let mut log = Log {
            base,
            runs: summary.runs,
            clients: summary.clients.clone(),
            clients_base: summary.clients,
            ..Log::default()
        };
        for e in tail {
            log.push(e);
        }
        log.commit_to(commit);
        Some(log)
    }

    /// Entries a driver read back from the disk for readers older than the
    /// window. Kept only if they are what this log holds there: contiguous,
    /// stamped as the log's runs say (those the window holds are left out) (a driver's stale or
    /// damaged read changes nothing). Returns whether they were kept.
    pub fn read_back(&mut self, mut entries: Vec<Entry>, max: usize) -> bool {
        // What the window holds anyway is not kept twice.
        let out_of_memory = entries.iter().take_while(|e| e.index <= self.base).count();
        entries.truncate(max.min(out_of_memory));
        let Some(first) = entries.first().map(|e| e.index) else {
            return false;
        };
        let fits = first >= 1
            && entries.iter().enumerate().all(|(i, e)| {
                e.index == first + i as u64 && self.runs.stamp_at(e.index) == Some(e.stamp())
            });
        if fits {
            self.cache.insert(entries);
        }
        fits
    }
}
