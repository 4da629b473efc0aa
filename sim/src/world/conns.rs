//! The open ends of simulated peer connections, by node: a handful each, so
//! a short list per node is searched faster than one ordered map of all.

/// One end of a simulated peer connection: who is at the other end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ConnEnd {
    pub(super) peer: usize,
    pub(super) peer_life: u64,
    pub(super) peer_conn: u64,
}

/// Every open connection end: per node, (its life, the connection's number,
/// the other end).
#[derive(Debug, Default)]
pub(super) struct Conns(Vec<Vec<(u64, u64, ConnEnd)>>);

impl Conns {
    /// The other end of node `i`'s connection `conn` in life `life`.
    pub(super) fn get(&self, i: usize, life: u64, conn: u64) -> Option<ConnEnd> {
        self.0
            .get(i)?
            .iter()
            .find(|(l, c, _)| (*l, *c) == (life, conn))
            .map(|(_, _, end)| *end)
    }

    /// Opens (or replaces) an end.
    pub(super) fn insert(&mut self, i: usize, life: u64, conn: u64, end: ConnEnd) {
        if self.0.len() <= i {
            self.0.resize_with(i + 1, Vec::new);
        }
        let Some(ends) = self.0.get_mut(i) else {
            return;
        };
        match ends.iter_mut().find(|(l, c, _)| (*l, *c) == (life, conn)) {
            Some(slot) => slot.2 = end,
            None => ends.push((life, conn, end)),
        }
    }

    /// Closes an end; returns the other end, if it was open.
    pub(super) fn remove(&mut self, i: usize, life: u64, conn: u64) -> Option<ConnEnd> {
        let ends = self.0.get_mut(i)?;
        let at = ends.iter().position(|(l, c, _)| (*l, *c) == (life, conn))?;
        Some(ends.swap_remove(at).2)
    }

    /// Closes node `i`'s open ends in life `life`; returns their other ends,
    /// in the order of the connections' numbers.
    pub(super) fn take(&mut self, i: usize, life: u64) -> Vec<ConnEnd> {
        let Some(ends) = self.0.get_mut(i) else {
            return Vec::new();
        };
        let mut mine = Vec::new();
        ends.retain(|&(l, c, end)| {
            if l == life {
                mine.push((c, end));
            }
            l != life
        });
        mine.sort_by_key(|(c, _)| *c);
        mine.into_iter().map(|(_, end)| end).collect()
    }
}
