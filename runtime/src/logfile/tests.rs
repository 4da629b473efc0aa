use super::records::{encode, RecordOut, MAGIC};
use super::*;
use ringleader_core::log::{ClientMsgId, Entry, Stamp};
use ringleader_core::wire::{encode_frame, DEFAULT_MAX_FRAME};
use ringleader_core::{Instant, NodeId};

fn entry(index: u64, epoch: u64) -> Entry {
    let mut e = Entry::new(
        ClientMsgId {
            client: 1,
            seq: index,
        },
        format!("m{index}").into_bytes(),
        Instant::ZERO,
    );
    e.index = index;
    e.epoch = epoch;
    e.leader = NodeId(1);
    e
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("ringleader-logfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
    /// The first segment (its directory created).
    fn log(&self) -> PathBuf {
        let dir = self.0.join("log");
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("00000001.seg")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A checksummed file of `n` entries committed up to `commit`; the offset at
/// which each record starts.
fn file_of(n: u64, commit: u64) -> (Vec<u8>, Vec<usize>) {
    let mut bytes = MAGIC.to_vec();
    let mut starts = Vec::new();
    let entries: Vec<Entry> = (1..=n).map(|i| entry(i, 1)).collect();
    for e in &entries {
        starts.push(bytes.len());
        encode(&RecordOut::Entry(e), &mut bytes).unwrap();
    }
    starts.push(bytes.len());
    encode(&RecordOut::Commit(commit), &mut bytes).unwrap();
    (bytes, starts)
}

fn corrupt_error(dir: &Dir) -> String {
    match LogFile::open(&dir.0) {
        Err(e @ StoreError::Corrupt(..)) => e.to_string(),
        Err(e) => panic!("another error: {e}"),
        Ok((_, log)) => panic!("opened with {} entries", log.last_index()),
    }
}

#[test]
fn records_read_back_cuts_applied_and_a_torn_tail_dropped() {
    let dir = Dir::new("torn");
    let mut bytes = MAGIC.to_vec();
    let (e1, e2, e3, e3b) = (entry(1, 1), entry(2, 1), entry(3, 1), entry(3, 2));
    for r in [
        RecordOut::Entry(&e1),
        RecordOut::Entry(&e2),
        RecordOut::Entry(&e3),
        RecordOut::Commit(1),
        RecordOut::CutFrom(3),
        RecordOut::Entry(&e3b),
    ] {
        encode(&r, &mut bytes).unwrap();
    }
    let whole = bytes.len() as u64;
    let mut next = Vec::new();
    encode(&RecordOut::Entry(&entry(4, 2)), &mut next).unwrap();
    bytes.extend_from_slice(&next[..next.len() - 3]); // a write cut short by a crash
    std::fs::write(dir.log(), &bytes).unwrap();
    let (file, log) = LogFile::open(&dir.0).unwrap();
    drop(file);
    assert_eq!(log.last_index(), 3);
    assert_eq!(log.commit_index(), 1);
    let stamp = Stamp {
        epoch: 2,
        leader: NodeId(1),
    };
    assert_eq!(log.stamp_at(3), Some(stamp));
    let len = std::fs::metadata(dir.log()).unwrap().len();
    assert_eq!(len, whole, "the torn tail is cut off");
}

#[test]
fn a_zero_filled_tail_is_a_torn_write() {
    let dir = Dir::new("zeros");
    let (mut bytes, _) = file_of(5, 5);
    let whole = bytes.len() as u64;
    bytes.extend_from_slice(&[0; 4096]);
    std::fs::write(dir.log(), &bytes).unwrap();
    let (_, log) = LogFile::open(&dir.0).unwrap();
    assert_eq!((log.last_index(), log.commit_index()), (5, 5));
    assert_eq!(std::fs::metadata(dir.log()).unwrap().len(), whole);
}

#[test]
fn a_damaged_length_in_the_middle_is_corruption_not_a_torn_tail() {
    let dir = Dir::new("length");
    let (mut bytes, starts) = file_of(40, 40);
    // Record 9's length now says it runs past the end of the file.
    let at = starts[8];
    bytes[at..at + 4].copy_from_slice(&(1u32 << 19).to_be_bytes());
    std::fs::write(dir.log(), &bytes).unwrap();
    let err = corrupt_error(&dir);
    assert!(
        err.contains("00000001.seg") && err.contains(&format!("at byte {at}")),
        "{err}"
    );
    // And one that now says it is shorter.
    let (mut bytes, starts) = file_of(40, 40);
    let at = starts[8];
    bytes[at + 3] -= 1;
    std::fs::write(dir.log(), &bytes).unwrap();
    let err = corrupt_error(&dir);
    assert!(err.contains(&format!("at byte {at}")), "{err}");
    assert_eq!(
        std::fs::read(dir.log()).unwrap(),
        bytes,
        "a corrupt file is left as it was"
    );
}

#[test]
fn a_flipped_payload_byte_is_caught_by_the_checksum() {
    let dir = Dir::new("flip");
    let (mut bytes, starts) = file_of(10, 10);
    let at = starts[3] + 12;
    bytes[at] ^= 0x20;
    std::fs::write(dir.log(), &bytes).unwrap();
    let err = corrupt_error(&dir);
    assert!(err.contains("checksum"), "{err}");
    assert!(err.contains(&format!("at byte {}", starts[3])), "{err}");
}

#[test]
fn a_file_from_before_checksums_is_read_and_rewritten_with_them() {
    let dir = Dir::new("legacy");
    let mut bytes = Vec::new();
    let es: Vec<Entry> = (1..=3).map(|i| entry(i, 1)).collect();
    for e in &es {
        encode_frame(&RecordOut::Entry(e), &mut bytes, DEFAULT_MAX_FRAME).unwrap();
    }
    encode_frame(&RecordOut::Commit(2), &mut bytes, DEFAULT_MAX_FRAME).unwrap();
    std::fs::write(dir.0.join("log.bin"), &bytes).unwrap();
    let (file, log) = LogFile::open(&dir.0).unwrap();
    drop(file);
    assert_eq!((log.last_index(), log.commit_index()), (3, 2));
    let now = std::fs::read(dir.log()).unwrap();
    assert!(now.starts_with(MAGIC));
    assert!(
        !dir.0.join("log.bin").exists(),
        "moved into the first segment"
    );
    let (_, again) = LogFile::open(&dir.0).unwrap();
    assert_eq!(again.committed(), log.committed());
}

#[test]
fn the_digest_covers_payloads_and_follows_commits_and_cuts() {
    let a = Log::restore((1..=4).map(|i| entry(i, 1)).collect(), 3).unwrap();
    let mut changed: Vec<Entry> = (1..=4).map(|i| entry(i, 1)).collect();
    changed[1].payload = b"m2!".to_vec().into();
    let b = Log::restore(changed, 3).unwrap();
    assert_ne!(CommitDigest::of(&a), CommitDigest::of(&b), "payloads count");
    // Folding forward equals computing afresh.
    let upto_2 = Log::restore((1..=4).map(|i| entry(i, 1)).collect(), 2).unwrap();
    let mut d = CommitDigest::of(&upto_2);
    d.update(&a, None);
    assert_eq!(d, CommitDigest::of(&a));
    // A cut at or below what was folded recomputes.
    d.update(&b, Some(2));
    assert_eq!(d, CommitDigest::of(&b));
}

/// Entries `from..=to`, committed, as one write.
fn write_of(from: u64, to: u64) -> LogWrite {
    LogWrite {
        app: None,
        install: None,
        cut_from: None,
        entries: (from..=to).map(|i| entry(i, 1)).collect(),
        commit: Some(to),
    }
}

fn segment_files(dir: &Dir) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.0.join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn the_log_rolls_into_segments_and_reads_back_across_them() {
    let dir = Dir::new("segments");
    let (mut file, log) = LogFile::open_with(&dir.0, 400, Window::ALL).unwrap();
    assert_eq!(log.last_index(), 0);
    for n in (5..=60).step_by(5) {
        file.append(write_of(n - 4, n)).unwrap();
        file.flush(false).unwrap();
    }
    // Out of order is refused, not written.
    assert!(file.append(write_of(70, 71)).is_err());
    drop(file);
    let segs = segment_files(&dir);
    assert!(segs.len() >= 5, "{segs:?}");
    let (file, log) = LogFile::open_with(&dir.0, 400, Window::ALL).unwrap();
    assert_eq!((log.last_index(), log.commit_index()), (60, 60));
    assert_eq!(log.committed(), write_of(1, 60).entries.as_slice());
    drop(file);
    // A record cut short in a segment that is not the last is corruption.
    let first = &segs[0];
    let len = std::fs::metadata(first).unwrap().len();
    let f = std::fs::File::options().write(true).open(first).unwrap();
    f.set_len(len - 3).unwrap();
    let err = corrupt_error(&dir);
    assert!(
        err.contains("00000001.seg") && err.contains("not the last"),
        "{err}"
    );
    // A missing segment is too.
    std::fs::remove_file(&segs[1]).unwrap();
    let err = corrupt_error(&dir);
    assert!(err.contains("missing"), "{err}");
}
