//! The log in bounded memory: restarts from the summary, reads through the
//! anchors, folds started again after committed entries were replaced.

use super::*;
use ringleader_core::log::{ClientMsgId, Entry};
use ringleader_core::{Instant, NodeId};

fn entry(index: u64, epoch: u64) -> Entry {
    let client = 1 + index % 2;
    let mut e = Entry::new(
        ClientMsgId { client, seq: index },
        ringleader_core::chat::ChatMessage {
            author: &format!("user{client}"),
            text: format!("message {index} of epoch {epoch}").as_bytes(),
        }
        .encode(),
        Instant::ZERO,
    );
    e.index = index;
    e.epoch = epoch;
    e.leader = NodeId(1);
    e
}

fn write(from: u64, to: u64, epoch: u64, cut: bool) -> LogWrite {
    LogWrite {
        app: None,
        install: None,
        cut_from: cut.then_some(from),
        entries: (from..=to).map(|i| entry(i, epoch)).collect(),
        commit: Some(to),
    }
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("ringleader-window-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SMALL: Window = Window { memory: 0, keep: 8 };

fn open(dir: &Dir, window: Window) -> (LogFile, Log) {
    LogFile::open_with(&dir.0, 2_000, window).unwrap()
}

/// The whole history `entries`, committed, as a log in memory.
fn whole(entries: Vec<Entry>) -> Log {
    let n = entries.len() as u64;
    Log::restore(entries, n).unwrap()
}

fn assert_same(windowed: &Log, file: &mut LogFile, expected: &Log) {
    let last = expected.last_index();
    assert_eq!(
        (windowed.last_index(), windowed.commit_index()),
        (last, last)
    );
    assert!(
        windowed.memory().1 <= 16,
        "a window, not the log: {:?}",
        windowed.memory()
    );
    for i in 0..=last {
        assert_eq!(windowed.stamp_at(i), expected.stamp_at(i), "stamp of {i}");
    }
    for client in [1, 2] {
        assert_eq!(
            windowed.client_position(client),
            expected.client_position(client)
        );
    }
    assert_eq!(file.digest(), CommitDigest::of(expected));
    let back = file.read(1, 10_000, usize::MAX).unwrap();
    assert_eq!(back.as_slice(), expected.committed());
    let some = file.read(137, 5, usize::MAX).unwrap();
    assert_eq!(some.as_slice(), &expected.committed()[136..141]);
}

#[test]
fn a_windowed_restart_reads_the_summary_and_only_the_newest_segments() {
    let dir = Dir::new("restart");
    let (mut file, _) = open(&dir, SMALL);
    for n in (10..=300).step_by(10) {
        file.append(write(n - 9, n, 1, false)).unwrap();
        file.flush(false).unwrap();
    }
    drop(file);
    assert!(summary::path(&dir.0.join("log")).exists());
    let expected = whole((1..=300).map(|i| entry(i, 1)).collect());
    let (mut file, log) = open(&dir, SMALL);
    assert_same(&log, &mut file, &expected);
    drop(file);
    // A damaged summary is set aside: every segment is read, same log.
    let path = summary::path(&dir.0.join("log"));
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    let (mut file, log) = open(&dir, SMALL);
    assert_same(&log, &mut file, &expected);
}

#[test]
fn replaced_committed_entries_are_folded_again_live_and_at_restart() {
    let dir = Dir::new("refold");
    let (mut file, _) = open(&dir, SMALL);
    for n in (10..=200).step_by(10) {
        file.append(write(n - 9, n, 1, false)).unwrap();
        file.flush(false).unwrap();
    }
    // A healed split brain under bully: committed 151.. replaced.
    file.append(write(151, 180, 2, true)).unwrap();
    file.flush(false).unwrap();
    let mut history: Vec<Entry> = (1..=150).map(|i| entry(i, 1)).collect();
    history.extend((151..=180).map(|i| entry(i, 2)));
    let expected = whole(history);
    assert_eq!(file.digest(), CommitDigest::of(&expected));
    drop(file);
    let (mut file, log) = open(&dir, SMALL);
    assert_same(&log, &mut file, &expected);
}

#[test]
fn a_damaged_record_found_by_a_read_names_the_file_and_the_offset() {
    let dir = Dir::new("damaged");
    let (mut file, _) = open(&dir, SMALL);
    for n in (10..=100).step_by(10) {
        file.append(write(n - 9, n, 1, false)).unwrap();
        file.flush(false).unwrap();
    }
    drop(file);
    // The restart reads the summary, not the first segment: damage found later.
    let first = dir.0.join("log").join("00000001.seg");
    let mut bytes = std::fs::read(&first).unwrap();
    let at = bytes.windows(9).position(|w| w == b"message 5").unwrap();
    bytes[at] ^= 0x01;
    std::fs::write(&first, bytes).unwrap();
    let (mut file, log) = open(&dir, SMALL);
    assert_eq!(log.last_index(), 100);
    let err = file.read(1, 100, usize::MAX).unwrap_err().to_string();
    assert!(
        err.contains("00000001.seg") && err.contains("at byte") && err.contains("checksum"),
        "{err}"
    );
}
