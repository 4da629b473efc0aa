//! HMAC-SHA-256 over labelled parts, cut to [`TAG_LEN`] bytes.

use super::key::Key;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of a tag: 128 bits.
pub const TAG_LEN: usize = 16;

/// A message authentication code.
pub type Tag = [u8; TAG_LEN];

type HmacSha256 = Hmac<Sha256>;

fn mac_over(key: &Key, label: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // new_from_slice accepts a key of any length: it cannot fail for 32 bytes.
    let mut mac = match HmacSha256::new_from_slice(key.bytes()) {
        Ok(m) => m,
        Err(_) => unreachable_mac(),
    };
    // Lengths go in first, so two different splits of the same bytes never
    // give the same input.
    mac.update(&(label.len() as u64).to_be_bytes());
    mac.update(label);
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac
}

#[cold]
fn unreachable_mac() -> HmacSha256 {
    // HMAC takes keys of every length; this is never reached. A fixed key would
    // make tags forgeable, so stop rather than go on.
    std::process::abort()
}

/// The tag of `parts` under `key` for purpose `label`.
pub fn tag(key: &Key, label: &[u8], parts: &[&[u8]]) -> Tag {
    let full: [u8; 32] = mac_over(key, label, parts).finalize().into_bytes().into();
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(&full[..TAG_LEN]);
    out
}

/// Whether `tag` is the tag of `parts` under `key` for `label` (constant time).
pub fn verify(key: &Key, label: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    tag.len() == TAG_LEN
        && mac_over(key, label, parts)
            .verify_truncated_left(tag)
            .is_ok()
}

/// A key derived from `key` for one purpose (a connection's direction).
pub fn derive(key: &Key, label: &[u8], parts: &[&[u8]]) -> Key {
    Key::from_bytes(mac_over(key, label, parts).finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_verifies_only_for_its_key_label_and_parts() {
        let k = Key::from_bytes([7; 32]);
        let other = Key::from_bytes([8; 32]);
        let t = tag(&k, b"a", &[b"xy", b"z"]);
        assert!(verify(&k, b"a", &[b"xy", b"z"], &t));
        assert!(!verify(&other, b"a", &[b"xy", b"z"], &t));
        assert!(!verify(&k, b"b", &[b"xy", b"z"], &t));
        assert!(
            !verify(&k, b"a", &[b"x", b"yz"], &t),
            "splits are told apart"
        );
        assert!(
            !verify(&k, b"a", &[b"xy", b"z"], &t[..8]),
            "short tags refused"
        );
        let mut flipped = t;
        flipped[0] ^= 1;
        assert!(!verify(&k, b"a", &[b"xy", b"z"], &flipped));
    }
}
