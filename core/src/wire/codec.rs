//! What every encoding shares: the strict payload decoder.

use super::error::WireError;

/// Decodes a postcard payload that must use up all of `bytes`.
pub(super) fn decode_payload<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    let (value, rest) = postcard::take_from_bytes(bytes).map_err(WireError::Garbage)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(WireError::TrailingBytes(rest.len()))
    }
}
