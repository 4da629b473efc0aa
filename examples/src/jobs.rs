//! The job runner's replicated record and its supervisor protocol.
//!
//! A node that leads (fenced: see `NodeHandle::fence`) starts the job under a
//! supervisor process and writes `START <epoch> <node>` to the log, so the
//! history says which node ran the job in which epoch. The record keeps
//! only starts whose epoch is higher than every one before: the epoch is the
//! job's fencing token.
//!
//! The supervisor holds the read end of a pipe from its node and renews the
//! job's lease from it: each line `lease <ms>` says the node's leadership
//! holds for that long. When the lease runs out, or the pipe closes (the
//! node stopped, or was killed with `kill -9`, or gave the job up), the
//! supervisor kills the job's whole process group. So the job never outlives
//! its node's leadership, even when the node process stands still.

use ringleader_core::app::StateMachine;
use ringleader_core::log::Entry;
use ringleader_core::NodeId;
use ringleader_sim::app::{Proposing, SimApp};

/// The line a node writes when it starts the job in `epoch`.
pub fn start_entry(epoch: u64, node: NodeId) -> Vec<u8> {
    format!("START {epoch} {}", node.0).into_bytes()
}

fn parse_start(payload: &[u8]) -> Option<(u64, u32)> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut words = text.strip_prefix("START ")?.split(' ');
    let epoch = words.next()?.parse().ok()?;
    let node = words.next()?.parse().ok()?;
    Some((epoch, node))
}

/// Which node ran the job in which epoch, in epoch order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobRecord {
    /// (epoch, node), epochs strictly increasing.
    pub starts: Vec<(u64, u32)>,
    /// Starts refused for an epoch not above the last one (a stale leader's).
    pub stale: u64,
}

impl JobRecord {
    /// The epoch of the last start recorded (0: none).
    pub fn last_epoch(&self) -> u64 {
        self.starts.last().map_or(0, |s| s.0)
    }
}

impl StateMachine for JobRecord {
    fn apply(&mut self, entry: &Entry) {
        if let Some((epoch, node)) = parse_start(&entry.payload) {
            if epoch > self.last_epoch() {
                self.starts.push((epoch, node));
            } else {
                self.stale += 1;
            }
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut out = format!("{}\n", self.stale);
        for (e, n) in &self.starts {
            out.push_str(&format!("{e} {n}\n"));
        }
        out.into_bytes()
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), String> {
        let text = std::str::from_utf8(snapshot).map_err(|e| e.to_string())?;
        let mut lines = text.lines();
        let stale = lines
            .next()
            .ok_or("empty")?
            .parse()
            .map_err(|_| "bad count")?;
        let mut starts = Vec::new();
        for line in lines {
            let (e, n) = line.split_once(' ').ok_or("bad line")?;
            starts.push((
                e.parse().map_err(|_| "bad epoch")?,
                n.parse().map_err(|_| "bad node")?,
            ));
        }
        *self = JobRecord { starts, stale };
        Ok(())
    }
}

impl SimApp for JobRecord {
    /// A leader records that it started the job in its epoch, until the
    /// record shows it.
    fn proposal(&self, turn: &Proposing) -> Option<Vec<u8>> {
        (self.last_epoch() < turn.epoch).then(|| start_entry(turn.epoch, turn.node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_entry as entry;

    #[test]
    fn starts_are_kept_in_epoch_order_and_survive_a_snapshot() {
        let mut r = JobRecord::default();
        r.apply(&entry(1, &start_entry(2, NodeId(1))));
        r.apply(&entry(2, &start_entry(2, NodeId(3)))); // a stale leader's
        r.apply(&entry(3, &start_entry(5, NodeId(3))));
        assert_eq!(r.starts, vec![(2, 1), (5, 3)]);
        assert_eq!(r.stale, 1);
        let mut back = JobRecord::default();
        back.restore(&r.snapshot()).unwrap();
        assert_eq!(back, r);
        assert!(back.restore(b"x").is_err());
    }
}
