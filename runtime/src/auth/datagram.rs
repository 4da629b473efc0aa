//! Sealed datagrams: a body with its sender, life, counter and tag.

use super::key::Key;
use super::mac::{tag, verify, Tag};
use super::replay::{Freshness, ReplayGuard};
use serde::{Deserialize, Serialize};

/// Who sealed a datagram, and so which key and whose window it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SealedKind {
    /// A member's message (cluster key); `sender` is its node id.
    Server,
    /// A client's probe for the leader (client key); `sender` is its client id.
    ClientProbe,
    /// A server's answer to a probe (client key); `sender` is the server's id.
    ToClient,
}

impl SealedKind {
    fn code(self) -> u8 {
        match self {
            SealedKind::Server => 0,
            SealedKind::ClientProbe => 1,
            SealedKind::ToClient => 2,
        }
    }
}

/// An authenticated datagram's contents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// Whose it is.
    pub kind: SealedKind,
    /// The sender (node or client id).
    pub sender: u64,
    /// The sender's life: when its process started (µs since the Unix epoch).
    pub life: u64,
    /// The datagram's number in that life, from 1.
    pub counter: u64,
    /// The encoded message.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// The tag over everything above.
    pub tag: Tag,
}

const LABEL: &[u8] = b"ringleader datagram v1";

fn parts_tag(
    key: &Key,
    kind: SealedKind,
    sender: u64,
    life: u64,
    counter: u64,
    body: &[u8],
) -> Tag {
    tag(
        key,
        LABEL,
        &[
            &[kind.code()],
            &sender.to_be_bytes(),
            &life.to_be_bytes(),
            &counter.to_be_bytes(),
            body,
        ],
    )
}

/// Seals `body`.
pub fn seal_datagram(
    key: &Key,
    kind: SealedKind,
    sender: u64,
    life: u64,
    counter: u64,
    body: Vec<u8>,
) -> Sealed {
    let tag = parts_tag(key, kind, sender, life, counter, &body);
    Sealed {
        kind,
        sender,
        life,
        counter,
        body,
        tag,
    }
}

/// Why a sealed datagram was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The tag does not verify: not made with this key, or altered.
    BadTag,
    /// Authentic, but taken already (see [`Freshness`]).
    Stale(Freshness),
}

/// The body of `sealed` if its tag verifies under `key` and it is fresh.
pub fn open_datagram<'a>(
    key: &Key,
    sealed: &'a Sealed,
    guard: &mut ReplayGuard,
) -> Result<&'a [u8], Refused> {
    let s = sealed;
    let expected = [
        &[s.kind.code()][..],
        &s.sender.to_be_bytes(),
        &s.life.to_be_bytes(),
        &s.counter.to_be_bytes(),
        &s.body,
    ];
    if !verify(key, LABEL, &expected, &s.tag) {
        return Err(Refused::BadTag);
    }
    match guard.accept(s.kind.code(), s.sender, s.life, s.counter) {
        Freshness::Fresh => Ok(&s.body),
        other => Err(Refused::Stale(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_datagram_opens_once_with_its_key_only() {
        let k = Key::from_bytes([1; 32]);
        let mut g = ReplayGuard::new();
        let s = seal_datagram(&k, SealedKind::Server, 3, 10, 1, b"hi".to_vec());
        assert_eq!(open_datagram(&k, &s, &mut g), Ok(&b"hi"[..]));
        assert_eq!(
            open_datagram(&k, &s, &mut g),
            Err(Refused::Stale(Freshness::Replayed))
        );
        let mut forged = seal_datagram(&k, SealedKind::Server, 3, 10, 2, b"hi".to_vec());
        forged.sender = 4;
        assert_eq!(open_datagram(&k, &forged, &mut g), Err(Refused::BadTag));
        let mut kind = seal_datagram(&k, SealedKind::ClientProbe, 3, 10, 3, b"hi".to_vec());
        kind.kind = SealedKind::Server;
        assert_eq!(open_datagram(&k, &kind, &mut g), Err(Refused::BadTag));
        let other = Key::from_bytes([2; 32]);
        let s2 = seal_datagram(&other, SealedKind::Server, 3, 10, 4, b"hi".to_vec());
        assert_eq!(open_datagram(&k, &s2, &mut g), Err(Refused::BadTag));
        assert_eq!(g.len(), 1, "forgeries leave no trace");
    }
}
