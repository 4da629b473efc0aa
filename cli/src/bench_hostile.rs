//! `ringleader bench hostile`: a node under the attacks of issue 16, with an
//! honest client chatting all along. Figures only: the node's memory before,
//! at its peak during, and after each attack; the log it wrote; the honest
//! client's acknowledgements during the attack.

use crate::bench::{rss_kib, Nodes};
use clap::Args;
use ringleader_core::client::ClientOutput;
use ringleader_core::wire::{encode_frame, ClientId};
use ringleader_runtime::chat::{ChatCommand, ChatUpdate};
use ringleader_runtime::envelope::Preface;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

/// Flags of `bench hostile`.
#[derive(Args, Debug)]
pub struct HostileArgs {
    /// Connection attempts of the first attack (each says it is a client, then idles).
    #[arg(long, default_value_t = 20_000)]
    connections: u32,
    /// Slowloris connections of the second attack (half trickle their preface,
    /// half a 1 MiB frame, one byte a second).
    #[arg(long, default_value_t = 1_000)]
    slowloris: u32,
    /// How long the garbage flood lasts.
    #[arg(long, default_value = "5s", value_parser = crate::parse::duration)]
    flood: Duration,
    /// Port block: nodes on base+1.., multicast on base+19.
    /// Default: a free block of 20 ports between 20000 and 32000, found at start.
    #[arg(long)]
    port_base: Option<u16>,
}

#[derive(Clone, Copy, Debug)]
enum Attack {
    Connections,
    Slowloris,
    Garbage,
}

/// Samples a process's memory every 50 ms until stopped; the peak.
fn watch_peak(pid: u32) -> (tokio::task::JoinHandle<u64>, Arc<AtomicU64>) {
    let stop = Arc::new(AtomicU64::new(0));
    let flag = stop.clone();
    let task = tokio::spawn(async move {
        let mut peak = 0;
        while flag.load(Ordering::Relaxed) == 0 {
            peak = peak.max(rss_kib(pid).unwrap_or(0));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        peak
    });
    (task, stop)
}

fn preface_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    let id = ClientId((rand::random::<u64>() >> 1).max(1));
    let _ = encode_frame(&Preface::Client { id, secret: None }, &mut out, 4096);
    out
}

async fn connections(target: SocketAddr, attempts: u32, hold: usize) {
    let mut held = VecDeque::new();
    let mut made = 0u32;
    while made < attempts {
        let wave: Vec<_> = (0..500.min(attempts - made))
            .map(|_| {
                tokio::spawn(async move {
                    let mut s = TcpStream::connect(target).await.ok()?;
                    let _ = s.write_all(&preface_bytes()).await;
                    Some(s)
                })
            })
            .collect();
        made += wave.len() as u32;
        for t in wave {
            if let Ok(Some(s)) = t.await {
                held.push_back(s);
            }
        }
        // The attacker's own open-file limit: hold the newest 5,000 at most.
        while held.len() > hold {
            held.pop_front();
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
}

async fn slowloris(target: SocketAddr, n: u32) {
    let mut conns = Vec::new();
    for i in 0..n {
        if let Ok(s) = TcpStream::connect(target).await {
            conns.push((i % 2 == 0, s, 0usize));
        }
    }
    let preface = preface_bytes();
    let mut big = preface.clone();
    big.extend_from_slice(&(1u32 << 20).to_be_bytes());
    for _ in 0..15 {
        for (trickle_preface, s, sent) in &mut conns {
            let bytes = if *trickle_preface { &preface } else { &big };
            let next = if *trickle_preface || *sent >= bytes.len() {
                [b'x']
            } else {
                [bytes.get(*sent).copied().unwrap_or(b'x')]
            };
            // The non-trickling half sends its preface and prefix at once.
            if !*trickle_preface && *sent == 0 {
                let _ = s.write_all(bytes).await;
                *sent = bytes.len();
            } else if s.write_all(&next).await.is_ok() {
                *sent += 1;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn garbage(target: SocketAddr, mcast: SocketAddr, flood: Duration) {
    let Ok(udp) = UdpSocket::bind("127.0.0.1:0").await else {
        return;
    };
    let tcp = tokio::spawn(async move {
        let end = Instant::now() + flood;
        while Instant::now() < end {
            if let Ok(mut s) = TcpStream::connect(target).await {
                let mut bytes = preface_bytes();
                for _ in 0..64 {
                    let junk: [u8; 32] = rand::random();
                    bytes.extend_from_slice(&28u32.to_be_bytes());
                    bytes.extend_from_slice(&junk[..28]);
                }
                let _ = s.write_all(&bytes).await;
            }
        }
    });
    let end = Instant::now() + flood;
    let mut sent = 0u64;
    while Instant::now() < end {
        let junk: [u8; 64] = rand::random();
        let _ = udp.send_to(&junk, target).await;
        let _ = udp.send_to(&junk, mcast).await;
        sent += 2;
        if sent.is_multiple_of(256) {
            tokio::task::yield_now().await;
        }
    }
    let _ = tcp.await;
}

fn log_bytes(nodes: &Nodes, id: u32) -> u64 {
    std::fs::metadata(nodes.dir.join(format!("n{id}.log"))).map_or(0, |m| m.len())
}

/// A client sending a message every 20 ms to the cluster: the highest number
/// acknowledged so far, and the task that sends (abort it to stop).
fn honest_client(nodes: &Nodes) -> (Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let servers = (1..=3).map(|i| nodes.addr(i)).collect();
    let honest = nodes.chat("honest", servers, 1000);
    let acked = Arc::new(AtomicU64::new(0));
    let counter = acked.clone();
    let mut updates = honest.updates;
    tokio::spawn(async move {
        while let Some(u) = updates.recv().await {
            if let ChatUpdate::Output(ClientOutput::Acked { seq }) = u {
                counter.store(seq, Ordering::Relaxed);
            }
        }
    });
    let commands = honest.commands;
    let sender = tokio::spawn(async move {
        for i in 0u64.. {
            if commands
                .send(ChatCommand::Send(format!("m{i}")))
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    (acked, sender)
}

/// Runs `bench hostile`.
pub async fn hostile(a: HostileArgs) -> Result<(), String> {
    // The attacker holds thousands of sockets of its own.
    let limit = crate::node::raise_open_file_limit();
    let extra = ["--election".to_owned(), "quorum".to_owned()];
    let base = crate::bench::port_block(a.port_base)?;
    let nodes = Nodes::start(3, base, "bench-hostile", &extra)?;
    let leader = nodes.leader(Duration::from_secs(20)).await?;
    let pid = nodes.pid(leader).ok_or("the leader has exited")?;
    let target = nodes.addr(leader);
    let hold = usize::try_from(limit / 2)
        .unwrap_or(5_000)
        .clamp(100, 5_000);
    let mcast = SocketAddr::from(([239, 77, 76, 1], base + 19));
    let (acked, sender) = honest_client(&nodes);
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "hostile: 3 quorum nodes, attacks on the leader n{leader} (pid {pid}); an honest client sends a message every 20 ms"
    );
    let mut rows = Vec::new();
    for attack in [Attack::Connections, Attack::Slowloris, Attack::Garbage] {
        let before = rss_kib(pid).ok_or("the leader has exited")?;
        let (log0, acks0, t0) = (
            log_bytes(&nodes, leader),
            acked.load(Ordering::Relaxed),
            Instant::now(),
        );
        let (watch, stop) = watch_peak(pid);
        eprintln!("  {attack:?}...");
        match attack {
            Attack::Connections => connections(target, a.connections, hold).await,
            Attack::Slowloris => slowloris(target, a.slowloris).await,
            Attack::Garbage => garbage(target, mcast, a.flood).await,
        }
        let secs = t0.elapsed().as_secs_f64();
        let acks = acked.load(Ordering::Relaxed).saturating_sub(acks0);
        stop.store(1, Ordering::Relaxed);
        let peak = watch.await.unwrap_or(0);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let after = rss_kib(pid).ok_or("the leader has exited during the attack")?;
        let log = log_bytes(&nodes, leader).saturating_sub(log0);
        rows.push((attack, before, peak, after, log, acks, secs));
    }
    sender.abort();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let rested = rss_kib(pid).ok_or("the leader has exited")?;
    println!("hostile: the leader's memory (RSS) before | peak during | 5 s after; its log; honest acks during (of one sent every 20 ms)");
    for (attack, before, peak, after, log, acks, secs) in rows {
        println!(
            "  {:<12} {:>6} KiB | {:>6} KiB | {:>6} KiB; log {:>6} bytes; {acks} acks in {secs:.1} s",
            format!("{attack:?}"),
            before,
            peak,
            after,
            log
        );
    }
    println!("  15 s after the last attack: {rested} KiB");
    Ok(())
}
