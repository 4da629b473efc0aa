//! Where simulated nodes live: their addresses, and each life's seed.

use ringleader_core::NodeId;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// The address a simulated node advertises: 10.0.x.y:7000.
pub fn sim_addr(id: NodeId) -> SocketAddr {
    let [_, _, hi, lo] = id.0.to_be_bytes();
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, hi, lo), 7000))
}

/// A seed for node `index` in its `life`-th life, derived from the run's seed.
pub(crate) fn node_seed(seed: u64, index: usize, life: u64) -> u64 {
    let mut z = seed ^ ((index as u64) << 40) ^ life.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The node a simulated address belongs to (see [`sim_addr`]).
pub(crate) fn addr_node(addr: SocketAddr) -> Option<usize> {
    match addr {
        SocketAddr::V4(a) if a.port() == 7000 => {
            let [ten, zero, hi, lo] = a.ip().octets();
            let id = u32::from(u16::from_be_bytes([hi, lo]));
            ((ten, zero) == (10, 0) && id > 0).then(|| id as usize - 1)
        }
        _ => None,
    }
}
