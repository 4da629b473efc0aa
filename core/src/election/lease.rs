//! `quorum`'s leader lease: what a leader holds, and what a voter promised.
//!
//! A voter that hears from the leader of its term at time `r` (its clock) promises
//! to vote for nobody else, and to stand itself, not before `r + D`. The leader
//! sends a renewal stamped with its own clock at `s` every heartbeat interval; a
//! voter's grant echoes `s`. Once a majority of the voters (the leader counts as
//! one) has echoed a stamp of at least `s`, the leader holds its lease until
//! `s + D·(1 − ρ)/(1 + ρ)` on its clock, where `ρ` bounds the rate at which any
//! clock runs fast or slow. With rates within `1 ± ρ`, that instant comes, in real
//! time, no later than the earliest `r + D` of those voters: any majority that
//! could elect a new leader shares one voter with the one that granted the lease,
//! and that voter refuses until the lease is over on the leader's clock.
//!
//! A promise ends early only on proof that the leader's process is gone (it left
//! gracefully, or a new life of it announced itself), or when the voter follows a
//! leader of a newer term (which a majority elected, so the older lease is over).
//! A failure detector's verdict is not proof: a leader cut off by a partition is
//! alive and leads until its lease runs out.

use crate::id::NodeId;
use crate::time::Instant;
use std::collections::BTreeMap;
use std::time::Duration;

/// Parts per million: the unit of the drift bound.
const MILLION: u64 = 1_000_000;

/// How long a promise lasts on the voter's clock, and the lease it is worth on
/// the leader's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeaseTerms {
    /// `D`: a voter's promise, from the moment it hears the leader.
    pub promise: Duration,
    /// `D·(1 − ρ)/(1 + ρ) − m`: the leader's lease, from the stamp a majority echoed.
    pub lease: Duration,
}

impl LeaseTerms {
    /// Terms for promises of `promise` under clocks that drift by at most
    /// `max_drift_ppm` (below a million, checked by the configuration), the
    /// leader stepping down `margin` early. The margin is cut to half the lease
    /// at most, so a lease always lasts.
    pub fn new(promise: Duration, max_drift_ppm: u32, margin: Duration) -> Self {
        let rho = u64::from(max_drift_ppm).min(MILLION - 1);
        let micros = promise.as_micros() as u64;
        let scaled = u128::from(micros) * u128::from(MILLION - rho) / u128::from(MILLION + rho);
        let scaled = Duration::from_micros(scaled as u64);
        LeaseTerms {
            promise,
            lease: scaled - margin.min(scaled / 2),
        }
    }
}

/// What a voter promised: no vote for anyone but `to` until `until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Promise {
    /// The leader promised to; `None` promises to nobody (a node that has just
    /// started cannot know whom it promised in its last life).
    pub to: Option<NodeId>,
    /// When the promise runs out, on the voter's clock.
    pub until: Instant,
}

impl Promise {
    /// No promise at all.
    pub const NONE: Promise = Promise {
        to: None,
        until: Instant::ZERO,
    };

    /// Whether, at `now`, this promise forbids voting for `asker`.
    pub fn forbids(&self, now: Instant, asker: NodeId) -> bool {
        now < self.until && self.to != Some(asker)
    }

    /// The promise ends now if it was made to `leader`.
    pub fn release(&mut self, leader: NodeId) {
        if self.to == Some(leader) {
            *self = Promise::NONE;
        }
    }
}

/// A lease a candidate that won its term is acquiring, or a leader holds.
#[derive(Clone, Debug)]
pub(crate) struct HeldLease {
    /// The term it is for.
    pub term: u64,
    /// The first renewal's stamp: a grant echoing an earlier one is not for this lease.
    pub since: Instant,
    /// Per voter, the latest stamp it echoed.
    pub granted: BTreeMap<NodeId, Instant>,
    /// When the lease runs out on this node's clock (`ZERO`: not held yet).
    pub until: Instant,
    /// When the next renewal is due.
    pub next_renewal: Instant,
    /// Whether the node leads on it (a candidate that won is still acquiring it).
    pub leading: bool,
}

impl HeldLease {
    /// A lease for `term`, renewals starting at `now`.
    pub fn new(term: u64, now: Instant) -> Self {
        HeldLease {
            term,
            since: now,
            granted: BTreeMap::new(),
            until: Instant::ZERO,
            next_renewal: now,
            leading: false,
        }
    }

    /// Records `voter`'s grant of the renewal stamped `stamp`; recomputes how long
    /// the lease lasts with `needed` grants besides the leader's own.
    /// A stamp from before this lease, or from the future, is ignored.
    pub fn grant(
        &mut self,
        voter: NodeId,
        stamp: Instant,
        now: Instant,
        needed: usize,
        terms: LeaseTerms,
    ) {
        if stamp < self.since || stamp > now {
            return;
        }
        let latest = self.granted.entry(voter).or_insert(stamp);
        *latest = (*latest).max(stamp);
        if let Some(nth) = needed
            .checked_sub(1)
            .and_then(|i| nth_latest(self.granted.values().copied(), i))
        {
            self.until = self.until.max(nth + terms.lease);
        }
    }

    /// When the holder next has work: a renewal, or, leading, the lease's end.
    pub fn next_deadline(&self) -> Instant {
        if self.leading {
            self.next_renewal.min(self.until)
        } else {
            self.next_renewal
        }
    }

    /// Whether the lease is held at `now`.
    pub fn holds(&self, now: Instant) -> bool {
        now < self.until
    }
}

/// Voters a grant is sorted among on the stack: every cluster of a sane
/// size. A larger one sorts in a vector.
const STACK_VOTERS: usize = 16;

/// The `i`-th latest of `stamps` (0: the latest). A grant comes with every
/// renewal answered, so the common case allocates nothing.
fn nth_latest(stamps: impl ExactSizeIterator<Item = Instant>, i: usize) -> Option<Instant> {
    let n = stamps.len();
    if n > STACK_VOTERS {
        let mut all: Vec<Instant> = stamps.collect();
        all.sort_unstable_by(|a, b| b.cmp(a));
        return all.get(i).copied();
    }
    let mut buf = [Instant::ZERO; STACK_VOTERS];
    for (slot, stamp) in buf.iter_mut().zip(stamps) {
        *slot = stamp;
    }
    let held = buf.get_mut(..n)?;
    held.sort_unstable_by(|a, b| b.cmp(a));
    held.get(i).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(m: u64) -> Instant {
        Instant::from_millis(m)
    }

    #[test]
    fn the_lease_is_shorter_than_the_promise_by_the_drift_on_both_sides() {
        let t = LeaseTerms::new(Duration::from_millis(500), 10_000, Duration::ZERO);
        // 500 · 0.99 / 1.01 = 490.099 ms
        assert_eq!(t.lease, Duration::from_micros(490_099));
        let none = LeaseTerms::new(Duration::from_millis(500), 0, Duration::ZERO);
        assert_eq!(none.lease, none.promise);
        let margin = LeaseTerms::new(
            Duration::from_millis(500),
            10_000,
            Duration::from_millis(100),
        );
        assert_eq!(margin.lease, Duration::from_micros(390_099));
        let huge = LeaseTerms::new(Duration::from_millis(500), 0, Duration::from_secs(9));
        assert_eq!(
            huge.lease,
            Duration::from_millis(250),
            "a margin never eats the lease"
        );
    }

    #[test]
    fn a_lease_lasts_from_the_oldest_stamp_a_majority_echoed() {
        let terms = LeaseTerms::new(Duration::from_millis(500), 0, Duration::ZERO);
        let mut held = HeldLease::new(3, ms(100));
        // 5 voters: the leader and 2 grants make a majority.
        held.grant(NodeId(2), ms(100), ms(101), 2, terms);
        assert!(!held.holds(ms(101)), "one grant is not a majority");
        held.grant(NodeId(3), ms(200), ms(201), 2, terms);
        assert_eq!(held.until, ms(600), "the older of the two stamps counts");
        held.grant(NodeId(2), ms(300), ms(301), 2, terms);
        assert_eq!(held.until, ms(700));
        assert!(held.holds(ms(699)) && !held.holds(ms(700)));
    }

    #[test]
    fn stamps_from_before_the_lease_or_from_the_future_are_ignored() {
        let terms = LeaseTerms::new(Duration::from_millis(500), 0, Duration::ZERO);
        let mut held = HeldLease::new(3, ms(100));
        held.grant(NodeId(2), ms(50), ms(101), 1, terms);
        held.grant(NodeId(2), ms(900), ms(101), 1, terms);
        assert!(!held.holds(ms(101)));
    }

    #[test]
    fn a_promise_binds_against_everyone_but_its_leader_until_it_ends() {
        let mut p = Promise {
            to: Some(NodeId(1)),
            until: ms(500),
        };
        assert!(p.forbids(ms(100), NodeId(2)));
        assert!(!p.forbids(ms(100), NodeId(1)));
        assert!(!p.forbids(ms(500), NodeId(2)));
        p.release(NodeId(2));
        assert!(p.forbids(ms(100), NodeId(2)), "released only by its leader");
        p.release(NodeId(1));
        assert_eq!(p, Promise::NONE);
        let gate = Promise {
            to: None,
            until: ms(500),
        };
        assert!(gate.forbids(ms(100), NodeId(1)));
    }

    #[test]
    fn the_nth_latest_stamp_is_the_one_a_sort_names_on_the_stack_and_off_it() {
        // Sizes below, at and above the stack's room; repeats included.
        for n in 0..=STACK_VOTERS + 4 {
            let stamps: Vec<Instant> = (0..n as u64).map(|k| ms((k * 7919) % 23)).collect();
            let mut sorted = stamps.clone();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            for i in 0..=n {
                assert_eq!(
                    nth_latest(stamps.iter().copied(), i),
                    sorted.get(i).copied(),
                    "{n} stamps, the {i}-th latest"
                );
            }
        }
    }
}
