use super::*;
use crate::id::{Incarnation, NodeInfo};
use crate::log::{ClientMsgId, Entry};

fn server(id: u32) -> NodeInfo {
    NodeInfo {
        id: NodeId(id),
        addr: format!("10.0.0.{id}:7000").parse().unwrap(),
        incarnation: Incarnation {
            counter: 1,
            started_at: Instant::ZERO,
        },
    }
}

fn client(limit: usize) -> Client {
    let mut c = ClientConfig::new(ClientId(42), "ann");
    c.buffer_limit = limit;
    Client::new(c)
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn welcome(leader: u32) -> ClientEvent {
    ClientEvent::Received(ServerMsg::Welcome {
        leader: NodeId(leader),
        epoch: 1,
        users: vec!["ann".into()],
        next_seq: 1,
        rewrite_from: None,
    })
}

/// Start, probe, follow the answer to `leader`, connect, be welcomed.
fn connect(c: &mut Client, leader: u32, out: &mut Vec<ClientAction>) {
    c.step(at(0), ClientEvent::Start, out);
    c.step(
        at(1),
        ClientEvent::Received(ServerMsg::Here {
            server: server(1),
            leader: Some(server(leader)),
            epoch: 1,
        }),
        out,
    );
    assert!(out.contains(&ClientAction::Connect(server(leader).addr)));
    c.step(at(2), ClientEvent::Connected, out);
    c.step(at(3), welcome(leader), out);
    assert_eq!(c.leader(), Some((NodeId(leader), 1)));
}

fn chats(out: &[ClientAction]) -> Vec<u64> {
    out.iter()
        .filter_map(|a| match a {
            ClientAction::Send(ClientMsg::Chat { seq, .. }) => Some(*seq),
            _ => None,
        })
        .collect()
}

#[test]
fn a_full_buffer_refuses_with_a_clear_error_and_drops_nothing() {
    let mut c = client(3);
    let mut out = Vec::new();
    c.step(at(0), ClientEvent::Start, &mut out);
    for _ in 0..3 {
        c.send(at(1), "hi", &mut out).unwrap();
    }
    let err = c.send(at(1), "one too many", &mut out).unwrap_err();
    assert_eq!(
        err,
        SendError::BufferFull {
            limit: 3,
            leader: false
        }
    );
    assert!(err
        .to_string()
        .contains("the buffer is full (3 messages wait for a leader)"));
    assert!(c.is_full());
    assert_eq!(c.unacked(), 3);
    assert!(chats(&out).is_empty(), "nothing is sent without a leader");
    // An application's entry laid out as a chat message is not taken.
    let mut c = client(3);
    assert_eq!(
        c.write(vec![0xFF, 1, b'x'], &mut out),
        Err(SendError::Invalid)
    );
}

#[test]
fn unacknowledged_messages_are_resent_in_order_after_a_failover() {
    let mut c = client(100);
    let mut out = Vec::new();
    connect(&mut c, 2, &mut out);
    for n in 0..4 {
        // Chat messages and an application's entries share one numbering.
        if n == 3 {
            c.write(b"raw".to_vec(), &mut out).unwrap();
        } else {
            c.send(at(5), "m", &mut out).unwrap();
        }
    }
    c.step(
        at(6),
        ClientEvent::Received(ServerMsg::Ack { seq: 2 }),
        &mut out,
    );
    assert_eq!(c.unacked(), 2);
    // The leader crashes: silence, then the client looks again.
    out.clear();
    c.step(at(5000), ClientEvent::Tick, &mut out);
    assert!(out
        .iter()
        .any(|a| matches!(a, ClientAction::Output(ClientOutput::LeaderLost { .. }))));
    c.step(
        at(5001),
        ClientEvent::Received(ServerMsg::Here {
            server: server(3),
            leader: Some(server(3)),
            epoch: 2,
        }),
        &mut out,
    );
    c.step(at(5002), ClientEvent::Connected, &mut out);
    assert!(out
        .iter()
        .any(|a| matches!(a, ClientAction::Send(ClientMsg::Hello { resume: true, .. }))));
    out.clear();
    let mut w = welcome(3);
    if let ClientEvent::Received(ServerMsg::Welcome { next_seq, .. }) = &mut w {
        *next_seq = 3; // it holds #1 and #2 already
    }
    c.step(at(5003), w, &mut out);
    assert_eq!(chats(&out), vec![3]);
    assert!(out.iter().any(|a| matches!(
        a,
        ClientAction::Send(ClientMsg::Write { seq: 4, payload }) if payload == b"raw"
    )));
    assert!(out.iter().any(|a| matches!(
        a,
        ClientAction::Output(ClientOutput::LeaderChanged {
            old: NodeId(2),
            new: NodeId(3),
            ..
        })
    )));
}

#[test]
fn the_stream_is_seen_once_and_in_order() {
    let mut c = client(10);
    let mut out = Vec::new();
    connect(&mut c, 1, &mut out);
    let entry = |index: u64| Entry {
        index,
        ..Entry::new(
            ClientMsgId {
                client: 1,
                seq: index,
            },
            b"x".to_vec(),
            at(0),
        )
    };
    out.clear();
    c.step(
        at(4),
        ClientEvent::Received(ServerMsg::Entries(vec![entry(1), entry(2)])),
        &mut out,
    );
    c.step(
        at(5),
        ClientEvent::Received(ServerMsg::Entries(vec![entry(2), entry(3)])),
        &mut out,
    );
    let seen: Vec<u64> = out
        .iter()
        .filter_map(|a| match a {
            ClientAction::Output(ClientOutput::Entry(e)) => Some(e.index),
            _ => None,
        })
        .collect();
    assert_eq!(seen, vec![1, 2, 3]);
    assert_eq!(c.next_index(), 4);
    // A gap means the stream is broken: reconnect and ask from index 4 again.
    c.step(
        at(6),
        ClientEvent::Received(ServerMsg::Entries(vec![entry(9)])),
        &mut out,
    );
    assert_eq!(c.phase(), Phase::Searching);
    assert_eq!(c.next_index(), 4);
}

#[test]
fn a_redirect_is_followed_and_a_redirect_to_nobody_waits() {
    let mut c = client(10);
    let mut out = Vec::new();
    let mut cfg = ClientConfig::new(ClientId(9), "cy");
    cfg.servers = vec![server(1).addr];
    c = Client { config: cfg, ..c };
    c.step(at(0), ClientEvent::Start, &mut out);
    assert_eq!(out, vec![ClientAction::Connect(server(1).addr)]);
    c.step(at(1), ClientEvent::Connected, &mut out);
    out.clear();
    let redirect = |l: Option<NodeInfo>| {
        ClientEvent::Received(ServerMsg::Redirect {
            leader: l,
            epoch: 1,
        })
    };
    c.step(at(2), redirect(Some(server(2))), &mut out);
    assert!(out.contains(&ClientAction::Connect(server(2).addr)));
    c.step(at(3), ClientEvent::Connected, &mut out);
    out.clear();
    c.step(at(4), redirect(None), &mut out);
    assert_eq!(out, vec![ClientAction::Disconnect]);
    // The first pause is short (a leader may be replaced in milliseconds) ...
    assert_eq!(c.next_deadline(), Some(at(4) + Duration::from_millis(10)));
    // ... and doubles with every failure in a row, up to the retry interval.
    let mut pauses = Vec::new();
    for _ in 0..7 {
        let now = c.next_deadline().unwrap();
        out.clear();
        c.step(now, ClientEvent::Tick, &mut out);
        assert_eq!(out, vec![ClientAction::Connect(server(1).addr)]);
        c.step(now, ClientEvent::Disconnected, &mut out);
        pauses.push(c.next_deadline().unwrap().saturating_since(now).as_millis());
    }
    assert_eq!(pauses, vec![20, 40, 80, 160, 200, 200, 200]);
}

fn here(leader: u32) -> ClientEvent {
    ClientEvent::Received(ServerMsg::Here {
        server: server(leader),
        leader: Some(server(leader)),
        epoch: 2,
    })
}

fn entry_of(index: u64, epoch: u64, leader: u32, client: u64, seq: u64) -> Entry {
    let mut e = Entry::new(
        crate::log::ClientMsgId { client, seq },
        b"x".to_vec(),
        at(0),
    );
    e.index = index;
    e.epoch = epoch;
    e.leader = NodeId(leader);
    e
}

#[test]
fn a_resuming_client_names_what_it_saw_and_takes_a_rewrite_notice() {
    let mut c = client(10);
    let mut out = Vec::new();
    connect(&mut c, 2, &mut out);
    let entries = (1..=4).map(|i| entry_of(i, 1, 2, 9, i)).collect();
    c.step(
        at(5),
        ClientEvent::Received(ServerMsg::Entries(entries)),
        &mut out,
    );
    assert_eq!(c.next_index(), 5);
    // The leader goes; the client greets the next one with the runs it saw.
    c.step(at(6), ClientEvent::Disconnected, &mut out);
    out.clear();
    c.step(at(7), here(3), &mut out);
    c.step(at(401), ClientEvent::Connected, &mut out);
    let seen = out.iter().find_map(|a| match a {
        ClientAction::Send(ClientMsg::Hello {
            seen, from_index, ..
        }) => Some((seen.clone(), *from_index)),
        _ => None,
    });
    let (seen, from_index) = seen.expect("a hello");
    assert_eq!(from_index, 5);
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].first, seen[0].last), (1, 4));
    // Its history parts from the merged one after index 2.
    out.clear();
    c.step(
        at(402),
        ClientEvent::Received(ServerMsg::Welcome {
            leader: NodeId(3),
            epoch: 2,
            users: vec![],
            next_seq: 1,
            rewrite_from: Some(3),
        }),
        &mut out,
    );
    assert!(out.contains(&ClientAction::Output(ClientOutput::Rewritten { from: 3 })));
    assert_eq!(c.next_index(), 3, "the merged history streams from 3");
    let merged = vec![entry_of(3, 2, 3, 8, 1)];
    out.clear();
    c.step(
        at(403),
        ClientEvent::Received(ServerMsg::Entries(merged)),
        &mut out,
    );
    assert_eq!(c.next_index(), 4);
}

#[test]
fn acknowledged_messages_a_new_leader_lacks_are_resent_first_in_order() {
    let mut c = client(10);
    let mut out = Vec::new();
    connect(&mut c, 2, &mut out);
    for _ in 0..5 {
        c.send(at(2), "m", &mut out).unwrap();
    }
    c.step(
        at(3),
        ClientEvent::Received(ServerMsg::Ack { seq: 3 }),
        &mut out,
    );
    assert_eq!(c.unacked(), 2);
    c.step(at(6), ClientEvent::Disconnected, &mut out);
    c.step(at(7), here(3), &mut out);
    c.step(at(401), ClientEvent::Connected, &mut out);
    out.clear();
    // The new leader holds only #1 of this client (another branch).
    c.step(
        at(402),
        ClientEvent::Received(ServerMsg::Welcome {
            leader: NodeId(3),
            epoch: 2,
            users: vec![],
            next_seq: 2,
            rewrite_from: None,
        }),
        &mut out,
    );
    assert_eq!(
        chats(&out),
        vec![2, 3, 4, 5],
        "acknowledged #2 and #3 go first"
    );
}

#[test]
fn after_its_leader_goes_silent_the_client_tries_another_server_first() {
    // A stopped process's port still accepts connections: going back to it
    // first would cost a whole server timeout more.
    let mut cfg = ClientConfig::new(ClientId(7), "bo");
    cfg.servers = vec![server(1).addr, server(2).addr];
    let mut c = Client::new(cfg);
    let mut out = Vec::new();
    c.step(at(0), ClientEvent::Start, &mut out);
    assert_eq!(out, vec![ClientAction::Connect(server(1).addr)]);
    // Server 1 does not answer at first; server 2 redirects to the leader, 1.
    c.step(at(1), ClientEvent::Disconnected, &mut out);
    let retry = c.next_deadline().unwrap();
    out.clear();
    c.step(retry, ClientEvent::Tick, &mut out);
    assert_eq!(out, vec![ClientAction::Connect(server(2).addr)]);
    c.step(retry, ClientEvent::Connected, &mut out);
    c.step(
        retry,
        ClientEvent::Received(ServerMsg::Redirect {
            leader: Some(server(1)),
            epoch: 1,
        }),
        &mut out,
    );
    assert!(out.contains(&ClientAction::Connect(server(1).addr)));
    c.step(retry, ClientEvent::Connected, &mut out);
    c.step(retry, welcome(1), &mut out);
    assert_eq!(c.leader(), Some((NodeId(1), 1)));
    // The round robin points at server 1 again.
    out.clear();
    // Silence: the next attempt goes to server 2, not back to server 1.
    let silent = retry + Duration::from_secs(3);
    c.step(silent, ClientEvent::Tick, &mut out);
    let connects: Vec<_> = out
        .iter()
        .filter(|a| matches!(a, ClientAction::Connect(_)))
        .collect();
    assert_eq!(
        connects,
        vec![&ClientAction::Connect(server(2).addr)],
        "{out:?}"
    );
}
