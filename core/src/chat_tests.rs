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
