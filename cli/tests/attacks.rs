//! The LAN attacker of issue 16, against real processes on loopback: with a
//! cluster key and a client key, forged and replayed datagrams, forged peer
//! links, strangers and wrong keys change neither the leadership nor the
//! committed history, and the node says what it refused.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod real;

use real::*;
use ringleader_core::wire::{
    encode_datagram, encode_frame, Announce, Message, ReplicationMsg, MAX_DATAGRAM,
};
use ringleader_core::{ElectionMsg, Incarnation, Instant as CoreInstant, NodeId, NodeInfo};
use ringleader_runtime::envelope::{Datagram, Preface};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

fn keygen(scratch: &Scratch) -> (String, String) {
    let out = ringleader(&["keygen", "--dir", scratch.0.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cluster = scratch.0.join("cluster.key").display().to_string();
    let client = scratch.0.join("client.key").display().to_string();
    (cluster, client)
}

fn info(id: u32, port: u16, counter: u64) -> NodeInfo {
    NodeInfo {
        id: NodeId(id),
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        incarnation: Incarnation {
            counter,
            started_at: CoreInstant::from_millis(1),
        },
    }
}

/// What a LAN attacker without the key can say: leadership claims of huge
/// epochs, the leader's leave, a newer term, a newcomer, in the name of members
/// and strangers.
fn forgeries(cluster: &str, ports: &Ports, leader: u32) -> Vec<Message> {
    let lead = info(leader, ports.base + leader as u16, 1_000_000);
    let stranger = info(99, ports.base + 99, 1);
    let mut out = Vec::new();
    for from in [lead, info(1, ports.base + 1, 5), stranger] {
        for epoch in [1_000, u64::MAX - 1] {
            out.push(Message::Heartbeat {
                from,
                leading: Some(epoch),
            });
        }
        out.push(Message::Election {
            from,
            algorithm: ringleader_core::Algorithm::Bully,
            msg: ElectionMsg::Coordinator { epoch: 5_000 },
        });
        for term in [1_000, u64::MAX - 1] {
            out.push(Message::Election {
                from,
                algorithm: ringleader_core::Algorithm::Quorum,
                msg: ElectionMsg::NewerTerm { term },
            });
        }
        out.push(Message::Replication {
            from,
            msg: Box::new(ReplicationMsg::TipRequest {
                epoch: 5_000,
                commit: u64::MAX,
            }),
        });
        out.push(Message::Announce(Announce {
            cluster: cluster.into(),
            node: from,
        }));
    }
    out.push(Message::Leave(Announce {
        cluster: cluster.into(),
        node: info(leader, ports.base + leader as u16, 1),
    }));
    // A member re-announced in a last life, to shut the real one out.
    out.push(Message::Announce(Announce {
        cluster: cluster.into(),
        node: info(1, ports.base + 1, u64::MAX),
    }));
    out
}

fn send_datagrams(ports: &Ports, msgs: &[Message], extra: &[Vec<u8>]) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let group = SocketAddr::from((Ipv4Addr::new(239, 77, 76, 1), ports.mcast));
    for m in msgs {
        let bytes = encode_datagram(&Datagram::Server(m.clone()), MAX_DATAGRAM).unwrap();
        for to in (1..=3).map(|i| SocketAddr::from(([127, 0, 0, 1], ports.base + i))) {
            let _ = sock.send_to(&bytes, to);
        }
        let _ = sock.send_to(&bytes, group);
    }
    for bytes in extra {
        for to in (1..=3).map(|i| SocketAddr::from(([127, 0, 0, 1], ports.base + i))) {
            let _ = sock.send_to(bytes, to);
        }
    }
}

/// Opens a peer link claiming to be `claim` without the key and writes `msgs`.
fn forged_link(addr: &str, cluster: &str, claim: u32, msgs: &[Message]) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return;
    };
    let mut bytes = Vec::new();
    let preface = Preface::Peer {
        from: NodeId(claim),
        cluster: cluster.into(),
    };
    encode_frame(&preface, &mut bytes, 4096).unwrap();
    for m in msgs {
        encode_frame(m, &mut bytes, 1 << 20).unwrap();
    }
    let _ = s.write_all(&bytes);
    std::thread::sleep(Duration::from_millis(50));
}

/// Records one datagram a node multicasts (sealed with the cluster key).
fn capture(ports: &Ports) -> Vec<u8> {
    let sock = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .unwrap();
    sock.set_reuse_address(true).unwrap();
    sock.set_reuse_port(true).unwrap();
    sock.bind(&SocketAddr::from(([0, 0, 0, 0], ports.mcast)).into())
        .unwrap();
    sock.join_multicast_v4(&Ipv4Addr::new(239, 77, 76, 1), &Ipv4Addr::LOCALHOST)
        .unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let sock: UdpSocket = sock.into();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let (n, _) = sock.recv_from(&mut buf).expect("a node multicasts");
    buf.truncate(n);
    buf
}

fn log_of(scratch: &Scratch, id: u32) -> String {
    std::fs::read_to_string(scratch.0.join(format!("n{id}.log"))).unwrap_or_default()
}

/// Three nodes of cluster `name` with a fresh cluster key and client key (and
/// `extra` flags); their addresses and the key files.
fn keyed_cluster(
    name: &str,
    ports: &Ports,
    scratch: &Scratch,
    extra: &[&str],
) -> (Vec<NodeProc>, Vec<String>, String, String) {
    let (cluster_key, client_key) = keygen(scratch);
    let mut flags = vec![
        "--cluster-key-file",
        &cluster_key,
        "--client-key-file",
        &client_key,
    ];
    flags.extend_from_slice(extra);
    let nodes: Vec<NodeProc> = (1..=3)
        .map(|id| start_node(name, ports, id, scratch, &flags))
        .collect();
    let addrs = nodes.iter().map(|n| n.addr.clone()).collect();
    (nodes, addrs, cluster_key, client_key)
}

/// Every node still names `leader` in `epoch`, and knows only members 1 to 3.
fn assert_unchanged(addrs: &[String], leader: u64, epoch: u64) {
    for a in addrs {
        let s = status(a).unwrap();
        assert_eq!(s["leader"].as_u64(), Some(leader), "{s}");
        assert_eq!(s["epoch"].as_u64(), Some(epoch), "{s}");
        let members: Vec<u64> = s["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["id"].as_u64())
            .collect();
        assert!(members.iter().all(|m| (1..=3).contains(m)), "{s}");
    }
}

/// The members' logs name every kind of forgery refused; the intruder's warns
/// once that it runs without a key.
fn assert_refusals_logged(scratch: &Scratch) {
    let logs: String = (1..=3).map(|i| log_of(scratch, i)).collect();
    assert!(
        logs.contains("refused a peer link without the cluster key"),
        "{logs}"
    );
    assert!(
        logs.contains("an unauthenticated Server datagram"),
        "{logs}"
    );
    assert!(logs.contains("replayed"), "{logs}");
    assert!(logs.contains("does not verify"), "{logs}");
    assert!(!logs.contains("NO CLUSTER KEY"), "{logs}");
    let intruder_log = log_of(scratch, 99);
    assert!(intruder_log.contains("NO CLUSTER KEY"), "{intruder_log}");
    assert_eq!(intruder_log.matches("NO CLUSTER KEY").count(), 1);
}

#[test]
fn with_keys_no_forgery_changes_the_leader_or_the_history_under_bully() {
    forgeries_change_nothing("bully");
}

#[test]
fn with_keys_no_forgery_changes_the_leader_or_the_history_under_quorum() {
    forgeries_change_nothing("quorum");
}

fn forgeries_change_nothing(election: &str) {
    let ports = Ports::fresh();
    let scratch = Scratch::new(&format!("attacks-keys-{election}"));
    let (_nodes, addrs, _, client_key) =
        keyed_cluster("keyed", &ports, &scratch, &["--election", election]);
    let leader = wait_for(Duration::from_secs(20), "a leader", || {
        agreed_leader(&addrs)
    });
    let epoch = status(&addrs[0]).unwrap()["epoch"].as_u64().unwrap();
    let mut chat = ChatProc::start(
        "honest",
        &ports,
        &scratch,
        &["--client-key-file", &client_key],
    );
    chat.say("before");
    wait_for(Duration::from_secs(20), "the first message", || {
        chat.entries().iter().any(|e| e.2 == "before").then_some(())
    });

    let genuine = capture(&ports);
    assert!(
        matches!(
            ringleader_core::wire::decode_datagram::<Datagram>(&genuine, MAX_DATAGRAM),
            Ok(Datagram::Sealed(_))
        ),
        "the cluster's datagrams are sealed"
    );
    // A stock node without the key, and one holding the client key as its
    // cluster key, both named 99 (highest: bully's favourite).
    let intruder = start_node("keyed", &ports, 99, &scratch, &["--election", election]);
    let wrong_key = start_node(
        "keyed",
        &ports,
        98,
        &scratch,
        &["--cluster-key-file", &client_key, "--election", election],
    );
    // Forged datagrams, a captured genuine one sent again, forged peer links.
    let msgs = forgeries("keyed", &ports, leader as u32);
    for _ in 0..3 {
        send_datagrams(&ports, &msgs, std::slice::from_ref(&genuine));
        for a in &addrs {
            forged_link(a, "keyed", leader as u32, &msgs);
            forged_link(a, "keyed", 99, &msgs);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    chat.say("after");
    wait_for(
        Duration::from_secs(20),
        "a message after the attack",
        || chat.entries().iter().any(|e| e.2 == "after").then_some(()),
    );
    drop(intruder);
    drop(wrong_key);

    assert_unchanged(&addrs, leader, epoch);
    let entries = chat.entries();
    let texts: Vec<&str> = entries.iter().map(|e| e.2.as_str()).collect();
    assert_eq!(texts, ["before", "after"], "{entries:?}");
    assert_refusals_logged(&scratch);
}

#[test]
fn a_client_without_the_client_key_is_turned_away() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("attacks-client-key");
    let (_nodes, addrs, cluster_key, client_key) = keyed_cluster("ckey", &ports, &scratch, &[]);
    wait_for(Duration::from_secs(20), "a leader", || {
        agreed_leader(&addrs)
    });
    let server = ["--server", addrs[0].as_str()];
    // Without a key, and with the cluster key in the client key's place.
    let mut keyless = ChatProc::start("keyless", &ports, &scratch, &server);
    let mut wrong = ChatProc::start(
        "wrong",
        &ports,
        &scratch,
        &["--server", &addrs[0], "--client-key-file", &cluster_key],
    );
    keyless.say("from keyless");
    wrong.say("from wrong");
    let mut honest = ChatProc::start(
        "honest",
        &ports,
        &scratch,
        &["--server", &addrs[0], "--client-key-file", &client_key],
    );
    honest.say("from honest");
    wait_for(Duration::from_secs(20), "the honest message", || {
        honest
            .entries()
            .iter()
            .any(|e| e.2 == "from honest")
            .then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let texts: Vec<String> = honest.entries().into_iter().map(|e| e.2).collect();
    assert_eq!(texts, ["from honest"]);
    assert!(keyless.entries().is_empty() && wrong.entries().is_empty());
    let logs: String = (1..=3).map(|i| log_of(&scratch, i)).collect();
    assert!(logs.contains("refused a client"), "{logs}");
}

/// Opens `n` connections to `addr`; each sends `first` (if any) and idles.
fn idle_connections(addr: &str, n: usize, first: Option<&[u8]>) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|_| {
            let mut s = TcpStream::connect(addr).ok()?;
            if let Some(bytes) = first {
                s.write_all(bytes).ok()?;
            }
            Some(s)
        })
        .collect()
}

#[test]
fn connection_floods_leave_room_for_status_and_honest_clients() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("attacks-flood");
    let caps = ["--max-pending", "10", "--max-clients", "4"];
    let nodes: Vec<NodeProc> = (1..=3)
        .map(|id| start_node("flood", &ports, id, &scratch, &caps))
        .collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
    let leader = wait_for(Duration::from_secs(20), "a leader", || {
        agreed_leader(&addrs)
    });
    let target = &addrs[leader as usize - 1];

    // Far more silent connections than the cap of those not yet introduced:
    // every one is accepted (the kernel refuses none), the oldest are closed.
    let silent = idle_connections(target, 200, None);
    assert_eq!(silent.len(), 200, "every connection is accepted");
    // Four "clients" that say who they are and nothing more fill the client cap.
    let mut preface = Vec::new();
    let id = ringleader_core::wire::ClientId(77);
    encode_frame(&Preface::Client { id, secret: None }, &mut preface, 4096).unwrap();
    let squatters = idle_connections(target, 4, Some(&preface));
    std::thread::sleep(Duration::from_millis(300));
    assert!(status(target).is_some(), "status answers through the flood");

    let mut honest = ChatProc::start("honest", &ports, &scratch, &["--server", target]);
    honest.say("let me in");
    wait_for(Duration::from_secs(10), "the refusal", || {
        honest
            .events()
            .iter()
            .any(|e| {
                e["event"] == "refused"
                    && e["reason"]
                        .as_str()
                        .is_some_and(|r| r.contains("at most 4 clients"))
            })
            .then_some(())
    });
    drop(squatters);
    wait_for(
        Duration::from_secs(20),
        "the message once there is room",
        || {
            honest
                .entries()
                .iter()
                .any(|e| e.2 == "let me in")
                .then_some(())
        },
    );
    drop(silent);
    assert_eq!(
        agreed_leader(&addrs),
        Some(leader),
        "the flood changed nothing"
    );
    let log = log_of(&scratch, leader as u32);
    assert!(
        log.contains("closed the oldest connection not yet introduced"),
        "{log}"
    );
    assert!(log.contains("too many clients"), "{log}");
}

/// Connects to `addr` as client `id` with the client key, showing `secret`;
/// the first message the node sends.
fn impersonate(
    addr: &str,
    key_file: &str,
    id: u64,
    secret: Option<[u8; 16]>,
) -> Option<ringleader_core::wire::ServerMsg> {
    use ringleader_runtime::auth::Key;
    use ringleader_runtime::frames::FrameReader;
    use ringleader_runtime::secure_link;
    let key = Key::load(std::path::Path::new(key_file)).unwrap();
    let addr: SocketAddr = addr.parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let (mut read, mut write) = stream.into_split();
        let nonce = secure_link::nonce();
        let id = ringleader_core::wire::ClientId(id);
        let preface = Preface::AuthClient { id, nonce, secret };
        let hs = secure_link::dial(&mut read, &mut write, &key, &preface, nonce)
            .await
            .ok()?;
        let (_, opener) = hs.acceptor_to_dialer();
        let mut frames = FrameReader::opened_by(read, addr, Some(opener));
        let first = tokio::time::timeout(Duration::from_secs(5), frames.next()).await;
        drop(write);
        first.ok().flatten()
    })
}

#[test]
fn a_client_id_is_not_taken_over_by_one_who_only_knows_it() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("attacks-client-id");
    let (mut nodes, addrs, _, client_key) = keyed_cluster("cid", &ports, &scratch, &[]);
    let leader = wait_for(Duration::from_secs(20), "a leader", || {
        agreed_leader(&addrs)
    });
    let servers = server_flags(&addrs);
    let mut with_key = servers.clone();
    with_key.extend(["--client-key-file", client_key.as_str()]);
    let mut victim = ChatProc::start("victim", &ports, &scratch, &with_key);
    victim.say("mine");
    let id = wait_for(Duration::from_secs(20), "the victim's entry", || {
        victim.events().iter().find(|e| e["event"] == "entry")?["client"].as_u64()
    });

    // Someone holding the client key, who read the id in a pushed entry.
    let target = &addrs[leader as usize - 1];
    for secret in [None, Some([7u8; 16])] {
        match impersonate(target, &client_key, id, secret) {
            Some(ringleader_core::wire::ServerMsg::Refused(why)) => {
                assert!(why.contains("in use"), "{why}");
            }
            other => panic!("the impersonator was not refused: {other:?}"),
        }
    }
    victim.say("still mine");
    wait_for(
        Duration::from_secs(20),
        "the victim's second message",
        || {
            victim
                .entries()
                .iter()
                .any(|e| e.2 == "still mine")
                .then_some(())
        },
    );
    // Its secret holds at the next leader, which never saw it connect.
    let gone = nodes
        .iter()
        .position(|n| u64::from(n.id) == leader)
        .unwrap();
    drop(nodes.remove(gone));
    victim.say("after the failover");
    wait_for(
        Duration::from_secs(30),
        "the message through the new leader",
        || {
            victim
                .entries()
                .iter()
                .any(|e| e.2 == "after the failover")
                .then_some(())
        },
    );
    let texts: Vec<String> = victim.entries().into_iter().map(|e| e.2).collect();
    assert_eq!(texts, ["mine", "still mine", "after the failover"]);
    assert!(
        !victim.events().iter().any(|e| e["event"] == "refused"),
        "the victim itself was never refused"
    );
    let logs: String = (1..=3).map(|i| log_of(&scratch, i)).collect();
    assert!(logs.contains("did not show its secret"), "{logs}");
}

/// Whether the node closed `s` within `limit` (reads until the end of stream).
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    use std::io::Read;
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let start = std::time::Instant::now();
    let mut buf = [0u8; 65536];
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            _ => {}
        }
    }
    false
}

#[test]
fn slow_senders_and_readers_are_closed_and_garbage_is_logged_sparingly() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("attacks-slow");
    let nodes: Vec<NodeProc> = (1..=3)
        .map(|id| start_node("slow", &ports, id, &scratch, &[]))
        .collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
    let leader = wait_for(Duration::from_secs(20), "a leader", || {
        agreed_leader(&addrs)
    });
    let target = &addrs[leader as usize - 1];
    let client = |id: u64| {
        let mut bytes = Vec::new();
        let id = ringleader_core::wire::ClientId(id);
        encode_frame(&Preface::Client { id, secret: None }, &mut bytes, 4096).unwrap();
        bytes
    };
    // A preface that never ends; a client that announces a 1 MiB frame and
    // sends a byte of it; a client that says hello and never reads.
    let mut half_preface = idle_connections(target, 1, Some(&client(5)[..3])).remove(0);
    let mut big = client(6);
    big.extend_from_slice(&(1u32 << 20).to_be_bytes());
    big.push(1);
    let mut slowloris = idle_connections(target, 1, Some(&big)).remove(0);
    let mut hello = client(7);
    let greeting = ringleader_core::wire::ClientMsg::Hello {
        user: "deaf".into(),
        from_index: 1,
        resume: false,
        seen: Vec::new(),
    };
    encode_frame(&greeting, &mut hello, 1 << 20).unwrap();
    let mut deaf = idle_connections(target, 1, Some(&hello)).remove(0);
    // Garbage datagrams, many of them.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..20_000u32 {
        let _ = udp.send_to(&i.to_be_bytes(), target.as_str());
    }
    // Traffic for the deaf client to fall behind on: 1,000 messages of 16 KiB.
    let servers = ["--server", target.as_str()];
    let mut talker = ChatProc::start("talker", &ports, &scratch, &servers);
    for i in 0..1000 {
        talker.say(&format!("{i:04}{}", "y".repeat(16 * 1024 - 4)));
    }
    wait_for(Duration::from_secs(60), "the talker's messages", || {
        (talker.entries().len() >= 1000).then_some(())
    });
    assert!(
        closed_within(&mut half_preface, Duration::from_secs(10)),
        "half a preface"
    );
    assert!(
        closed_within(&mut slowloris, Duration::from_secs(15)),
        "a frame that never ends"
    );
    assert!(
        closed_within(&mut deaf, Duration::from_secs(15)),
        "a client that never reads"
    );
    let log = log_of(&scratch, leader as u32);
    assert!(log.contains("too slow to keep up"), "{log}");
    let datagram_lines = log
        .lines()
        .filter(|l| l.contains("dropped a datagram"))
        .count();
    assert!(
        datagram_lines < 20,
        "{datagram_lines} lines for 20,000 garbage datagrams"
    );
    assert_eq!(agreed_leader(&addrs), Some(leader));
}
