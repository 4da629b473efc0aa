//! Authentication of everything that arrives: keys, message authentication codes,
//! the handshake of a TCP connection, sealed frames and sealed datagrams, and the
//! replay window.
//!
//! The choice: HMAC-SHA-256 from RustCrypto (`hmac`, `sha2`), tags cut to 128 bits
//! (RFC 2104 §5), compared in constant time by the crate. What the cluster needs
//! is that nobody without the key can speak as a member or a client; it does not
//! need secrecy (a chat history is shown to every client), so a MAC is enough and
//! there is no cipher state to get wrong. Traffic is readable by anyone on the path:
//! put the cluster on a private network or a VPN if that matters.
//!
//! Every tag is computed over a label naming what it authenticates, so a tag made
//! for one purpose (a datagram, a handshake step, a frame in one direction) is never
//! valid for another. Everything here is a pure function of its inputs: the
//! runtime supplies the nonces, lives and counters.

mod client_id;
mod datagram;
mod handshake;
mod key;
mod mac;
mod replay;
mod sealed_frames;

pub use client_id::{admission, client_secret, Admission, ClientSecret, CLIENT_SECRET_LEN};
pub use datagram::{open_datagram, seal_datagram, Refused, Sealed, SealedKind};
pub use handshake::{Challenge, Handshake, Proof, NONCE_LEN};
pub use key::{Key, KeyError, Keys, KEY_LEN};
pub use mac::{Tag, TAG_LEN};
pub use replay::{Freshness, ReplayGuard, REPLAY_WINDOW};
pub use sealed_frames::{FrameOpener, FrameSealer};
