//! The open ends of simulated peer connections, by node and peer: a node has
//! one or two ends to each peer (its own dial, the peer's), so a write finds
//! its end among those of one pair instead of searching all of a node's.

/// One end of a simulated peer connection: who is at the other end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ConnEnd {
    pub(super) peer: usize,
    pub(super) peer_life: u64,
    pub(super) peer_conn: u64,
}

/// One pair's open ends: (the node's life, the connection's number, the other end).
type Ends = Vec<(u64, u64, ConnEnd)>;

/// Every open connection end, per (node, peer) pair.
#[derive(Debug)]
pub(super) struct Conns {
    /// Nodes in the run: the pairs are `nodes × nodes`.
    nodes: usize,
    pairs: Vec<Ends>,
}

impl Conns {
    /// No connection yet between any of `nodes` nodes.
    pub(super) fn new(nodes: usize) -> Conns {
        Conns {
            nodes,
            pairs: vec![Vec::new(); nodes.saturating_mul(nodes)],
        }
    }

    /// Where the pair (`i`, `peer`) sits in `pairs`: row `i`, column `peer`.
    fn index(&self, i: usize, peer: usize) -> Option<usize> {
        (peer < self.nodes).then_some(i.checked_mul(self.nodes)?.checked_add(peer)?)
    }

    fn pair(&self, i: usize, peer: usize) -> Option<&Ends> {
        self.pairs.get(self.index(i, peer)?)
    }

    fn pair_mut(&mut self, i: usize, peer: usize) -> Option<&mut Ends> {
        let at = self.index(i, peer)?;
        self.pairs.get_mut(at)
    }

    /// Node `i`'s pairs, one per peer.
    fn row_mut(&mut self, i: usize) -> Option<&mut [Ends]> {
        let start = self.index(i, 0)?;
        self.pairs.get_mut(start..start.checked_add(self.nodes)?)
    }

    /// The other end of node `i`'s connection `conn` to `peer` in life `life`.
    pub(super) fn get(&self, i: usize, peer: usize, life: u64, conn: u64) -> Option<ConnEnd> {
        self.pair(i, peer)?
            .iter()
            .find(|(l, c, _)| (*l, *c) == (life, conn))
            .map(|(_, _, end)| *end)
    }

    /// Opens (or replaces) an end of node `i`'s, in life `life`.
    pub(super) fn insert(&mut self, i: usize, life: u64, conn: u64, end: ConnEnd) {
        let Some(ends) = self.pair_mut(i, end.peer) else {
            return;
        };
        match ends.iter_mut().find(|(l, c, _)| (*l, *c) == (life, conn)) {
            Some(slot) => slot.2 = end,
            None => ends.push((life, conn, end)),
        }
    }

    /// Closes an end of node `i`'s connection to `peer`; returns the other
    /// end, if it was open.
    pub(super) fn remove(
        &mut self,
        i: usize,
        peer: usize,
        life: u64,
        conn: u64,
    ) -> Option<ConnEnd> {
        let ends = self.pair_mut(i, peer)?;
        let at = ends.iter().position(|(l, c, _)| (*l, *c) == (life, conn))?;
        Some(ends.swap_remove(at).2)
    }

    /// Closes node `i`'s open ends in life `life`; returns their other ends,
    /// in the order of the connections' numbers.
    pub(super) fn take(&mut self, i: usize, life: u64) -> Vec<ConnEnd> {
        let mut mine = Vec::new();
        for ends in self.row_mut(i).into_iter().flatten() {
            mine.extend(
                ends.extract_if(.., |(l, _, _)| *l == life)
                    .map(|(_, c, end)| (c, end)),
            );
        }
        mine.sort_by_key(|(c, _)| *c);
        mine.into_iter().map(|(_, end)| end).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(peer: usize, peer_conn: u64) -> ConnEnd {
        ConnEnd {
            peer,
            peer_life: 1,
            peer_conn,
        }
    }

    #[test]
    fn ends_are_found_by_pair_life_and_number() {
        let mut conns = Conns::new(3);
        conns.insert(0, 1, 7, end(1, 70));
        conns.insert(0, 1, 8, end(2, 80));
        conns.insert(0, 2, 9, end(1, 90));
        assert_eq!(conns.get(0, 1, 1, 7), Some(end(1, 70)));
        assert_eq!(conns.get(0, 2, 1, 7), None, "another peer's pair");
        assert_eq!(conns.get(0, 1, 2, 7), None, "another life");
        assert_eq!(conns.get(0, 5, 1, 7), None, "no such peer");
        assert_eq!(conns.get(9, 1, 1, 7), None, "no such node");
        conns.insert(0, 1, 7, end(1, 71));
        assert_eq!(conns.get(0, 1, 1, 7), Some(end(1, 71)), "replaced");
        assert_eq!(conns.remove(0, 1, 1, 7), Some(end(1, 71)));
        assert_eq!(conns.remove(0, 1, 1, 7), None, "removed once");
        // Life 1's ends go, in the order of their numbers; life 2's stays.
        conns.insert(0, 1, 3, end(1, 30));
        assert_eq!(conns.take(0, 1), vec![end(1, 30), end(2, 80)]);
        assert_eq!(conns.get(0, 1, 2, 9), Some(end(1, 90)));
        assert!(conns.take(0, 1).is_empty());
    }
}
