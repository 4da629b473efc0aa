//! Reading entries back from the segments through the anchors: for the
//! node's reads of entries older than its memory window, and for a restart
//! that resumes from a summary.

use super::anchors::Anchors;
use super::records::{self, Record};
use super::segments;
use crate::store::StoreError;
use ringleader_core::log::Entry;
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::Path;

/// Up to `max` entries from `from` on, and no more than `max_bytes` of them
/// (at least one): fewer when the log ends. A damaged record is an error
/// naming the file and the offset.
pub fn read(
    dir: &Path,
    anchors: &Anchors,
    from: u64,
    max: usize,
    max_bytes: usize,
) -> Result<Vec<Entry>, StoreError> {
    let mut out: Vec<Entry> = Vec::new();
    let mut bytes = 0usize;
    let mut body = Vec::new();
    while out.len() < max {
        let next = from + out.len() as u64;
        let Some((anchor, until)) = anchors.find(next) else {
            break;
        };
        let path = segments::path(dir, anchor.segment);
        let mut file = File::open(&path).map_err(|e| StoreError::Read(path.clone(), e))?;
        file.seek(SeekFrom::Start(anchor.offset))
            .map_err(|e| StoreError::Read(path.clone(), e))?;
        let mut input = BufReader::with_capacity(256 << 10, file);
        let mut offset = anchor.offset;
        let before = out.len();
        loop {
            let record = records::read_one(&mut input, &mut body).map_err(|why| {
                StoreError::Corrupt(path.clone(), format!("at byte {offset}: {why}"))
            })?;
            let Some((len, record)) = record else {
                break; // the segment ends: the next one has an anchor of its own
            };
            offset += len;
            let Record::Entry(e) = record else {
                continue;
            };
            let want = from + out.len() as u64;
            if until.is_some_and(|u| e.index >= u) || e.index > want {
                break;
            }
            if e.index < want {
                continue;
            }
            bytes = bytes.saturating_add(e.encoded_len_bound());
            if bytes > max_bytes && !out.is_empty() {
                return Ok(out);
            }
            out.push(e);
            if out.len() >= max {
                return Ok(out);
            }
        }
        if out.len() == before {
            break; // nothing more where the anchors point
        }
    }
    Ok(out)
}
