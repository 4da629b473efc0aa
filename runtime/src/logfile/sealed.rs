//! Small files written whole and replaced atomically (the summary, the
//! snapshot): a magic, a CRC-32C of the body, the body (postcard). Written
//! to a temporary file, synced, renamed, the directory synced.

use crate::store::StoreError;
use ringleader_core::wire::{encode_frame, FrameDecoder};
use serde::{de::DeserializeOwned, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Writes `value` to `path` in `dir`, replacing what was there.
pub fn write<T: Serialize>(
    dir: &Path,
    path: &Path,
    magic: &[u8; 8],
    value: &T,
    max: usize,
) -> Result<(), StoreError> {
    let err = |e| StoreError::Write(path.to_owned(), e);
    let mut body = Vec::new();
    encode_frame(value, &mut body, max).map_err(|e| err(std::io::Error::other(e)))?;
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(err)?;
    f.write_all(magic)
        .and_then(|()| f.write_all(&crc32c::crc32c(&body).to_be_bytes()))
        .and_then(|()| f.write_all(&body))
        .and_then(|()| f.sync_all())
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
    Ok(())
}

/// What `path` holds: `Ok(None)` if there is no such file, `Err(why)` for
/// one that is damaged (`Ok(Err(..))` is an I/O error reading it).
pub fn read<T: DeserializeOwned>(
    path: &Path,
    magic: &[u8; 8],
    max: usize,
) -> std::io::Result<Option<Result<T, &'static str>>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(decode(&bytes, magic, max)))
}

fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    magic: &[u8; 8],
    max: usize,
) -> Result<T, &'static str> {
    let rest = bytes.strip_prefix(magic).ok_or("no magic")?;
    let (sum, body) = rest.split_first_chunk::<4>().ok_or("cut short")?;
    if body.len() > max.saturating_add(8) {
        return Err("larger than any such file");
    }
    if crc32c::crc32c(body) != u32::from_be_bytes(*sum) {
        return Err("checksum does not match");
    }
    FrameDecoder::decode_one(body, max).map_err(|_| "does not decode")
}
