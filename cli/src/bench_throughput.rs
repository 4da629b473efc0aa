//! `ringleader bench throughput`: committed chat messages per second through
//! 3 real nodes on loopback, with and without keys, under each durability,
//! side by side with the disk's own sync latency and the leader changes seen.

use crate::bench::{blast, keys_name, status_within, KeysMode, Nodes};
use clap::Args;
use ringleader_core::durable::Durability;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Flags of `bench throughput`.
#[derive(Args, Debug)]
pub struct ThroughputArgs {
    /// Concurrent chat clients.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    clients: u32,
    /// Messages each client sends.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    messages: u64,
    /// Bytes per message.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Election algorithm of the 3 nodes.
    #[arg(long, default_value = "quorum", value_parser = crate::parse::algorithm)]
    election: ringleader_core::Algorithm,
    /// Port block: nodes on base+1.., multicast on base+19.
    /// Default: a free block of 20 ports between 20000 and 32000, found at start.
    #[arg(long)]
    port_base: Option<u16>,
    /// Measure without keys, with them, or both (the cost of authentication).
    #[arg(long, value_enum, default_value = "off")]
    keys: KeysMode,
    /// Durability of the nodes: power, process, or both side by side.
    #[arg(long, value_enum, default_value = "both")]
    durability: DurabilityMode,
}

/// Which durabilities a run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DurabilityMode {
    /// `--durability process`.
    Process,
    /// `--durability power`.
    Power,
    /// Both, one after the other.
    Both,
}

impl DurabilityMode {
    pub(crate) fn runs(self) -> &'static [Durability] {
        match self {
            DurabilityMode::Process => &[Durability::Process],
            DurabilityMode::Power => &[Durability::Power],
            DurabilityMode::Both => &[Durability::Power, Durability::Process],
        }
    }
}

/// One measured configuration.
struct Figure {
    keyed: bool,
    durability: Durability,
    rate: f64,
    leader_changes: u64,
    syncs: u64,
    sync_mean_us: u64,
    writes_per_flush: f64,
}

/// Runs `bench throughput`.
pub async fn throughput(a: ThroughputArgs) -> Result<(), String> {
    let probe = fsync_latency(64).map_err(|e| format!("cannot time the disk's fsync: {e}"))?;
    println!(
        "throughput: this disk's fdatasync of a 4 KiB append (in {}): median {:.0} µs, worst {:.0} µs",
        std::env::temp_dir().display(),
        probe.0,
        probe.1
    );
    let mut figures = Vec::new();
    for &keyed in a.keys.runs() {
        for &durability in a.durability.runs() {
            figures.push(throughput_once(&a, keyed, durability).await?);
            tokio::time::sleep(Duration::from_millis(200)).await; // ports free again
        }
    }
    for f in figures {
        println!(
            "throughput, {:<9}, {:<7}: {:>8.0} messages/s committed and acknowledged; leader changes {}; leader's syncs {} (mean {} µs), {:.1} writes per flush",
            keys_name(f.keyed),
            f.durability,
            f.rate,
            f.leader_changes,
            f.syncs,
            f.sync_mean_us,
            f.writes_per_flush
        );
    }
    Ok(())
}

async fn throughput_once(
    a: &ThroughputArgs,
    keyed: bool,
    durability: Durability,
) -> Result<Figure, String> {
    let extra = vec![
        "--election".to_owned(),
        a.election.to_string(),
        "--durability".to_owned(),
        durability.to_string(),
    ];
    let name = format!("bench-throughput-{}-{durability}", u8::from(keyed));
    let nodes = Nodes::start_keyed(
        3,
        crate::bench::port_block(a.port_base)?,
        &name,
        &extra,
        keyed,
    )?;
    let leader = nodes.leader(Duration::from_secs(20)).await?;
    let epoch_before = status_within(nodes.addr(leader), Duration::from_millis(500))
        .await
        .map_or(0, |s| s.epoch);
    println!(
        "throughput, {}, {durability}: 3 {} nodes (leader n{leader}), {} clients x {} messages of {} bytes",
        keys_name(keyed),
        a.election,
        a.clients,
        a.messages,
        a.size
    );
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..a.clients {
        let c = nodes.chat(&format!("c{i}"), vec![nodes.addr(leader)], 1000);
        tasks.push(tokio::spawn(blast(c, a.messages, a.size, 900)));
    }
    let total = u64::from(a.clients) * a.messages;
    let progress = tokio::spawn(progress(nodes.addr(leader), total));
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    progress.abort();
    let secs = start.elapsed().as_secs_f64();
    let status = status_within(nodes.addr(leader), Duration::from_millis(500)).await;
    let epoch_after = status.as_ref().map_or(0, |s| s.epoch);
    let disk = status.map(|s| s.disk).unwrap_or_default();
    println!(
        "throughput, {}, {durability}: {total} messages committed and acknowledged in {secs:.2} s: {:.0} messages/s",
        keys_name(keyed),
        total as f64 / secs
    );
    Ok(Figure {
        keyed,
        durability,
        rate: total as f64 / secs,
        // Each new leadership takes a new epoch.
        leader_changes: epoch_after.saturating_sub(epoch_before),
        syncs: disk.syncs,
        sync_mean_us: disk.sync_mean_us,
        writes_per_flush: disk.writes as f64 / disk.flushes.max(1) as f64,
    })
}

async fn progress(addr: SocketAddr, total: u64) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(s) = status_within(addr, Duration::from_millis(500)).await {
            eprintln!("  {} of {total} committed", s.commit_index);
        }
    }
}

/// The disk's own sync latency, with no node involved: `n` appends of 4 KiB
/// each followed by `fdatasync`, in the temporary directory the nodes use.
/// Median and worst, in µs.
fn fsync_latency(n: usize) -> std::io::Result<(f64, f64)> {
    let path = std::env::temp_dir().join(format!("ringleader-fsync-probe-{}", std::process::id()));
    let mut file = std::fs::File::create(&path)?;
    let block = vec![0x5au8; 4096];
    let mut took = Vec::with_capacity(n);
    for _ in 0..n {
        file.write_all(&block)?;
        let began = Instant::now();
        file.sync_data()?;
        took.push(began.elapsed().as_secs_f64() * 1e6);
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    took.sort_by(f64::total_cmp);
    let median = took.get(n / 2).copied().unwrap_or(0.0);
    let worst = took.last().copied().unwrap_or(0.0);
    Ok((median, worst))
}
