//! The replica of an application's state.

use super::*;
use crate::id::NodeId;
use crate::log::ClientMsgId;
use crate::time::Instant;

/// The payloads applied, in order.
#[derive(Debug, Default, PartialEq)]
struct Transcript(Vec<Vec<u8>>);

impl StateMachine for Transcript {
    fn apply(&mut self, entry: &Entry) {
        self.0.push(entry.payload.to_vec());
    }
    fn snapshot(&self) -> Vec<u8> {
        // Each payload after a one-byte length (they are short here).
        self.0
            .iter()
            .flat_map(|p| std::iter::once(p.len() as u8).chain(p.iter().copied()))
            .collect()
    }
    fn restore(&mut self, mut snapshot: &[u8]) -> Result<(), String> {
        let mut out = Vec::new();
        while let Some((&len, rest)) = snapshot.split_first() {
            let p = rest
                .get(..len as usize)
                .ok_or("a payload runs past the end")?;
            out.push(p.to_vec());
            snapshot = &rest[len as usize..];
        }
        self.0 = out;
        Ok(())
    }
}

/// Entries `from ..= to` of leader `leader`'s epoch `epoch`, saying `tag`.
fn history(from: u64, to: u64, epoch: u64, leader: u32, tag: &str) -> Vec<Entry> {
    (from..=to)
        .map(|index| {
            let id = ClientMsgId {
                client: 9,
                seq: index,
            };
            let mut e = Entry::new(id, format!("{tag}{index}").into_bytes(), Instant::ZERO);
            e.index = index;
            e.epoch = epoch;
            e.leader = NodeId(leader);
            e
        })
        .collect()
}

fn replayed(entries: &[Entry]) -> Transcript {
    let mut r = Replica::new(Transcript::default(), 1000);
    for e in entries {
        r.apply(e).unwrap();
    }
    r.state
}

#[test]
fn entries_apply_in_order_only() {
    let mut r = Replica::new(Transcript::default(), 3);
    let h = history(1, 5, 1, 1, "a");
    assert_eq!(
        r.apply(&h[1]),
        Err(ReplicaError::OutOfOrder {
            expected: 1,
            got: 2
        })
    );
    for e in &h {
        r.apply(e).unwrap();
    }
    assert_eq!(r.applied(), 5);
    assert_eq!(r.latest_snapshot().map(|s| s.index), Some(3));
}

#[test]
fn a_rewrite_restores_the_newest_snapshot_before_it_and_replays_to_the_new_history() {
    let mut r = Replica::new(Transcript::default(), 4);
    let old = history(1, 20, 1, 1, "a");
    for e in &old {
        r.apply(e).unwrap();
    }
    // A healed split brain replaced entries 15.. with another leader's.
    let mut new: Vec<Entry> = old[..14].to_vec();
    new.extend(history(15, 22, 2, 2, "b"));
    let resume = r.rewritten(15).unwrap();
    assert_eq!(resume, 13, "the snapshot at 12 is the newest before 15");
    for e in &new[(resume - 1) as usize..] {
        r.apply(e).unwrap();
    }
    assert_eq!(r.state, replayed(&new));
    assert_eq!(r.applied_stamp().leader, NodeId(2));
    // Older than every snapshot but the first: from the start.
    assert_eq!(r.rewritten(2).unwrap(), 1);
    assert_eq!(r.state, Transcript::default());
}

#[test]
fn a_replica_resumes_from_a_saved_snapshot() {
    let h = history(1, 10, 1, 1, "a");
    let mut r = Replica::new(Transcript::default(), 5);
    for e in &h[..7] {
        r.apply(e).unwrap();
    }
    let saved = r.latest_snapshot().cloned().unwrap();
    assert_eq!(saved.index, 5);
    let mut back = Replica::resume(Transcript::default(), 5, saved).unwrap();
    assert_eq!(back.applied(), 5);
    for e in &h[5..] {
        back.apply(e).unwrap();
    }
    assert_eq!(back.state, replayed(&h));
    // Compaction up to what it applied is fine; beyond, it cannot go on.
    assert!(back.compacted(11).is_ok());
    assert!(back.compacted(12).is_err());
    let garbage = AppSnapshot {
        index: 3,
        stamp: Stamp::default(),
        state: vec![200, 1],
    };
    assert!(matches!(
        Replica::resume(Transcript::default(), 5, garbage),
        Err(ReplicaError::Restore(_))
    ));
}

#[test]
fn a_replica_behind_a_deleted_history_goes_on_from_another_replicas_state() {
    let h = history(1, 30, 1, 1, "a");
    let mut ahead = Replica::new(Transcript::default(), 10);
    for e in &h[..25] {
        ahead.apply(e).unwrap();
    }
    let sent = ahead.latest_snapshot().cloned().unwrap();
    assert_eq!(sent.index, 20);
    // Behind at 3; the log now starts at 16: it cannot apply on alone.
    let mut behind = Replica::new(Transcript::default(), 10);
    for e in &h[..3] {
        behind.apply(e).unwrap();
    }
    assert!(sent.bridges(behind.applied() + 1, 16));
    assert!(behind.compacted(16).is_err());
    behind.install(sent.clone()).unwrap();
    assert_eq!((behind.applied(), behind.applied_stamp()), (20, sent.stamp));
    for e in &h[20..] {
        behind.apply(e).unwrap();
    }
    assert_eq!(behind.state, replayed(&h));
    // An older state than what it applied changes nothing.
    let older = AppSnapshot {
        index: 5,
        ..sent.clone()
    };
    behind.install(older).unwrap();
    assert_eq!(behind.applied(), 30);
    // A snapshot that stops short of the held log does not bridge it.
    assert!(!sent.bridges(4, 23));
    assert!(!sent.bridges(21, 16), "the reader is past it");
}
