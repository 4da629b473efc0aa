//! `ringleader bench propose`: the embedding API measured. Three nodes run
//! inside this process (as a service embeds them), on loopback; the leader's
//! application proposes entries through `NodeHandle`. Printed side by side:
//! one at a time (the commit latency), many in flight (the throughput), and
//! how fast a follower's application reads the committed history back.

use crate::bench::port_block;
use crate::bench_throughput::DurabilityMode;
use clap::Args;
use ringleader_runtime::embed::{CommittedEvent, NodeHandle, Proposer};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Flags of `bench propose`.
#[derive(Args, Debug)]
pub struct ProposeArgs {
    /// Entries proposed in the throughput run.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    proposals: u64,
    /// Proposals awaiting their commit at once in the throughput run.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=4096))]
    in_flight: u64,
    /// Bytes per entry.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Port block: nodes on base+1.., multicast on base+19.
    /// Default: a free block of 20 ports between 20000 and 32000, found at start.
    #[arg(long)]
    port_base: Option<u16>,
    /// Durability of the nodes: power, process, or both side by side.
    #[arg(long, value_enum, default_value = "both")]
    durability: DurabilityMode,
}

/// Runs `bench propose`.
pub async fn propose(a: ProposeArgs) -> Result<(), String> {
    if a.size > ringleader_core::wire::MAX_CHAT_BYTES {
        return Err(format!(
            "--size {} is larger than an entry may be ({})",
            a.size,
            ringleader_core::wire::MAX_CHAT_BYTES
        ));
    }
    println!(
        "proposals through the embedding API, 3 quorum nodes in one process on loopback, {} bytes each",
        a.size
    );
    println!(
        "{:<10} {:>14} {:>14} {:>16} {:>12} {:>18}",
        "durability", "1 at a time", "p99 latency", "in flight", "p99 latency", "follower reads"
    );
    for &durability in a.durability.runs() {
        let line = measure(&a, durability).await?;
        println!("{line}");
    }
    Ok(())
}

async fn measure(
    a: &ProposeArgs,
    durability: ringleader_core::durable::Durability,
) -> Result<String, String> {
    let base = port_block(a.port_base)?;
    let dir = std::env::temp_dir().join(format!(
        "ringleader-bench-propose-{}-{base}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut nodes = Vec::new();
    for id in 1..=3u32 {
        let flags = [
            "--id".to_owned(),
            id.to_string(),
            "--cluster".to_owned(),
            format!("bench-propose-{base}"),
            "--port-base".to_owned(),
            base.to_string(),
            "--mcast-port".to_owned(),
            (base + 19).to_string(),
            "--election".to_owned(),
            "quorum".to_owned(),
            "--voters".to_owned(),
            "1,2,3".to_owned(),
            "--durability".to_owned(),
            durability.to_string(),
            "--http".to_owned(),
            "off".to_owned(),
            "--data-dir".to_owned(),
            dir.join(format!("n{id}")).display().to_string(),
        ];
        let options = crate::node_options(flags)?;
        nodes.push(
            NodeHandle::start(options)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    let leader = leader_of(&nodes).await?;
    let proposer = nodes[leader].proposer();
    let payload = vec![b'x'; a.size];
    progress(&format!("{durability}: one at a time"));
    let sequential = run(&proposer, &payload, 2000.min(a.proposals), 1).await?;
    progress(&format!("{durability}: {} in flight", a.in_flight));
    let parallel = run(&proposer, &payload, a.proposals, a.in_flight).await?;
    let follower = nodes
        .iter()
        .position(|n| n.id() != nodes[leader].id())
        .unwrap_or(0);
    progress(&format!("{durability}: a follower reads the history"));
    let reads = read_back(&nodes[follower], parallel.last_index).await?;
    for node in nodes {
        let _ = node.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(format!(
        "{:<10} {:>10.0} /s {:>11.2} ms {:>12.0} /s {:>9.2} ms {:>14.0} /s",
        durability.to_string(),
        sequential.per_second,
        sequential.p99_ms,
        parallel.per_second,
        parallel.p99_ms,
        reads
    ))
}

fn progress(what: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("  {what}...");
    }
}

async fn leader_of(nodes: &[NodeHandle]) -> Result<usize, String> {
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(30) {
        for (i, n) in nodes.iter().enumerate() {
            if n.fence().await.is_ok() {
                return Ok(i);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err("no leader within 30 s".into())
}

struct Measured {
    per_second: f64,
    p99_ms: f64,
    last_index: u64,
}

/// `total` proposals, `in_flight` at a time (each of that many tasks
/// proposes one after another).
async fn run(
    proposer: &Proposer,
    payload: &[u8],
    total: u64,
    in_flight: u64,
) -> Result<Measured, String> {
    let began = Instant::now();
    let tasks: Vec<_> = (0..in_flight)
        .map(|t| {
            let (proposer, payload) = (proposer.clone(), payload.to_vec());
            let mine = total / in_flight + u64::from(t < total % in_flight);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(mine as usize);
                let mut last = 0;
                for _ in 0..mine {
                    let sent = Instant::now();
                    last = last.max(
                        proposer
                            .propose(payload.clone())
                            .await
                            .map_err(|e| e.to_string())?,
                    );
                    latencies.push(sent.elapsed());
                }
                Ok::<_, String>((latencies, last))
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut last_index = 0;
    for task in tasks {
        let (l, last) = task.await.map_err(|e| e.to_string())??;
        latencies.extend(l);
        last_index = last_index.max(last);
    }
    let took = began.elapsed().as_secs_f64();
    latencies.sort();
    let p99 = latencies
        .get(latencies.len().saturating_sub(1) * 99 / 100)
        .copied()
        .unwrap_or_default();
    Ok(Measured {
        per_second: total as f64 / took.max(1e-9),
        p99_ms: p99.as_secs_f64() * 1000.0,
        last_index,
    })
}

/// Entries a second a follower's committed stream delivers from index 1 to `upto`.
async fn read_back(node: &NodeHandle, upto: u64) -> Result<f64, String> {
    let began = Instant::now();
    let mut stream = node.committed(1);
    let mut read = 0u64;
    while stream.position() <= upto {
        match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
            Ok(Some(CommittedEvent::Entry(_))) => read += 1,
            Ok(Some(_)) => {}
            Ok(None) => return Err("the follower stopped".into()),
            Err(_) => return Err("the follower's history stopped coming".into()),
        }
    }
    Ok(read as f64 / began.elapsed().as_secs_f64().max(1e-9))
}
