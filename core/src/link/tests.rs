use super::*;
use crate::id::{Incarnation, NodeInfo};
use crate::wire::Message;
use rand::SeedableRng;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn beat(n: u32) -> Message {
    Message::Heartbeat {
        from: NodeInfo {
            id: NodeId(n),
            addr: "127.0.0.1:7000".parse().unwrap(),
            incarnation: Incarnation {
                counter: 1,
                started_at: Instant::ZERO,
            },
        },
        leading: None,
    }
}

fn links(me: u32) -> Links {
    Links::new(
        NodeId(me),
        LinkConfig::default(),
        ChaCha8Rng::seed_from_u64(7),
    )
}

fn dial_of(out: &[LinkAction]) -> Option<u64> {
    out.iter().find_map(|a| match a {
        LinkAction::Dial { conn, .. } => Some(*conn),
        _ => None,
    })
}

fn writes(out: &[LinkAction]) -> usize {
    out.iter()
        .filter(|a| matches!(a, LinkAction::Write { .. }))
        .count()
}

#[test]
fn the_lower_node_dials_on_first_use_and_what_waited_goes_out_once_up() {
    let mut l = links(1);
    let mut out = Vec::new();
    l.send(at(0), NodeId(2), beat(1), &mut out);
    l.send(at(1), NodeId(2), beat(1), &mut out);
    let conn = dial_of(&out).expect("dials at the first message");
    assert_eq!(out.len(), 1, "one dial, nothing written yet");
    out.clear();
    l.connected(at(2), NodeId(2), conn, &mut out);
    assert_eq!(writes(&out), 2);
    out.clear();
    l.send(at(3), NodeId(2), beat(1), &mut out);
    assert_eq!(writes(&out), 1, "written at once while up");
}

#[test]
fn the_higher_node_waits_to_be_dialled_and_keeps_what_it_has_to_say() {
    let mut l = links(3);
    let mut out = Vec::new();
    l.send(at(0), NodeId(1), beat(3), &mut out);
    assert!(out.is_empty(), "never dials a lower peer");
    assert_eq!(l.queued(NodeId(1)), 1);
    l.accepted(at(5), NodeId(1), 40, &mut out);
    assert_eq!(writes(&out), 1, "the probe answer is not lost");
    // A lower peer that claims to be higher is refused.
    out.clear();
    l.accepted(at(6), NodeId(9), 41, &mut out);
    assert_eq!(
        out,
        vec![LinkAction::Close {
            peer: NodeId(9),
            conn: 41
        }]
    );
}

#[test]
fn a_peer_heard_from_during_backoff_is_dialled_at_once() {
    let mut l = links(1);
    let mut out = Vec::new();
    l.send(at(0), NodeId(3), beat(1), &mut out);
    let mut conn = dial_of(&out).unwrap();
    // The peer is down for a while: refused again and again, the backoff grows.
    let mut now = 0;
    for _ in 0..6 {
        out.clear();
        l.failed(at(now), NodeId(3), conn, LinkFailure::Refused, &mut out);
        // Time passes until the backoff is over and the link dials again.
        l.send(at(now), NodeId(3), beat(1), &mut out);
        while dial_of(&out).is_none() {
            now = l.next_deadline().unwrap().as_millis().max(now + 1);
            l.tick(at(now), &mut out);
            l.send(at(now), NodeId(3), beat(1), &mut out);
        }
        conn = dial_of(&out).unwrap();
    }
    out.clear();
    l.failed(at(now), NodeId(3), conn, LinkFailure::Refused, &mut out);
    let wait = l.next_deadline().unwrap().as_millis() - now;
    assert!(wait >= 500, "backed off {wait} ms after many refusals");
    // The peer restarted and announced itself: dial now, not after the backoff.
    out.clear();
    l.heard_from(at(now + 10), NodeId(3), &mut out);
    let conn = dial_of(&out).expect("dials at once");
    out.clear();
    l.connected(at(now + 11), NodeId(3), conn, &mut out);
    assert!(writes(&out) >= 1, "what waited goes out");
    assert_eq!(l.stats().early_dials, 1);
}

#[test]
fn stale_messages_and_overflow_are_dropped_oldest_first() {
    let config = LinkConfig {
        queue_max: 3,
        ..LinkConfig::default()
    };
    let mut l = Links::new(NodeId(1), config, ChaCha8Rng::seed_from_u64(1));
    let mut out = Vec::new();
    for i in 0..5 {
        l.send(at(i), NodeId(2), beat(1), &mut out);
    }
    assert_eq!(l.queued(NodeId(2)), 3);
    assert_eq!(l.stats().dropped, 2);
    // Three seconds later they are stale: nothing goes out on the new connection.
    let conn = dial_of(&out).unwrap();
    out.clear();
    l.connected(at(3000), NodeId(2), conn, &mut out);
    assert_eq!(writes(&out), 0);
    assert_eq!(l.stats().dropped, 5);
}

#[test]
fn a_stalled_connection_is_closed_and_an_old_one_failing_changes_nothing() {
    let mut l = links(1);
    let mut out = Vec::new();
    l.send(at(0), NodeId(2), beat(1), &mut out);
    let conn = dial_of(&out).unwrap();
    l.connected(at(1), NodeId(2), conn, &mut out);
    out.clear();
    l.failed(at(2), NodeId(2), conn + 99, LinkFailure::Reset, &mut out);
    assert!(l.is_up(NodeId(2)), "an unknown connection's end is ignored");
    l.failed(at(2), NodeId(2), conn, LinkFailure::Stalled, &mut out);
    assert_eq!(
        out,
        vec![LinkAction::Close {
            peer: NodeId(2),
            conn
        }]
    );
    assert!(!l.is_up(NodeId(2)));
}
