use super::*;
use crate::id::{Incarnation, NodeId, NodeInfo};
use crate::time::Instant;
use proptest::prelude::*;

fn info() -> NodeInfo {
    NodeInfo {
        id: NodeId(7),
        addr: "192.168.1.7:7007".parse().unwrap(),
        incarnation: Incarnation {
            counter: 3,
            started_at: Instant::from_millis(1234),
        },
    }
}

fn samples() -> Vec<Message> {
    let a = Announce {
        cluster: "prod-chat".into(),
        node: info(),
    };
    vec![
        Message::Announce(a.clone()),
        Message::Probe(a.clone()),
        Message::ProbeResponse(a.clone()),
        Message::Heartbeat {
            from: info(),
            leading: Some(3),
        },
        Message::Leave(a),
    ]
}

#[test]
fn datagrams_round_trip_every_message() {
    for msg in samples() {
        let bytes = encode_datagram(&msg, MAX_DATAGRAM).unwrap();
        assert_eq!(&bytes[..4], &MAGIC);
        assert_eq!(bytes[4], PROTOCOL_VERSION);
        assert_eq!(
            decode_datagram::<Message>(&bytes, MAX_DATAGRAM).unwrap(),
            msg
        );
    }
}

#[test]
fn frames_round_trip_one_at_a_time_and_split_anywhere() {
    let mut stream = Vec::new();
    for msg in samples() {
        encode_frame(&msg, &mut stream, DEFAULT_MAX_FRAME).unwrap();
    }
    for chunk in [1, 2, 3, 7, 64, stream.len()] {
        let mut d = FrameDecoder::<Message>::new(DEFAULT_MAX_FRAME);
        let mut got = Vec::new();
        for piece in stream.chunks(chunk) {
            d.push(piece);
            while let Some(m) = d.next_frame().unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got, samples(), "chunk size {chunk}");
        assert_eq!(d.buffered(), 0);
    }
}

#[test]
fn bad_datagrams_give_typed_errors() {
    let good = encode_datagram(&samples()[0], MAX_DATAGRAM).unwrap();
    assert_eq!(
        decode_datagram::<Message>(&good[..3], MAX_DATAGRAM),
        Err(WireError::Truncated { needed: 5, got: 3 })
    );
    let mut wrong_magic = good.clone();
    wrong_magic[0] = b'X';
    assert_eq!(
        decode_datagram::<Message>(&wrong_magic, MAX_DATAGRAM),
        Err(WireError::WrongMagic)
    );
    let mut wrong_version = good.clone();
    wrong_version[4] = 99;
    assert_eq!(
        decode_datagram::<Message>(&wrong_version, MAX_DATAGRAM),
        Err(WireError::WrongVersion(99))
    );
    assert_eq!(
        decode_datagram::<Message>(&good, 10),
        Err(WireError::Oversized {
            len: good.len(),
            max: 10
        })
    );
    let mut garbage = good[..5].to_vec();
    garbage.extend_from_slice(&[0xff; 12]);
    assert!(matches!(
        decode_datagram::<Message>(&garbage, MAX_DATAGRAM),
        Err(WireError::Garbage(_))
    ));
    let truncated_payload = &good[..good.len() - 2];
    assert!(matches!(
        decode_datagram::<Message>(truncated_payload, MAX_DATAGRAM),
        Err(WireError::Garbage(_))
    ));
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        decode_datagram::<Message>(&trailing, MAX_DATAGRAM),
        Err(WireError::TrailingBytes(1))
    );
    assert!(encode_datagram(&samples()[0], 8).is_err());
}

#[test]
fn bad_frames_give_typed_errors_and_a_bad_body_does_not_poison_the_stream() {
    let mut one = Vec::new();
    encode_frame(&samples()[3], &mut one, DEFAULT_MAX_FRAME).unwrap();

    assert!(matches!(
        FrameDecoder::<Message>::decode_one(&one[..one.len() - 1], DEFAULT_MAX_FRAME),
        Err(WireError::Truncated { .. })
    ));

    let mut wrong_version = one.clone();
    wrong_version[4] = 2;
    let mut garbage = vec![0, 0, 0, 4, PROTOCOL_VERSION, 0xff, 0xff, 0xff];
    garbage.extend_from_slice(&wrong_version);
    garbage.extend_from_slice(&one);
    let mut d = FrameDecoder::<Message>::new(DEFAULT_MAX_FRAME);
    d.push(&garbage);
    assert!(matches!(d.next_frame(), Err(WireError::Garbage(_))));
    assert_eq!(d.next_frame(), Err(WireError::WrongVersion(2)));
    assert_eq!(d.next_frame(), Ok(Some(samples()[3].clone())));

    let mut d = FrameDecoder::<Message>::new(16);
    d.push(&[0, 0, 1, 0, PROTOCOL_VERSION]);
    let oversized = Err(WireError::Oversized { len: 256, max: 16 });
    assert_eq!(d.next_frame(), oversized);
    d.push(&one);
    assert_eq!(
        d.next_frame(),
        oversized,
        "an oversized prefix poisons the stream"
    );

    let mut d = FrameDecoder::<Message>::new(DEFAULT_MAX_FRAME);
    d.push(&[0, 0, 0, 0]);
    assert_eq!(
        d.next_frame(),
        Err(WireError::Truncated { needed: 1, got: 0 })
    );

    let mut out = vec![1, 2, 3];
    assert!(encode_frame(&samples()[0], &mut out, 4).is_err());
    assert_eq!(
        out,
        vec![1, 2, 3],
        "a refused frame leaves the buffer as it was"
    );
}

proptest! {
    #[test]
    fn random_bytes_never_panic_the_datagram_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_datagram::<Message>(&bytes, MAX_DATAGRAM);
        let mut with_header = MAGIC.to_vec();
        with_header.push(PROTOCOL_VERSION);
        with_header.extend_from_slice(&bytes);
        let _ = decode_datagram::<Message>(&with_header, MAX_DATAGRAM);
    }

    #[test]
    fn random_bytes_never_panic_the_frame_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512), split in 0usize..512) {
        let _ = FrameDecoder::<Message>::decode_one(&bytes, DEFAULT_MAX_FRAME);
        let mut d = FrameDecoder::<Message>::new(1024);
        let (a, b) = bytes.split_at(split.min(bytes.len()));
        for part in [a, b] {
            d.push(part);
            for _ in 0..64 {
                match d.next_frame() {
                    Ok(Some(_)) | Err(WireError::Garbage(_) | WireError::WrongVersion(_) | WireError::TrailingBytes(_) | WireError::Truncated { .. }) => continue,
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }

    #[test]
    fn random_valid_headers_with_random_bodies_never_panic(len in 0u32..64, body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.push(PROTOCOL_VERSION);
        bytes.extend_from_slice(&body);
        let _ = FrameDecoder::<Message>::decode_one(&bytes, DEFAULT_MAX_FRAME);
    }
}
