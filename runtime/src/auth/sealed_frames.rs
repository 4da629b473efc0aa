//! Frames with a tag: each frame's body is followed by the tag of its number on
//! the connection and its body, and its length prefix counts the tag.

use super::key::Key;
use super::mac::{tag, verify, TAG_LEN};
use ringleader_core::wire::FRAME_HEADER;

const LABEL: &[u8] = b"ringleader frame v1";

/// Seals the frames one end writes.
#[derive(Clone, Debug)]
pub struct FrameSealer {
    key: Key,
    next: u64,
}

impl FrameSealer {
    /// Frames numbered from 0 under `key`.
    pub fn new(key: Key) -> Self {
        FrameSealer { key, next: 0 }
    }

    /// Appends the tag to `frame` (one whole frame: length prefix and body) and
    /// fixes its length prefix.
    pub fn seal(&mut self, frame: &mut Vec<u8>) {
        let body = frame.get(FRAME_HEADER..).unwrap_or_default();
        let t = tag(&self.key, LABEL, &[&self.next.to_be_bytes(), body]);
        self.next += 1;
        frame.extend_from_slice(&t);
        let len = u32::try_from(frame.len().saturating_sub(FRAME_HEADER)).unwrap_or(u32::MAX);
        if let Some(prefix) = frame.get_mut(..FRAME_HEADER) {
            prefix.copy_from_slice(&len.to_be_bytes());
        }
    }
}

/// Opens the frames one end reads.
#[derive(Clone, Debug)]
pub struct FrameOpener {
    key: Key,
    next: u64,
}

impl FrameOpener {
    /// Frames numbered from 0 under `key`.
    pub fn new(key: Key) -> Self {
        FrameOpener { key, next: 0 }
    }

    /// The length of `body` without its tag, if the tag verifies for the next
    /// frame. A frame that fails means the stream was tampered with: close it.
    pub fn open(&mut self, body: &[u8]) -> Option<usize> {
        let len = body.len().checked_sub(TAG_LEN)?;
        let (data, t) = body.split_at(len);
        if !verify(&self.key, LABEL, &[&self.next.to_be_bytes(), data], t) {
            return None;
        }
        self.next += 1;
        Some(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_open_in_order_only() {
        let k = Key::from_bytes([5; 32]);
        let mut s = FrameSealer::new(k.clone());
        let mut o = FrameOpener::new(k);
        let mut f1 = vec![0, 0, 0, 3, 1, 2, 3];
        let mut f2 = vec![0, 0, 0, 3, 1, 2, 3];
        s.seal(&mut f1);
        s.seal(&mut f2);
        assert_eq!(&f1[..4], &[0, 0, 0, 3 + TAG_LEN as u8]);
        assert_ne!(f1, f2, "the same body gets another tag at another number");
        assert_eq!(o.open(&f1[4..]), Some(3));
        assert_eq!(o.open(&f1[4..]), None, "a replayed frame fails");
        assert_eq!(o.open(&f2[4..]), Some(3));
        let mut f3 = vec![0, 0, 0, 1, 9];
        s.seal(&mut f3);
        f3[4] ^= 1;
        assert_eq!(o.open(&f3[4..]), None);
        assert_eq!(o.open(&[1, 2]), None);
    }
}
