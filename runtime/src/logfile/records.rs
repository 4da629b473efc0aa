//! The records of `log.bin` and how they are read back.
//!
//! The file starts with [`MAGIC`]. Each record is its body's length (4 bytes,
//! big-endian), a CRC-32C of the length and the body (4 bytes), and the body:
//! the protocol version and the postcard encoding of a [`Record`]. Reading back:
//! - a record whose length or checksum is wrong, anywhere, is corruption: the
//!   node stops with an error naming the file and the offset;
//! - a record cut short at the very end of the file is a torn write (a crash in
//!   the middle of one), and is cut off, unless a whole valid record can be
//!   found after its start (then its length was damaged: corruption). A tail of
//!   zeros (a file extended but never written before a power loss) is torn too.
//!
//! Files written before checksums (no magic) are read as they were and
//! rewritten in this format once.

use ringleader_core::log::Entry;
use ringleader_core::wire::{encode_frame, FrameDecoder, DEFAULT_MAX_FRAME, FRAME_HEADER};
use serde::{Deserialize, Serialize};

/// The first bytes of a checksummed log file.
pub const MAGIC: &[u8; 8] = b"RLDRLOG2";
/// Bytes before a record's body: its length and its checksum.
pub const RECORD_HEADER: usize = 8;
/// The largest body a record may have.
pub const MAX_BODY: usize = DEFAULT_MAX_FRAME;

/// What a record says.
#[derive(Deserialize)]
pub enum Record {
    /// An entry appended.
    Entry(Entry),
    /// Entries from this index on are gone (replaced by the ones that follow).
    CutFrom(u64),
    /// The commit index.
    Commit(u64),
}

/// [`Record`] as written: borrows the entry instead of copying it. The variants
/// must stay in the same order (postcard encodes the variant's position).
#[derive(Serialize)]
pub enum RecordOut<'a> {
    /// An entry appended.
    Entry(&'a Entry),
    /// Entries from this index on are gone.
    CutFrom(u64),
    /// The commit index.
    Commit(u64),
}

fn checksum(len: [u8; 4], body: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&len), body)
}

/// Appends `record` to `out`.
pub fn encode(record: &RecordOut<'_>, out: &mut Vec<u8>) -> Result<(), String> {
    let start = out.len();
    encode_frame(record, out, MAX_BODY).map_err(|e| e.to_string())?;
    // A frame is [len][body]: put the checksum between them.
    let mut len = [0u8; FRAME_HEADER];
    len.copy_from_slice(out.get(start..start + FRAME_HEADER).unwrap_or(&[0; 4]));
    let sum = checksum(len, out.get(start + FRAME_HEADER..).unwrap_or_default());
    let at = start + FRAME_HEADER;
    out.splice(at..at, sum.to_be_bytes());
    Ok(())
}

/// Encodes `record` (in `buf`, reused) and writes it to `out`; the bytes written.
pub fn write(
    out: &mut impl std::io::Write,
    buf: &mut Vec<u8>,
    record: &RecordOut<'_>,
) -> std::io::Result<u64> {
    buf.clear();
    encode(record, buf).map_err(std::io::Error::other)?;
    out.write_all(buf)?;
    Ok(buf.len() as u64)
}

/// A valid record starting at `bytes`: its total size and its record.
enum Parsed {
    Whole(usize, Record),
    /// Not all of it is there.
    Short,
    /// Its length or checksum is wrong.
    Bad(String),
}

fn parse(bytes: &[u8]) -> Parsed {
    let Some((head, rest)) = bytes.split_first_chunk::<RECORD_HEADER>() else {
        return Parsed::Short;
    };
    let (len_bytes, sum_bytes) = head.split_at(4);
    let mut len = [0u8; 4];
    len.copy_from_slice(len_bytes);
    let body_len = u32::from_be_bytes(len) as usize;
    if body_len > MAX_BODY {
        return Parsed::Bad(format!(
            "a record length of {body_len} bytes (limit {MAX_BODY})"
        ));
    }
    let Some(body) = rest.get(..body_len) else {
        return Parsed::Short;
    };
    let mut sum = [0u8; 4];
    sum.copy_from_slice(sum_bytes);
    match decode_body(len, u32::from_be_bytes(sum), body) {
        Ok(r) => Parsed::Whole(RECORD_HEADER + body_len, r),
        Err(why) => Parsed::Bad(why),
    }
}

/// A record's body, checked against its length and checksum, decoded.
fn decode_body(len: [u8; 4], sum: u32, body: &[u8]) -> Result<Record, String> {
    if checksum(len, body) != sum {
        return Err("a record whose checksum does not match".into());
    }
    let mut frame = len.to_vec();
    frame.extend_from_slice(body);
    FrameDecoder::<Record>::decode_one(&frame, MAX_BODY)
        .map_err(|e| format!("a record that does not decode ({e})"))
}

/// Reads the next record from `r`: its size and the record; `Ok(None)` at
/// the end of what was written (a record still being written counts as not
/// there yet). `Err` for a record that is damaged.
pub fn read_one(
    r: &mut impl std::io::Read,
    body: &mut Vec<u8>,
) -> Result<Option<(u64, Record)>, String> {
    let mut head = [0u8; RECORD_HEADER];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.to_string()),
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(head.get(..4).unwrap_or(&[0; 4]));
    let mut sum = [0u8; 4];
    sum.copy_from_slice(head.get(4..).unwrap_or(&[0; 4]));
    let body_len = u32::from_be_bytes(len) as usize;
    if body_len > MAX_BODY {
        return Err(format!(
            "a record length of {body_len} bytes (limit {MAX_BODY})"
        ));
    }
    body.resize(body_len, 0);
    match r.read_exact(body) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.to_string()),
    }
    let record = decode_body(len, u32::from_be_bytes(sum), body)?;
    Ok(Some(((RECORD_HEADER + body_len) as u64, record)))
}

/// Whether a whole valid record starts anywhere in `bytes` after its first byte.
fn valid_record_after(bytes: &[u8]) -> bool {
    (1..bytes.len()).any(|i| matches!(parse(bytes.get(i..).unwrap_or_default()), Parsed::Whole(..)))
}

/// What reading a file's records found.
pub struct ReadBack {
    /// The records, in order.
    pub records: Vec<Record>,
    /// Bytes of the file that hold whole records (where a torn tail starts).
    pub good_len: u64,
}

/// Reads the records of a checksummed file's `bytes` (magic included).
/// `Err((offset, why))` on corruption.
pub fn read_checksummed(bytes: &[u8]) -> Result<ReadBack, (u64, String)> {
    let mut records = Vec::new();
    let good_len = each_checksummed(bytes, |_, r| records.push(r))?;
    Ok(ReadBack { records, good_len })
}

/// Hands each record of a checksummed file's `bytes` (magic included) to
/// `each` with its offset, in order; returns the length of whole records
/// (where a torn tail starts). `Err((offset, why))` on corruption.
pub fn each_checksummed(
    bytes: &[u8],
    mut each: impl FnMut(u64, Record),
) -> Result<u64, (u64, String)> {
    let mut at = MAGIC.len();
    loop {
        let rest = bytes.get(at..).unwrap_or_default();
        if rest.is_empty() {
            break;
        }
        match parse(rest) {
            Parsed::Whole(n, r) => {
                each(at as u64, r);
                at += n;
            }
            Parsed::Short if !valid_record_after(rest) => break,
            Parsed::Short => {
                return Err((
                    at as u64,
                    "a record whose length runs past valid records that follow it".into(),
                ));
            }
            Parsed::Bad(_) if rest.iter().all(|&b| b == 0) => break,
            Parsed::Bad(why) => return Err((at as u64, why)),
        }
    }
    Ok(at as u64)
}

/// Reads a file written before checksums: frames of records. A frame cut short
/// at the end is a torn write.
pub fn read_legacy(bytes: &[u8]) -> Result<ReadBack, (u64, String)> {
    let mut decoder = FrameDecoder::<Record>::new(MAX_BODY);
    decoder.push(bytes);
    let mut records = Vec::new();
    loop {
        match decoder.next_frame() {
            Ok(Some(r)) => records.push(r),
            Ok(None) => break,
            Err(e) => {
                let at = bytes.len() - decoder.buffered();
                return Err((at as u64, format!("a record that does not decode ({e})")));
            }
        }
    }
    Ok(ReadBack {
        records,
        good_len: (bytes.len() - decoder.buffered()) as u64,
    })
}

/// The entries and commit index `records` describe, in order.
pub fn replay(records: Vec<Record>) -> (Vec<Entry>, u64) {
    let (mut entries, mut commit) = (Vec::new(), 0u64);
    for record in records {
        match record {
            Record::Entry(e) => entries.push(e),
            Record::CutFrom(from) => {
                entries.truncate(usize::try_from(from.saturating_sub(1)).unwrap_or(usize::MAX));
            }
            Record::Commit(c) => commit = c,
        }
    }
    (entries, commit)
}
