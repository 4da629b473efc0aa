//! What `cluster` checks before it starts anything or opens any file: that
//! no other process holds the ports or the data directories its nodes would
//! use. A cluster already running on them is the usual cause, and starting
//! over it would half-join the old one (see the issue this closes) — so
//! nothing is started and nothing is emptied.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;

/// One node's needs.
pub struct Needs<'a> {
    /// The node's id.
    pub id: u32,
    /// Its TCP (and UDP) address.
    pub listen: SocketAddr,
    /// Its status page's address, if it serves one.
    pub http: Option<SocketAddr>,
    /// Its data directory.
    pub data_dir: &'a Path,
}

/// Why the nodes cannot start, one line per conflict; empty when they can.
pub fn conflicts(needs: &[Needs<'_>]) -> Vec<String> {
    let mut out = Vec::new();
    for n in needs {
        if let Err(e) = TcpListener::bind(n.listen) {
            out.push(format!("n{}: TCP {} is in use ({e})", n.id, n.listen));
        } else if let Err(e) = UdpSocket::bind(n.listen) {
            out.push(format!("n{}: UDP {} is in use ({e})", n.id, n.listen));
        }
        if let Some(http) = n.http {
            if let Err(e) = TcpListener::bind(http) {
                out.push(format!(
                    "n{}: the status page's {http} is in use ({e})",
                    n.id
                ));
            }
        }
        if let Some(pid) = ringleader_runtime::store::in_use(n.data_dir) {
            let by = if pid == 0 {
                "another node".to_owned()
            } else {
                format!("the node with pid {pid}")
            };
            out.push(format!(
                "n{}: data directory {} is held by {by}",
                n.id,
                n.data_dir.display()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_in_use_and_a_locked_directory_are_both_named() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let dir = std::env::temp_dir().join(format!("ringleader-preflight-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = ringleader_runtime::store::Store::open(&dir).unwrap();
        let free = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let needs = [Needs {
            id: 2,
            listen: addr,
            http: None,
            data_dir: &dir,
        }];
        let found = conflicts(&needs);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with(&format!("n2: TCP {addr} is in use")));
        assert!(found[1].contains(&format!("pid {}", std::process::id())));
        drop(store);
        let ok = [Needs {
            id: 1,
            listen: free,
            http: None,
            data_dir: &dir,
        }];
        assert!(conflicts(&ok).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
