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
use crate::store::StoreError;
use ringleader_core::log::{Stamp, StampRuns};
use ringleader_core::wire::{encode_frame, FrameDecoder, FRAME_HEADER};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
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
    let path = path(dir);
    let err = |e| StoreError::Write(path.clone(), e);
    let mut body = Vec::new();
    encode_frame(&stored, &mut body, MAX_BYTES).map_err(|e| err(std::io::Error::other(e)))?;
    let sum = crc32c::crc32c(&body);
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(err)?;
    f.write_all(MAGIC)
        .and_then(|()| f.write_all(&sum.to_be_bytes()))
        .and_then(|()| f.write_all(&body))
        .and_then(|()| f.sync_all())
        .map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
    Ok(())
}

/// Reads the summary back; `None` (with a warning) if there is none usable.
pub fn read(dir: &Path) -> Option<Summary> {
    let path = path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the log summary; reading every segment");
            return None;
        }
    };
    match decode(&bytes) {
        Ok(s) => Some(s),
        Err(why) => {
            tracing::warn!(path = %path.display(), %why, "log summary set aside; reading every segment");
            None
        }
    }
}

fn decode(bytes: &[u8]) -> Result<Summary, String> {
    let rest = bytes.strip_prefix(MAGIC).ok_or("no magic")?;
    let (sum, body) = rest.split_first_chunk::<4>().ok_or("cut short")?;
    if body.len() > MAX_BYTES + FRAME_HEADER + 1 {
        return Err("larger than any summary".into());
    }
    if crc32c::crc32c(body) != u32::from_be_bytes(*sum) {
        return Err("checksum does not match".into());
    }
    let stored: Stored = FrameDecoder::decode_one(body, MAX_BYTES).map_err(|e| e.to_string())?;
    let upto = stored.digest.upto;
    let runs = StampRuns::from_parts(stored.runs, upto).ok_or("stamps out of order")?;
    let anchors = Anchors::from_points(stored.anchors).ok_or("anchors out of order")?;
    let plausible = stored.segment >= 1
        && upto <= stored.last
        && stored.clients.iter().all(|(_, _, index)| *index <= upto);
    if !plausible {
        return Err("numbers that do not fit together".into());
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
