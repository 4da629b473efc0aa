//! How many connections a node holds, and for how long.
//!
//! Introduced connections are counted in two pools, clients and peers (a
//! status query is answered at once and counts in neither); a connection over its pool's cap is accepted, told why,
//! and closed, never refused by the kernel: a refused connection must keep
//! meaning "no process here" (see the core's crash proof). Connections not yet
//! introduced are capped by the listener, which closes the oldest to make room.
//! The caps keep the node below its open-file limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The caps and deadlines of incoming connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// Client connections at once.
    pub max_clients: usize,
    /// Connections that have not yet completed their preface (and handshake).
    pub max_pending: usize,
    /// Peer connections at once (members dial one each; more is an attack).
    pub max_peers: usize,
    /// A client silent this long is disconnected (clients ping every second).
    pub client_idle: Duration,
    /// A peer link silent this long is closed (peers heartbeat many times a second).
    pub peer_idle: Duration,
    /// A frame must arrive in full within this long of its first byte.
    pub frame: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_clients: 1000,
            max_pending: 100,
            max_peers: 256,
            client_idle: Duration::from_secs(30),
            peer_idle: Duration::from_secs(60),
            frame: Duration::from_secs(10),
        }
    }
}

/// Which pool a connection counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    /// A client.
    Client,
    /// A peer.
    Peer,
}

/// The counts of the pools.
#[derive(Debug)]
pub struct Pools {
    limits: ConnLimits,
    counts: [AtomicUsize; 2],
}

/// A connection's place in a pool, given back when dropped.
#[derive(Debug)]
pub struct Slot {
    pools: Arc<Pools>,
    pool: Pool,
}

fn index(pool: Pool) -> usize {
    match pool {
        Pool::Client => 0,
        Pool::Peer => 1,
    }
}

impl Pools {
    /// Empty pools under `limits`.
    pub fn new(limits: ConnLimits) -> Arc<Pools> {
        Arc::new(Pools {
            limits,
            counts: [AtomicUsize::new(0), AtomicUsize::new(0)],
        })
    }

    /// The limits.
    pub fn limits(&self) -> ConnLimits {
        self.limits
    }

    fn cap(&self, pool: Pool) -> usize {
        match pool {
            Pool::Client => self.limits.max_clients,
            Pool::Peer => self.limits.max_peers,
        }
    }

    /// Connections in `pool` now.
    pub fn count(&self, pool: Pool) -> usize {
        self.counts
            .get(index(pool))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// A place in `pool`, if it is not full.
    pub fn take(self: &Arc<Self>, pool: Pool) -> Option<Slot> {
        let count = self.counts.get(index(pool))?;
        let cap = self.cap(pool);
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            })
            .ok()?;
        Some(Slot {
            pools: self.clone(),
            pool,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(c) = self.pools.counts.get(index(self.pool)) {
            c.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_holds_its_cap_and_gets_places_back() {
        let pools = Pools::new(ConnLimits {
            max_clients: 2,
            ..ConnLimits::default()
        });
        let a = pools.take(Pool::Client).unwrap();
        let _b = pools.take(Pool::Client).unwrap();
        assert!(pools.take(Pool::Client).is_none());
        assert!(pools.take(Pool::Peer).is_some(), "pools apart");
        drop(a);
        assert_eq!(pools.count(Pool::Client), 1);
        assert!(pools.take(Pool::Client).is_some());
    }
}
