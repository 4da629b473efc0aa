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
    assert!(err.to_string().contains("the buffer is full (3 messages wait for a leader)"));
    assert!(c.is_full());
    assert_eq!(c.unacked(), 3);
    assert!(chats(&out).is_empty(), "nothing is sent without a leader");
}

#[test]
fn unacknowledged_messages_are_resent_in_order_after_a_failover() {
    let mut c = client(100);
    let mut out = Vec::new();
    connect(&mut c, 2, &mut out);
    for _ in 0..4 {
        c.send(at(5), "m", &mut out).unwrap();
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
    c.step(at(5003), welcome(3), &mut out);
    assert_eq!(chats(&out), vec![3, 4]);
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
            "bob",
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
    assert_eq!(c.next_deadline(), Some(at(4) + Duration::from_millis(200)));
}
