//! The checker must fire when the protocol fails: each test withholds what a node
//! needs and expects the matching violation, then shows a recorded drop excuses it.

use super::*;
use ringleader_core::wire::Message;
use ringleader_core::{Config, Event, Node};

struct Fake {
    nodes: Vec<Option<Node>>,
}

impl Observed for Fake {
    fn len(&self) -> usize {
        self.nodes.len()
    }
    fn node(&self, i: usize) -> Option<&Node> {
        self.nodes.get(i).and_then(Option::as_ref)
    }
    fn up_since(&self, i: usize) -> Option<Instant> {
        self.node(i).map(|_| Instant::ZERO)
    }
}

fn fake(n: u32) -> Fake {
    let nodes = (1..=n)
        .map(|id| {
            let cfg = Config {
                addr: crate::world::sim_addr(NodeId(id)),
                ..Config::default()
            };
            let mut node = Node::new(cfg, NodeId(id), u64::from(id), Instant::ZERO).unwrap();
            node.step(Instant::ZERO, Event::Start);
            Some(node)
        })
        .collect();
    Fake { nodes }
}

fn checker() -> DiscoveryChecker {
    DiscoveryChecker::new(2, &Config::default(), Duration::from_millis(2))
}

#[test]
fn nodes_that_never_hear_of_each_other_break_discovery() {
    let world = fake(2);
    let mut c = checker();
    c.on_up(Instant::ZERO, 1, true, &world);
    c.check_due(Instant::from_millis(1001), &world);
    assert!(c.violations().is_empty(), "not due yet");
    c.check_due(Instant::from_secs_for_test(2), &world);
    let names: Vec<_> = c.violations().iter().map(|v| v.invariant).collect();
    assert_eq!(names, ["discovery", "discovery"]);
}

#[test]
fn a_lost_message_excuses_a_missed_discovery_bound() {
    let world = fake(2);
    let mut c = checker();
    c.on_up(Instant::ZERO, 1, true, &world);
    c.on_drop(Instant::from_millis(1), 1, 0);
    c.check_due(Instant::from_secs_for_test(2), &world);
    assert!(c.violations().is_empty());
    assert_eq!(c.counts()["discovery"].excused, 2);
}

#[test]
fn a_crashed_member_still_held_alive_breaks_crash_detection() {
    let mut world = fake(2);
    let peer = world.nodes[1].as_ref().unwrap().info();
    world.nodes[0].as_mut().unwrap().step(
        Instant::ZERO,
        Event::Received(Message::Heartbeat {
            from: peer,
            leading: None,
        }),
    );
    let mut c = checker();
    c.on_down(Instant::ZERO, 1, false, &world);
    // The observer is never ticked, so it never notices.
    c.check_due(Instant::from_secs_for_test(1), &world);
    assert_eq!(c.violations().len(), 1);
    assert_eq!(c.violations()[0].invariant, "crash_detection");
    assert_eq!(c.violations()[0].nodes, vec![1, 2]);
}

#[test]
fn declaring_a_reachable_member_dead_is_a_false_death_unless_messages_were_lost() {
    let world = fake(2);
    let life = world.nodes[1].as_ref().unwrap().info().incarnation;
    let mut c = checker();
    c.on_died(Instant::from_secs_for_test(5), 0, NodeId(2), life, &world);
    assert_eq!(c.violations().len(), 1);
    assert_eq!(c.violations()[0].invariant, "false_death");

    let mut c = checker();
    c.on_drop(Instant::from_millis(4800), 1, 0);
    c.on_died(Instant::from_secs_for_test(5), 0, NodeId(2), life, &world);
    assert!(c.violations().is_empty());
    assert_eq!(c.counts()["false_death"].excused, 1);
}

trait SecsForTest {
    fn from_secs_for_test(s: u64) -> Instant;
}

impl SecsForTest for Instant {
    fn from_secs_for_test(s: u64) -> Instant {
        Instant::from_millis(s * 1000)
    }
}
