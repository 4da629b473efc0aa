//! The application harness: runs, determinism, fresh invariant state per
//! run, shrinking to a replay file that fails the same way, the viewer.

use super::*;
use ringleader_core::app::StateMachine;
use ringleader_core::log::Entry;
use std::cell::Cell;

/// Counts its own entries.
#[derive(Default, Debug)]
struct Counter(u64);

impl StateMachine for Counter {
    fn apply(&mut self, e: &Entry) {
        if e.payload.as_ref() == b"+1" {
            self.0 += 1;
        }
    }
    fn snapshot(&self) -> Vec<u8> {
        self.0.to_be_bytes().to_vec()
    }
    fn restore(&mut self, s: &[u8]) -> Result<(), String> {
        self.0 = u64::from_be_bytes(s.try_into().map_err(|_| "8 bytes expected")?);
        Ok(())
    }
}

impl SimApp for Counter {
    fn proposal(&self, _turn: &Proposing) -> Option<Vec<u8>> {
        Some(b"+1".to_vec())
    }
}

fn small(seed: u64) -> AppSim<Counter> {
    AppSim::<Counter>::new(seed)
        .nodes(3)
        .duration(Duration::from_secs(20))
}

#[test]
fn the_application_runs_on_every_node_and_the_run_is_deterministic() {
    // State kept between events starts afresh in each run: the second run
    // checks exactly as the first did.
    let events = Cell::new(0u64);
    let sim = small(3).invariant("counts_agree", move |view| {
        events.set(events.get() + 1);
        if view.now == ringleader_core::Instant::ZERO && events.get() > 1_000_000 {
            return Err("state leaked between runs".into());
        }
        let counts: Vec<(u64, u64)> = view
            .nodes
            .iter()
            .filter_map(|n| n.replica)
            .map(|r| (r.applied(), r.state().0))
            .collect();
        for (a, b) in counts.iter().zip(counts.iter().skip(1)) {
            if a.0 == b.0 && a.1 != b.1 {
                return Err(format!("two counts at {}", a.0));
            }
        }
        Ok(())
    });
    let first = sim.run().unwrap();
    assert!(first.ok(), "{}", first.failure_text());
    let checked = first.checks["counts_agree"].checked;
    assert!(checked > 1000, "{checked}");
    assert!(first.checks["app_acked_kept"].checked > 100);
    let again = sim.run().unwrap();
    assert_eq!(first.digest, again.digest);
    assert_eq!(again.checks["counts_agree"].checked, checked);
}

/// Fails once a replica counted past 30: every run that proposes long enough.
fn counts_stay_small(view: &AppView<'_, Counter>) -> Result<(), String> {
    match view
        .nodes
        .iter()
        .filter_map(|n| n.replica)
        .find(|r| r.state().0 > 30)
    {
        Some(r) => Err(format!("a count reached {}", r.state().0)),
        None => Ok(()),
    }
}

#[test]
fn a_failing_invariant_is_shrunk_to_a_replay_file_that_fails_the_same_way() {
    let sim = small(5).invariant("counts_stay_small", counts_stay_small);
    let dir = std::env::temp_dir().join(format!("ringleader-app-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = sim.check_or_save(&dir).unwrap_err();
    assert!(text.contains("counts_stay_small"), "{text}");
    let replay = dir.join("app-seed-5-counts_stay_small.toml");
    let page = dir.join("app-seed-5-counts_stay_small.html");
    assert!(text.contains(&replay.display().to_string()), "{text}");
    assert!(std::fs::read_to_string(&page)
        .unwrap()
        .contains("counts_stay_small"));
    let replayed = small(0).invariant("counts_stay_small", counts_stay_small);
    let report = replayed.scenario(&replay).unwrap().run().unwrap();
    assert!(report
        .violations
        .iter()
        .any(|v| v.invariant == "counts_stay_small"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// An application that must not run under bully or ring.
#[derive(Default)]
struct QuorumOnly;

impl StateMachine for QuorumOnly {
    const QUORUM_ONLY: bool = true;
    fn apply(&mut self, _: &Entry) {}
    fn snapshot(&self) -> Vec<u8> {
        Vec::new()
    }
    fn restore(&mut self, _: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

impl SimApp for QuorumOnly {
    fn proposal(&self, _: &Proposing) -> Option<Vec<u8>> {
        None
    }
}

#[test]
fn an_application_that_declares_quorum_only_refuses_bully() {
    let err = AppSim::<QuorumOnly>::new(1)
        .election(Algorithm::Bully)
        .run()
        .unwrap_err();
    assert!(err.to_string().contains("quorum only"), "{err}");
}

/// The chat is one application among others: its rooms, built on every node
/// from the clients' messages and the leaders' own, agree under heavy faults
/// with retention on, and a node behind its leader's retained log goes on
/// from the leader's room.
#[test]
fn the_chat_rooms_agree_and_follow_through_snapshots() {
    use ringleader_core::chat::ChatRoom;
    use std::collections::BTreeSet;
    use std::rc::Rc;
    let mut installed = 0;
    let authors = Rc::new(std::cell::RefCell::new(BTreeSet::new()));
    for seed in 1..=40 {
        let seen = Rc::clone(&authors);
        let report = AppSim::<ChatRoom>::new(seed)
            .snapshot_every(16)
            .configure(|c| {
                c.retain = Some(40);
                c.clients = 2;
            })
            .invariant("rooms_agree", rooms_agree)
            .invariant("authors_seen", move |view| {
                let rooms = view.nodes.iter().filter_map(|n| n.replica);
                let newest = rooms.filter_map(|r| r.state().recent().last());
                let mut seen = seen.borrow_mut();
                for line in newest {
                    if !seen.contains(&line.author) {
                        seen.insert(line.author.clone());
                    }
                }
                Ok(())
            })
            .run()
            .unwrap();
        let found: Vec<String> = report.violations.iter().map(ToString::to_string).collect();
        assert!(found.is_empty(), "seed {seed}: {}", found.join("\n"));
        installed += report
            .checks
            .get("app_snapshots_installed")
            .map_or(0, |c| c.checked);
    }
    assert!(
        installed > 0,
        "no room went on from its leader's: the test proves nothing"
    );
    let authors = authors.borrow();
    assert!(
        authors.contains("n1") && authors.iter().any(|a| !a.starts_with('n')),
        "{authors:?}"
    );
}

/// Per client, the last of its numbered writes applied; `broken` says where
/// one came twice or out of order.
#[derive(Default, Debug)]
struct Tally {
    last: std::collections::BTreeMap<u64, u64>,
    broken: Option<String>,
}

impl StateMachine for Tally {
    fn apply(&mut self, e: &Entry) {
        if !e.payload.starts_with(b"w") {
            return;
        }
        let last = self.last.entry(e.id.client).or_default();
        if e.id.seq != *last + 1 && self.broken.is_none() {
            self.broken = Some(format!("c{}'s #{} after #{last}", e.id.client, e.id.seq));
        }
        *last = e.id.seq;
    }
    fn snapshot(&self) -> Vec<u8> {
        self.last
            .iter()
            .flat_map(|(c, s)| [c.to_be_bytes(), s.to_be_bytes()].concat())
            .collect()
    }
    fn restore(&mut self, s: &[u8]) -> Result<(), String> {
        let pairs = s.chunks(16).map(|p| {
            let (c, s) = p.split_at_checked(8).ok_or("16-byte pairs expected")?;
            let n = |b: &[u8]| {
                b.try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| "16-byte pairs expected")
            };
            Ok((n(c)?, n(s)?))
        });
        self.last = pairs.collect::<Result<_, &str>>()?;
        Ok(())
    }
}

impl SimApp for Tally {
    fn proposal(&self, _turn: &Proposing) -> Option<Vec<u8>> {
        None
    }
    fn client_write(client: u32, seq: u64) -> Option<Vec<u8>> {
        Some(format!("w{client}.{seq}").into_bytes())
    }
}

/// The application's own clients write through whichever node leads: every
/// write applies exactly once, in its client's order, and a fenced leader
/// that applied its commit index holds every write its client was told is
/// committed.
#[test]
fn an_applications_clients_write_exactly_once_through_failovers() {
    let mut writes = 0;
    for seed in 1..=40 {
        let report = AppSim::<Tally>::new(seed)
            .snapshot_every(32)
            .configure(|c| {
                c.clients = 3;
                c.rate = 20.0;
            })
            .invariant("writes_once_in_order", |view| {
                let mut replicas = view.nodes.iter().filter_map(|n| n.replica);
                match replicas.find_map(|r| r.state().broken.clone()) {
                    Some(why) => Err(why),
                    None => Ok(()),
                }
            })
            .invariant("acked_writes_applied", |view| {
                for node in view.nodes.iter().filter(|n| n.fenced) {
                    let Some(r) = node.replica.filter(|r| r.applied() >= node.commit) else {
                        continue;
                    };
                    for (c, acked) in (1u64..).zip(view.clients_acked) {
                        let applied = r.state().last.get(&c).copied().unwrap_or(0);
                        if applied < *acked {
                            return Err(format!(
                                "{} is fenced but applied c{c}'s writes only to #{applied}; #{acked} was acknowledged",
                                node.id
                            ));
                        }
                    }
                }
                Ok(())
            })
            .run()
            .unwrap();
        let found: Vec<String> = report.violations.iter().map(ToString::to_string).collect();
        assert!(found.is_empty(), "seed {seed}: {}", found.join("\n"));
        writes += report.replication.acked;
    }
    assert!(
        writes > 1000,
        "only {writes} writes acknowledged: the test proves little"
    );
}
