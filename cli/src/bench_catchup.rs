//! `ringleader bench catchup`: how fast a node that lost its data directory
//! is brought up to date by the others (catch-up chunks from the leader or a
//! helper), in messages per second.

use crate::bench::{blast, status_within, Nodes};
use clap::Args;
use std::time::{Duration, Instant};

/// Flags of `bench catchup`.
#[derive(Args, Debug)]
pub struct CatchupArgs {
    /// Messages the cluster holds before the node is wiped.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..))]
    messages: u64,
    /// Bytes per message.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Election algorithm of the 3 nodes (a wiped quorum voter restarts
    /// with --allow-missing-state: fine for a benchmark, not for production).
    #[arg(long, default_value = "bully", value_parser = crate::parse::algorithm)]
    election: ringleader_core::Algorithm,
    /// Port block: nodes on base+1.., multicast on base+19.
    /// Default: a free block of 20 ports between 20000 and 32000, found at start.
    #[arg(long)]
    port_base: Option<u16>,
}

/// Runs `bench catchup`.
pub async fn catchup(a: CatchupArgs) -> Result<(), String> {
    let extra = [
        "--election".to_owned(),
        a.election.to_string(),
        "--allow-missing-state".to_owned(),
    ];
    let mut nodes = Nodes::start(
        3,
        crate::bench::port_block(a.port_base)?,
        "bench-catchup",
        &extra,
    )?;
    let leader = nodes.leader(Duration::from_secs(20)).await?;
    let clients = 4u64;
    let per = a.messages.div_ceil(clients);
    println!(
        "catchup: 3 {} nodes (leader n{leader}) fill with {} messages of {} bytes",
        a.election,
        per * clients,
        a.size
    );
    let mut tasks = Vec::new();
    for i in 0..clients {
        let c = nodes.chat(&format!("f{i}"), vec![nodes.addr(leader)], 1000);
        tasks.push(tokio::spawn(blast(c, per, a.size, 900)));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let target = status_within(nodes.addr(leader), Duration::from_millis(500))
        .await
        .ok_or("the leader does not answer")?
        .commit_index;
    let victim = (1..=3).find(|id| *id != leader).unwrap_or(1);
    let start = Instant::now();
    nodes.restart_empty(victim).await?;
    let addr = nodes.addr(victim);
    let mut last_print = Instant::now();
    loop {
        if start.elapsed() > Duration::from_secs(600) {
            return Err(format!("n{victim} did not catch up within 600 s"));
        }
        let got = status_within(addr, Duration::from_millis(500))
            .await
            .map_or(0, |s| s.commit_index);
        if got >= target {
            break;
        }
        if last_print.elapsed() >= Duration::from_secs(1) {
            eprintln!("  n{victim}: {got} of {target} entries");
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "catchup: n{victim}, started with an empty data directory, holds all {target} committed entries after {secs:.2} s: {:.0} messages/s (process start and discovery included)",
        target as f64 / secs
    );
    Ok(())
}
