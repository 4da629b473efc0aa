//! What one step changed in a log, as a driver writes it: the unit of the
//! node's write-ahead contract (see [`crate::durable`]).

use super::app_snapshot::AppSnapshot;
use super::entry::Entry;
use super::snapshot::Snapshot;
use std::sync::Arc;

/// The changes of one step to a node's log, in the order they apply: an
/// application snapshot kept, a snapshot installed, a cut, then entries
/// appended, then the commit index.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LogWrite {
    /// An application snapshot its leader sent: kept beside the log, so the
    /// node's application can go on from it where the log's entries before
    /// it are gone (see [`AppSnapshot`]).
    pub app: Option<Arc<AppSnapshot>>,
    /// The log starts over after this snapshot (a follower too far behind
    /// its leader's retained log): the copy on disk is replaced by it.
    pub install: Option<Snapshot>,
    /// Entries from this index on were replaced (or dropped): the copy on disk
    /// is cut here before the entries below are appended.
    pub cut_from: Option<u64>,
    /// Entries appended, in index order, continuing the log as cut.
    pub entries: Vec<Entry>,
    /// The new commit index, when it moved.
    pub commit: Option<u64>,
}

impl LogWrite {
    /// Whether the write changes nothing.
    pub fn is_empty(&self) -> bool {
        self.app.is_none()
            && self.install.is_none()
            && self.cut_from.is_none()
            && self.entries.is_empty()
            && self.commit.is_none()
    }
}

/// Why a write does not fit the log it is applied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteMisfit {
    /// The index the log expected next.
    pub expected: u64,
    /// The index the write carried.
    pub got: u64,
}

impl std::fmt::Display for WriteMisfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "write carries index {} where {} was expected",
            self.got, self.expected
        )
    }
}
