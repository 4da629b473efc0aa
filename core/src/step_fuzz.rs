//! Step fuzzing: whole clusters of real nodes are driven as usual while a
//! hostile peer and hostile clients feed them decoded but mutated messages:
//! genuine messages of the run, encoded, with bytes changed, numbers spliced in
//! at their largest, near the top of their range, or just past the plausible
//! bounds, and decoded again. With overflow checks on (debug builds), any
//! arithmetic on a network value that can overflow panics here.
//!
//! `cargo test` runs 1,000,000 hostile steps with the node's plausibility
//! filter on, and 1,000,000 with it off (every part must hold on its own). For a longer run, in a debug
//! build (overflow checks on):
//! `RINGLEADER_FUZZ_STEPS=10000000 cargo test -p ringleader-core --lib step_fuzz -- --nocapture`
//! (`RINGLEADER_FUZZ_SEED` picks another seed). The core reads no clock, so
//! the rate is the steps over the time libtest reports ("finished in").

use crate::test_net::Net;
use crate::wire::{ClientId, ClientMsg, Message};
use crate::{Algorithm, Event};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{de::DeserializeOwned, Serialize};

/// Varints of values an attacker would pick: the top of the range, just under
/// the plausibility margins, just over the epoch leap bound.
fn hostile_number(rng: &mut ChaCha8Rng) -> u64 {
    match rng.random_range(0..8) {
        0 => u64::MAX,
        1 => u64::MAX - rng.random_range(0..1u64 << 33),
        2 => 1_000_000 + rng.random_range(0..4),
        3 => rng.random_range(0..4),
        4 => u64::from(u32::MAX) + rng.random_range(0..4),
        5 => 1 << rng.random_range(0..64),
        _ => rng.random(),
    }
}

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// `bytes`, changed in one to three places.
fn mutate(rng: &mut ChaCha8Rng, mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.random_range(1..=3) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..4) {
            0 => {
                if let Some(b) = bytes.get_mut(at) {
                    *b = rng.random();
                }
            }
            1 => {
                // Replace what starts here (often a varint) with a hostile one.
                let old_len = bytes
                    .get(at..)
                    .unwrap_or_default()
                    .iter()
                    .position(|b| b & 0x80 == 0)
                    .map_or(1, |p| p + 1);
                let end = (at + old_len).min(bytes.len());
                bytes.splice(at..end, varint(hostile_number(rng)));
            }
            2 => {
                bytes.insert(at, rng.random());
            }
            _ => {
                bytes.remove(at);
            }
        }
    }
    bytes
}

fn remade<T: Serialize + DeserializeOwned>(rng: &mut ChaCha8Rng, msg: &T) -> Option<T> {
    let bytes = postcard::to_stdvec(msg).ok()?;
    postcard::from_bytes(&mutate(rng, bytes)).ok()
}

fn client_corpus() -> Vec<ClientMsg> {
    vec![
        ClientMsg::Probe,
        ClientMsg::Hello {
            user: "mallory".into(),
            from_index: 1,
            resume: false,
            seen: Vec::new(),
        },
        ClientMsg::Hello {
            user: "mallory".into(),
            from_index: 7,
            resume: true,
            seen: vec![crate::log::SeenRun {
                stamp: crate::log::Stamp {
                    epoch: 1,
                    leader: crate::NodeId(3),
                },
                first: 1,
                last: 6,
            }],
        },
        ClientMsg::Chat {
            seq: 1,
            text: b"hi".to_vec(),
        },
        ClientMsg::Chat {
            seq: 2,
            text: b"again".to_vec(),
        },
        ClientMsg::Write {
            seq: 3,
            payload: b"an application's entry".to_vec(),
        },
        ClientMsg::History { last: 10 },
        ClientMsg::Ping,
        ClientMsg::Bye,
    ]
}

/// Snapshot messages (the log's and an application's, in parts) as a
/// leader would send them, from the sender of the first replication message
/// in `corpus`: a cluster that never compacted sends none of its own.
fn snapshot_corpus(corpus: &[Message]) -> Vec<Message> {
    use crate::wire::ReplicationMsg;
    let Some((from, epoch)) = corpus.iter().find_map(|m| match m {
        Message::Replication { from, msg } => Some((*from, msg.epoch())),
        _ => None,
    }) else {
        return Vec::new();
    };
    let stamp = crate::log::Stamp {
        epoch,
        leader: from.id,
    };
    let app = |number: u32| ReplicationMsg::AppSnapshot {
        epoch,
        index: 3,
        stamp,
        len: 10,
        number,
        of: 2,
        bytes: vec![9u8; 5].into(),
        commit: 4,
    };
    let snap = ReplicationMsg::Snapshot {
        epoch,
        part: crate::log::Snapshot {
            index: 2,
            stamp,
            clients: vec![(1, 1, 2)],
            digest: 0,
        },
        number: 0,
        of: 1,
        commit: 4,
        app: Some(3),
    };
    [app(0), app(1), snap]
        .into_iter()
        .map(|msg| Message::Replication {
            from,
            msg: Box::new(msg),
        })
        .collect()
}

/// What an embedding application hands a node, among the hostile input:
/// proposals of every size around the limit, and snapshots of any index
/// (their size is the application's: one too large is only logged).
fn application_event(rng: &mut ChaCha8Rng, ticket: u64) -> Event {
    if rng.random_bool(0.25) {
        let state = vec![1u8; [0, 100, 70_000][rng.random_range(0..3)]];
        let snapshot = std::sync::Arc::new(crate::log::AppSnapshot {
            index: hostile_number(rng),
            stamp: crate::log::Stamp::default(),
            state,
        });
        return Event::AppSnapshot { snapshot };
    }
    let sizes = [
        0,
        10,
        crate::wire::MAX_CHAT_BYTES,
        crate::wire::MAX_CHAT_BYTES + 1,
    ];
    let size = sizes
        .get(rng.random_range(0..sizes.len()))
        .copied()
        .unwrap_or(0);
    let payload = vec![7u8; size].into_boxed_slice();
    Event::Propose { ticket, payload }
}

/// Runs `hostile` hostile steps on clusters of each algorithm; the steps run.
/// `filtered: false` turns the plausibility filter off, so every part of the
/// node sees the hostile numbers and must hold on its own.
fn fuzz(seed: u64, hostile: u64, filtered: bool) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let clients = client_corpus();
    let mut done = 0;
    let algorithms = [Algorithm::Bully, Algorithm::Ring, Algorithm::Quorum];
    let per = hostile.div_ceil(algorithms.len() as u64);
    for algorithm in algorithms {
        let mut net = Net::new(algorithm, 3);
        if !filtered {
            for n in net.nodes.iter_mut().flatten() {
                n.without_plausibility_filter();
            }
        }
        net.run_for(1500);
        for c in 1..=3 {
            net.hello(1, c, "honest");
            net.chat(1, c, 1);
        }
        net.run_for(200);
        let mut corpus: Vec<Message> = net.sent().into_iter().map(|(_, _, m)| m.clone()).collect();
        corpus.extend(snapshot_corpus(&corpus));
        let mut left = per;
        while left > 0 {
            let target = rng.random_range(0..3usize);
            if net.nodes.get(target).is_some_and(Option::is_none) {
                continue;
            }
            let event = if rng.random_bool(0.04) {
                Some(application_event(&mut rng, done))
            } else if rng.random_bool(0.8) {
                let Some(m) = corpus.get(rng.random_range(0..corpus.len().max(1))) else {
                    break;
                };
                remade(&mut rng, m).map(Event::Received)
            } else {
                let m = &clients[rng.random_range(0..clients.len())];
                let client = ClientId(match rng.random_range(0..3) {
                    0 => hostile_number(&mut rng),
                    _ => rng.random_range(1..6),
                });
                remade(&mut rng, m).map(|msg| Event::FromClient { client, msg })
            };
            let Some(event) = event else {
                continue;
            };
            net.step(target, event);
            left -= 1;
            done += 1;
            if left.is_multiple_of(64) {
                // Let the cluster run on, and refresh the corpus from it.
                net.run_for(rng.random_range(1..30));
                if net.log.len() > 20_000 {
                    corpus = net.sent().into_iter().map(|(_, _, m)| m.clone()).collect();
                    net.log.clear();
                }
                if net.queue.len() > 100_000 {
                    net.queue.clear();
                }
            }
        }
    }
    done
}

#[test]
fn a_million_hostile_steps_panic_nowhere() {
    let steps = std::env::var("RINGLEADER_FUZZ_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000u64);
    let seed = std::env::var("RINGLEADER_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    for filtered in [true, false] {
        let done = fuzz(seed, steps, filtered);
        assert!(done >= steps, "{done} of {steps}");
        println!(
            "step fuzz: {done} hostile steps (seed {seed}, plausibility filter {})",
            if filtered { "on" } else { "off" }
        );
    }
}
