use super::*;
use crate::id::NodeId;

/// The stamp of leader n1 in `epoch` (0: the empty log's).
fn st(epoch: u64) -> Stamp {
    Stamp {
        epoch,
        leader: NodeId(if epoch == 0 { 0 } else { 1 }),
    }
}
use crate::time::Instant;

fn msg(client: u64, seq: u64) -> Entry {
    Entry::new(
        ClientMsgId { client, seq },
        format!("hello {seq}").into_bytes(),
        Instant::from_millis(seq),
    )
}

fn leader_log(epoch: u64, msgs: &[(u64, u64)]) -> Log {
    let mut log = Log::default();
    for &(c, s) in msgs {
        assert!(matches!(
            log.offer(st(epoch), msg(c, s)),
            Offer::Appended(_)
        ));
    }
    log
}

#[test]
fn the_leader_numbers_entries_and_recognises_resends() {
    let mut log = Log::default();
    assert_eq!(log.offer(st(1), msg(7, 1)), Offer::Appended(1));
    assert_eq!(log.offer(st(1), msg(8, 1)), Offer::Appended(2));
    assert_eq!(log.offer(st(1), msg(7, 2)), Offer::Appended(3));
    assert_eq!(
        log.offer(st(2), msg(7, 2)),
        Offer::Duplicate(3),
        "a resend is acknowledged again"
    );
    assert_eq!(log.offer(st(2), msg(7, 1)), Offer::Old(3));
    assert_eq!(log.offer(st(2), msg(7, 5)), Offer::Gap { expected: 3 });
    assert_eq!(log.offer(st(2), msg(9, 0)), Offer::Gap { expected: 1 });
    assert_eq!(log.last_index(), 3);
    assert_eq!(log.get(3).map(|e| (e.epoch, e.id.seq)), Some((1, 2)));
    assert_eq!(log.epoch_at(0), Some(0));
    assert_eq!(log.epoch_at(4), None);
    assert_eq!(log.get(0), None);
}

#[test]
fn a_follower_appends_only_what_continues_its_log() {
    let leader = leader_log(1, &[(1, 1), (1, 2), (2, 1)]);
    let mut follower = Log::default();
    assert_eq!(follower.accept(0, st(0), leader.entries_from(1, 2)), Ok(2));
    // A batch that does not follow on is refused with where to retry.
    assert_eq!(
        follower.accept(3, st(1), leader.entries_from(4, 10)),
        Err(Reject::Mismatch { hint: 2 })
    );
    assert_eq!(follower.accept(2, st(1), leader.entries_from(3, 10)), Ok(3));
    // Delivered twice, the same batch changes nothing.
    assert_eq!(follower.accept(2, st(1), leader.entries_from(3, 10)), Ok(3));
    assert_eq!(follower.last_index(), 3);
    // A non-contiguous batch is refused untouched.
    let mut bad = leader.entries_from(1, 3).to_vec();
    bad.swap(0, 1);
    assert!(follower.accept(0, st(0), &bad).is_err());
    assert_eq!(follower.last_index(), 3);
}

#[test]
fn an_uncommitted_conflicting_suffix_is_replaced_and_dedup_follows_it() {
    // The old leader appended (1,2) and (1,3) in epoch 1 but committed only index 1.
    let mut old = leader_log(1, &[(1, 1), (1, 2), (1, 3)]);
    old.commit_to(1);
    // The new leader of epoch 2 has only index 1, then a message from client 2.
    let mut new = Log::default();
    new.accept(0, st(0), old.entries_from(1, 1)).unwrap();
    assert_eq!(new.offer(st(2), msg(2, 1)), Offer::Appended(2));
    assert_eq!(old.accept(1, st(1), new.entries_from(2, 10)), Ok(2));
    assert_eq!(old.last_index(), 2);
    assert_eq!(
        old.get(2).map(|e| e.id),
        Some(ClientMsgId { client: 2, seq: 1 })
    );
    // Client 1's second message is gone from the log, so it is expected again.
    assert_eq!(old.offer(st(2), msg(1, 3)), Offer::Gap { expected: 2 });
    assert_eq!(old.offer(st(2), msg(1, 2)), Offer::Appended(3));
}

#[test]
fn committed_entries_are_never_replaced() {
    let mut follower = leader_log(1, &[(1, 1), (1, 2)]);
    follower.commit_to(2);
    let mut rogue = leader_log(1, &[(1, 1)]);
    rogue.offer(st(3), msg(5, 1));
    let result = follower.accept(1, st(1), rogue.entries_from(2, 1));
    assert_eq!(result, Err(Reject::CommittedConflict { index: 2 }));
    assert_eq!(follower.get(2).map(|e| e.id.client), Some(1));
}

#[test]
fn a_mismatch_points_before_the_whole_conflicting_run() {
    // Entries 2..=5 come from a deposed leader of epoch 2; the leader of epoch 3
    // probes at 5. One answer sends it back before the whole run, not to 4.
    let mut follower = leader_log(1, &[(1, 1)]);
    for seq in 1..=4 {
        follower.offer(st(2), msg(2, seq));
    }
    follower.commit_to(1);
    let probe = follower.accept(5, st(3), &[]);
    assert_eq!(probe, Err(Reject::Mismatch { hint: 1 }));
}

#[test]
fn a_markers_run_left_uncommitted_gives_way_and_the_commit_index_stays() {
    // The node was cut off alone and led epoch 2 by itself: its marker stays
    // uncommitted (a bully/ring leader never commits markers alone).
    let mut lonely = leader_log(1, &[(1, 1)]);
    lonely.commit_to(1);
    let stamp = Stamp {
        epoch: 2,
        leader: NodeId(5),
    };
    lonely.append_marker(stamp, Entry::marker(NodeId(5), Instant::ZERO));
    // Meanwhile the cluster committed a message at index 2.
    let cluster = leader_log(1, &[(1, 1), (2, 1)]);
    let probe = lonely.accept(2, st(1), &[]);
    assert!(
        matches!(probe, Err(Reject::Mismatch { hint: 1 })),
        "{probe:?}"
    );
    assert_eq!(lonely.commit_index(), 1);
    // The cluster's entry replaces the marker; nothing committed moved.
    assert_eq!(lonely.accept(1, st(1), cluster.entries_from(2, 1)), Ok(2));
    assert_eq!(lonely.get(2).map(|e| e.id.client), Some(2));
    assert_eq!(lonely.commit_index(), 1);
}

#[test]
fn a_committed_entry_never_gives_way_and_the_commit_index_never_goes_back() {
    let cluster = leader_log(1, &[(1, 1), (2, 1)]);
    for committed_marker in [false, true] {
        let mut holder = leader_log(1, &[(1, 1)]);
        if committed_marker {
            holder.append_marker(st(2), Entry::marker(NodeId(2), Instant::ZERO));
        } else {
            holder.offer(st(2), msg(3, 1));
        }
        holder.commit_to(2);
        assert_eq!(
            holder.accept(1, st(1), cluster.entries_from(2, 1)),
            Err(Reject::CommittedConflict { index: 2 })
        );
        // The hint points before the conflicting run, below the commit index:
        // the leader finds the fork of a committed branch that way.
        assert!(matches!(
            holder.accept(2, st(1), &[]),
            Err(Reject::Mismatch { hint: 1 })
        ));
        assert_eq!(holder.commit_index(), 2);
    }
}

#[test]
fn the_commit_index_only_moves_forward_and_never_past_the_end() {
    let mut log = leader_log(1, &[(1, 1), (1, 2), (1, 3)]);
    assert!(log.commit_to(2));
    assert!(!log.commit_to(1));
    assert!(log.commit_to(99));
    assert_eq!(log.commit_index(), 3);
    assert_eq!(log.committed().len(), 3);
}

#[test]
fn up_to_date_compares_the_last_epoch_first_then_the_length() {
    let log = leader_log(2, &[(1, 1), (1, 2)]);
    assert!(log.is_behind_or_equal(2, 2));
    assert!(
        log.is_behind_or_equal(3, 1),
        "a later epoch wins over length"
    );
    assert!(!log.is_behind_or_equal(2, 1));
    assert!(!log.is_behind_or_equal(1, 9));
}

#[test]
fn slices_are_bounded_by_the_log() {
    let log = leader_log(1, &[(1, 1), (1, 2), (1, 3)]);
    assert_eq!(log.entries_from(2, 10).len(), 2);
    assert_eq!(log.entries_from(4, 10).len(), 0);
    assert_eq!(log.entries_from(0, 2).len(), 2);
    assert_eq!(log.entries_from(u64::MAX, 2).len(), 0);
}

/// Branches of a split brain: finding the shared prefix, rewriting.
mod branches {
    use crate::id::NodeId;
    use crate::log::ClientMsgId;
    use crate::log::*;
    use crate::time::Instant;

    fn stamp(epoch: u64, leader: u32) -> Stamp {
        Stamp {
            epoch,
            leader: NodeId(leader),
        }
    }

    fn entry(index: u64, s: Stamp, client: u64, seq: u64) -> Entry {
        let mut e = Entry::new(ClientMsgId { client, seq }, vec![1], Instant::ZERO);
        e.index = index;
        e.epoch = s.epoch;
        e.leader = s.leader;
        e
    }

    /// 1..=3 of (1, n1), then `tail` entries of `s` by client 7.
    fn log_with(s: Stamp, tail: u64, commit: u64) -> Log {
        let base = stamp(1, 1);
        let mut entries: Vec<Entry> = (1..=3).map(|i| entry(i, base, 9, i)).collect();
        entries.extend((4..4 + tail).map(|i| entry(i, s, 7, i - 3)));
        Log::restore(entries, commit).unwrap()
    }

    #[test]
    fn the_shared_prefix_is_found_from_the_runs_a_reader_saw() {
        let a = log_with(stamp(2, 2), 5, 8); // 1..3 base, 4..8 of (2, n2)
        let seen = [
            SeenRun {
                stamp: stamp(1, 1),
                first: 1,
                last: 3,
            },
            SeenRun {
                stamp: stamp(2, 3),
                first: 4,
                last: 6,
            },
        ];
        assert_eq!(a.shared_with(&seen), 3, "parted after the common run");
        let same = [SeenRun {
            stamp: stamp(2, 2),
            first: 4,
            last: 20,
        }];
        assert_eq!(a.shared_with(&same), 8, "holds the run up to its end");
        assert_eq!(a.shared_with(&[]), 0);
    }

    #[test]
    fn a_rewrite_replaces_a_committed_branch_and_counts() {
        let mut b = log_with(stamp(2, 3), 4, 7);
        let theirs: Vec<Entry> = (4..=5).map(|i| entry(i, stamp(3, 2), 8, i - 3)).collect();
        let wrong = b.rewrite(3, stamp(9, 9), &theirs, 5);
        assert!(matches!(wrong, Err(Reject::Mismatch { .. })), "{wrong:?}");
        assert_eq!(b.rewrites(), 0);
        assert_eq!(b.rewrite(3, stamp(1, 1), &theirs, 5), Ok(5));
        assert_eq!(b.last_index(), 5);
        assert_eq!(b.commit_index(), 5);
        assert_eq!(b.rewrites(), 1);
        assert_eq!(b.take_rewritten_from(), Some(4));
        assert_eq!(
            b.client_position(7),
            (0, 0),
            "the old branch's client is gone"
        );
        assert_eq!(b.client_position(8), (2, 5));
    }
}

#[test]
fn messages_of_the_largest_entries_fit_in_a_frame() {
    use crate::wire::{
        encode_frame, Message, ReplicationMsg, ServerMsg, DEFAULT_MAX_FRAME, MAX_CHAT_BYTES,
        MAX_USER_NAME,
    };
    let mut log = Log::default();
    for seq in 1..=300 {
        let e = Entry::new(
            ClientMsgId {
                client: u64::MAX,
                seq,
            },
            // The largest chat message: its text, its author's name, two bytes.
            vec![0xff; MAX_CHAT_BYTES + MAX_USER_NAME + 2],
            Instant::from_millis(u64::MAX - 1000 + seq),
        );
        assert!(matches!(log.offer(st(u64::MAX / 2), e), Offer::Appended(_)));
    }
    let batch = log.entries_from(1, 256);
    assert!(!batch.is_empty() && batch.len() < 256, "{}", batch.len());
    let from = crate::id::NodeInfo {
        id: NodeId(u32::MAX),
        addr: "127.0.0.1:1".parse().unwrap(),
        incarnation: crate::id::Incarnation {
            counter: u64::MAX,
            started_at: Instant::from_millis(u64::MAX),
        },
    };
    let append = Message::Replication {
        from,
        msg: Box::new(ReplicationMsg::Append {
            epoch: u64::MAX,
            prev_index: u64::MAX,
            prev: st(u64::MAX),
            entries: batch.to_vec(),
            commit: u64::MAX,
        }),
    };
    let mut out = Vec::new();
    encode_frame(&append, &mut out, DEFAULT_MAX_FRAME).expect("a batch fits in a frame");
    assert!(
        out.len() > DEFAULT_MAX_FRAME / 3,
        "the batch is not cut too small"
    );
    let mut out = Vec::new();
    let push = ServerMsg::Entries(log.entries_from(1, 512).to_vec());
    encode_frame(&push, &mut out, DEFAULT_MAX_FRAME).expect("a push fits in a frame");
    // The whole log, as counted before: four times the frame.
    let mut out = Vec::new();
    let all = ServerMsg::Entries(log.entries[..256].to_vec());
    assert!(encode_frame(&all, &mut out, DEFAULT_MAX_FRAME).is_err());
}

/// The window in memory: what is let go, what stays known, what is read back.
mod window {
    use super::super::*;
    use crate::id::NodeId;
    use crate::time::Instant;

    fn stamp(epoch: u64) -> Stamp {
        Stamp {
            epoch,
            leader: NodeId(1),
        }
    }

    /// 100 committed entries of clients 1 and 2, epochs 1 (1..=50) and 2.
    fn log_of_100() -> Log {
        let mut log = Log::default();
        for i in 1..=100u64 {
            let id = ClientMsgId {
                client: 1 + i % 2,
                seq: i.div_ceil(2),
            };
            let epoch = if i <= 50 { 1 } else { 2 };
            log.offer(stamp(epoch), Entry::new(id, vec![7; 10], Instant::ZERO));
        }
        log.commit_to(100);
        log
    }

    #[test]
    fn evicted_entries_keep_their_stamps_and_numbering_and_are_read_back_checked() {
        let full = log_of_100();
        let mut log = full.clone();
        log.set_memory_limit(0, 10);
        log.evict(60);
        assert_eq!(log.memory_from(), 61, "only committed entries up to 60 go");
        log.evict(100);
        assert_eq!((log.memory_from(), log.memory().1), (91, 10));
        for i in 0..=100 {
            assert_eq!(log.stamp_at(i), full.stamp_at(i), "stamp of {i}");
        }
        assert_eq!(log.client_position(1), full.client_position(1));
        assert!(log.missing(5) && !log.missing(95) && !log.missing(0));
        assert!(log.entries_from(5, 3).is_empty());
        // A read that does not match the stamps is refused; a good one is kept.
        let mut wrong = full.entries_from(5, 3).to_vec();
        wrong[1].epoch = 9;
        assert!(!log.read_back(wrong, 100));
        assert!(log.read_back(full.entries_from(5, 100).to_vec(), 100));
        assert_eq!(log.entries_from(7, 2), full.entries_from(7, 2));
        assert!(!log.missing(80), "read back up to the window");
        // The numbering survives a cut inside the window.
        log.commit = 95;
        log.truncate_to(95);
        assert_eq!(log.client_position(2), (48, 95));
        assert_eq!(log.client_position(1), (47, 94));
    }

    #[test]
    fn a_log_resumes_from_a_summary_and_a_tail() {
        let full = log_of_100();
        let mut windowed = full.clone();
        windowed.set_memory_limit(0, 20);
        windowed.evict(100);
        let tail = windowed.all_from(windowed.memory_from()).to_vec();
        let resumed = Log::resume(windowed.summary(), tail.clone(), 100).unwrap();
        assert_eq!(resumed.last_index(), 100);
        assert_eq!(resumed.commit_index(), 100);
        assert_eq!(resumed.client_position(1), full.client_position(1));
        assert_eq!(resumed.stamp_at(50), full.stamp_at(50));
        // A tail with a gap does not resume.
        assert!(Log::resume(windowed.summary(), tail[1..].to_vec(), 100).is_none());
    }
}

/// A disk's copy applies writes by reference or by value alike: cut,
/// entries, commit, and a write that does not continue the log refused.
#[test]
fn a_write_taken_whole_gives_the_same_log_as_one_copied() {
    let source = leader_log(1, &[(7, 1), (7, 2), (8, 1), (7, 3)]);
    let all = source.entries_from(1, 10).to_vec();
    let first = LogWrite {
        entries: all.iter().take(3).cloned().collect(),
        commit: Some(2),
        ..LogWrite::default()
    };
    let mut replaced = all.get(2).cloned().into_iter().collect::<Vec<_>>();
    if let Some(e) = replaced.first_mut() {
        e.epoch = 2;
    }
    let second = LogWrite {
        cut_from: Some(3),
        entries: replaced,
        commit: Some(3),
        ..LogWrite::default()
    };
    let (mut copied, mut taken) = (Log::default(), Log::default());
    for w in [first, second] {
        assert!(copied.apply(&w).is_ok());
        assert!(taken.apply_owned(w).is_ok());
    }
    for log in [&copied, &taken] {
        assert_eq!((log.last_index(), log.commit_index()), (3, 3));
        assert_eq!(log.stamp_at(3).map(|s| s.epoch), Some(2));
    }
    assert_eq!(copied.entries_from(1, 10), taken.entries_from(1, 10));
    // Entry 4 after a cut at 3 would leave a gap at 3.
    let gap = LogWrite {
        entries: all.get(3..).map(<[Entry]>::to_vec).unwrap_or_default(),
        cut_from: Some(3),
        ..LogWrite::default()
    };
    let misfit = taken.apply_owned(gap);
    assert!(matches!(
        misfit,
        Err(WriteMisfit {
            expected: 3,
            got: 4
        })
    ));
    assert_eq!(taken.last_index(), 3, "a misfit changes nothing");
}
