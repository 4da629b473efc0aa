//! UDP sockets: the multicast group socket (discovery and client probes) and each
//! node's own unicast socket (static peers, when multicast is not available).

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// Where the multicast channel is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MulticastConfig {
    /// The group: by default 239.77.76.1, in the administratively scoped range
    /// (RFC 2365), so it stays inside the site and clashes with no well-known group.
    pub group: Ipv4Addr,
    /// The UDP port every node of the cluster binds.
    pub port: u16,
    /// The interface (by its address) to join and send on; 127.0.0.1 keeps a
    /// cluster on one machine, a LAN address spans the LAN.
    pub interface: Ipv4Addr,
    /// Hops a datagram may take; 1 keeps it on the local link.
    pub ttl: u32,
}

impl Default for MulticastConfig {
    fn default() -> Self {
        MulticastConfig {
            group: Ipv4Addr::new(239, 77, 76, 1),
            port: 7400,
            interface: Ipv4Addr::LOCALHOST,
            ttl: 1,
        }
    }
}

impl MulticastConfig {
    /// The group's address as a destination.
    pub fn dest(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.group, self.port))
    }
}

/// A socket that receives the group's datagrams, shared by every node on the host
/// (address and port reuse), and sends to the group on the chosen interface.
pub fn multicast_socket(cfg: &MulticastConfig) -> io::Result<tokio::net::UdpSocket> {
    if !cfg.group.is_multicast() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a multicast group (224.0.0.0/4)", cfg.group),
        ));
    }
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&SockAddr::from(SocketAddrV4::new(
        Ipv4Addr::UNSPECIFIED,
        cfg.port,
    )))?;
    socket
        .join_multicast_v4(&cfg.group, &cfg.interface)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot join {} on interface {}: {e}",
                    cfg.group, cfg.interface
                ),
            )
        })?;
    socket.set_multicast_if_v4(&cfg.interface)?;
    socket.set_multicast_loop_v4(true)?;
    socket.set_multicast_ttl_v4(cfg.ttl)?;
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// A plain UDP socket on `addr`, for datagrams from static peers and for a
/// client's probes and their answers.
pub fn unicast_socket(
    addr: SocketAddr,
    multicast: Option<&MulticastConfig>,
) -> io::Result<tokio::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(cfg) = multicast {
        socket.set_multicast_if_v4(&cfg.interface)?;
        socket.set_multicast_loop_v4(true)?;
        socket.set_multicast_ttl_v4(cfg.ttl)?;
    }
    socket.bind(&SockAddr::from(addr))?;
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket.into())
}
