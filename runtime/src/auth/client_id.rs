//! Who may speak under a client id.
//!
//! A client's id is visible to every client (it is in every pushed entry), so
//! knowing it must not be enough to take the client's session over. A node that
//! holds the cluster key gives each client, on its first connection, a secret:
//! a tag of its id under the cluster key. Every node of the cluster computes the
//! same tag, so the secret holds at whichever node leads after a failover
//! without being replicated; what is replicated is the fact that the id is
//! taken (its entries in the log, which carry the id; see [`admission`]).
//! Ids are random 64-bit numbers that become known to others only through
//! their entries, and by then the id is taken.

use super::key::Key;
use super::mac::{tag, verify};

/// Bytes of a client secret.
pub const CLIENT_SECRET_LEN: usize = 16;

/// A client's secret.
pub type ClientSecret = [u8; CLIENT_SECRET_LEN];

const LABEL: &[u8] = b"ringleader client secret v1";

/// The secret of client `id` under the cluster key.
pub fn client_secret(cluster_key: &Key, id: u64) -> ClientSecret {
    tag(cluster_key, LABEL, &[&id.to_be_bytes()])
}

/// What to do with a new connection under a client id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Serve it (the newest connection of a client wins); `give_secret`: tell
    /// the client its secret first (a new id).
    Admit {
        /// Send the client its secret.
        give_secret: bool,
    },
    /// Refuse it: the id is taken and the connection did not prove it.
    Refuse,
}

/// The rule, for a connection claiming `id` with `secret`, at a node holding
/// `cluster_key`: a valid secret is admitted; without one, an id that is taken
/// (a live connection here, or entries in the log) is refused, and a new id is
/// admitted and given its secret. Without a cluster key every connection is
/// admitted (ids are not protected).
pub fn admission(
    cluster_key: Option<&Key>,
    id: u64,
    secret: Option<&ClientSecret>,
    taken: bool,
) -> Admission {
    let Some(key) = cluster_key else {
        return Admission::Admit { give_secret: false };
    };
    let proven = secret.is_some_and(|s| verify(key, LABEL, &[&id.to_be_bytes()], s));
    match (proven, taken) {
        (true, _) => Admission::Admit { give_secret: false },
        (false, true) => Admission::Refuse,
        (false, false) => Admission::Admit { give_secret: true },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_id_needs_its_secret() {
        let k = Key::from_bytes([9; 32]);
        let s = client_secret(&k, 42);
        assert_ne!(s, client_secret(&k, 43));
        assert_ne!(s, client_secret(&Key::from_bytes([8; 32]), 42));
        let admit = |secret: Option<&ClientSecret>, taken| admission(Some(&k), 42, secret, taken);
        assert_eq!(admit(None, false), Admission::Admit { give_secret: true });
        assert_eq!(admit(None, true), Admission::Refuse);
        assert_eq!(admit(Some(&[0; 16]), true), Admission::Refuse);
        assert_eq!(
            admit(Some(&s), true),
            Admission::Admit { give_secret: false }
        );
        assert_eq!(
            admission(Some(&k), 43, Some(&s), true),
            Admission::Refuse,
            "one id's secret is not another's"
        );
        assert_eq!(
            admission(None, 42, None, true),
            Admission::Admit { give_secret: false }
        );
    }
}
