//! The handshake of an authenticated TCP connection.
//!
//! 1. The dialer's preface names what it claims to be (a member and its cluster,
//!    or a client) and carries a fresh nonce `nc`.
//! 2. The acceptor answers with a [`Challenge`]: its own fresh nonce `ns` and a
//!    tag over the claim and both nonces, which proves it holds the key.
//! 3. The dialer answers with a [`Proof`]: a tag over the claim and both nonces
//!    under another label, which proves it holds the key *now*: a recorded
//!    connection replayed against a new `ns` fails here.
//!
//! Then every frame in each direction carries a tag under a key derived from the
//! connection's nonces and its direction, over the frame's number on the
//! connection and its body: frames cannot be altered, dropped, reordered,
//! replayed, or moved to another connection.

use super::key::Key;
use super::mac::{derive, tag, verify, Tag};
use super::sealed_frames::{FrameOpener, FrameSealer};
use serde::{Deserialize, Serialize};

/// Bytes of a handshake nonce.
pub const NONCE_LEN: usize = 32;

/// The acceptor's answer to an authenticated preface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The acceptor's fresh nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Proof that the acceptor holds the key.
    pub tag: Tag,
}

/// The dialer's answer to a challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    /// Proof that the dialer holds the key.
    pub tag: Tag,
}

/// One connection's handshake, seen from either end.
#[derive(Clone, Debug)]
pub struct Handshake {
    key: Key,
    claim: Vec<u8>,
    dialer_nonce: [u8; NONCE_LEN],
    acceptor_nonce: [u8; NONCE_LEN],
}

impl Handshake {
    /// The handshake of a connection whose dialer claims `claim` (an encoding of
    /// its preface) under `key`, with both nonces.
    pub fn new(
        key: &Key,
        claim: Vec<u8>,
        dialer_nonce: [u8; NONCE_LEN],
        acceptor_nonce: [u8; NONCE_LEN],
    ) -> Handshake {
        Handshake {
            key: key.clone(),
            claim,
            dialer_nonce,
            acceptor_nonce,
        }
    }

    fn over(&self, label: &[u8]) -> Tag {
        tag(
            &self.key,
            label,
            &[&self.claim, &self.dialer_nonce, &self.acceptor_nonce],
        )
    }

    /// The acceptor's challenge.
    pub fn challenge(&self) -> Challenge {
        Challenge {
            nonce: self.acceptor_nonce,
            tag: self.over(b"ringleader accept v1"),
        }
    }

    /// The dialer's proof.
    pub fn proof(&self) -> Proof {
        Proof {
            tag: self.over(b"ringleader dial v1"),
        }
    }

    /// Whether the acceptor's challenge is genuine (checked by the dialer).
    pub fn challenge_verifies(&self, c: &Challenge) -> bool {
        c.nonce == self.acceptor_nonce
            && verify(
                &self.key,
                b"ringleader accept v1",
                &[&self.claim, &self.dialer_nonce, &self.acceptor_nonce],
                &c.tag,
            )
    }

    /// Whether the dialer's proof is genuine (checked by the acceptor).
    pub fn proof_verifies(&self, p: &Proof) -> bool {
        verify(
            &self.key,
            b"ringleader dial v1",
            &[&self.claim, &self.dialer_nonce, &self.acceptor_nonce],
            &p.tag,
        )
    }

    fn direction_key(&self, label: &[u8]) -> Key {
        derive(
            &self.key,
            label,
            &[&self.claim, &self.dialer_nonce, &self.acceptor_nonce],
        )
    }

    /// Seals what the dialer writes / opens what the acceptor reads.
    pub fn dialer_to_acceptor(&self) -> (FrameSealer, FrameOpener) {
        let k = self.direction_key(b"ringleader frames from dialer v1");
        (FrameSealer::new(k.clone()), FrameOpener::new(k))
    }

    /// Seals what the acceptor writes / opens what the dialer reads.
    pub fn acceptor_to_dialer(&self) -> (FrameSealer, FrameOpener) {
        let k = self.direction_key(b"ringleader frames from acceptor v1");
        (FrameSealer::new(k.clone()), FrameOpener::new(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ends_prove_the_key_and_a_replayed_proof_fails_a_new_challenge() {
        let k = Key::from_bytes([3; 32]);
        let acceptor = Handshake::new(&k, b"peer 2".to_vec(), [1; 32], [9; 32]);
        let c = acceptor.challenge();
        let dialer = Handshake::new(&k, b"peer 2".to_vec(), [1; 32], c.nonce);
        assert!(dialer.challenge_verifies(&c));
        let p = dialer.proof();
        assert!(acceptor.proof_verifies(&p));
        // The same proof against a later connection's challenge.
        let later = Handshake::new(&k, b"peer 2".to_vec(), [1; 32], [10; 32]);
        assert!(!later.proof_verifies(&p));
        // Another claim, or another key.
        let claim = Handshake::new(&k, b"peer 1".to_vec(), [1; 32], [9; 32]);
        assert!(!claim.proof_verifies(&p));
        let other = Handshake::new(
            &Key::from_bytes([4; 32]),
            b"peer 2".to_vec(),
            [1; 32],
            [9; 32],
        );
        assert!(!other.proof_verifies(&p));
        assert!(!other.challenge_verifies(&c));
        // A challenge tag is not a proof tag.
        assert!(!acceptor.proof_verifies(&Proof { tag: c.tag }));
    }
}
