//! Datagrams on real sockets: encoded plain when no key is in force, sealed with
//! the right key when one is, and refused when they do not match what is in force.

use crate::auth::{open_datagram, seal_datagram, Keys, Refused, ReplayGuard, SealedKind};
use crate::envelope::Datagram;
use ringleader_core::wire::{decode_datagram, encode_datagram, MAX_DATAGRAM};
use std::time::{SystemTime, UNIX_EPOCH};

/// Why a datagram was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// Not a datagram of this protocol.
    Garbage(String),
    /// Plain while a key is in force, or sealed while none is.
    WrongMode(String),
    /// Its tag does not verify, or its contents are not its sender's.
    Forged(String),
    /// Authentic, but taken already.
    Replayed(String),
}

impl Rejected {
    /// A small number per variant (for one log limit each).
    pub fn class(&self) -> usize {
        match self {
            Rejected::Garbage(_) => 0,
            Rejected::WrongMode(_) => 1,
            Rejected::Forged(_) => 2,
            Rejected::Replayed(_) => 3,
        }
    }
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejected::Garbage(s)
            | Rejected::WrongMode(s)
            | Rejected::Forged(s)
            | Rejected::Replayed(s) => f.write_str(s),
        }
    }
}

/// Seals what one process sends and opens what it receives.
#[derive(Debug)]
pub struct DatagramAuth {
    keys: Keys,
    life: u64,
    counter: u64,
    guard: ReplayGuard,
}

impl DatagramAuth {
    /// A new life for this process, under `keys`.
    pub fn new(keys: Keys) -> Self {
        let life = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        DatagramAuth {
            keys,
            life,
            counter: 0,
            guard: ReplayGuard::new(),
        }
    }

    /// `datagram` encoded for the wire: sealed by `sender` if its kind's key is in
    /// force. `None` if it does not fit in a datagram.
    pub fn encode(&mut self, datagram: &Datagram, sender: u64) -> Option<Vec<u8>> {
        let kind = kind_of(datagram)?;
        let body = encode_datagram(datagram, MAX_DATAGRAM).ok()?;
        let Some(key) = key_for(&self.keys, kind) else {
            return Some(body);
        };
        self.counter += 1;
        let sealed = seal_datagram(key, kind, sender, self.life, self.counter, body);
        encode_datagram(&Datagram::Sealed(sealed), MAX_DATAGRAM).ok()
    }

    /// What `bytes` carry, if they are a datagram this process may take.
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Datagram, Rejected> {
        let outer = decode_datagram::<Datagram>(bytes, MAX_DATAGRAM)
            .map_err(|e| Rejected::Garbage(e.to_string()))?;
        let Datagram::Sealed(sealed) = outer else {
            let kind = kind_of(&outer).ok_or(Rejected::Garbage("an empty datagram".into()))?;
            return match key_for(&self.keys, kind) {
                None => Ok(outer),
                Some(_) => Err(Rejected::WrongMode(format!(
                    "an unauthenticated {kind:?} datagram (keys are in force)"
                ))),
            };
        };
        let Some(key) = key_for(&self.keys, sealed.kind) else {
            return Err(Rejected::WrongMode(format!(
                "a sealed {:?} datagram, but this process holds no key for it",
                sealed.kind
            )));
        };
        let body = open_datagram(key, &sealed, &mut self.guard).map_err(|e| match e {
            Refused::BadTag => Rejected::Forged(format!(
                "a {:?} datagram whose tag does not verify (another key, or forged)",
                sealed.kind
            )),
            Refused::Stale(f) => {
                Rejected::Replayed(format!("a replayed {:?} datagram ({f:?})", sealed.kind))
            }
        })?;
        let inner = decode_datagram::<Datagram>(body, MAX_DATAGRAM)
            .map_err(|e| Rejected::Garbage(e.to_string()))?;
        let matches = match &inner {
            Datagram::Server(msg) => {
                sealed.kind == SealedKind::Server && u64::from(msg.from().0) == sealed.sender
            }
            Datagram::ClientProbe { client } => {
                sealed.kind == SealedKind::ClientProbe && client.0 == sealed.sender
            }
            Datagram::ToClient(_) => sealed.kind == SealedKind::ToClient,
            Datagram::Sealed(_) => false,
        };
        if matches {
            Ok(inner)
        } else {
            Err(Rejected::Forged(
                "a sealed datagram whose contents are not its sender's".into(),
            ))
        }
    }
}

/// The key that seals datagrams of `kind` (a free function, so it borrows the
/// keys alone while the counter and the window change).
fn key_for(keys: &Keys, kind: SealedKind) -> Option<&crate::auth::Key> {
    match kind {
        SealedKind::Server => keys.cluster.as_ref(),
        SealedKind::ClientProbe | SealedKind::ToClient => keys.client.as_ref(),
    }
}

fn kind_of(d: &Datagram) -> Option<SealedKind> {
    match d {
        Datagram::Server(_) => Some(SealedKind::Server),
        Datagram::ClientProbe { .. } => Some(SealedKind::ClientProbe),
        Datagram::ToClient(_) => Some(SealedKind::ToClient),
        Datagram::Sealed(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Key;
    use ringleader_core::wire::ClientId;

    fn keyed() -> Keys {
        Keys {
            cluster: Some(Key::from_bytes([1; 32])),
            client: Some(Key::from_bytes([2; 32])),
        }
    }

    #[test]
    fn sealed_datagrams_pass_once_and_plain_ones_only_without_keys() {
        let probe = Datagram::ClientProbe {
            client: ClientId(7),
        };
        let mut a = DatagramAuth::new(keyed());
        let mut b = DatagramAuth::new(keyed());
        let bytes = a.encode(&probe, 7).unwrap();
        assert_eq!(b.decode(&bytes), Ok(probe.clone()));
        assert!(b.decode(&bytes).is_err(), "a replay");
        let plain = encode_datagram(&probe, MAX_DATAGRAM).unwrap();
        assert!(b.decode(&plain).is_err(), "plain while keys are in force");
        // A client id other than the sealing sender's.
        let lie = a.encode(&probe, 8).unwrap();
        assert!(b.decode(&lie).is_err());
        // Without keys: plain passes, sealed is refused.
        let mut open = DatagramAuth::new(Keys::default());
        assert_eq!(open.decode(&plain), Ok(probe.clone()));
        let sealed = a.encode(&probe, 7).unwrap();
        assert!(open.decode(&sealed).is_err());
        // The client key does not make a member's datagram: a datagram sealed as
        // a member's with it fails the cluster key's check.
        let body = encode_datagram(&probe, MAX_DATAGRAM).unwrap();
        let client_key = Key::from_bytes([2; 32]);
        let as_member = seal_datagram(&client_key, SealedKind::Server, 7, 1, 1, body);
        let bytes = encode_datagram(&Datagram::Sealed(as_member), MAX_DATAGRAM).unwrap();
        let err = b.decode(&bytes).unwrap_err();
        assert!(matches!(err, Rejected::Forged(_)), "{err}");
    }
}
