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

fn life(counter: u64) -> Incarnation {
    Incarnation {
        counter,
        started_at: Instant::ZERO,
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

fn written_on(out: &[LinkAction]) -> Option<u64> {
    out.iter().find_map(|a| match a {
        LinkAction::Write { conn, .. } => Some(*conn),
        _ => None,
    })
}

fn writes(out: &[LinkAction]) -> usize {
    out.iter()
        .filter(|a| matches!(a, LinkAction::Write { .. }))
        .count()
}

#[test]
fn a_node_dials_on_first_use_and_what_waited_goes_out_once_up() {
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
fn a_higher_node_dials_a_lower_one_for_its_own_words() {
    // Whoever has the lower id, a node's answer never waits for its peer to
    // want to talk: it dials for itself.
    let mut l = links(3);
    let mut out = Vec::new();
    l.send(at(0), NodeId(1), beat(3), &mut out);
    let conn = dial_of(&out).expect("dials a lower peer too");
    assert_eq!(l.queued(NodeId(1)), 1);
    out.clear();
    l.connected(at(5), NodeId(1), conn, &mut out);
    assert_eq!(writes(&out), 1, "the probe answer is not lost");
    assert_eq!(l.queued(NodeId(1)), 0);
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
    l.heard_from(at(now + 60), NodeId(3), life(1), &mut out);
    let conn = dial_of(&out).expect("dials at once");
    out.clear();
    l.connected(at(now + 61), NodeId(3), conn, &mut out);
    assert!(writes(&out) >= 1, "what waited goes out");
    assert_eq!(l.stats().early_dials, 1);
    // Dials stay `backoff_min` apart: the connection made at +60 is reset at
    // +70 and the peer heard at +80; the link dials at +110 at the latest,
    // not at once.
    out.clear();
    l.failed(at(now + 70), NodeId(3), conn, LinkFailure::Reset, &mut out);
    l.send(at(now + 70), NodeId(3), beat(1), &mut out);
    l.heard_from(at(now + 80), NodeId(3), life(1), &mut out);
    assert!(dial_of(&out).is_none());
    assert!(l.next_deadline().unwrap() <= at(now + 110));
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

#[test]
fn a_dial_that_hangs_while_the_peer_is_heard_gets_a_second_beside_it() {
    // The dial left while the peer's machine was down (or the path cut); the
    // peer is heard from soon after: a second dial goes out after
    // `dial_patience`, even if nothing more is heard, and whichever gets
    // through first is kept.
    let mut l = links(1);
    let mut out = Vec::new();
    l.send(at(0), NodeId(2), beat(1), &mut out);
    let first = dial_of(&out).unwrap();
    out.clear();
    l.heard_from(at(10), NodeId(2), life(1), &mut out);
    assert!(out.is_empty(), "a dial 10 ms old is not hung yet");
    assert_eq!(l.next_deadline(), Some(at(50)), "hung at 50 ms");
    l.tick(at(50), &mut out);
    let second = dial_of(&out).expect("a second dial");
    assert_ne!(second, first);
    assert!(
        !out.iter().any(|a| matches!(a, LinkAction::Close { .. })),
        "the first dial is not given up: {out:?}"
    );
    // The first gets through after all: it is taken, the second closed.
    out.clear();
    l.connected(at(60), NodeId(2), first, &mut out);
    assert!(out.contains(&LinkAction::Close {
        peer: NodeId(2),
        conn: second
    }));
    assert_eq!(writes(&out), 1, "what waited goes out on the first");
    assert!(l.is_up(NodeId(2)));
}

#[test]
fn a_dial_refused_by_a_peer_heard_from_meanwhile_is_retried_soon() {
    // The dial raced with the peer's restart: refused, but the peer's first
    // word arrived while it was under way, so the long backoff does not apply.
    let mut l = links(1);
    let mut out = Vec::new();
    let mut now = 0;
    l.send(at(now), NodeId(2), beat(1), &mut out);
    for _ in 0..5 {
        let conn = dial_of(&out).unwrap();
        out.clear();
        l.failed(at(now), NodeId(2), conn, LinkFailure::Refused, &mut out);
        while dial_of(&out).is_none() {
            now = l.next_deadline().unwrap().as_millis().max(now + 1);
            l.tick(at(now), &mut out);
            l.send(at(now), NodeId(2), beat(1), &mut out);
        }
    }
    let conn = dial_of(&out).unwrap();
    out.clear();
    l.heard_from(at(now + 1), NodeId(2), life(1), &mut out);
    l.failed(at(now + 2), NodeId(2), conn, LinkFailure::Refused, &mut out);
    let wait = l.next_deadline().unwrap().as_millis() - (now + 2);
    assert!(wait <= 75, "retried after {wait} ms");
}

#[test]
fn a_peer_heard_in_a_new_life_gets_a_new_connection() {
    // The peer's machine went down and came back: the connection up to its old
    // process would swallow the answer to its probe. Hearing its new life
    // closes that connection and dials anew; what is sent meanwhile waits.
    let mut l = links(1);
    let mut out = Vec::new();
    l.send(at(0), NodeId(2), beat(1), &mut out);
    let old = dial_of(&out).unwrap();
    l.connected(at(1), NodeId(2), old, &mut out);
    l.heard_from(at(2), NodeId(2), life(1), &mut out);
    out.clear();
    l.heard_from(at(3), NodeId(2), life(1), &mut out);
    assert!(out.is_empty(), "the same life changes nothing");
    l.heard_from(at(900), NodeId(2), life(2), &mut out);
    assert!(out.contains(&LinkAction::Close {
        peer: NodeId(2),
        conn: old
    }));
    let new = dial_of(&out).expect("dials the new life at once");
    out.clear();
    l.send(at(900), NodeId(2), beat(1), &mut out);
    assert_eq!(
        writes(&out),
        0,
        "the probe's answer waits for the new connection"
    );
    l.connected(at(901), NodeId(2), new, &mut out);
    assert_eq!(writes(&out), 1);
    // A late word from the old life changes nothing.
    out.clear();
    l.heard_from(at(902), NodeId(2), life(1), &mut out);
    assert!(out.is_empty());
}

#[test]
fn up_names_the_connection_send_writes_on_and_nothing_else() {
    let mut l = links(1);
    let mut out = Vec::new();
    assert_eq!(l.up(NodeId(2)), None, "no link yet");
    l.send(at(0), NodeId(2), beat(1), &mut out);
    let conn = dial_of(&out).expect("dials");
    assert_eq!(l.up(NodeId(2)), None, "dialling is not up");
    out.clear();
    l.connected(at(1), NodeId(2), conn, &mut out);
    assert_eq!(l.up(NodeId(2)), Some(conn));
    assert_eq!(l.up(NodeId(1)), None, "never to itself");
    out.clear();
    l.send(at(2), NodeId(2), beat(1), &mut out);
    assert_eq!(written_on(&out), Some(conn), "send writes where up said");
    l.failed(at(3), NodeId(2), conn, LinkFailure::Reset, &mut out);
    assert_eq!(l.up(NodeId(2)), None, "a failed connection is not up");
}

#[test]
fn a_tick_before_any_deadline_changes_nothing() {
    let mut l = links(1);
    let mut out = Vec::new();
    l.send(at(0), NodeId(2), beat(1), &mut out);
    let conn = dial_of(&out).expect("dials");
    l.failed(at(1), NodeId(2), conn, LinkFailure::Refused, &mut out);
    let due = l.next_deadline().expect("a backoff ends");
    out.clear();
    l.tick(Instant::from_micros(due.as_micros() - 1), &mut out);
    assert!(out.is_empty(), "nothing is due yet: {out:?}");
    assert_eq!(l.next_deadline(), Some(due));
    l.tick(due, &mut out);
    assert!(
        dial_of(&out).is_some(),
        "the backoff ended: what waited dials again"
    );
}
