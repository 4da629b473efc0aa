//! Where entries live in the segments: a sparse index, so an entry older
//! than the node's memory window is read back with one seek and a short scan
//! instead of a read of the whole log.
//!
//! An anchor names the position of the live record of one entry. One is
//! kept every [`STRIDE`] entries, at the first entry of every segment and at
//! the first entry written after a cut. A cut drops the anchors at and after
//! it. So between two consecutive anchors `a` and `b`, the entries
//! `a.index .. b.index` are the first entry records that follow `a`'s
//! position, in order (a record of a replaced entry can only come after
//! them: the cut that replaced it forced a new anchor no later than it).

use serde::{Deserialize, Serialize};

/// Entries between two anchors (at most).
pub const STRIDE: u64 = 1024;

/// The position of one entry's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The entry.
    pub index: u64,
    /// Its segment's number.
    pub segment: u64,
    /// Byte offset of its record in the segment.
    pub offset: u64,
}

/// The anchors of a log, by index.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchors {
    points: Vec<Anchor>,
    /// The next entry written gets an anchor whatever its index.
    force: bool,
}

impl Anchors {
    /// Anchors read back from a summary: `None` unless in order.
    pub fn from_points(points: Vec<Anchor>) -> Option<Anchors> {
        let ordered = points.windows(2).all(|w| {
            w[0].index < w[1].index && (w[0].segment, w[0].offset) < (w[1].segment, w[1].offset)
        });
        ordered.then_some(Anchors {
            points,
            force: true,
        })
    }

    /// The anchors, by index.
    pub fn points(&self) -> &[Anchor] {
        &self.points
    }

    /// Entry `index`'s record was written at `offset` of `segment`.
    pub fn written(&mut self, index: u64, segment: u64, offset: u64) {
        let first_of_segment = self.points.last().is_none_or(|a| a.segment != segment);
        if self.force || first_of_segment || index.is_multiple_of(STRIDE) {
            self.points.push(Anchor {
                index,
                segment,
                offset,
            });
            self.force = false;
        }
    }

    /// Entries from `from` on were replaced.
    pub fn cut(&mut self, from: u64) {
        let keep = self.points.partition_point(|a| a.index < from);
        self.points.truncate(keep);
        self.force = true;
    }

    /// Where to start reading for entry `index`: the last anchor at or before
    /// it, and the index of the next anchor (the scan ends there).
    pub fn find(&self, index: u64) -> Option<(Anchor, Option<u64>)> {
        let after = self.points.partition_point(|a| a.index <= index);
        let at = self.points.get(after.checked_sub(1)?)?;
        Some((*at, self.points.get(after).map(|a| a.index)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_strides_segments_and_cuts() {
        let mut a = Anchors::default();
        for i in 1..=3000 {
            a.written(i, 1, i * 10);
        }
        let idx: Vec<u64> = a.points().iter().map(|p| p.index).collect();
        assert_eq!(idx, vec![1, 1024, 2048]);
        assert_eq!(
            a.find(1500).map(|(p, n)| (p.index, n)),
            Some((1024, Some(2048)))
        );
        assert_eq!(a.find(2999).map(|(p, n)| (p.index, n)), Some((2048, None)));
        a.cut(2000);
        a.written(2000, 1, 99_999);
        assert_eq!(
            a.find(2001).map(|(p, n)| (p.index, p.offset, n)),
            Some((2000, 99_999, None))
        );
        a.written(2001, 2, 8);
        assert_eq!(
            a.find(2001).map(|(p, _)| (p.segment, p.offset)),
            Some((2, 8))
        );
        assert!(Anchors::from_points(a.points().to_vec()).is_some());
        let mut wrong = a.points().to_vec();
        wrong.reverse();
        assert!(Anchors::from_points(wrong).is_none());
    }
}
