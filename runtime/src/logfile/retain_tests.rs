//! Retention on disk: old segments deleted behind a snapshot, restarts from
//! it, and a follower's log replaced by its leader's snapshot.

use super::*;
use ringleader_core::log::{ClientMsgId, Entry};
use ringleader_core::{Instant, NodeId};

fn entry(index: u64) -> Entry {
    let client = 1 + index % 3;
    let mut e = Entry::new(
        ClientMsgId { client, seq: index },
        format!("message {index}").into_bytes(),
        Instant::from_micros(index),
    );
    e.index = index;
    e.epoch = 1;
    e.leader = NodeId(1);
    e
}

fn write(from: u64, to: u64) -> LogWrite {
    LogWrite {
        app: None,
        install: None,
        cut_from: None,
        entries: (from..=to).map(entry).collect(),
        commit: Some(to),
    }
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(name: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("ringleader-retain-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

fn segment_count(d: &Dir) -> usize {
    std::fs::read_dir(d.0.join("log"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "seg"))
        })
        .count()
}

const SMALL: Window = Window { memory: 0, keep: 8 };

#[test]
fn retention_deletes_old_segments_behind_a_snapshot_that_a_restart_starts_from() {
    let d = dir("entries");
    let (mut file, _) = LogFile::open_with(&d.0, 2_000, SMALL).unwrap();
    file.set_retain(Retain::Entries(100));
    for n in (10..=600).step_by(10) {
        file.append(write(n - 9, n)).unwrap();
        file.flush(false).unwrap();
    }
    let compacted = file.take_compacted();
    let snap = compacted.last().cloned().expect("compacted");
    assert!(
        snap.index >= 300 && snap.index <= 500,
        "keeps at least 100: {}",
        snap.index
    );
    // The numbering at the snapshot: each client's last message up to it.
    let last_of = |client: u64| {
        (1..=snap.index)
            .rev()
            .find(|i| 1 + i % 3 == client)
            .unwrap()
    };
    assert_eq!(snap.client_map()[&2], (last_of(2), last_of(2)));
    assert!(
        segment_count(&d) < 20,
        "old segments deleted: {}",
        segment_count(&d)
    );
    let digest = file.digest();
    drop(file);
    for window in [SMALL, Window::ALL] {
        let (mut file, log) = LogFile::open_with(&d.0, 2_000, window).unwrap();
        assert_eq!(log.start(), snap.index + 1);
        assert_eq!((log.last_index(), log.commit_index()), (600, 600));
        assert_eq!(log.snapshot(), Some(&snap));
        assert_eq!(log.client_position(1), (600, 600));
        assert_eq!(file.digest(), digest);
        let back = file.read(snap.index + 1, 10, usize::MAX).unwrap();
        assert_eq!(back.first().map(|e| e.index), Some(snap.index + 1));
    }
}

#[test]
fn a_snapshot_from_the_leader_replaces_the_log() {
    let d = dir("install");
    let (mut file, _) = LogFile::open_with(&d.0, 2_000, SMALL).unwrap();
    for n in (10..=100).step_by(10) {
        file.append(write(n - 9, n)).unwrap();
        file.flush(false).unwrap();
    }
    let snap = ringleader_core::log::Snapshot {
        index: 5_000,
        stamp: entry(5_000).stamp(),
        clients: vec![(1, 4_998, 4_998), (2, 5_000, 5_000), (9, 77, 4_000)],
        digest: 42,
    };
    let mut w = write(5_001, 5_010);
    w.install = Some(snap.clone());
    file.append(w).unwrap();
    file.flush(true).unwrap();
    assert_eq!(file.digest().upto, 5_010);
    drop(file);
    assert_eq!(segment_count(&d), 1, "the old log is gone");
    let (_, log) = LogFile::open_with(&d.0, 2_000, SMALL).unwrap();
    assert_eq!(
        (log.start(), log.last_index(), log.commit_index()),
        (5_001, 5_010, 5_010)
    );
    assert_eq!(
        log.client_position(9),
        (77, 4_000),
        "the numbering came with it"
    );
}

#[test]
fn a_commit_index_that_jumps_still_leaves_checkpoints_where_segments_end() {
    // A follower catching up: entries arrive first, the commit index later,
    // in one jump past many closed segments.
    let d = dir("jump");
    let (mut file, _) = LogFile::open_with(&d.0, 2_000, SMALL).unwrap();
    file.set_retain(Retain::Entries(150));
    for n in (10..=600).step_by(10) {
        let mut w = write(n - 9, n);
        w.commit = None;
        file.append(w).unwrap();
        file.flush(false).unwrap();
    }
    assert!(file.take_compacted().is_empty(), "nothing committed yet");
    file.append(LogWrite {
        commit: Some(600),
        ..LogWrite::default()
    })
    .unwrap();
    file.flush(false).unwrap();
    // One more segment closes: retention looks again.
    for n in (610..=700).step_by(10) {
        file.append(write(n - 9, n)).unwrap();
        file.flush(false).unwrap();
    }
    let snap = file
        .take_compacted()
        .pop()
        .expect("compacted after the jump");
    // At most 700 - 150: a checkpoint where a segment ended, not only at 600.
    assert!(snap.index <= 550, "{}", snap.index);
}

#[test]
fn retention_deletes_nothing_an_application_still_needs() {
    let d = dir("floor");
    let (mut file, _) = LogFile::open_with(&d.0, 2_000, SMALL).unwrap();
    file.set_retain(Retain::Entries(100));
    // The application saved its state as of 150: what follows must stay.
    file.set_floor(150);
    for n in (10..=600).step_by(10) {
        file.append(write(n - 9, n)).unwrap();
        file.flush(false).unwrap();
    }
    let compacted = file.take_compacted();
    let last = compacted.last().map_or(0, |s| s.index);
    assert!(last <= 150, "compacted through {last}, past the floor");
    let back = file.read(151, 10, usize::MAX).unwrap();
    assert_eq!(back.first().map(|e| e.index), Some(151));
    // A newer saved state lets retention go on.
    file.set_floor(500);
    file.append(write(601, 610)).unwrap();
    file.flush(false).unwrap();
    let later = file.take_compacted();
    let through = later.last().map(|s| s.index).expect("compacted further");
    assert!(through > 150 && through <= 500, "{through}");
}
