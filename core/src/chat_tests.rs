//! The chat's entries and state.

use super::*;
use crate::app::Replica;
use crate::log::ClientMsgId;
use crate::time::Instant;

fn chat(index: u64, author: &str, text: &str) -> Entry {
    let id = ClientMsgId {
        client: 7,
        seq: index,
    };
    let payload = ChatMessage {
        author,
        text: text.as_bytes(),
    }
    .encode();
    let mut e = Entry::new(id, payload, Instant::from_millis(index));
    e.index = index;
    e
}

#[test]
fn a_chat_message_round_trips_and_other_payloads_are_not_taken_for_one() {
    let e = chat(1, "ann", "hello");
    let m = ChatMessage::of(&e).unwrap();
    assert_eq!((m.author, m.text), ("ann", b"hello".as_slice()));
    for other in [
        &b""[..],
        b"PUT k v",
        b"\xff",
        b"\xff\x00x",
        b"\xff\x05ab",
        b"\xff\x41abc",
    ] {
        assert_eq!(ChatMessage::decode(other), None, "{other:?}");
    }
    let marker = Entry::marker(crate::NodeId(1), Instant::ZERO);
    assert_eq!(ChatMessage::of(&marker), None);
}

#[test]
fn the_room_keeps_a_bounded_history_and_restores_from_its_snapshot() {
    let mut r = Replica::new(ChatRoom::default(), 500);
    for i in 1..=2500 {
        let e = if i % 10 == 0 {
            let mut e = Entry::new(
                ClientMsgId { client: 9, seq: i },
                b"not chat".to_vec(),
                Instant::ZERO,
            );
            e.index = i;
            e
        } else {
            chat(i, "bo", &format!("line {i}"))
        };
        r.apply(&e).unwrap();
    }
    let room = r.state();
    assert_eq!(room.messages(), 2250);
    assert_eq!(room.recent().count(), MAX_HISTORY as usize);
    assert_eq!(
        room.recent().last().map(|l| l.text.as_str()),
        Some("line 2499")
    );
    let mut back = ChatRoom::default();
    back.restore(&room.snapshot()).unwrap();
    assert_eq!(&back, room);
    assert!(back.restore(b"\x05garbage").is_err());
}

#[test]
fn a_chat_message_is_signed_by_its_session_and_an_applications_entry_is_kept_as_it_is() {
    use crate::test_net::Net;
    use crate::wire::ClientMsg;
    let (mut net, leader) = Net::settled(crate::Algorithm::Quorum, 3);
    net.hello(leader, 5, "ann");
    net.client(
        leader,
        5,
        ClientMsg::Chat {
            seq: 1,
            text: b"hi".to_vec(),
        },
    );
    // Laid out as a chat message in another's name: refused.
    let forged = ChatMessage {
        author: "bob",
        text: b"!",
    }
    .encode()
    .into_vec();
    net.client(
        leader,
        5,
        ClientMsg::Write {
            seq: 2,
            payload: forged,
        },
    );
    let raw = b"PUT k v".to_vec();
    net.client(
        leader,
        5,
        ClientMsg::Write {
            seq: 2,
            payload: raw.clone(),
        },
    );
    net.run_for(200);
    let log = net.node(leader).log();
    let mine: Vec<&Entry> = log
        .committed()
        .iter()
        .filter(|e| e.id.client == 5)
        .collect();
    assert_eq!(mine.len(), 2);
    let chat = ChatMessage::of(mine[0]).unwrap();
    assert_eq!((chat.author, chat.text), ("ann", b"hi".as_slice()));
    assert_eq!(&*mine[1].payload, raw.as_slice(), "written as it is");
    assert_eq!(ChatMessage::of(mine[1]), None);
    assert!(net.to_clients().iter().any(|(_, c, m)| c.0 == 5
        && matches!(m, crate::wire::ServerMsg::Refused(why) if why.contains("chat message"))));
}
