//! `DIR/log/summary`: what a restart needs of the segments that are closed,
//! so it reads only the newest instead of the whole log (10 million
//! messages restart in well under a second). Written whenever a segment is
//! closed: the fold of the committed history ([`Folded`]: stamps, client
//! numbering, digest), the anchors to read any entry back, and where the
//! segments not summarised begin.
//!
//! It is derived data: a summary that is missing, damaged or does not fit
//! the segments is set aside with a warning and the segments are read whole
//! (slower, never wrong). The file is the magic, the body's length and a
//! CRC-32C of it, and the body (postcard), replaced by a rename.

use super::anchors::{Anchor, Anchors};
use super::digest::CommitDigest;
use super::fold::Folded;
use super::sealed;
use crate::store::StoreError;
use ringleader_core::log::{Stamp, StampRuns};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"RLDRSUM1";
/// The largest summary read back: a bound on what a damaged length can make
/// a restart allocate (a million clients' numbering and a billion entries'
/// anchors fit).
const MAX_BYTES: usize = 256 << 20;

/// A summary as stored.
#[derive(Serialize, Deserialize)]
struct Stored {
    /// The first segment whose records it does not cover.
    segment: u64,
    /// The last index written before that segment.
    last: u64,
    runs: Vec<(u64, Stamp)>,
    clients: Vec<(u64, u64, u64)>,
    digest: CommitDigest,
    anchors: Vec<Anchor>,
}

/// A summary read back.
pub struct Summary {
    /// The first segment whose records it does not cover.
    pub segment: u64,
    /// The last index written before that segment (entries after
    /// `folded.upto()` up to it are read back through the anchors).
    pub last: u64,
    /// The committed history, folded.
    pub folded: Folded,
    /// Where entries live.
    pub anchors: Anchors,
}

/// The summary's path in the segments' directory.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("summary")
}

/// Writes the summary of the segments before `segment`.
pub fn write(
    dir: &Path,
    segment: u64,
    last: u64,
    folded: &Folded,
    anchors: &Anchors,
) -> Result<(), StoreError> {
    let stored = Stored {
        segment,
        last,
        runs: folded.runs.parts().to_vec(),
        clients: folded
            .clients
            .iter()
            .map(|(c, (seq, index))| (*c, *seq, *index))
            .collect(),
        digest: folded.digest,
        anchors: anchors.points().to_vec(),
    };
    sealed::write(dir, &path(dir), MAGIC, &stored, MAX_BYTES)
}

/// Reads the summary back; `None` (with a warning) if there is none usable.
pub fn read(dir: &Path) -> Option<Summary> {
    let path = path(dir);
    let why = match sealed::read::<Stored>(&path, MAGIC, MAX_BYTES) {
        Ok(None) => return None,
        Ok(Some(Ok(stored))) => match summary_of(stored) {
            Ok(s) => return Some(s),
            Err(why) => why,
        },
        Ok(Some(Err(why))) => why,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the log summary; reading every segment");
            return None;
        }
    };
    tracing::warn!(path = %path.display(), %why, "log summary set aside; reading every segment");
    None
}

/// The summary `stored` describes, if its numbers fit together.
fn summary_of(stored: Stored) -> Result<Summary, &'static str> {
    let upto = stored.digest.upto;
    let runs = StampRuns::from_parts(stored.runs, upto).ok_or("stamps out of order")?;
    let anchors = Anchors::from_points(stored.anchors).ok_or("anchors out of order")?;
    let plausible = stored.segment >= 1
        && upto <= stored.last
        && stored.clients.iter().all(|(_, _, index)| *index <= upto);
    if !plausible {
        return Err("numbers that do not fit together");
    }
    let clients = stored
        .clients
        .into_iter()
        .map(|(c, seq, index)| (c, (seq, index)))
        .collect();
    Ok(Summary {
        segment: stored.segment,
        last: stored.last,
        folded: Folded {
            runs,
            clients,
            digest: stored.digest,
        },
        anchors,
    })
}
